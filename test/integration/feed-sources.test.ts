/**
 * Feed sources against real servers on 127.0.0.1: the local feed server
 * (test/harness/feed-server.ts) for HTTP(S), and medallion, the OASIS TAXII 2.1
 * reference server, for TAXII. No Kubernetes API server is needed here.
 *
 * No test sends a packet anywhere but loopback: every SSRF case is refused before
 * a connection is made, which is exactly what these tests check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseStix } from '../../feeds/parsers/index.js';
import { FeedError, discoverTaxii, fetchHttp, fetchTaxii } from '../../feeds/sources/index.js';
import type {
  FeedErrorCode,
  HttpFetchOptions,
  Resolver,
  SsrfPolicy,
  TaxiiFetchOptions,
} from '../../feeds/sources/index.js';
import {
  FEED_SERVER_TOKEN,
  IPSUM_PATH,
  SHARED_FEEDS_DIR,
  TLS_SERVER_NAME,
  installLoopbackFence,
  startFeedServer,
} from '../harness/feed-server.js';
import type { FeedServer, LoopbackFence } from '../harness/feed-server.js';
import { freeLoopbackPorts } from '../harness/free-port.js';
import { startTaxiiServer } from '../harness/taxii-server.js';
import type { TaxiiServer } from '../harness/taxii-server.js';

const IPSUM = readFileSync(join(SHARED_FEEDS_DIR, IPSUM_PATH));
const MIB = 1024 * 1024;
/** Only the test servers' address; everything else keeps the default refusals. */
const LOOPBACK_ONLY: SsrfPolicy = { allow: ['127.0.0.1/32'] };
/** A second credential, sent as a custom header, that must never surface either. */
const API_KEY = 'fst-api-key-8d2b61f0c4e9a7';

/** Every FeedError the tests saw, for the "no secret in any error" check at the end. */
const seenErrors: FeedError[] = [];

// Whatever the code under test does, this process only connects to 127.0.0.1: a
// broken guard fails its test here instead of sending traffic off the machine.
let fence: LoopbackFence;
beforeAll(() => {
  fence = installLoopbackFence();
});
afterAll(() => {
  fence.uninstall();
});
afterEach(() => {
  expect(fence.violations, 'connections the loopback fence had to stop').toEqual([]);
});

async function readAll(
  body: AsyncIterable<Uint8Array>,
): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

function httpOptions(url: string, extra: Partial<HttpFetchOptions> = {}): HttpFetchOptions {
  return { url, maxBytes: 16 * MIB, timeoutMs: 20_000, ssrf: LOOPBACK_ONLY, ...extra };
}

/** Fetches and reads the whole body; returns what came back. */
async function fetchBody(opts: HttpFetchOptions): Promise<{
  bytes: Buffer;
  chunks: number;
  etag?: string;
  lastModified?: string;
  finalUrl: string;
}> {
  const result = await fetchHttp(opts);
  if (result.status !== 'ok') throw new Error(`expected a body, got ${result.status}`);
  const { bytes, chunks } = await readAll(result.body);
  return {
    bytes,
    chunks,
    finalUrl: result.finalUrl,
    ...(result.etag !== undefined ? { etag: result.etag } : {}),
    ...(result.lastModified !== undefined ? { lastModified: result.lastModified } : {}),
  };
}

/**
 * Runs `work` (a fetch, including reading its body) and returns the FeedError it
 * must fail with; also records how many body bytes arrived before the failure.
 */
async function expectFeedError(
  code: FeedErrorCode,
  work: () => Promise<unknown>,
): Promise<FeedError> {
  let outcome: unknown;
  try {
    await work();
    outcome = 'success';
  } catch (err) {
    outcome = err;
  }
  if (!(outcome instanceof FeedError)) {
    throw new Error(
      `expected FeedError ${code}, got ${outcome === 'success' ? 'success' : inspect(outcome)}`,
    );
  }
  seenErrors.push(outcome);
  expect(outcome.code, outcome.message).toBe(code);
  expect(outcome.transient).toBeTypeOf('boolean');
  return outcome;
}

async function httpError(
  code: FeedErrorCode,
  opts: HttpFetchOptions,
): Promise<FeedError & { bodyBytes: number }> {
  let bodyBytes = 0;
  const err = await expectFeedError(code, async () => {
    const result = await fetchHttp(opts);
    if (result.status === 'ok') {
      for await (const chunk of result.body) bodyBytes += chunk.length;
    }
  });
  return Object.assign(err, { bodyBytes });
}

/** A resolver for made-up names, counting its calls; `answers` may change per call (rebinding). */
function fakeDns(answers: Record<string, string[] | ((call: number) => string[])>): {
  resolve: Resolver;
  calls: string[];
} {
  const calls: string[] = [];
  const resolve: Resolver = async (hostname) => {
    calls.push(hostname);
    const entry = answers[hostname];
    const addresses =
      typeof entry === 'function' ? entry(calls.filter((h) => h === hostname).length) : entry;
    if (addresses === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    return addresses.map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }));
  };
  return { resolve, calls };
}

describe('http feed source', () => {
  let server: FeedServer;
  let tlsServer: FeedServer;
  let ipsumUrl: string;
  /** Options for the feed server's fault route `name` (feed-server.ts lists them). */
  const fault = (name: string, extra: Partial<HttpFetchOptions> = {}) =>
    httpOptions(`${server.url}/fault/${name}`, extra);

  beforeAll(async () => {
    server = await startFeedServer();
    tlsServer = await startFeedServer({ tls: true });
    ipsumUrl = `${server.url}/feeds/${IPSUM_PATH}`;
  });

  afterAll(async () => {
    await server?.close();
    await tlsServer?.close();
  });

  describe('content and caching', () => {
    it('GIVEN the IPsum snapshot served with validators WHEN it is fetched THEN the body is the file, streamed in chunks, with its ETag and Last-Modified', async () => {
      const got = await fetchBody(httpOptions(ipsumUrl));
      expect(got.bytes.equals(IPSUM)).toBe(true);
      expect(got.chunks).toBeGreaterThan(1);
      expect(got.etag).toMatch(/^"[0-9a-f]+"$/);
      expect(Date.parse(got.lastModified ?? '')).not.toBeNaN();
      expect(got.finalUrl).toBe(ipsumUrl);
      const sent = server.requestsTo(`/feeds/${IPSUM_PATH}`).at(-1);
      expect(sent?.headers['accept-encoding']).toContain('gzip');
    });

    it('GIVEN the ETag of the last fetch WHEN the feed has not changed THEN the result is unchanged and If-None-Match was sent', async () => {
      const first = await fetchBody(httpOptions(ipsumUrl));
      const again = await fetchHttp(
        httpOptions(ipsumUrl, { conditional: { etag: first.etag ?? '' } }),
      );
      expect(again.status).toBe('unchanged');
      expect(server.requests.at(-1)?.headers['if-none-match']).toBe(first.etag);
    });

    it('GIVEN only the Last-Modified of the last fetch WHEN the feed has not changed THEN the result is unchanged via If-Modified-Since', async () => {
      const first = await fetchBody(httpOptions(ipsumUrl));
      const again = await fetchHttp(
        httpOptions(ipsumUrl, { conditional: { lastModified: first.lastModified ?? '' } }),
      );
      expect(again.status).toBe('unchanged');
      expect(server.requests.at(-1)?.headers['if-modified-since']).toBe(first.lastModified);
    });

    it('GIVEN the validators of the last fetch WHEN the feed content changes THEN the new content and new validators come back', async () => {
      const url = `${server.url}/mutable/ipsum.txt`;
      const before = await fetchBody(httpOptions(url));
      expect(
        (await fetchHttp(httpOptions(url, { conditional: { etag: before.etag ?? '' } }))).status,
      ).toBe('unchanged');

      server.change();
      const after = await fetchBody(
        httpOptions(url, {
          conditional: { etag: before.etag ?? '', lastModified: before.lastModified ?? '' },
        }),
      );
      expect(after.bytes.equals(server.mutableContent())).toBe(true);
      expect(after.bytes.equals(before.bytes)).toBe(false);
      expect(after.etag).not.toBe(before.etag);
    });

    it('GIVEN a server that answers with Content-Encoding gzip WHEN the feed is fetched THEN the body is decompressed while streaming', async () => {
      const got = await fetchBody(httpOptions(`${server.url}/gzip/${IPSUM_PATH}`));
      expect(got.bytes.equals(IPSUM)).toBe(true);
      expect(got.etag).toMatch(/^"/);
    });

    it('GIVEN a .gz file served as application/gzip WHEN it is fetched THEN the body is the uncompressed feed', async () => {
      const got = await fetchBody(httpOptions(`${server.url}/gz-file/${IPSUM_PATH}`));
      expect(got.bytes.equals(IPSUM)).toBe(true);
    });

    it('GIVEN a body of garbage bytes WHEN it is fetched THEN the source returns it unchanged for the parser to reject', async () => {
      const got = await fetchBody(fault('garbage'));
      expect(got.bytes.length).toBe(64 * 1024);
      expect(got.bytes[0]).toBe(0);
    });

    it('GIVEN a redirect chain within the limit WHEN the feed is fetched THEN every hop is followed and finalUrl names the last one', async () => {
      const before = server.requests.length;
      const got = await fetchBody(
        httpOptions(`${server.url}/redirect/chain/3`, { maxRedirects: 3 }),
      );
      expect(got.bytes.equals(IPSUM)).toBe(true);
      expect(got.finalUrl).toBe(`${server.url}/redirect/chain/0`);
      expect(server.requests.slice(before).map((r) => r.path)).toEqual(
        [3, 2, 1, 0].map((n) => `/redirect/chain/${n}`),
      );
    });
  });

  describe('faults', () => {
    it('GIVEN a server error WHEN the feed is fetched THEN FST_FEED_HTTP_STATUS names the status and URL and is transient', async () => {
      const err = await httpError('FST_FEED_HTTP_STATUS', httpOptions(`${server.url}/status/500`));
      expect(err.status).toBe(500);
      expect(err.transient).toBe(true);
      expect(err.message).toContain('HTTP 500');
      expect(err.message).toContain(`${server.url}/status/500`);
    });

    it('GIVEN a feed that is gone WHEN it is fetched THEN FST_FEED_HTTP_STATUS is not transient', async () => {
      const err = await httpError('FST_FEED_HTTP_STATUS', httpOptions(`${server.url}/status/410`));
      expect(err.status).toBe(410);
      expect(err.transient).toBe(false);
      expect(err.message).toContain('HTTP 410 Gone');
    });

    it('GIVEN a response shorter than its Content-Length WHEN the body is read THEN FST_FEED_TRUNCATED says how much arrived', async () => {
      const err = await httpError('FST_FEED_TRUNCATED', fault('truncated'));
      expect(err.message).toContain(`of the ${IPSUM.length} announced by Content-Length`);
      expect(err.bodyBytes).toBeLessThan(IPSUM.length);
    });

    it('GIVEN a chunked response whose connection drops before the last chunk WHEN the body is read THEN FST_FEED_TRUNCATED', async () => {
      const err = await httpError('FST_FEED_TRUNCATED', fault('truncated-chunked'));
      expect(err.message).toContain('cut short');
    });

    it('GIVEN a complete HTTP response carrying half a gzip stream WHEN the body is read THEN FST_FEED_TRUNCATED blames the gzip stream', async () => {
      const err = await httpError('FST_FEED_TRUNCATED', fault('truncated-gzip'));
      expect(err.message).toMatch(
        /Compressed Content-Encoding .* ends before the end of its stream/,
      );
    });

    it('GIVEN Content-Encoding gzip over bytes that are not gzip WHEN the body is read THEN FST_FEED_DECODE', async () => {
      const err = await httpError('FST_FEED_DECODE', fault('garbage-gzip'));
      expect(err.message).toContain('Could not decompress');
    });

    it('GIVEN a body larger than the cap WHEN it is read THEN FST_FEED_TOO_LARGE stops it mid-stream and names the limit', async () => {
      const err = await httpError('FST_FEED_TOO_LARGE', fault('oversized', { maxBytes: MIB }));
      expect(err.message).toContain(`${MIB}-byte limit`);
      // Streamed up to the cap, not refused up front and not read to the end.
      expect(err.bodyBytes).toBeGreaterThan(0);
      expect(err.bodyBytes).toBeLessThanOrEqual(MIB);
    });

    it('GIVEN a Content-Length above the cap WHEN the feed is fetched THEN FST_FEED_TOO_LARGE before any body byte', async () => {
      const err = await httpError(
        'FST_FEED_TOO_LARGE',
        fault('oversized-declared', { maxBytes: MIB }),
      );
      expect(err.message).toContain(`announces ${4 * MIB} bytes`);
      expect(err.bodyBytes).toBe(0);
    });

    it('GIVEN a small gzip body that inflates past the cap WHEN it is read THEN FST_FEED_TOO_LARGE counts decompressed bytes', async () => {
      const err = await httpError('FST_FEED_TOO_LARGE', fault('gzip-bomb', { maxBytes: MIB }));
      expect(err.message).toContain('after decompression');
      expect(err.bodyBytes).toBeLessThanOrEqual(MIB);
    });

    it('GIVEN a server that drips bytes for longer than the total limit WHEN the feed is fetched THEN FST_FEED_TIMEOUT names the limit', async () => {
      const err = await httpError(
        'FST_FEED_TIMEOUT',
        fault('slow', { timeoutMs: 1_000, idleTimeoutMs: 5_000 }),
      );
      expect(err.message).toContain('1000 ms time limit');
      expect(err.bodyBytes).toBeGreaterThan(0);
    });

    it('GIVEN a server that goes silent mid-body WHEN the feed is fetched THEN FST_FEED_TIMEOUT names the idle limit', async () => {
      const err = await httpError(
        'FST_FEED_TIMEOUT',
        fault('stall', { timeoutMs: 20_000, idleTimeoutMs: 300 }),
      );
      expect(err.message).toContain('sent nothing for 300 ms in the middle of the body');
    });

    it('GIVEN a server that never answers WHEN the feed is fetched THEN FST_FEED_TIMEOUT names the idle limit while waiting for the response', async () => {
      const err = await httpError(
        'FST_FEED_TIMEOUT',
        fault('no-response', { timeoutMs: 20_000, idleTimeoutMs: 300 }),
      );
      expect(err.message).toContain(
        'sent nothing for 300 ms while connecting or waiting for the response',
      );
    });

    it('GIVEN a redirect chain longer than the limit WHEN the feed is fetched THEN FST_FEED_REDIRECT_LIMIT and no hop past the limit', async () => {
      const before = server.requestsTo('/redirect/chain/').length;
      const err = await httpError(
        'FST_FEED_REDIRECT_LIMIT',
        httpOptions(`${server.url}/redirect/chain/8`, { maxRedirects: 3 }),
      );
      expect(err.message).toContain('after 3 redirects');
      expect(server.requestsTo('/redirect/chain/').length - before).toBe(4);
    });

    it('GIVEN nothing listening on the port WHEN the feed is fetched THEN FST_FEED_NETWORK names host and port', async () => {
      const [port] = await freeLoopbackPorts(1);
      const err = await httpError(
        'FST_FEED_NETWORK',
        httpOptions(`http://127.0.0.1:${String(port)}/feed.txt`),
      );
      expect(err.message).toContain(`127.0.0.1:${String(port)}`);
      expect(err.message).toContain('ECONNREFUSED');
      expect(err.transient).toBe(true);
    });

    it('GIVEN a host name that does not resolve WHEN the feed is fetched THEN FST_FEED_NETWORK says so', async () => {
      const dns = fakeDns({});
      const err = await httpError(
        'FST_FEED_NETWORK',
        httpOptions('http://no-such-feed.test/feed.txt', { ssrf: { resolve: dns.resolve } }),
      );
      expect(err.message).toContain('Could not resolve host no-such-feed.test');
    });

    it('GIVEN a caller that cancels WHEN the body is stalled THEN FST_FEED_ABORTED', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await httpError('FST_FEED_ABORTED', fault('stall', { signal: controller.signal }));
    });

    it('GIVEN a non-http URL WHEN the feed is fetched THEN FST_FEED_INVALID_REQUEST', async () => {
      await httpError('FST_FEED_INVALID_REQUEST', httpOptions('file:///etc/passwd'));
    });
  });

  describe('SSRF guard', () => {
    it('GIVEN the loopback fence WHEN a socket dials 127.0.0.2, directly or through a name THEN the fence stops it', async () => {
      const dial = (
        host: string,
        lookup?: (h: string, o: object, cb: (e: null, a: string, f: number) => void) => void,
      ): Promise<string> =>
        new Promise((resolve) => {
          const req = request(
            {
              host,
              port: server.port,
              path: '/status/200',
              agent: false,
              ...(lookup !== undefined ? { lookup } : {}),
            },
            (res) => {
              res.resume();
              resolve(`HTTP ${String(res.statusCode)}`);
            },
          );
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          req.end();
        });
      expect(await dial('127.0.0.2')).toBe('EFENCED');
      expect(await dial('fenced.test', (_h, _o, cb) => cb(null, '127.0.0.2', 4))).toBe('EFENCED');
      expect(await dial('127.0.0.1')).toBe('HTTP 200');
      expect(fence.violations).toEqual([`127.0.0.2:${server.port}`, 'fenced.test -> 127.0.0.2']);
      fence.violations.length = 0;
    });

    it.each([
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
      ['http://2852039166/', '169.254.169.254'],
      ['http://0xA9FEA9FE/', '169.254.169.254'],
      ['http://0251.0376.0251.0376/', '169.254.169.254'],
      ['http://169.254.43518/', '169.254.169.254'],
      ['http://[::ffff:169.254.169.254]/', 'IPv4-mapped 169.254.169.254'],
      ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped 169.254.169.254'],
      ['http://[64:ff9b::a9fe:a9fe]/', 'NAT64 169.254.169.254'],
      ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
      ['http://100.100.100.200/latest/meta-data/', '100.100.100.200'],
    ])(
      'GIVEN the metadata address written as %s WHEN it is fetched THEN FST_FEED_SSRF_BLOCKED names %s',
      async (url, named) => {
        const err = await httpError('FST_FEED_SSRF_BLOCKED', httpOptions(url));
        expect(err.message).toContain(named);
        expect(err.message).toContain('cloud metadata');
      },
    );

    it('GIVEN a host-name allow entry WHEN that name resolves to the metadata address THEN it is still refused', async () => {
      const dns = fakeDns({ 'metadata.feeds.test': ['169.254.169.254'] });
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions('http://metadata.feeds.test/latest/meta-data/', {
          ssrf: { allow: ['127.0.0.1/32', 'metadata.feeds.test'], resolve: dns.resolve },
        }),
      );
      expect(err.message).toContain(
        'host metadata.feeds.test resolved to 169.254.169.254, which is a cloud metadata endpoint',
      );
    });

    it.each([
      ['http://10.0.0.1/', 'private'],
      ['http://172.20.1.1/', 'private'],
      ['http://192.168.1.10/', 'private'],
      ['http://[fc00::1]/', 'private'],
      ['http://0.0.0.0/', 'unspecified'],
      ['http://[::]/', 'unspecified'],
      ['http://224.0.0.251/', 'multicast'],
      ['http://169.254.10.10/', 'link-local'],
      ['http://[fe80::1]/', 'link-local'],
      ['http://[::1]/', 'loopback'],
      ['http://127.0.0.2/', 'loopback'],
      ['http://[::ffff:127.0.0.1]/', 'loopback'],
      ['http://100.64.0.1/', 'carrier-grade NAT'],
    ])(
      'GIVEN %s and no allow-list WHEN it is fetched THEN it is refused as %s',
      async (url, reason) => {
        const err = await httpError('FST_FEED_SSRF_BLOCKED', httpOptions(url, { ssrf: {} }));
        expect(err.message).toContain(reason);
      },
    );

    it('GIVEN the test server on loopback and no allow-list WHEN it is fetched THEN FST_FEED_SSRF_BLOCKED and no request reaches it', async () => {
      const before = server.requests.length;
      const err = await httpError('FST_FEED_SSRF_BLOCKED', httpOptions(ipsumUrl, { ssrf: {} }));
      expect(err.message).toContain('127.0.0.1 is a loopback address');
      expect(server.requests.length).toBe(before);
    });

    it('GIVEN localhost through the system resolver and no allow-list WHEN it is fetched THEN it is refused as loopback', async () => {
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions(`http://localhost:${server.port}/feeds/${IPSUM_PATH}`, { ssrf: {} }),
      );
      expect(err.message).toMatch(/host localhost resolved to .*loopback/);
    });

    it('GIVEN a configured cluster CIDR WHEN a feed URL points inside it THEN it is refused even though the range is public', async () => {
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions('http://52.16.3.4/feed.txt', { ssrf: { clusterCidrs: ['52.16.0.0/16'] } }),
      );
      expect(err.message).toContain('inside a cluster CIDR 52.16.0.0/16');
    });

    it('GIVEN plain http to a name that resolves to a public address WHEN fetched THEN FST_FEED_INSECURE before any connection', async () => {
      const dns = fakeDns({ 'feeds.example.test': ['93.184.216.34'] });
      const err = await httpError(
        'FST_FEED_INSECURE',
        httpOptions('http://feeds.example.test/feed.txt', {
          headers: { authorization: 'Bearer never-sent' },
          ssrf: { resolve: dns.resolve },
        }),
      );
      expect(err.message).toContain('neither loopback nor in the outbound allow-list; use https');
    });

    it('GIVEN plain http to a name the allow-list names WHEN fetched THEN it is sent', async () => {
      const dns = fakeDns({ 'plain.feeds.test': ['127.0.0.1'] });
      const result = await fetchHttp(
        httpOptions(`http://plain.feeds.test:${server.port}/feeds/${IPSUM_PATH}`, {
          ssrf: { allow: ['plain.feeds.test'], resolve: dns.resolve },
        }),
      );
      expect(result.status).toBe('ok');
      if (result.status === 'ok')
        for await (const _chunk of result.body) {
          /* drain */
        }
    });

    it('GIVEN a name that resolves to an allowed and a private address WHEN it is fetched THEN the private one refuses the host', async () => {
      const dns = fakeDns({ 'mixed.test': ['127.0.0.1', '10.1.2.3'] });
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions(`http://mixed.test:${server.port}/feeds/${IPSUM_PATH}`, {
          ssrf: { allow: ['127.0.0.1/32'], resolve: dns.resolve },
        }),
      );
      expect(err.message).toContain('host mixed.test resolved to 10.1.2.3');
    });

    it('GIVEN a feed that redirects to the metadata address WHEN it is fetched THEN the redirect is refused and names the address', async () => {
      const before = server.requestsTo('/redirect/metadata').length;
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions(`${server.url}/redirect/metadata`),
      );
      expect(err.message).toContain(`Redirect from ${server.url}/redirect/metadata refused`);
      expect(err.message).toContain('169.254.169.254 is a cloud metadata endpoint');
      expect(server.requestsTo('/redirect/metadata').length).toBe(before + 1);
    });

    it('GIVEN a feed that redirects to an IPv4-mapped metadata address WHEN it is fetched THEN the redirect is refused', async () => {
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions(`${server.url}/redirect/metadata-mapped`),
      );
      expect(err.message).toContain('IPv4-mapped 169.254.169.254');
    });

    it('GIVEN only the feed host name is allowed WHEN the feed redirects to 127.0.0.1 THEN the redirect is refused as loopback', async () => {
      const dns = fakeDns({ 'feeds.test': ['127.0.0.1'] });
      const before = server.requestsTo('/redirect/loopback').length;
      const err = await httpError(
        'FST_FEED_SSRF_BLOCKED',
        httpOptions(`http://feeds.test:${server.port}/redirect/loopback`, {
          ssrf: { allow: ['feeds.test'], resolve: dns.resolve },
        }),
      );
      expect(err.message).toContain('127.0.0.1 is a loopback address');
      expect(server.requestsTo('/redirect/loopback').length).toBe(before + 1);
    });

    it('GIVEN 127.0.0.1 is allowed WHEN the feed redirects to 127.0.0.1 THEN the redirect is followed', async () => {
      const got = await fetchBody(httpOptions(`${server.url}/redirect/loopback`));
      expect(got.bytes.equals(IPSUM)).toBe(true);
    });

    it('GIVEN a name whose DNS answer changes after the check (rebinding) WHEN it is fetched THEN the connection uses the checked address and DNS is asked once', async () => {
      // First answer allowed, later answers a different loopback address the
      // allow-list refuses and where nothing listens: a second lookup would fail.
      const dns = fakeDns({
        'rebind.test': (call) => (call === 1 ? ['127.0.0.1'] : ['127.0.0.2']),
      });
      const got = await fetchBody(
        httpOptions(`http://rebind.test:${server.port}/feeds/${IPSUM_PATH}`, {
          ssrf: { allow: ['127.0.0.1/32'], resolve: dns.resolve },
        }),
      );
      expect(got.bytes.equals(IPSUM)).toBe(true);
      expect(dns.calls).toEqual(['rebind.test']);
      expect(server.requests.at(-1)?.headers.host).toBe(`rebind.test:${server.port}`);
    });
  });

  describe('TLS', () => {
    const tlsUrl = (): string => `${tlsServer.url}/feeds/${IPSUM_PATH}`;

    it('GIVEN a certificate from an unknown CA WHEN the feed is fetched THEN FST_FEED_TLS refuses it', async () => {
      const err = await httpError(
        'FST_FEED_TLS',
        httpOptions(tlsUrl(), { serverName: TLS_SERVER_NAME }),
      );
      expect(err.message).toContain(`TLS verification of 127.0.0.1:${tlsServer.port} failed`);
      expect(err.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
    });

    it('GIVEN an unrelated CA WHEN the feed is fetched THEN FST_FEED_TLS refuses the certificate', async () => {
      await httpError(
        'FST_FEED_TLS',
        httpOptions(tlsUrl(), { serverName: TLS_SERVER_NAME, caPem: tlsServer.otherCaPem ?? '' }),
      );
    });

    it('GIVEN the issuing CA and the certificate name WHEN the feed is fetched THEN it is accepted', async () => {
      const got = await fetchBody(
        httpOptions(tlsUrl(), { serverName: TLS_SERVER_NAME, caPem: tlsServer.caPem ?? '' }),
      );
      expect(got.bytes.equals(IPSUM)).toBe(true);
    });

    it('GIVEN the issuing CA but a host the certificate does not name WHEN the feed is fetched THEN FST_FEED_TLS names the mismatch', async () => {
      const err = await httpError(
        'FST_FEED_TLS',
        httpOptions(tlsUrl(), { caPem: tlsServer.caPem ?? '' }),
      );
      expect(err.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
      expect(err.message).toContain('set tls.serverName');
    });

    it('GIVEN the certificate name in the URL and the issuing CA WHEN the feed is fetched THEN SNI and verification use the name', async () => {
      const dns = fakeDns({ [TLS_SERVER_NAME]: ['127.0.0.1'] });
      const got = await fetchBody(
        httpOptions(`https://${TLS_SERVER_NAME}:${tlsServer.port}/gzip/${IPSUM_PATH}`, {
          caPem: tlsServer.caPem ?? '',
          ssrf: { allow: ['127.0.0.1/32'], resolve: dns.resolve },
        }),
      );
      expect(got.bytes.equals(IPSUM)).toBe(true);
    });

    it('GIVEN an https feed that redirects to plain http WHEN it is fetched THEN FST_FEED_REDIRECT_INVALID refuses the downgrade', async () => {
      const location = encodeURIComponent(`${server.url}/feeds/${IPSUM_PATH}`);
      const err = await httpError(
        'FST_FEED_REDIRECT_INVALID',
        httpOptions(`${tlsServer.url}/redirect/to?location=${location}`, {
          serverName: TLS_SERVER_NAME,
          caPem: tlsServer.caPem ?? '',
        }),
      );
      expect(err.message).toContain('from https to plain http');
    });

    it('GIVEN a CA setting that is not PEM WHEN the feed is fetched THEN FST_FEED_TLS says the bundle is unusable', async () => {
      const err = await httpError(
        'FST_FEED_TLS',
        httpOptions(tlsUrl(), { caPem: 'not a certificate' }),
      );
      expect(err.message).toContain('does not hold a PEM certificate');
    });
  });

  describe('credentials', () => {
    const authUrl = (): string => `${server.url}/auth/${IPSUM_PATH}`;
    const headers = { Authorization: `Bearer ${FEED_SERVER_TOKEN}`, 'X-Api-Key': API_KEY };

    it('GIVEN headers from the Secret WHEN the protected feed is fetched THEN they are sent and the feed is served', async () => {
      const got = await fetchBody(httpOptions(authUrl(), { headers }));
      expect(got.bytes.equals(IPSUM)).toBe(true);
      const sent = server.requestsTo('/auth/').at(-1);
      expect(sent?.headers.authorization).toBe(`Bearer ${FEED_SERVER_TOKEN}`);
      expect(sent?.headers['x-api-key']).toBe(API_KEY);
    });

    it('GIVEN no credentials WHEN the protected feed is fetched THEN FST_FEED_AUTH with the status', async () => {
      const err = await httpError('FST_FEED_AUTH', httpOptions(authUrl()));
      expect(err.status).toBe(401);
      expect(err.message).toContain('HTTP 401 Unauthorized');
      expect(err.message).toContain('no credentials are configured');
    });

    it('GIVEN a wrong token WHEN the protected feed is fetched THEN FST_FEED_AUTH and the token is not in the message', async () => {
      const wrong = 'fst-wrong-token-1a2b3c4d5e';
      const err = await httpError(
        'FST_FEED_AUTH',
        httpOptions(authUrl(), { headers: { Authorization: `Bearer ${wrong}` } }),
      );
      expect(err.message).toContain('check the credentials');
      expect(inspect(err, { depth: 10 })).not.toContain(wrong);
    });

    it('GIVEN a same-origin redirect WHEN the protected feed is fetched THEN the credentials go along', async () => {
      const got = await fetchBody(
        httpOptions(
          `${server.url}/redirect/to?location=${encodeURIComponent(`/auth/${IPSUM_PATH}`)}`,
          { headers },
        ),
      );
      expect(got.bytes.equals(IPSUM)).toBe(true);
    });

    it('GIVEN a redirect to another origin WHEN the feed is fetched THEN the credentials are dropped', async () => {
      const dns = fakeDns({ 'feeds.test': ['127.0.0.1'] });
      const before = server.requestsTo('/auth/').length;
      const location = encodeURIComponent(`${server.url}/auth/${IPSUM_PATH}`);
      const err = await httpError(
        'FST_FEED_AUTH',
        httpOptions(`http://feeds.test:${server.port}/redirect/to?location=${location}`, {
          headers,
          ssrf: { allow: ['127.0.0.1/32'], resolve: dns.resolve },
        }),
      );
      expect(err.message).toContain('redirect left the original origin');
      const reached = server.requestsTo('/auth/').slice(before);
      expect(reached).toHaveLength(1);
      expect(reached[0]?.headers.authorization).toBeUndefined();
      expect(reached[0]?.headers['x-api-key']).toBeUndefined();
    });

    it('GIVEN an API key in the query string WHEN the fetch fails THEN the error shows the parameter name but not its value', async () => {
      const err = await httpError(
        'FST_FEED_HTTP_STATUS',
        httpOptions(`${server.url}/status/503?apikey=${API_KEY}&format=txt`),
      );
      expect(err.message).toContain('apikey=REDACTED');
      expect(err.url).toContain('format=REDACTED');
      expect(inspect(err, { depth: 10 })).not.toContain(API_KEY);
    });

    it('GIVEN a Secret that sets a transport header WHEN the feed is fetched THEN FST_FEED_INVALID_REQUEST names the header only', async () => {
      const err = await httpError(
        'FST_FEED_INVALID_REQUEST',
        httpOptions(ipsumUrl, { headers: { Host: `evil-${API_KEY}` } }),
      );
      expect(err.message).toContain('Header Host');
      expect(err.message).not.toContain(API_KEY);
    });

    it('GIVEN credential headers WHEN every kind of failure happens THEN no error text, stack or cause contains them', async () => {
      const cases: Array<[FeedErrorCode, HttpFetchOptions]> = [
        ['FST_FEED_HTTP_STATUS', httpOptions(`${server.url}/status/500`, { headers })],
        ['FST_FEED_TRUNCATED', fault('truncated', { headers })],
        ['FST_FEED_TRUNCATED', fault('truncated-gzip', { headers })],
        ['FST_FEED_DECODE', fault('garbage-gzip', { headers })],
        ['FST_FEED_TOO_LARGE', fault('oversized', { headers, maxBytes: MIB })],
        ['FST_FEED_TIMEOUT', fault('stall', { headers, idleTimeoutMs: 200 })],
        [
          'FST_FEED_REDIRECT_LIMIT',
          httpOptions(`${server.url}/redirect/chain/5`, { headers, maxRedirects: 1 }),
        ],
        ['FST_FEED_SSRF_BLOCKED', httpOptions(`${server.url}/redirect/metadata`, { headers })],
        ['FST_FEED_TLS', httpOptions(`${tlsServer.url}/auth/${IPSUM_PATH}`, { headers })],
        [
          'FST_FEED_AUTH',
          httpOptions(`${server.url}/auth/${IPSUM_PATH}`, {
            headers: { Authorization: `Bearer ${API_KEY}` },
          }),
        ],
      ];
      for (const [code, opts] of cases) await httpError(code, opts);
      for (const err of seenErrors) {
        const text = [
          err.message,
          String(err),
          err.stack ?? '',
          JSON.stringify(err),
          inspect(err, { depth: 10 }),
        ].join('\n');
        expect(text).not.toContain(FEED_SERVER_TOKEN);
        expect(text).not.toContain(API_KEY);
      }
    });
  });
});

describe('taxii feed source (medallion)', () => {
  let taxii: TaxiiServer;

  beforeAll(async () => {
    taxii = await startTaxiiServer();
  });

  afterAll(async () => {
    await taxii?.stop();
  });

  const options = (extra: Partial<TaxiiFetchOptions> = {}): TaxiiFetchOptions => ({
    apiRoot: taxii.apiRoot,
    collection: taxii.collectionId,
    auth: taxii.user,
    maxBytes: 4 * MIB,
    timeoutMs: 30_000,
    ssrf: LOOPBACK_ONLY,
    ...extra,
  });

  async function sync(extra: Partial<TaxiiFetchOptions> = {}): Promise<{
    objects: Array<{ id: string; type: string }>;
    stats: { complete: boolean; cursor: string | undefined; pages: number; objects: number };
  }> {
    const result = await fetchTaxii(options(extra));
    const { bytes } = await readAll(result.objects);
    const objects = JSON.parse(bytes.toString('utf8')) as Array<{ id: string; type: string }>;
    return { objects, stats: { ...result.stats } };
  }

  async function taxiiError(
    code: FeedErrorCode,
    extra: Partial<TaxiiFetchOptions>,
  ): Promise<FeedError> {
    return expectFeedError(code, async () => {
      const result = await fetchTaxii(options(extra));
      await readAll(result.objects);
    });
  }

  it('GIVEN the discovery URL WHEN the server is discovered THEN it lists the API root', async () => {
    const discovery = await discoverTaxii({
      url: taxii.discoveryUrl,
      auth: taxii.user,
      maxBytes: MIB,
      timeoutMs: 10_000,
      ssrf: LOOPBACK_ONLY,
    });
    expect(discovery.apiRoots).toEqual([taxii.apiRoot]);
    expect(discovery.default).toBe(taxii.apiRoot);
  });

  it('GIVEN a collection larger than one page WHEN it is synced from scratch THEN every object arrives once as one JSON array, over several pages', async () => {
    const { objects, stats } = await sync({ pageSize: 5 });
    const expected = taxii.seeded.map((o) => o.id).sort();
    expect(expected.length).toBeGreaterThan(5);
    expect(objects.map((o) => o.id).sort()).toEqual(expected);
    expect(stats.complete).toBe(true);
    expect(stats.objects).toBe(expected.length);
    expect(stats.pages).toBe(Math.ceil(expected.length / 5));
    expect(stats.cursor).toBe(taxii.seeded.at(-1)?.dateAdded);
    // medallion strips its hidden bookkeeping field from SCOs.
    expect(JSON.stringify(objects)).not.toContain('_date_added');
  });

  it('GIVEN a paged sync WHEN its object stream is handed to the STIX parser THEN the indicators come out as records', async () => {
    const result = await fetchTaxii(options({ pageSize: 4 }));
    const values: string[] = [];
    for await (const item of parseStix(result.objects, {})) {
      if (item.kind === 'record') values.push(item.value);
    }
    expect(result.stats.complete).toBe(true);
    expect(values).toContain('10.0.0.0');
    expect(values).toContain('ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c');
  });

  it('GIVEN a cursor in the middle of the collection WHEN it is synced incrementally THEN only objects added after it arrive', async () => {
    const cut = taxii.seeded.filter((o) => o.dateAdded.startsWith('2024-03')).at(-1)?.dateAdded;
    if (cut === undefined) throw new Error('the seed has no objects added in March 2024');
    const newer = taxii.seeded
      .filter((o) => o.dateAdded > cut)
      .map((o) => o.id)
      .sort();
    expect(newer.length).toBeGreaterThan(0);
    expect(newer.length).toBeLessThan(taxii.seeded.length);

    const { objects, stats } = await sync({ addedAfter: cut, pageSize: 4 });
    expect(objects.map((o) => o.id).sort()).toEqual(newer);
    expect(stats.pages).toBe(Math.ceil(newer.length / 4));
    expect(stats.cursor).toBe(taxii.seeded.at(-1)?.dateAdded);
  });

  it('GIVEN a cursor at the newest object WHEN nothing was added since THEN the sync is empty and keeps the cursor', async () => {
    const newest = taxii.seeded.at(-1)?.dateAdded;
    const { objects, stats } = await sync({ addedAfter: newest ?? '' });
    expect(objects).toEqual([]);
    expect(stats).toMatchObject({ complete: true, cursor: newest, pages: 1, objects: 0 });
  });

  it('GIVEN wrong credentials WHEN the collection is synced THEN FST_FEED_AUTH, without the password in the error', async () => {
    const password = `${taxii.user.password}-wrong`;
    const err = await taxiiError('FST_FEED_AUTH', {
      auth: { username: taxii.user.username, password },
    });
    expect(err.status).toBe(401);
    expect(err.message).toContain('check the username/password');
    expect(inspect(err, { depth: 10 })).not.toContain(password);
    expect(inspect(err, { depth: 10 })).not.toContain(
      Buffer.from(`${taxii.user.username}:${password}`).toString('base64'),
    );
  });

  it('GIVEN no credentials WHEN the collection is synced THEN FST_FEED_AUTH says none are configured', async () => {
    const err = await taxiiError('FST_FEED_AUTH', { auth: undefined });
    expect(err.message).toContain('no credentials are configured');
  });

  it('GIVEN a collection that may not be read WHEN it is synced THEN FST_FEED_AUTH with HTTP 403', async () => {
    const err = await taxiiError('FST_FEED_AUTH', { collection: taxii.unreadableCollectionId });
    expect(err.status).toBe(403);
  });

  it('GIVEN a collection id that does not exist WHEN it is synced THEN FST_FEED_TAXII with HTTP 404', async () => {
    const err = await taxiiError('FST_FEED_TAXII', { collection: 'no-such-collection' });
    expect(err.status).toBe(404);
    expect(err.message).toContain('collection no-such-collection');
  });

  it('GIVEN a byte limit smaller than the collection WHEN it is synced THEN FST_FEED_TOO_LARGE names the limit for the whole sync', async () => {
    const err = await taxiiError('FST_FEED_TOO_LARGE', { maxBytes: 4_000, pageSize: 3 });
    expect(err.message).toContain('4000-byte limit for the whole TAXII sync');
  });

  it('GIVEN a bearer token WHEN a TAXII request is made THEN it goes in the Authorization header', async () => {
    // medallion 3.0 only speaks basic auth, so the bearer form is checked against
    // the feed server's token-protected route (which is no TAXII server: 404 after auth).
    const feeds = await startFeedServer();
    try {
      const err = await taxiiError('FST_FEED_TAXII', {
        apiRoot: `${feeds.url}/auth/`,
        collection: 'c1',
        auth: { token: FEED_SERVER_TOKEN },
      });
      expect(err.status).toBe(404);
      expect(feeds.requests[0]?.headers.authorization).toBe(`Bearer ${FEED_SERVER_TOKEN}`);
      expect(feeds.requests[0]?.headers.accept).toBe('application/taxii+json;version=2.1');
      expect(feeds.requests[0]?.path).toBe('/auth/collections/c1/objects/?limit=1000');
      expect(inspect(err, { depth: 10 })).not.toContain(FEED_SERVER_TOKEN);
    } finally {
      await feeds.close();
    }
  });

  it('GIVEN the API root on loopback and no allow-list WHEN the collection is synced THEN FST_FEED_SSRF_BLOCKED', async () => {
    await taxiiError('FST_FEED_SSRF_BLOCKED', { ssrf: {} });
  });

  // Last: it adds objects to the collection, which the tests above count.
  it('GIVEN the cursor of a complete sync WHEN a producer adds objects THEN the next sync returns exactly those and advances the cursor', async () => {
    const first = await sync({ pageSize: 10 });
    expect(first.stats.complete).toBe(true);
    const now = new Date().toISOString();
    const added = [1, 2, 3].map((n) => ({
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--0f0e0d0c-0b0a-4909-8807-06050403020${n}`,
      created: now,
      modified: now,
      name: `C2 address ${n}`,
      pattern: `[ipv4-addr:value = '203.0.113.${n}']`,
      pattern_type: 'stix',
      valid_from: now,
    }));
    await taxii.addObjects(added);

    const next = await sync({ addedAfter: first.stats.cursor ?? '', pageSize: 2 });
    expect(next.objects.map((o) => o.id).sort()).toEqual(added.map((o) => o.id).sort());
    expect(next.stats.pages).toBe(2);
    expect((next.stats.cursor ?? '') > (first.stats.cursor ?? '')).toBe(true);
  });
});
