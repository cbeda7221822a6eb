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
