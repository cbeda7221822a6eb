/**
 * Feed change to enforcement, on a real API server: the time from a ThreatFeed's new
 * snapshot (the fetch and parse are excluded, as the design's target says) to the
 * objects of each network connector carrying the change, through the whole chain
 * (policy evaluation, PreemptiveAction update, connector apply). Prints JSON lines.
 *
 *   node dist/bench/policy-latency.js [--runs N]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import { rendererFor } from '../connectors/index.js';
import { ALL_NAMESPACES, KubeClient } from '../controller/runtime/client.js';
import { parseCidr, parseIpv4 } from '../lib/net.js';
import { ControlPlane } from '../test/harness/control-plane.js';
import { REPO_ROOT } from '../test/harness/envtest-assets.js';
import { eventually } from '../test/harness/eventually.js';
import { startManager } from '../test/harness/in-process-manager.js';
import { emit, percentile, runMain } from './report.js';
import { configMapFeed } from '../test/harness/threat-feeds.js';
import { configMap, exposurePolicy } from '../test/harness/objects.js';

const NS = 'forestall-system';
const CONNECTORS = [
  'network:networkpolicy',
  'network:clusternetworkpolicy',
  'network:cilium',
  'network:calico',
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      feed: {
        type: 'string',
        default: join(REPO_ROOT, '../shared/feeds/ipsum/ipsum-2026-08-22.txt'),
      },
    },
  });
  const runs = Number(values.runs);
  // Addresses on at least three lists: about 14,000, the size of a realistic C2 deny list.
  const lines = readFileSync(values.feed!, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t') as [string, string])
    .filter(([, n]) => Number(n) >= 3);
  const cp = await ControlPlane.start();
  await cp.installCrds(join(REPO_ROOT, 'test/crds/third-party'));
  const kc = cp.kubeConfig();
  const client = new KubeClient(kc);
  const mgr = await startManager(kc, { namespace: NS });
  try {
    for (const name of [NS, 'bench-a', 'bench-b'])
      await client.apply({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, labels: { bench: 'yes' } },
      } as KubernetesObject);
    const setFeed = (without?: string) =>
      client.apply(
        configMap(NS, 'ipsum', {
          'ipsum.txt': lines
            .filter(([a]) => a !== without)
            .map(([a, n]) => `${a}\t${n}`)
            .join('\n'),
        }),
      );
    await setFeed();
    await client.apply(
      configMapFeed('ipsum', NS, 'ipsum.txt', {
        parser: { scoreColumn: 1 },
        refreshInterval: '1s',
        maxChangePercent: 100,
      }),
    );
    for (const connector of CONNECTORS) {
      await client.apply(
        exposurePolicy(`bench-${connector.split(':')[1]}`, {
          feeds: { names: ['ipsum'] },
          match: "indicator.type == 'ipv4'",
          scope: { namespaceSelector: { matchLabels: { bench: 'yes' } } },
          actions: [{ type: 'EgressDeny', connector }],
          mode: 'Enforce',
          autoApprove: 'true',
          expiry: '24h',
        }),
      );
    }
    // Connectors aggregate adjacent addresses, so presence means "inside some rendered CIDR".
    const has = (text: string, ip: string) => {
      const address = parseIpv4(ip)!;
      return (text.match(/\d+\.\d+\.\d+\.\d+\/\d+/g) ?? []).some((c) => {
        const cidr = parseCidr(c);
        return (
          cidr?.family === 4 &&
          cidr.prefix > 0 &&
          address >>> (32 - cidr.prefix) === cidr.network >>> (32 - cidr.prefix)
        );
      });
    };
    // Watches (not polling, which would load the process under test) keep the objects
    // that carry addresses, per connector; each event re-checks the awaited state.
    const live = new Map<string, Map<string, string>>(CONNECTORS.map((c) => [c, new Map()]));
    const target: {
      ip: string;
      want: 'present' | 'absent';
      since: number;
      seen: Map<string, number>;
    } = { ip: lines[0]![0], want: 'present', since: performance.now(), seen: new Map() };
    const state = (c: string, ip: string) => {
      const texts = [...live.get(c)!.values()];
      return texts.length > 0 && texts.every((t) => has(t, ip))
        ? 'present'
        : texts.some((t) => has(t, ip))
          ? 'partial'
          : 'absent';
    };
    const check = (c: string) => {
      if (!target.seen.has(c) && state(c, target.ip) === target.want)
        target.seen.set(c, performance.now());
    };
    const watch = new Watch(kc);
    const aborts: { abort(): void }[] = [];
    let stopped = false;
    const follow = async (c: string, path: string): Promise<void> => {
      aborts.push(
        await watch.watch(
          path,
          { labelSelector: `forestall.io/action=bench-${c.split(':')[1]}-egressdeny` },
          (type, obj: KubernetesObject) => {
            const key = `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
            const text = JSON.stringify(obj);
            if (type === 'DELETED' || !/\d+\.\d+\.\d+\.\d+\/\d+/.test(text))
              live.get(c)!.delete(key);
            else live.get(c)!.set(key, text);
            check(c);
          },
          () => {
            // A just-installed CRD answers 429 until its storage is ready; a closed watch restarts.
            if (!stopped) setTimeout(() => void follow(c, path), 200);
          },
        ),
      );
    };
    for (const c of CONNECTORS) {
      for (const k of rendererFor(c)!.kinds)
        await follow(c, await client.path(k.apiVersion, k.kind, ALL_NAMESPACES));
    }
    await eventually(
      'first enforcement',
      () => CONNECTORS.every((c) => target.seen.has(c)),
      120_000,
      50,
    );

    let changedAt = 0;
    mgr.controllers.feeds.snapshots.onChange(() => {
      changedAt = performance.now();
    });
    const latencies: Record<string, number[]> = Object.fromEntries(CONNECTORS.map((c) => [c, []]));
    for (let i = 0; i < runs; i++) {
      // Alternate: remove an address from the feed, then put it back.
      const ip = lines[(i >> 1) + 1]![0];
      Object.assign(target, { ip, want: i % 2 === 0 ? 'absent' : 'present', seen: new Map() });
      changedAt = 0;
      await setFeed(target.want === 'absent' ? ip : undefined);
      await eventually(
        `run ${i}`,
        () => changedAt > 0 && CONNECTORS.every((c) => target.seen.has(c)),
        30_000,
        20,
      );
      for (const c of CONNECTORS) latencies[c]!.push(target.seen.get(c)! - changedAt);
    }
    stopped = true;
    for (const a of aborts) a.abort();
    for (const c of CONNECTORS) {
      const sorted = latencies[c]!.sort((a, b) => a - b);
      const name = c.split(':')[1]!.replace(/-/g, '_');
      emit(`feed_change_to_${name}_applied_p50`, percentile(sorted, 50), 'ms', {
        runs,
        indicators: lines.length,
        note: 'from the new feed snapshot to the objects observed in the API server (seen through watches; 4 policies, one per connector, evaluated at once)',
      });
      emit(`feed_change_to_${name}_applied_p99`, percentile(sorted, 99), 'ms', {
        runs,
        indicators: lines.length,
      });
    }
    await new Promise((r) => setTimeout(r, 2000));
    const byKind = async () =>
      Object.fromEntries(
        (await mgr.metrics.writes.get()).values.map((v) => [
          `${v.labels.verb} ${v.labels.kind}`,
          v.value,
        ]),
      );
    const before = await byKind();
    await new Promise((r) => setTimeout(r, 5000));
    const after = await byKind();
    const delta: Record<string, number> = Object.fromEntries(
      Object.entries(after)
        .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
        .filter(([, v]) => v > 0),
    );
    const total = Object.values(delta).reduce((a: number, b) => a + Number(b), 0);
    emit('idle_writes_5s', total, 'writes', {
      byVerbAndKind: delta,
      note: 'nothing changing while the feed is polled every 1 s: ThreatFeed status (lastSyncTime) is the only thing expected to move',
    });
  } finally {
    await mgr.stop();
    await cp.stop();
  }
}

runMain(main);
