import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendererFor } from '../../connectors/index.js';
import type { ExposurePolicy, PreemptiveAction } from '../../crds/index.js';
import type { KubeClient } from '../../controller/runtime/client.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import type { LoopbackFence } from '../harness/feed-server.js';
import { startFencedCluster } from '../harness/fenced-cluster.js';
import { startManager } from '../harness/in-process-manager.js';
import { configMapFeed, IPSUM_CONFIDENCE } from '../harness/threat-feeds.js';
import {
  configMap,
  condition as cond,
  exposurePolicy,
  namespace,
  preemptiveAction,
} from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';

// ExposurePolicies enforced for real: IPsum (the real snapshot, addresses on at least
// three lists) in a ConfigMap feed, policies for every network connector and both DNS
// connectors, against a real API server with minimal CRDs for the third-party kinds.
// Feed updates, expiry, Audit, autoApprove routing, a CEL typo, a restart, lifting and
// deletion are each checked against the objects in the API server.
const NS = 'forestall-system';
const IPSUM = join(REPO_ROOT, '../shared/feeds/ipsum/ipsum-2026-08-22.txt');
const NETWORK = [
  'network:networkpolicy',
  'network:clusternetworkpolicy',
  'network:cilium',
  'network:calico',
] as const;
const DOMAINS = ['c2.badness.test', 'update-check.malware.test', 'exfil.evil.test'];

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;

/** IPsum lines as [address, lists], comments dropped. */
const ipsum: [string, number][] = readFileSync(IPSUM, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [ip, n] = l.split('\t');
    return [ip!, Number(n)];
  });
/** The feed the tests start with: every address on at least three lists (about 14,000). */
let feedLines = ipsum.filter(([, n]) => n >= 3);
/** Addresses on at least 8 lists: confidence 100 under the example expression; the small policies act on these. */
const top = () =>
  feedLines
    .filter(([, n]) => n >= 8)
    .map(([ip]) => ip)
    .sort();

const policyName = (connector: string) => `c2-${connector.split(':')[1]}`;
const actionOf = (policy: string, type = 'egressdeny') => `${policy}-${type}`;

async function setFeed(lines: [string, number][]): Promise<void> {
  feedLines = lines;
  await client.apply(
    configMap(NS, 'ipsum', { 'ipsum.txt': lines.map(([ip, n]) => `${ip}\t${n}`).join('\n') }),
  );
}

async function policy(name: string, spec: Record<string, unknown>): Promise<void> {
  await client.apply(exposurePolicy(name, spec));
}

/**
 * The spec of an Enforce policy denying egress from team a's namespaces to the IPsum
 * addresses `match` picks (by default those of confidence 96 or more) through `connector`,
 * auto-approved up to 100 addresses.
 */
const teamAEgressDeny = (
  connector: string,
  match = "indicator.type == 'ipv4' && indicator.confidence >= 96",
) => ({
  feeds: { names: ['ipsum'] },
  match,
  scope: { namespaceSelector: { matchLabels: { team: 'a' } } },
  actions: [{ type: 'EgressDeny', connector }],
  mode: 'Enforce',
  autoApprove: 'action.blastRadius.addresses <= 100',
  expiry: '24h',
});

const getPolicy = (name: string) =>
  client.get<ExposurePolicy>('forestall.io/v1alpha1', 'ExposurePolicy', name);
const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
/** The action once it has reached `phase`. */
const actionInPhase = (name: string, phase: string, timeoutMs?: number) =>
  eventually(
    `${name} ${phase}`,
    async () => {
      const a = await getAction(name);
      return a?.status?.phase === phase && a;
    },
    timeoutMs,
  );

/** Every object an action's connector has in the API server. */
async function objectsOf(connector: string, action: string): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const k of rendererFor(connector)!.kinds) {
    out.push(
      ...(
        await client.list(k.apiVersion, k.kind, { labelSelector: `forestall.io/action=${action}` })
      ).items,
    );
  }
  return out;
}

/** Whether the objects carry exactly `want` among the IPsum addresses (as addresses or /32 CIDRs). */
function carries(objects: KubernetesObject[], want: readonly string[]): boolean {
  const text = JSON.stringify(objects);
  const present = new Set(text.match(/\d+\.\d+\.\d+\.\d+(?=\/32\b|")/g) ?? []);
  return (
    want.every((ip) => present.has(ip)) &&
    [...present].filter((ip) => !ip.startsWith('0.') && !want.includes(ip)).length === 0
  );
}

/** The scored IPsum feed from its ConfigMap, polled at `refreshInterval`. */
const ipsumFeed = (refreshInterval: string) =>
  configMapFeed('ipsum', NS, 'ipsum.txt', {
    parser: { scoreColumn: 1 },
    refreshInterval,
    confidence: { default: 30, expression: IPSUM_CONFIDENCE },
    maxChangePercent: 100,
  });

beforeAll(async () => {
  ({ fence, cp, kc, client } = await startFencedCluster([
    namespace(NS, {}),
    namespace('team-a1', { team: 'a' }),
    namespace('team-a2', { team: 'a', environment: 'production' }),
    namespace('team-b', { team: 'b' }),
    namespace('kube-system', {}),
  ]));
  for (const [ns, name, replicas] of [
    ['team-a1', 'web', 3],
    ['team-a2', 'api', 2],
    ['team-b', 'batch', 1],
  ] as const) {
    await client.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name, image: 'registry.example/app:1' }] },
        },
      },
    } as KubernetesObject);
  }
  await setFeed(feedLines);
  await client.apply(configMap(NS, 'domains', { 'domains.txt': DOMAINS.join('\n') }));
  await client.apply({
    ...ipsumFeed('1s'),
    metadata: { name: 'ipsum', labels: { 'forestall.io/kind': 'ip-reputation' } },
  });
  await client.apply(
    configMapFeed('domains', NS, 'domains.txt', {
      refreshInterval: '1h',
      confidence: { default: 90 },
    }),
  );
  mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 1500 });
}, 120_000);

afterAll(() => stopFenced(fence, mgr, cp));

describe('ExposurePolicy enforcement', () => {
  it.each(NETWORK)(
    'GIVEN an Enforce policy through %s whose autoApprove allows it THEN its objects carry exactly the matched addresses',
    async (connector) => {
      const name = policyName(connector);
      await policy(name, teamAEgressDeny(connector));
      const action = await actionInPhase(actionOf(name), 'Enforced', 30_000);
      expect(action.spec).toMatchObject({
        type: 'EgressDeny',
        layer: 'network',
        connector,
        policyRef: { name },
        indicators: { count: top().length },
        approval: { required: false },
        blastRadius: {
          namespaces: 2,
          workloads: 2,
          pods: 5,
          addresses: top().length,
          production: true,
        },
        scope: { namespaces: ['team-a1', 'team-a2'] },
      });
      expect(action.status?.enforcedAt).toBeTruthy();
      expect(action.status?.appliedObjects?.length).toBeGreaterThan(0);
      const objects = await objectsOf(connector, action.metadata!.name!);
      expect(objects.length).toBe(action.status!.appliedObjects!.length);
      expect(carries(objects, top())).toBe(true);
      const p = await eventually('policy status', async () => {
        const p = await getPolicy(name);
        return p?.status?.actions?.Enforced === 1 && p;
      });
      expect(p.status).toMatchObject({
        matchedIndicators: top().length,
        planned: [{ name: actionOf(name), decision: 'auto' }],
      });
      expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Evaluated' });
    },
  );

  it('GIVEN a DNSBlock policy through CoreDNS and RPZ THEN both ConfigMaps name every domain', async () => {
    await policy('malware-dns', {
      feeds: { names: ['domains'] },
      match: "indicator.type == 'domain'",
      actions: [
        { type: 'DNSBlock', connector: 'dns:coredns' },
        { type: 'DNSBlock', connector: 'dns:rpz' },
      ],
      mode: 'Enforce',
      autoApprove: 'true',
    });
    for (const [i, connector] of (['dns:coredns', 'dns:rpz'] as const).entries()) {
      const a = await actionInPhase(`malware-dns-dnsblock-${i}`, 'Enforced', 30_000);
      expect(a.spec).toMatchObject({
        layer: 'dns',
        connector,
        indicators: { count: 3, values: [...DOMAINS].sort() },
      });
      const text = JSON.stringify(await objectsOf(connector, a.metadata!.name!));
      for (const d of DOMAINS) expect(text).toContain(d);
    }
  });

  it('GIVEN Audit mode THEN nothing is created in the cluster, and status and a ClusterPolicyReport say what would happen', async () => {
    await policy('c2-audit', {
      feeds: { names: ['ipsum'] },
      match: "indicator.type == 'ipv4' && indicator.confidence >= 96",
      actions: [{ type: 'EgressDeny' }],
      mode: 'Audit',
      autoApprove: 'true',
    });
    const p = await eventually('audit evaluated', async () => {
      const p = await getPolicy('c2-audit');
      return (p?.status?.planned?.length ?? 0) > 0 && p;
    });
    expect(p.status).toMatchObject({
      matchedIndicators: top().length,
      planned: [{ name: 'c2-audit-egressdeny', decision: 'audit', indicators: top().length }],
    });
    expect(await getAction('c2-audit-egressdeny')).toBeUndefined();
    expect(await objectsOf('network:networkpolicy', 'c2-audit-egressdeny')).toEqual([]);
    const report = await eventually('the report', () =>
      client.get<
        KubernetesObject & {
          summary?: Record<string, number>;
          results?: { rule: string; properties: Record<string, string> }[];
        }
      >('wgpolicyk8s.io/v1alpha2', 'ClusterPolicyReport', 'forestall-c2-audit'),
    );
    expect(report.summary).toMatchObject({ warn: 1 });
    expect(report.results?.[0]).toMatchObject({
      rule: 'c2-audit-egressdeny',
      properties: { decision: 'audit', indicators: String(top().length) },
    });
  });

  it('GIVEN autoApprove caps addresses THEN a large action waits for approval with nothing applied, and a small one is enforced', async () => {
    await policy('c2-large', {
      feeds: { names: ['ipsum'] },
      match: "indicator.type == 'ipv4' && indicator.confidence >= 60",
      scope: { namespaceSelector: { matchLabels: { team: 'b' } } },
      actions: [{ type: 'EgressDeny' }],
      mode: 'Enforce',
      autoApprove: 'action.blastRadius.addresses <= 100',
    });
    const large = await actionInPhase('c2-large-egressdeny', 'Proposed');
    const expected = feedLines.filter(([, n]) => n >= 5).length;
    expect(large.spec).toMatchObject({
      approval: { required: true, reason: 'spec.autoApprove is false for this action' },
      indicators: { count: expected },
      blastRadius: { addresses: expected, production: false },
    });
    expect(large.spec.indicators.configMapRef).toMatchObject({ namespace: NS });
    expect(cond(large, 'Approved')).toMatchObject({ status: 'False', reason: 'AwaitingApproval' });
    expect(await objectsOf('network:networkpolicy', 'c2-large-egressdeny')).toEqual([]);
    expect((await getAction(actionOf(policyName('network:networkpolicy'))))?.status?.phase).toBe(
      'Enforced',
    );
  });

  it('GIVEN a feed update THEN every connector converges on the new set; the latency from snapshot to objects is printed', async () => {
    const before = top();
    // Two addresses fall to one list, and one address on three lists climbs to nine.
    const [drop1, drop2] = before;
    const climber = feedLines.find(([, n]) => n === 3)![0];
    let changedAt = 0;
    mgr.controllers.feeds.snapshots.onChange((feed) => {
      if (feed === 'ipsum' && !changedAt) changedAt = performance.now();
    });
    await setFeed(
      feedLines.map(([ip, n]): [string, number] => [
        ip,
        ip === drop1 || ip === drop2 ? 1 : ip === climber ? 9 : n,
      ]),
    );
    const want = top();
    expect(want).toContain(climber);
    expect(want).not.toContain(drop1);
    const latencies: Record<string, number> = {};
    await Promise.all(
      NETWORK.map(async (connector) => {
        await eventually(
          `${connector} converged`,
          async () => carries(await objectsOf(connector, actionOf(policyName(connector))), want),
          30_000,
          20,
        );
        latencies[connector] = Math.round(performance.now() - changedAt);
      }),
    );
    console.log(
      `feed change to objects applied (ms, from the snapshot change, polled every 20 ms): ${JSON.stringify(latencies)}`,
    );
    for (const connector of NETWORK) {
      const a = await getAction(actionOf(policyName(connector)));
      expect(a?.spec.indicators.count).toBe(want.length);
      expect(a?.status?.phase).toBe('Enforced');
    }
  });

  it('GIVEN a CEL typo in an enforced policy THEN Ready=False names spec.match and the enforcement in place is untouched', async () => {
    const name = policyName('network:networkpolicy');
    const actionBefore = (await getAction(actionOf(name)))!;
    const objectsBefore = await objectsOf('network:networkpolicy', actionOf(name));
    await policy(
      name,
      teamAEgressDeny(
        'network:networkpolicy',
        "indicator.type == 'ipv4' && indicator.confidence >=",
      ),
    );
    const p = await eventually('the compile error', async () => {
      const p = await getPolicy(name);
      return cond(p, 'Ready')?.reason === 'CompileError' && p;
    });
    expect(cond(p, 'Ready')?.status).toBe('False');
    expect(p.status?.compileErrors?.[0]?.field).toBe('spec.match');
    expect(cond(p, 'Ready')?.message).toMatch(/spec\.match/);
    const actionAfter = (await getAction(actionOf(name)))!;
    expect(actionAfter.metadata!.resourceVersion).toBe(actionBefore.metadata!.resourceVersion);
    const objectsAfter = await objectsOf('network:networkpolicy', actionOf(name));
    expect(objectsAfter.map((o) => o.metadata!.resourceVersion)).toEqual(
      objectsBefore.map((o) => o.metadata!.resourceVersion),
    );

    // A connector typo holds enforcement the same way, as InvalidSpec.
    await policy(name, teamAEgressDeny('network:netwrokpolicy'));
    const q = await eventually('the connector error', async () => {
      const q = await getPolicy(name);
      return cond(q, 'Ready')?.reason === 'InvalidSpec' && q;
    });
    expect(q.status?.compileErrors?.[0]).toMatchObject({ field: 'spec.actions[0].connector' });
    expect((await getAction(actionOf(name)))!.metadata!.resourceVersion).toBe(
      actionBefore.metadata!.resourceVersion,
    );
  });

  it('GIVEN nothing changes THEN a resync writes 0 objects; AND a restarted controller keeps every action and object as it was', async () => {
    // Stop the 1 s feed polling so that only resyncs run.
    await client.apply(ipsumFeed('1h'));
    const quiet = async () => {
      let last = -1;
      await eventually(
        'writes to settle',
        async () => {
          const now = await mgr.writes();
          const settled = now === last;
          last = now;
          return settled;
        },
        30_000,
        2000,
      );
    };
    await quiet();
    const before = await mgr.writes();
    await new Promise((r) => setTimeout(r, 4000));
    expect(await mgr.writes()).toBe(before);

    const snapshot = async () =>
      JSON.stringify(
        await Promise.all(
          NETWORK.map(async (c) => [
            (await getAction(actionOf(policyName(c))))?.metadata?.resourceVersion,
            (await objectsOf(c, actionOf(policyName(c)))).map((o) => o.metadata!.resourceVersion),
          ]),
        ),
      );
    const state = await snapshot();
    await mgr.stop();
    mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 1500 });
    await new Promise((r) => setTimeout(r, 4000));
    expect(await snapshot()).toBe(state);
  });

  it('GIVEN a short expiry THEN the action expires and everything it applied is removed', async () => {
    await policy('c2-expiring', {
      feeds: { names: ['ipsum'] },
      match: "indicator.type == 'ipv4' && indicator.confidence >= 96",
      scope: { namespaceSelector: { matchLabels: { team: 'b' } } },
      actions: [{ type: 'EgressDeny' }],
      mode: 'Enforce',
      autoApprove: 'true',
      expiry: '4s',
    });
    await eventually(
      'enforced',
      async () => (await getAction('c2-expiring-egressdeny'))?.status?.phase === 'Enforced',
      20_000,
    );
    expect((await objectsOf('network:networkpolicy', 'c2-expiring-egressdeny')).length).toBe(1);
    const expired = await actionInPhase('c2-expiring-egressdeny', 'Expired', 20_000);
    expect(expired.status?.appliedObjects ?? []).toEqual([]);
    expect(await objectsOf('network:networkpolicy', 'c2-expiring-egressdeny')).toEqual([]);
  });

  it('GIVEN an enforced action moved to another connector THEN the new objects replace the old ones; AND deleting the policy removes them', async () => {
    const spec = (connector: string) => ({
      feeds: { names: ['ipsum'] },
      match: "indicator.type == 'ipv4' && indicator.confidence >= 96",
      scope: { namespaceSelector: { matchLabels: { team: 'b' } } },
      actions: [{ type: 'EgressDeny', connector }],
      mode: 'Enforce',
      autoApprove: 'true',
    });
    await policy('c2-moving', spec('network:networkpolicy'));
    await eventually(
      'enforced by NetworkPolicy',
      async () => (await objectsOf('network:networkpolicy', 'c2-moving-egressdeny')).length === 1,
      20_000,
    );
    await policy('c2-moving', spec('network:cilium'));
    await eventually(
      'moved to Cilium',
      async () => {
        const a = await getAction('c2-moving-egressdeny');
        return (
          a?.status?.connectorResults?.[0]?.connector === 'network:cilium' &&
          a.status.phase === 'Enforced'
        );
      },
      20_000,
    );
    expect(carries(await objectsOf('network:cilium', 'c2-moving-egressdeny'), top())).toBe(true);
    expect(await objectsOf('network:networkpolicy', 'c2-moving-egressdeny')).toEqual([]);
    await client.delete(exposurePolicy('c2-moving'));
    await eventually(
      'policy gone',
      async () => (await getPolicy('c2-moving')) === undefined,
      30_000,
    );
    expect(await objectsOf('network:cilium', 'c2-moving-egressdeny')).toEqual([]);
    expect(await getAction('c2-moving-egressdeny')).toBeUndefined();
  });

  it('GIVEN hand-written PreemptiveActions THEN an approved one is enforced in its namespaces, and bad ones fail with a message naming the problem', async () => {
    const action = (name: string, spec: Record<string, unknown>) =>
      client.apply(
        preemptiveAction(name, {
          type: 'EgressDeny',
          layer: 'network',
          indicators: { count: 2, values: ['185.220.101.7', '185.220.101.9'] },
          scope: { namespaces: ['team-b'] },
          ...spec,
        }),
      );
    await action('manual-block', {
      connector: 'network:calico',
      approval: { required: false, reason: 'incident 4711' },
    });
    await action('manual-typo', { connector: 'network:calcio', approval: { required: false } });
    await action('manual-everything', {
      connector: 'network:networkpolicy',
      indicators: { count: 1, values: ['0.0.0.0/0'] },
      approval: { required: false },
    });
    await action('manual-unapproved', { connector: 'network:networkpolicy' });

    const enforced = await actionInPhase('manual-block', 'Enforced', 20_000);
    expect(enforced.status?.detectedAt).toBeTruthy();
    const objects = await objectsOf('network:calico', 'manual-block');
    expect(JSON.stringify(objects)).toContain('185.220.101.7/32');
    // Listing only namespaces means only those namespaces, also to a cluster-wide connector.
    expect(JSON.stringify(objects)).toMatch(
      /kubernetes\.io\/metadata\.name in \{'team-b'\}|team-b/,
    );

    const typo = await actionInPhase('manual-typo', 'Failed');
    expect(cond(typo, 'Ready')).toMatchObject({ status: 'False', reason: 'UnknownConnector' });
    expect(cond(typo, 'Ready')!.message).toMatch(
      /spec\.connector: no connector network:calcio; known: .*network:calico/,
    );

    const everything = await actionInPhase('manual-everything', 'Failed');
    // A hand-written action passes the feeds' guardrails: 0.0.0.0/0 is too broad for them before any connector looks.
    expect(cond(everything, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'GuardrailRefused',
    });
    expect(cond(everything, 'Ready')!.message).toMatch(/0\.0\.0\.0\/0 \(too-broad\)/);
    expect(await objectsOf('network:networkpolicy', 'manual-everything')).toEqual([]);

    const unapproved = await actionInPhase('manual-unapproved', 'Proposed');
    expect(cond(unapproved, 'Approved')).toMatchObject({
      status: 'False',
      reason: 'AwaitingApproval',
    });
    expect(await objectsOf('network:networkpolicy', 'manual-unapproved')).toEqual([]);

    for (const name of ['manual-block', 'manual-typo', 'manual-everything', 'manual-unapproved']) {
      await client.delete({
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'PreemptiveAction',
        metadata: { name },
      });
    }
    await eventually(
      'hand-written actions gone',
      async () =>
        (await getAction('manual-block')) === undefined &&
        (await getAction('manual-typo')) === undefined,
    );
    expect(await objectsOf('network:calico', 'manual-block')).toEqual([]);
  });

  it('GIVEN the matched addresses leave the feed THEN the actions lift and their objects go; AND deleting a policy leaves no orphans', async () => {
    await setFeed(feedLines.map(([ip, n]): [string, number] => [ip, Math.min(n, 7)]));
    await client.apply(ipsumFeed('1s'));
    for (const connector of NETWORK.filter((c) => c !== 'network:networkpolicy')) {
      const name = actionOf(policyName(connector));
      await eventually(
        `${name} lifted`,
        async () => (await getAction(name))?.status?.phase === 'Lifted',
        30_000,
      );
      expect(await objectsOf(connector, name)).toEqual([]);
    }
    await client.delete(exposurePolicy('malware-dns'));
    await eventually(
      'policy gone',
      async () => (await getPolicy('malware-dns')) === undefined,
      30_000,
    );
    for (const [i, connector] of (['dns:coredns', 'dns:rpz'] as const).entries()) {
      expect(await getAction(`malware-dns-dnsblock-${i}`)).toBeUndefined();
      expect(await objectsOf(connector, `malware-dns-dnsblock-${i}`)).toEqual([]);
    }
  });
});
