import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emit } from '../../../bench/report.js';
import { credentialSecret, hostOf } from '../../harness/credential-secret.js';
import { eventually } from '../../harness/eventually.js';
import { startGitea, type GiteaServer } from '../../harness/gitea-server.js';
import { kustomizeMain, merge, mergeable } from '../../harness/pull-requests.js';
import { e2eNode, uptime } from '../cluster.js';

// A Propose policy turns a feed entry into a pull request on a real Gitea; once it is
// merged and synced, kube-router drops the probe's connections; see README.md here.
const node = e2eNode();
const { kubectl, apply, newNamespace, busyboxPod } = node;
const RELEASE = 'forestall-git';
const NS = { controller: 'forestall-e2e-git', probe: 'forestall-e2e-gitprobe' };
const REPO = 'policies';
const POLICY = 'e2e-git-egress';
const ACTION = `${POLICY}-egressdeny`;
const DIR = 'clusters/e2e';
const HOST_A = 4;
const HOST_B = 5;
/** The node's pod bridge (test/node/lib.sh BRIDGE). */
const BRIDGE = 'forestall0';

/** The pod bridge's gateway address: reachable from pods, and only from this machine. */
function bridgeAddress(): string {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE], { encoding: 'utf8' });
  const address = /inet ([0-9.]+)\//.exec(out)?.[1];
  if (!address) throw new Error(`no IPv4 address on ${BRIDGE}: ${out}`);
  return address;
}

const fromProbe = (ip: string): Promise<string> => node.httpFromPod(NS.probe, 'probe', ip);

interface ActionStatus {
  phase?: string;
  pullRequest?: { number?: number; state?: string };
}

async function actionStatus(): Promise<ActionStatus> {
  const out = await kubectl(['get', `preemptiveaction/${ACTION}`, '-o', 'jsonpath={.status}']);
  return out.trim() ? (JSON.parse(out) as ActionStatus) : {};
}

describe('git-delivery: a merged pull request on Gitea, synced, blocks on the real node', () => {
  let gitea: GiteaServer;
  let hostA = '';
  let hostB = '';

  beforeAll(async () => {
    hostA = await node.testHost('up', HOST_A);
    hostB = await node.testHost('up', HOST_B);
    await newNamespace(NS.controller);
    await newNamespace(NS.probe, { 'forestall-e2e/scope': 'git-probe' });
    await apply([busyboxPod(NS.probe, 'probe', 'exec sleep 1d')]);

    // Gitea on the bridge's address, so that the controller's pod reaches it.
    gitea = await startGitea({ host: bridgeAddress() });
    await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
    const port = new URL(gitea.url).port;

    await apply([
      credentialSecret(
        'forestall-git',
        NS.controller,
        { token: gitea.token, username: gitea.username },
        [hostOf(gitea.url)],
      ),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'hosts', namespace: NS.controller },
        data: { 'hosts.txt': `${hostA}\n` },
      },
    ]);
    await node.podReady(NS.probe, 'probe');
    await node.installController(RELEASE, NS.controller, [
      `outbound.allow={${hostOf(gitea.url).split(':')[0]}}`,
      `networkPolicy.httpsPorts={443,${port}}`,
      'connectors.enabled={networkpolicy}',
      'git.pullRequestPollInterval=2s',
    ]);
  });

  afterAll(async () => {
    await node.removeCase(RELEASE, NS);
    await gitea?.stop();
    for (const index of [HOST_A, HOST_B]) await node.testHost('down', index);
  });

  it('opens a pull request, blocks nothing before review, and blocks once merged and synced', async () => {
    // GIVEN the probe reaches both test hosts
    expect(await fromProbe(hostA)).toBe('ok');
    expect(await fromProbe(hostB)).toBe('ok');
    // WHEN a feed lists host A and a Propose policy delivers through Git
    await apply([
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatFeed',
        metadata: { name: 'e2e-git-hosts' },
        spec: {
          source: { configMapRef: { name: 'hosts', namespace: NS.controller, key: 'hosts.txt' } },
          format: 'lines',
          refreshInterval: '1s',
          confidence: { default: 90 },
        },
      },
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ExposurePolicy',
        metadata: { name: POLICY },
        spec: {
          feeds: { names: ['e2e-git-hosts'] },
          match: "indicator.type == 'ipv4'",
          scope: { namespaceSelector: { matchLabels: { 'forestall-e2e/scope': 'git-probe' } } },
          actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }],
          mode: 'Propose',
          expiry: '1h',
          git: {
            url: `${gitea.url}/${gitea.username}/${REPO}.git`,
            branch: 'main',
            path: DIR,
            credentialsSecretRef: { name: 'forestall-git' },
            forge: { type: 'Gitea', apiUrl: gitea.apiUrl },
          },
        },
      },
    ]);
    // THEN the action is Proposed with an open pull request on Gitea
    const number = await eventually(
      'a pull request for the action',
      async () => {
        const status = await actionStatus();
        if (status.phase === 'Proposed' && status.pullRequest?.number)
          return status.pullRequest.number;
        throw new Error(`the action is ${JSON.stringify(status)}`);
      },
      120_000,
      1000,
    );
    const pull = await gitea.api<{ state: string; title: string }>(
      'GET',
      `/repos/${gitea.username}/${REPO}/pulls/${number}`,
    );
    expect(pull.body.state).toBe('open');
    // and nothing is blocked before review: no NetworkPolicy, host A answers
    expect((await kubectl(['-n', NS.probe, 'get', 'networkpolicies', '-o', 'name'])).trim()).toBe(
      '',
    );
    expect(await fromProbe(hostA)).toBe('ok');

    // WHEN a reviewer merges it and the GitOps sync applies the directory on main
    // (kubectl kustomize and a server-side apply, as Argo CD or Flux would)
    await mergeable(gitea, REPO, number);
    const merged = uptime();
    expect(await merge(gitea, REPO, number)).toBe(200);
    const built = await kustomizeMain(
      gitea,
      REPO,
      join(DIR, ACTION),
      join(node.envtestAssets, 'kubectl'),
    );
    expect(built).toContain('kind: NetworkPolicy');
    await kubectl(['apply', '--server-side', '--field-manager=gitops-sync', '-f', '-'], built);
    // THEN the probe's connections to host A fail, and host B still answers
    const blocked = await eventually(
      'host A blocked',
      async () => {
        if ((await fromProbe(hostA)) === '') return uptime();
        throw new Error('host A still answers');
      },
      60_000,
      250,
    );
    expect(await fromProbe(hostB)).toBe('ok');
    emit('e2e merge and sync to first blocked connection', blocked - merged, 's', {}, 2);
    // and the controller sees the merge and the synced objects: Enforced
    await eventually(
      'the action Enforced',
      async () => {
        const status = await actionStatus();
        if (status.phase === 'Enforced') return true;
        throw new Error(`the action is ${JSON.stringify(status)}`);
      },
      120_000,
      1000,
    );
  });
});
