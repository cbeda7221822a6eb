import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../crds/index.js';
import {
  installLoopbackFence,
  startFeedServer,
  type FeedServer,
  type LoopbackFence,
} from '../test/harness/feed-server.js';
import { fetchFeed, type FetchPolicy, type SourceReaders } from './sync.js';

// A MISP sync has one byte budget across manifest.json and all its event files (issue
// 13: "a MISP manifest may list any number of events, each with its own budget"). The
// fixture's files are 1,081, 5,946 and 8,059 bytes: each fits a 10,000-byte cap alone,
// together they do not. Served by a real HTTP server on 127.0.0.1.
const PHISHING = '3b9e0c5a-6f1d-4c2e-9a47-1d2f3e4a5b6c';
const RAT = '8d41f7b2-2c3a-4e5f-8b6a-7c8d9e0f1a2b';
let server: FeedServer;
let fence: LoopbackFence;

beforeAll(async () => {
  fence = installLoopbackFence();
  server = await startFeedServer({
    feedsDir: new URL('./parsers/testdata', import.meta.url).pathname,
  });
});
afterAll(async () => {
  await server?.close();
  expect(fence.violations).toEqual([]);
  fence?.uninstall();
});

const misp = (): ThreatFeed =>
  ({
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'ThreatFeed',
    metadata: { name: 'misp' },
    spec: { format: 'misp', source: { http: { url: `${server.url}/feeds/misp/` } } },
  }) as ThreatFeed;
const policy = (maxBytes: number): FetchPolicy => ({
  ssrf: { allow: ['127.0.0.1'] },
  maxBytes,
  timeoutMs: 5_000,
});
// An http source without Secrets reads nothing through its readers.
const unused = (): never => {
  throw new Error('an http source without Secrets read through its readers');
};
const noReaders: SourceReaders = { credential: unused, caBundle: unused, configMap: unused };

async function readAll(maxBytes: number): Promise<number> {
  const outcome = await fetchFeed(misp(), undefined, noReaders, policy(maxBytes));
  if (outcome.status !== 'ok' || !('files' in outcome))
    throw new Error('expected a MISP file reader');
  let total = 0;
  for (const name of ['manifest.json', `${PHISHING}.json`, `${RAT}.json`])
    total += (await outcome.files(name)).byteLength;
  return total;
}

describe('fetchFeed: MISP', () => {
  it('GIVEN a cap the whole feed fits THEN every file is read', async () => {
    expect(await readAll(20_000)).toBe(1_081 + 8_059 + 5_946);
  });

  it('GIVEN a cap each file fits but the feed does not THEN the sync is refused as too large, naming the per-sync budget', async () => {
    await expect(readAll(10_000)).rejects.toMatchObject({
      code: 'FST_FEED_TOO_LARGE',
      message: expect.stringMatching(
        /holds more than 10000 bytes across manifest\.json and its event files \(one byte cap per sync\), at 8d41f7b2/,
      ),
    });
  });
});

// One deadline per MISP sync (issue 13: "one byte budget and deadline per MISP sync"):
// every request of the sync, manifest.json and each event file, shares the caller's
// signal, which the reconciler aborts at --feed-sync-deadline. Here each event file
// takes SLOW_MS, within the per-request time limit, so a limit per request alone would
// let the whole feed through; the shared deadline falls between the first file and the
// second. The server is a real one on 127.0.0.1 serving the MISP fixture.
describe('fetchFeed: MISP, one deadline', () => {
  const SLOW_MS = 1_000;
  const PER_REQUEST_MS = 1_400;
  const DEADLINE_MS = 1_600;
  const dir = new URL('./parsers/testdata/misp/', import.meta.url);
  let slow: Server;
  let base: string;
  const asked: string[] = [];

  beforeAll(async () => {
    slow = createServer((req, res) => {
      const name = (req.url ?? '/').split('/').pop()!;
      asked.push(name);
      const body = readFileSync(new URL(name, dir));
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (name === 'manifest.json') send();
      else setTimeout(send, SLOW_MS).unref();
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/misp/`;
  });
  afterAll(async () => {
    slow?.closeAllConnections();
    await new Promise<void>((resolve) => slow?.close(() => resolve()));
  });

  it('GIVEN event files each within the request time limit but together past the sync deadline THEN the sync stops at the deadline, cancelled, before the last file', async () => {
    const feed = misp();
    feed.spec.source.http!.url = base;
    const started = Date.now();
    const signal = AbortSignal.timeout(DEADLINE_MS);
    const outcome = await fetchFeed(
      feed,
      undefined,
      noReaders,
      { ...policy(1 << 20), timeoutMs: PER_REQUEST_MS },
      signal,
    );
    if (outcome.status !== 'ok' || !('files' in outcome))
      throw new Error('expected a MISP file reader');
    await outcome.files('manifest.json');
    expect((await outcome.files(`${PHISHING}.json`)).byteLength).toBe(8_059);
    const err = await outcome.files(`${RAT}.json`).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    // Cancelled by the sync's signal, not timed out by the request's own limit.
    expect(err).toMatchObject({ code: 'FST_FEED_ABORTED' });
    expect(signal.aborted).toBe(true);
    expect(asked).toEqual(['manifest.json', `${PHISHING}.json`, `${RAT}.json`]);
    expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(elapsed).toBeLessThan(2 * SLOW_MS);
  });
});
