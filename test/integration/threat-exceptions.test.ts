import { performance } from 'node:perf_hooks';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  validateObject,
  type PreemptiveAction,
  type ThreatException,
  type ExposurePolicy,
} from '../../crds/index.js';
import type { KubeClient } from '../../controller/runtime/client.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import type { LoopbackFence } from '../harness/feed-server.js';
import { startFencedCluster } from '../harness/fenced-cluster.js';
import { startManager } from '../harness/in-process-manager.js';
import { configMapFeed } from '../harness/threat-feeds.js';
import { condition, configMap, egressDenySpec, exposurePolicy } from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';

// ThreatExceptions on a real API server with the real controllers: the CRD's rules
// (and the offline validator's agreement with them), an enforced address that becomes
// excepted leaving its NetworkPolicy (measured), an action emptied by exceptions being
// lifted, narrowing by feed and policy, status, Events and expiry.
const NS = 'forestall-system';
// Documentation ranges are refused by the guardrails; these stand for public addresses
// that only a test network uses, as the other integration tests do.
const FEED = ['45.95.169.10', '45.95.169.20', '91.92.240.0/24', '185.220.101.4'];

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;

const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
const getException = (name: string) =>
  client.get<ThreatException>('forestall.io/v1alpha1', 'ThreatException', name);

function threatException(name: string, spec: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'ThreatException',
    metadata: { name },
    spec: { reason: 'false positive: our CDN', owner: 'secops@example.com', ...spec },
  } as KubernetesObject;
}

/** Every address or CIDR the NetworkPolicies of an action deny. */
async function denied(action: string): Promise<string[]> {
  const list = await client.list<KubernetesObject & { spec?: unknown }>(
    'networking.k8s.io/v1',
    'NetworkPolicy',
    { labelSelector: `forestall.io/action=${action}` },
  );
  const text = JSON.stringify(list.items.map((p) => p.spec));
  return [...new Set(text.match(/\d+\.\d+\.\d+\.\d+\/\d+/g) ?? [])]
    .filter((c) => !c.startsWith('0.0.0.0'))
    .sort();
}

/** The message the API server gives when it refuses `body`, or undefined when it stores it. */
async function refusal(body: KubernetesObject): Promise<string | undefined> {
  try {
    await client.apply(body);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

beforeAll(async () => {
  ({ fence, cp, kc, client } = await startFencedCluster([NS, 'team-a']));
  await client.apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] },
      },
    },
  } as KubernetesObject);
  await client.apply(configMap(NS, 'blocklist', { 'list.txt': FEED.join('\n') }));
  await client.apply(
    configMapFeed('blocklist', NS, 'list.txt', {
      refreshInterval: '1h',
      confidence: { default: 90 },
    }),
  );
  mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 0 });
  await client.apply(exposurePolicy('deny', egressDenySpec('blocklist', 'team-a')));
  await eventually(
    'deny-egressdeny Enforced with the whole feed',
    async () => {
      const a = await getAction('deny-egressdeny');
      const d = await denied('deny-egressdeny');
      if (a?.status?.phase !== 'Enforced' || d.length !== 4)
        throw new Error(
          `phase ${a?.status?.phase}, denied ${d.join(' ')}: ${JSON.stringify(a?.status?.conditions ?? (await client.get<ExposurePolicy>('forestall.io/v1alpha1', 'ExposurePolicy', 'deny'))?.status)}`,
        );
      return true;
    },
    30_000,
  );
}, 120_000);

afterAll(() => stopFenced(fence, mgr, cp));

describe('ThreatException on the API server', () => {
  it('GIVEN exceptions wider than /8, every domain, a TLD, or naming nothing THEN the API server refuses them as the offline validator does, and broad: true lets the wide one in', async () => {
    const cases = [
      threatException('too-wide', { cidrs: ['10.0.0.0/7'] }),
      threatException('every-domain', { domains: ['*'] }),
      threatException('a-tld', { domains: ['*.com'] }),
      threatException('nothing', {}),
      threatException('no-owner', { values: ['x'], owner: undefined }),
    ];
    for (const body of cases) {
      const server = await refusal(body);
      const offline = validateObject(structuredClone(body));
      expect(server, body.metadata!.name).toBeDefined();
      expect(offline.ok, body.metadata!.name).toBe(false);
    }
    expect(await refusal(threatException('too-wide', { cidrs: ['10.0.0.0/7'] }))).toMatch(
      /wider than IPv4 \/8 or IPv6 \/32 needs broad: true/,
    );
    expect(
      await refusal(
        threatException('wide-ok', { cidrs: ['10.0.0.0/7'], broad: true, policies: ['none'] }),
      ),
    ).toBeUndefined();
    const stored = await eventually('wide-ok flagged Broad', async () => {
      const e = await getException('wide-ok');
      return condition(e, 'Broad')?.status === 'True' && e;
    });
    expect(stored.status?.phase).toBe('Active');
    expect(condition(stored, 'Broad')?.message).toBe(
      'spec.cidrs[0]: 10.0.0.0/7 is wider than /8 (IPv4)',
    );
  });

  it('GIVEN ::ffff:0.0.0.0/96 (all of IPv4, which the CRD pattern cannot judge) without broad THEN the controller marks it Invalid and no policy honours it', async () => {
    await client.apply(threatException('mapped-all', { cidrs: ['::ffff:0.0.0.0/96'] }));
    const e = await eventually('mapped-all Invalid', async () => {
      const x = await getException('mapped-all');
      return x?.status?.phase === 'Invalid' && x;
    });
    expect(condition(e, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(e, 'Ready')?.message).toContain('::ffff:0.0.0.0/96 is wider than /8 (IPv4)');
    expect(await denied('deny-egressdeny')).toHaveLength(4);
  });
});

describe('an enforced indicator that becomes excepted', () => {
  it('GIVEN an exception for one enforced address THEN it leaves the NetworkPolicy within seconds, the action and the exception say so, with Events', async () => {
    const before = await denied('deny-egressdeny');
    expect(before).toContain('45.95.169.10/32');
    const start = performance.now();
    await client.apply(threatException('cdn-false-positive', { values: ['45.95.169.10'] }));
    await eventually(
      '45.95.169.10 gone from the NetworkPolicy',
      async () => !(await denied('deny-egressdeny')).includes('45.95.169.10/32'),
      15_000,
      20,
    );
    const seconds = (performance.now() - start) / 1000;
    console.log(JSON.stringify({ name: 'exception-to-lifted', value: seconds, unit: 's' }));
    expect(await denied('deny-egressdeny')).toEqual(before.filter((c) => c !== '45.95.169.10/32'));

    const action = await eventually('the action marked Excepted', async () => {
      const a = await getAction('deny-egressdeny');
      return condition(a, 'Excepted')?.status === 'True' && a;
    });
    expect(action.spec.exceptions).toEqual([{ name: 'cdn-false-positive', indicators: 1 }]);
    expect(action.status?.phase).toBe('Enforced');
    expect(condition(action, 'Excepted')?.message).toBe(
      'ThreatException cdn-false-positive left out 1 indicator(s)',
    );
    const exception = await eventually('the exception lists the action', async () => {
      const e = await getException('cdn-false-positive');
      return e?.status?.exceptedActions === 1 && e;
    });
    expect(exception.status).toMatchObject({
      phase: 'Active',
      actions: [{ name: 'deny-egressdeny', indicators: 1, lifted: false }],
    });
    const policy = await client.get<ExposurePolicy>(
      'forestall.io/v1alpha1',
      'ExposurePolicy',
      'deny',
    );
    expect(policy?.status?.exceptedIndicators).toBe(1);
    const events = await eventually('Excepted and ActionsChanged Events', async () => {
      const list = await client.list<
        KubernetesObject & { reason?: string; involvedObject?: { kind?: string; name?: string } }
      >('v1', 'Event');
      const reasons = list.items.map((e) => `${e.involvedObject?.kind}/${e.reason}`);
      return (
        reasons.includes('PreemptiveAction/Excepted') &&
        reasons.includes('ThreatException/ActionsChanged') &&
        reasons
      );
    });
    expect(events).toContain('ThreatException/Active');
  });

  it('GIVEN an exception narrowed to another feed or another policy THEN nothing more leaves', async () => {
    await client.apply(
      threatException('other-feed', { values: ['45.95.169.20'], feeds: ['elsewhere'] }),
    );
    await client.apply(
      threatException('other-policy', { values: ['45.95.169.20'], policies: ['someone-else'] }),
    );
    await eventually('both exceptions Active', async () =>
      (await Promise.all(['other-feed', 'other-policy'].map(getException))).every(
        (e) => e?.status?.phase === 'Active',
      ),
    );
    // The policy re-evaluates on each exception; give it a moment and check nothing moved.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await denied('deny-egressdeny')).toContain('45.95.169.20/32');
  });

  it('GIVEN exceptions that cover every remaining indicator THEN the action is lifted and its NetworkPolicies are removed, with the exceptions named', async () => {
    const start = performance.now();
    await client.apply(
      threatException('whole-range', {
        cidrs: ['45.95.169.0/24', '91.92.240.77', '185.220.101.4'],
      }),
    );
    const lifted = await eventually(
      'deny-egressdeny Lifted',
      async () => {
        const a = await getAction('deny-egressdeny');
        return a?.status?.phase === 'Lifted' && a;
      },
      15_000,
      20,
    );
    await eventually(
      'its NetworkPolicies gone',
      async () => (await denied('deny-egressdeny')).length === 0,
      10_000,
      20,
    );
    console.log(
      JSON.stringify({
        name: 'exception-to-action-lifted',
        value: (performance.now() - start) / 1000,
        unit: 's',
      }),
    );
    expect(lifted.spec.indicators.count).toBe(0);
    expect(lifted.spec.exceptions).toEqual([
      { name: 'cdn-false-positive', indicators: 1 },
      // The /24 covers 45.95.169.10 as well: an indicator two exceptions name counts for both.
      { name: 'whole-range', indicators: 4 },
    ]);
    const whole = await eventually('whole-range lists the lifted action', async () => {
      const e = await getException('whole-range');
      return e?.status?.actions?.[0]?.lifted === true && e;
    });
    expect(whole.status?.actions).toEqual([
      { name: 'deny-egressdeny', indicators: 4, lifted: true },
    ]);
  });

  it('GIVEN the exceptions expire THEN they turn Expired and the indicators are enforced again', async () => {
    const soon = new Date(Date.now() + 3000).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const name of ['cdn-false-positive', 'whole-range']) {
      const e = await getException(name);
      await client.apply(threatException(name, { ...e!.spec, expiresAt: soon }));
    }
    const expired = await eventually(
      'whole-range Expired',
      async () => {
        const e = await getException('whole-range');
        return e?.status?.phase === 'Expired' && e;
      },
      15_000,
    );
    expect(condition(expired, 'Ready')).toMatchObject({ status: 'False', reason: 'Expired' });
    await eventually(
      'the whole feed denied again',
      async () => (await denied('deny-egressdeny')).length === 4,
      20_000,
    );
    const action = await eventually('the action Enforced, no longer excepted', async () => {
      const a = await getAction('deny-egressdeny');
      return a?.status?.phase === 'Enforced' && condition(a, 'Excepted')?.status === 'False' && a;
    });
    expect(action.spec.exceptions).toBeUndefined();
  });
});
