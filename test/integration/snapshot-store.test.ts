import { readFileSync } from 'node:fs';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../controller/runtime/client.js';
import { ForestallError } from '../../controller/runtime/errors.js';
import { SnapshotStore } from '../../controller/stores/snapshot-store.js';
import type { Indicator } from '../../feeds/index.js';
import { ControlPlane } from '../harness/control-plane.js';

// Last-known-good snapshots in real ConfigMaps: they round-trip, stay under the
// object size limit, survive an interrupted save, and refuse to load when damaged.
const NS = 'forestall-system';
let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let store: SnapshotStore;

// The real IPsum snapshot, read plainly here (the feed parsers are tested on their own).
const ipsum: Indicator[] = readFileSync(
  new URL('../../../shared/feeds/ipsum/ipsum-2026-08-22.txt', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [ip, count] = l.split('\t');
    return {
      type: 'ipv4',
      value: ip!,
      confidence: Math.min(100, Number(count) * 12),
      sources: ['ipsum'],
      tags: [],
    };
  });

beforeAll(async () => {
  cp = await ControlPlane.start();
  kc = cp.kubeConfig();
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  client = new KubeClient(kc);
  store = new SnapshotStore(client, NS);
});
afterAll(async () => cp?.stop());

const sizes = async () =>
  (
    await client.list<{ metadata: { name: string } } & Record<string, unknown>>('v1', 'ConfigMap', {
      namespace: NS,
      labelSelector: 'forestall.io/feed=ipsum',
    })
  ).items.map((cm) => ({ name: cm.metadata.name, bytes: Buffer.byteLength(JSON.stringify(cm)) }));

describe('SnapshotStore on a real API server', () => {
  it('GIVEN the 120,430 IPsum addresses WHEN saved and loaded THEN they come back equal, in several chunks each under 1 MiB', async () => {
    expect(ipsum).toHaveLength(120_430);
    const meta = await store.save('ipsum', ipsum, {
      syncedAt: '2026-08-22T01:00:00Z',
      sourceState: { etag: '"abc"' },
    });
    expect(meta.count).toBe(120_430);
    const loaded = await store.load('ipsum');
    expect(loaded?.meta).toEqual(meta);
    // Compared as JSON: a failing toEqual on 120k objects would spend minutes on its diff.
    expect(JSON.stringify(loaded?.indicators) === JSON.stringify(ipsum)).toBe(true);
    const objects = await sizes();
    expect(objects.length).toBeGreaterThanOrEqual(2);
    for (const o of objects) expect(o.bytes, o.name).toBeLessThan(900 * 1024);
  });

  it('GIVEN a save interrupted before its head switched THEN the previous snapshot still loads, and the next save cleans up', async () => {
    const before = await store.load('ipsum');
    // A half-written generation: a chunk exists, the head still points at the old one.
    await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'forestall-feed-ipsum-deadbeef-0',
        namespace: NS,
        labels: { 'forestall.io/feed': 'ipsum', 'forestall.io/snapshot-generation': 'deadbeef' },
      },
      binaryData: { 'indicators.jsonl.gz': 'AAAA' },
    } as never);
    expect((await store.load('ipsum'))?.meta.digest).toBe(before?.meta.digest);
    const smaller = ipsum.slice(0, 1000);
    await store.save('ipsum', smaller, { syncedAt: '2026-08-23T01:00:00Z' });
    expect((await store.load('ipsum'))?.indicators).toHaveLength(1000);
    expect((await sizes()).map((o) => o.name).filter((n) => n.includes('deadbeef'))).toEqual([]);
    expect(await sizes()).toHaveLength(2); // head + one chunk
  });

  it('GIVEN a chunk deleted behind our back THEN load refuses with FST_SNAPSHOT_DAMAGED naming the problem', async () => {
    const chunk = (await sizes()).find((o) => o.name !== 'forestall-feed-ipsum')!;
    await client.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: chunk.name, namespace: NS },
    });
    const err = await store.load('ipsum').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForestallError);
    expect((err as ForestallError).code).toBe('FST_SNAPSHOT_DAMAGED');
    expect((err as Error).message).toBe(
      'snapshot of ThreatFeed ipsum is damaged: chunk 0 of 1 is missing',
    );
  });

  it('GIVEN a feed with no snapshot THEN load returns undefined, and delete removes every ConfigMap', async () => {
    expect(await store.load('never-synced')).toBeUndefined();
    await store.delete('ipsum');
    expect(await sizes()).toEqual([]);
  });
});
