import { CoreV1Api, type CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { startManager } from '../harness/in-process-manager.js';
import { startFeedCluster, THREATFEEDS, type threatFeedApi } from '../harness/threat-feeds.js';
import { condition } from '../harness/objects.js';

// The ThreatFeed reconciler against a real API server: it converges after create,
// update and delete, writes nothing on a resync of unchanged objects, and survives
// an API server restart in the middle of its watch.
let cp: ControlPlane;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let feeds: ReturnType<typeof threatFeedApi>;
let mgr: Awaited<ReturnType<typeof startManager>>;
const RESYNC_MS = 1500;

beforeAll(async () => {
  // An air-gapped feed: the controller reads it from this ConfigMap, no network at all.
  ({ cp, kc, custom, feeds } = await startFeedCluster('forestall-system', {
    'small-feed': { 'feed.txt': '77.90.185.20\n2.57.122.53\n8.8.8.8\n' },
  }));
  mgr = await startManager(kc, { resyncPeriodMs: RESYNC_MS });
});
afterAll(async () => {
  await mgr?.stop();
  await cp?.stop();
});

const ready = (f: ThreatFeed) => condition(f, 'Ready');
/** The feed at `generation` once the controller has observed it. */
const atGeneration = (name: string, generation: number, what: string) =>
  feeds.until(name, what, (f) => f.status?.observedGeneration === generation);

const feed = (name: string, spec: Partial<ThreatFeed['spec']> = {}) =>
  feeds.create(name, {
    format: 'lines',
    source: { configMapRef: { name: 'small-feed', key: 'feed.txt' } },
    ...spec,
  });

describe('ThreatFeed controller', () => {
  it('GIVEN a new ThreatFeed THEN it is synced: finalizer, observedGeneration 1, counts, guardrail drops, a snapshot and an Event', async () => {
    await feed('ipsum');
    const f = await atGeneration('ipsum', 1, 'status of ipsum');
    expect(f.metadata.finalizers).toEqual(['forestall.io/finalizer']);
    expect(ready(f)).toMatchObject({ status: 'True', reason: 'Synced', observedGeneration: 1 });
    expect(f.status).toMatchObject({
      indicatorCount: 2,
      counts: { ipv4: 2 },
      added: 2,
      removed: 0,
      dropped: { 'never-block:public-dns-v4': 1 },
      rejected: 0,
    });
    expect(f.status?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const snapshot = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({
      namespace: 'forestall-system',
      labelSelector: 'forestall.io/feed=ipsum',
    });
    expect(snapshot.items.map((c) => c.metadata?.name).sort()).toEqual([
      expect.stringMatching(/^forestall-feed-ipsum$/),
      expect.stringMatching(/^forestall-feed-ipsum-[0-9a-f]{8}-0$/),
    ]);
    const events = await eventually('an Event for ipsum', async () => {
      const list = await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=ipsum' });
      return list.items.length > 0 && list.items;
    });
    expect(events[0]).toMatchObject({
      reason: 'Synced',
      type: 'Normal',
      involvedObject: { kind: 'ThreatFeed', name: 'ipsum' },
    });
    expect(events[0]!.message).toMatch(
      /^2 indicators \(\+2 -0\) from ConfigMap forestall-system\/small-feed key feed.txt; 1 dropped by guardrails, 0 malformed$/,
    );
  });

  it('GIVEN the spec changes THEN status follows the new generation', async () => {
    await feeds.patchSpec('ipsum', { suspend: true });
    const f = await atGeneration('ipsum', 2, 'generation 2 observed');
    expect(ready(f)).toMatchObject({ status: 'False', reason: 'Suspended' });
  });

  it('GIVEN a confidence expression that does not compile THEN Ready is False naming the field', async () => {
    await feeds.patchSpec('ipsum', {
      suspend: false,
      confidence: { expression: 'int(record.score * 10' },
    });
    const f = await atGeneration('ipsum', 3, 'generation 3 observed');
    expect(ready(f)).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready(f)!.message).toMatch(/^spec\.confidence\.expression: /);
  });

  it('GIVEN nothing changes THEN resyncs reconcile again but write 0 objects', async () => {
    await sleep(500);
    const before = await mgr.writes();
    const reconcilesBefore = await reconciles();
    await sleep(RESYNC_MS * 3);
    expect(await reconciles()).toBeGreaterThan(reconcilesBefore);
    expect(await mgr.writes()).toBe(before);
  });

  it('GIVEN the ThreatFeed is deleted THEN its snapshot is deleted, the finalizer removed and the object gone', async () => {
    await custom.deleteClusterCustomObject({ ...THREATFEEDS, name: 'ipsum' });
    await eventually(
      'snapshot ConfigMaps deleted',
      async () =>
        (
          await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({
            namespace: 'forestall-system',
            labelSelector: 'forestall.io/feed=ipsum',
          })
        ).items.length === 0,
    );
    await eventually('ipsum to be gone', async () => {
      try {
        await feeds.read('ipsum');
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    });
  });

  it('GIVEN the API server restarts mid-watch THEN the controller reconnects and reconciles a feed created afterwards', async () => {
    await feed('before-restart');
    await atGeneration('before-restart', 1, 'before-restart reconciled');
    const restartsBefore = await watchRestarts();
    await cp.restartApiServer();
    await feed('after-restart');
    // A sync that ran while the API server was down failed (its guardrail inputs could not
    // be read) and is retried with backoff: the feed ends up synced.
    const f = await feeds.until(
      'after-restart',
      'after-restart synced',
      (f) => f.status?.observedGeneration === 1 && ready(f)?.reason === 'Synced',
      60_000,
    );
    expect(ready(f)?.status).toBe('True');
    expect(await watchRestarts()).toBeGreaterThan(restartsBefore);
    // The cache still knows the object from before the restart and keeps it converged.
    await feeds.patchSpec('before-restart', { suspend: true });
    await atGeneration('before-restart', 2, 'before-restart generation 2');
  });
});

async function reconciles(): Promise<number> {
  return (await mgr.metrics.reconcileTotal.get()).values.reduce((s, v) => s + v.value, 0);
}

async function watchRestarts(): Promise<number> {
  return (await mgr.metrics.informerRestarts.get()).values.reduce((s, v) => s + v.value, 0);
}
