import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import {
  installLoopbackFence,
  SHARED_FEEDS_DIR,
  startFeedServer,
  type FeedServer,
  type LoopbackFence,
} from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { startFeedCluster, type threatFeedApi, replaceConfigMap } from '../harness/threat-feeds.js';
import { condition as cond } from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';

// ThreatFeeds synced for real: IPsum over HTTP from a local feed server, KEV replayed
// through a ConfigMap, every bad-input case keeping the last good snapshot, and a
// controller restart that reloads snapshots without refetching. Sockets are fenced
// to 127.0.0.1, so a wrong guard fails the test instead of sending traffic.
const NS = 'forestall-system';
// IPsum has 120,430 addresses; 48 of them are on MISP's public-resolver never-block
// list (feeds/ingest.test.ts derives that number independently from the two files).
const IPSUM_KEPT = 120_382;
let cp: ControlPlane;
let kc: KubeConfig;
let core: CoreV1Api;
let feeds: ReturnType<typeof threatFeedApi>;
let server: FeedServer;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;

const read = (name: string) => feeds.read(name);
const patchSpec = (name: string, spec: Record<string, unknown>) => feeds.patchSpec(name, spec);
const start = () => startManager(kc, { fetchAllow: ['127.0.0.1'], feedTimeoutMs: 3000 });

async function observed(
  name: string,
  generation: number,
  extra: (f: ThreatFeed) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<ThreatFeed> {
  return feeds.until(
    name,
    `${name} at generation ${generation}`,
    (f) => f.status?.observedGeneration === generation && extra(f),
    timeoutMs,
  );
}

beforeAll(async () => {
  fence = installLoopbackFence();
  server = await startFeedServer();
  ({ cp, kc, core, feeds } = await startFeedCluster(NS));
  mgr = await start();
});

afterAll(async () => {
  await stopFenced(fence, mgr, cp, server);
});

describe('ThreatFeed sync', () => {
  it('GIVEN IPsum over HTTP THEN the feed is Ready with exact counts, the guardrail drops and a digest', async () => {
    await feeds.create('ipsum', {
      format: 'lines',
      source: { http: { url: `${server.url}/mutable/ipsum.txt` } },
      parser: { scoreColumn: 1 },
      refreshInterval: '1m',
      confidence: { expression: 'int(record.score) >= 8 ? 100 : int(record.score) * 12' },
    });
    const f = await observed('ipsum', 1, (f) => f.status?.indicatorCount !== undefined);
    expect(f.status).toMatchObject({
      indicatorCount: IPSUM_KEPT,
      counts: { ipv4: IPSUM_KEPT },
      added: IPSUM_KEPT,
      removed: 0,
      rejected: 0,
      dropped: { 'never-block:public-dns-v4': 48 },
    });
    expect(cond(f, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(cond(f, 'Degraded')).toMatchObject({ status: 'False' });
    expect(cond(f, 'Stale')).toMatchObject({ status: 'False', reason: 'Fresh' });
  });

  it('GIVEN the feed is unchanged at the next sync THEN a conditional GET gets 304 and nothing is re-parsed', async () => {
    const first = await read('ipsum');
    // An http feed refreshes at most once a minute (the CRD's minimum); a spec change syncs at once.
    await patchSpec('ipsum', { maxChangePercent: 51 });
    await eventually('a conditional request', () =>
      server.requestsTo('/mutable/').some((r) => r.headers['if-none-match']),
    );
    const f = await feeds.until(
      'ipsum',
      'lastSyncTime to move',
      (f) => f.status!.lastSyncTime !== first.status!.lastSyncTime,
    );
    expect(f.status?.digest).toBe(first.status?.digest);
    expect(f.status?.lastChangeTime).toBe(first.status?.lastChangeTime);
  });

  it('GIVEN the feed changes THEN the next sync reports exactly what was added and removed', async () => {
    const before = await read('ipsum');
    server.change();
    await patchSpec('ipsum', { maxChangePercent: 52 });
    const f = await feeds.until(
      'ipsum',
      'the change synced',
      (f) => f.status!.digest !== before.status!.digest,
    );
    // Version 1 of the mutable feed drops its first address and adds one in
    // documentation space (198.51.100.0/24), which guardrails refuse: -1, +0.
    expect(f.status).toMatchObject({
      added: 0,
      removed: 1,
      indicatorCount: IPSUM_KEPT - 1,
      dropped: { 'never-block:public-dns-v4': 48, documentation: 1 },
    });
  });

  it.each([
    ['an HTTP 500', '/status/500', 'FetchFailed', /HTTP 500/],
    ['a truncated body', '/fault/truncated', 'FetchFailed', /truncat|closed|ended/i],
    ['a body larger than the cap', '/fault/oversized', 'FetchFailed', /larger than|exceeds|limit/i],
    ['a server too slow to answer', '/fault/slow', 'FetchFailed', /time/i],
    ['garbage bytes', '/fault/garbage', 'ParseFailed', /malformed|0 indicators/],
    ['an empty body', '/status/204', 'ParseFailed', /0 indicators/],
  ])(
    'GIVEN %s THEN the last good snapshot stays in force and Degraded names the problem',
    async (_what, path, reason, message) => {
      const good = await read('ipsum');
      await patchSpec('ipsum', { source: { http: { url: `${server.url}${path}` } } });
      const generation = good.metadata.generation! + 1;
      const f = await observed(
        'ipsum',
        generation,
        (f) => cond(f, 'Degraded')?.status === 'True',
        30_000,
      );
      expect(cond(f, 'Degraded')).toMatchObject({ reason });
      expect(cond(f, 'Degraded')!.message).toMatch(message);
      expect(f.status?.lastError).toBe(cond(f, 'Degraded')!.message);
      expect(cond(f, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(cond(f, 'Ready')!.message).toMatch(
        new RegExp(`last-known-good snapshot of ${good.status!.indicatorCount} indicators`),
      );
      expect(f.status).toMatchObject({
        indicatorCount: good.status!.indicatorCount,
        digest: good.status!.digest,
      });
      expect(mgr.snapshots.peek('ipsum')?.meta.digest).toBe(good.status!.digest);
      expect(cond(f, 'Degraded')!.message).not.toContain('fst-test-token');
      // Whatever the source sent (the garbage's bytes) is never quoted into status: only "…".
      expect(cond(f, 'Degraded')!.message.replaceAll('"…"', '')).not.toContain('"');
    },
  );

  it('GIVEN the URL is fixed THEN Degraded clears; AND a restarted controller reloads the snapshot without refetching', async () => {
    await patchSpec('ipsum', {
      source: { http: { url: `${server.url}/mutable/ipsum.txt` } },
      refreshInterval: '1h',
    });
    const healed = await feeds.until(
      'ipsum',
      'Degraded to clear',
      (f) =>
        cond(f, 'Degraded')?.status === 'False' &&
        f.status?.observedGeneration === f.metadata.generation,
    );
    await mgr.stop();
    const requests = server.requestsTo('/mutable/').length;
    mgr = await start();
    await eventually(
      'the snapshot restored',
      () => mgr.snapshots.peek('ipsum')?.meta.digest === healed.status!.digest,
    );
    const gauge = (await mgr.controllers.feeds.metrics.feedIndicators.get()).values.find(
      (v) => v.labels.feed === 'ipsum' && v.labels.type === 'ipv4',
    );
    expect(gauge?.value).toBe(healed.status!.indicatorCount);
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.requestsTo('/mutable/').length).toBe(requests);
    const after = await read('ipsum');
    expect(after.status?.digest).toBe(healed.status?.digest);
    expect(cond(after, 'Ready')?.status).toBe('True');
  });

  it('GIVEN the four KEV catalogs replayed through a ConfigMap THEN each sync reports exactly the CVEs added and removed', async () => {
    const files = [
      'kev-2025-01-29.json',
      'kev-2025-03-31.json',
      'kev-2025-05-22.json',
      'kev-2025-07-14.json',
    ];
    // The catalogs are over 1 MiB; gzipped they fit a ConfigMap, and the parser reads gzip.
    const catalog = (f: string) => ({
      'catalog.json.gz': gzipSync(readFileSync(`${SHARED_FEEDS_DIR}/kev/${f}`)).toString('base64'),
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'kev' }, binaryData: catalog(files[0]!) },
    });
    await feeds.create('kev', {
      format: 'kev',
      source: { configMapRef: { name: 'kev', key: 'catalog.json.gz' } },
      refreshInterval: '1s',
      confidence: { default: 100 },
    });
    const seen: [number, number, number][] = [];
    let f = await observed('kev', 1, (f) => f.status?.indicatorCount === 1253);
    seen.push([f.status!.indicatorCount!, f.status!.added!, f.status!.removed!]);
    for (const file of files.slice(1)) {
      const digest = f.status!.digest;
      await core.replaceNamespacedConfigMap({
        name: 'kev',
        namespace: NS,
        body: { metadata: { name: 'kev' }, binaryData: catalog(file) },
      });
      f = await feeds.until('kev', `${file} synced`, (next) => next.status!.digest !== digest);
      seen.push([f.status!.indicatorCount!, f.status!.added!, f.status!.removed!]);
    }
    expect(seen).toEqual([
      [1253, 1253, 0],
      [1312, 59, 0],
      [1352, 40, 0],
      [1380, 29, 1],
    ]);
  });

  it('GIVEN a feed listing 8.8.8.8, 169.254.169.254, 10.0.0.0/8 and 0.0.0.0/0 among ordinary addresses THEN status says exactly those four were dropped', async () => {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: { name: 'mixed' },
        data: {
          'feed.txt':
            '77.90.185.20\n8.8.8.8\n2.57.122.53\n169.254.169.254\n10.0.0.0/8\n45.154.244.193\n0.0.0.0/0\n',
        },
      },
    });
    await feeds.create('mixed', {
      format: 'lines',
      source: { configMapRef: { name: 'mixed', key: 'feed.txt' } },
      refreshInterval: '1s',
    });
    const f = await observed('mixed', 1, (f) => f.status?.indicatorCount !== undefined);
    // 10.0.0.0/8 overlaps this cluster's own service range (10.0.0.0/24, read from its
    // ServiceCIDR), which is checked before the RFC 1918 list, so it is named 'cluster'.
    expect(f.status).toMatchObject({
      indicatorCount: 3,
      dropped: { 'never-block:public-dns-v4': 1, 'cloud-metadata': 1, cluster: 1, 'too-broad': 1 },
    });
    expect(Object.values(f.status!.dropped!).reduce((a: number, b) => a + (b ?? 0), 0)).toBe(4);
  });

  it('GIVEN a sync that replaces most of a feed THEN LargeChange is raised with the share, and a small change clears it', async () => {
    await replaceConfigMap(core, NS, 'mixed', {
      'feed.txt': '77.90.185.20\n5.6.7.8\n9.10.11.12\n13.14.15.16\n',
    });
    const f = await feeds.until(
      'mixed',
      'the large change',
      (f) => cond(f, 'LargeChange')?.status === 'True',
      60_000,
    );
    // Previous set: 3 addresses; now +3 -2 = 5 changes, 166.7% of 3.
    expect(cond(f, 'LargeChange')!.message).toBe(
      'the last sync changed 166.7% of the feed (+3 -2 of 3), over the 50% limit; enforcement changes from it need approval',
    );
    await replaceConfigMap(core, NS, 'mixed', {
      'feed.txt': '77.90.185.20\n5.6.7.8\n9.10.11.12\n13.14.15.16\n17.18.19.20\n',
    });
    await feeds.until(
      'mixed',
      'the small change',
      (f) => cond(f, 'LargeChange')?.status === 'False',
      60_000,
    );
  });

  it('GIVEN a MISP feed directory over HTTP THEN the manifest and every event file are fetched and parsed', async () => {
    const misp = await startFeedServer({
      feedsDir: new URL('../../feeds/parsers/testdata', import.meta.url).pathname,
    });
    try {
      await feeds.create('misp', {
        format: 'misp',
        source: { http: { url: `${misp.url}/feeds/misp/` } },
      });
      const f = await observed('misp', 1, (f) => f.status?.indicatorCount !== undefined);
      // The synthetic fixture (feeds/parsers/testdata/README.md): 16 to_ids values (one an
      // email-src account) and 1 unsupported attribute; its 5 IPv4 addresses and its IPv6
      // one are in documentation space (192.0.2.0/24..., 2001:db8::/32) and refused alike.
      expect(f.status).toMatchObject({
        indicatorCount: 10,
        counts: { account: 1, domain: 4, hash: 3, url: 2 },
        dropped: { documentation: 6 },
        rejected: 1,
      });
      expect(
        misp
          .requestsTo('/feeds/misp/')
          .map((r) => r.path)
          .sort(),
      ).toEqual([
        '/feeds/misp/3b9e0c5a-6f1d-4c2e-9a47-1d2f3e4a5b6c.json',
        '/feeds/misp/8d41f7b2-2c3a-4e5f-8b6a-7c8d9e0f1a2b.json',
        '/feeds/misp/manifest.json',
      ]);
    } finally {
      await misp.close();
    }
  });
});
