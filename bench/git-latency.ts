/**
 * Feed change to pull request opened, on a real API server and a real Gitea (built
 * from its Go module): the time from a ThreatFeed's new snapshot (the fetch is
 * excluded) to the pull request that proposes the resulting action being visible on
 * the forge. Prints JSON lines.
 *
 *   node dist/bench/git-latency.js [--runs N]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { KubeClient } from '../controller/runtime/client.js';
import { ControlPlane } from '../test/harness/control-plane.js';
import { REPO_ROOT } from '../test/harness/envtest-assets.js';
import { eventually } from '../test/harness/eventually.js';
import { startGitea } from '../test/harness/gitea-server.js';
import { startManager } from '../test/harness/in-process-manager.js';
import { emit, percentile, runMain } from './report.js';
import { configMapFeed } from '../test/harness/threat-feeds.js';
import { configMap, namespace, exposurePolicy, secret } from '../test/harness/objects.js';

const NS = 'forestall-system';
const REPO = 'bench-policy';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
  const runs = Number(values.runs);
  const lines = readFileSync(join(REPO_ROOT, '../shared/feeds/ipsum/ipsum-2026-08-22.txt'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t')[0]!);
  const base = lines.slice(0, 1000);
  const extra = lines.slice(1000, 1000 + runs);
  const workRoot = mkdtempSync(join(tmpdir(), 'forestall-bench-git-'));
  const gitea = await startGitea();
  const cp = await ControlPlane.start();
  const kc = cp.kubeConfig();
  const client = new KubeClient(kc);
  const mgr = await startManager(kc, { namespace: NS, gitWorkRoot: workRoot });
  try {
    await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
    await client.apply(namespace(NS));
    await client.apply(
      secret(NS, 'forestall-git', { token: gitea.token, username: gitea.username }),
    );
    const setFeed = (addresses: string[]) =>
      client.apply(configMap(NS, 'ipsum', { 'ipsum.txt': addresses.join('\n') }));
    await setFeed(base);
    await client.apply(
      configMapFeed('ipsum', NS, 'ipsum.txt', {
        refreshInterval: '1s',
        maxChangePercent: 100,
      }),
    );
    // One Propose policy per run, each matching one address that is not in the feed yet.
    for (const [i, ip] of extra.entries()) {
      await client.apply(
        exposurePolicy(`bench-pr-${i}`, {
          feeds: { names: ['ipsum'] },
          match: `indicator.value == '${ip}'`,
          actions: [{ type: 'EgressDeny' }],
          mode: 'Propose',
          expiry: '24h',
          scope: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } },
          git: {
            url: `${gitea.url}/${gitea.username}/${REPO}.git`,
            branch: 'main',
            path: 'forestall',
            credentialsSecretRef: { name: 'forestall-git' },
            forge: { type: 'Gitea', apiUrl: gitea.apiUrl },
          },
        }),
      );
    }
    await eventually(
      'the feed synced',
      () => mgr.snapshots.peek('ipsum')?.meta.count === base.length,
      60_000,
    );
    let changedAt = 0;
    mgr.controllers.feeds.snapshots.onChange(() => {
      changedAt = performance.now();
    });
    const latencies: number[] = [];
    for (let i = 0; i < runs; i++) {
      changedAt = 0;
      await setFeed([...base, ...extra.slice(0, i + 1)]);
      const head = `forestall/bench-pr-${i}-egressdeny`;
      await eventually(
        `pull request ${i}`,
        async () => {
          const open = (
            await gitea.api<{ head: { ref: string } }[]>(
              'GET',
              `/repos/${gitea.username}/${REPO}/pulls?state=open&limit=50`,
            )
          ).body;
          return changedAt > 0 && open.some((p) => p.head.ref === head);
        },
        60_000,
        20,
      );
      latencies.push(performance.now() - changedAt);
    }
    const sorted = latencies.sort((a, b) => a - b);
    const note =
      'from the new feed snapshot to the pull request listed by the Gitea API (polled every 20 ms): policy evaluation, action, clone/commit/push, pull request';
    emit('feed_change_to_pull_request_p50', percentile(sorted, 50), 'ms', {
      runs,
      forge: `gitea ${gitea.version}`,
      note,
    });
    emit('feed_change_to_pull_request_p99', percentile(sorted, 99), 'ms', {
      runs,
      forge: `gitea ${gitea.version}`,
    });
  } finally {
    await mgr.stop();
    await cp.stop();
    await gitea.stop();
    rmSync(workRoot, { recursive: true, force: true });
  }
}

runMain(main);
