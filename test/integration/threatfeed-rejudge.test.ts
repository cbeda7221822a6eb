import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { startManager } from '../harness/in-process-manager.js';

// A snapshot is only as good as the guardrails it was judged with. When they change —
// a policy starts naming a forge host, the cluster gains a range, a new release
// protects more — the stored indicators are judged anew at once, even though the
// feed's own content did not change (its ConfigMap keeps its resourceVersion, an HTTP
// server would answer 304). Without this, a name that the guardrails now protect stays
// in the snapshot, and so in enforcement, until the feed happens to change.
const NS = 'forestall-system';
const feeds = { group: 'forestall.io', version: 'v1alpha1', plural: 'threatfeeds' };
let cp: ControlPlane;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let mgr: Awaited<ReturnType<typeof startManager>>;

const read = async (name: string) =>
  (await custom.getClusterCustomObject({ ...feeds, name })) as ThreatFeed;

beforeAll(async () => {
  cp = await ControlPlane.start();
  kc = cp.kubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedConfigMap({
    namespace: NS,
    body: {
      metadata: { name: 'domains' },
      data: { 'feed.txt': 'git.corp-forge.example\nevil-c2.example\n' },
    },
  });
  mgr = await startManager(kc, { namespace: NS });
});
afterAll(async () => {
  await mgr?.stop();
  await cp?.stop();
});

describe('GIVEN a synced feed holding a name no guardrail protects yet', () => {
  it('WHEN a policy starts naming that host as its forge THEN the snapshot is judged anew and the name leaves it, without a content change', async () => {
    await custom.createClusterCustomObject({
      ...feeds,
      body: {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatFeed',
        metadata: { name: 'domains' },
        // An hour: the re-judgement must not wait for the next refresh.
        spec: {
          format: 'lines',
          refreshInterval: '1h',
          source: { configMapRef: { name: 'domains', key: 'feed.txt' } },
        },
      },
    });
    const first = await eventually(
      'feed synced',
      async () => {
        const f = await read('domains');
        return f.status?.indicatorCount === 2 && f;
      },
      60_000,
    );
    const digestBefore = first.status!.digest;

    await custom.createClusterCustomObject({
      group: 'forestall.io',
      version: 'v1alpha1',
      plural: 'exposurepolicies',
      body: {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ExposurePolicy',
        metadata: { name: 'dns' },
        spec: {
          feeds: { names: ['domains'] },
          mode: 'Audit',
          actions: [{ type: 'DNSBlock' }],
          git: { url: 'https://git.corp-forge.example/platform/policy.git' },
        },
      },
    });
    // The feed controller does not watch policies; a spec change stands in for the
    // periodic resync (default 10m), which would do the same.
    await custom.patchClusterCustomObject(
      { ...feeds, name: 'domains', body: { spec: { maxChangePercent: 60 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const after = await eventually(
      'feed judged anew',
      async () => {
        const f = await read('domains');
        return f.status?.indicatorCount === 1 && f;
      },
      60_000,
    );
    expect(after.status?.dropped).toMatchObject({ infrastructure: 1 });
    expect(after.status?.digest).not.toBe(digestBefore);
    expect(mgr.snapshots.peek('domains')?.indicators.map((i) => i.value)).toEqual([
      'evil-c2.example',
    ]);
  });
});
