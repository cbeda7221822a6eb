import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../harness/control-plane.js';
import { startManager } from '../harness/in-process-manager.js';
import { startFeedCluster, type threatFeedApi } from '../harness/threat-feeds.js';
import type { CustomObjectsApi } from '@kubernetes/client-node';

// A snapshot is only as good as the guardrails it was judged with. When they change —
// a policy starts naming a forge host, the cluster gains a range, a new release
// protects more — the stored indicators are judged anew at once, even though the
// feed's own content did not change (its ConfigMap keeps its resourceVersion, an HTTP
// server would answer 304). Without this, a name that the guardrails now protect stays
// in the snapshot, and so in enforcement, until the feed happens to change.
const NS = 'forestall-system';
let cp: ControlPlane;
let custom: CustomObjectsApi;
let feeds: ReturnType<typeof threatFeedApi>;
let mgr: Awaited<ReturnType<typeof startManager>>;

beforeAll(async () => {
  const cluster = await startFeedCluster(NS, {
    domains: { 'feed.txt': 'git.corp-forge.example\nevil-c2.example\n' },
  });
  ({ cp, custom, feeds } = cluster);
  mgr = await startManager(cluster.kc, { namespace: NS });
});
afterAll(async () => {
  await mgr?.stop();
  await cp?.stop();
});

describe('GIVEN a synced feed holding a name no guardrail protects yet', () => {
  it('WHEN a policy starts naming that host as its forge THEN the snapshot is judged anew and the name leaves it, without a content change', async () => {
    // An hour: the re-judgement must not wait for the next refresh.
    await feeds.create('domains', {
      format: 'lines',
      refreshInterval: '1h',
      source: { configMapRef: { name: 'domains', key: 'feed.txt' } },
    });
    const first = await feeds.holding('domains', 2, 60_000);
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
    await feeds.patchSpec('domains', { maxChangePercent: 60 });
    const after = await feeds.holding('domains', 1, 60_000);
    expect(after.status?.dropped).toMatchObject({ infrastructure: 1 });
    expect(after.status?.digest).not.toBe(digestBefore);
    expect(mgr.snapshots.peek('domains')?.indicators.map((i) => i.value)).toEqual([
      'evil-c2.example',
    ]);
  });
});
