import { inspect } from 'node:util';
import { MARKER, publicFetch, withHostileAnswer } from '../test/harness/hostile-answer.js';
import { describe, expect, it } from 'vitest';
import { NotifyError } from './errors.js';
import { HttpSender, type HttpOptions } from './http.js';
import {
  closedPort,
  loopbackFetch,
  receiversClosedAfterEach,
  type Receiver,
  type Reply,
} from '../test/harness/notify-receiver.js';
import { rejectionOf } from '../test/harness/rejection.js';

// The shared transport against a real HTTP receiver on 127.0.0.1: retries, Retry-After,
// timeouts, network errors, redirects, cancellation and redaction of the target URL.

const startClosedAfterEach = receiversClosedAfterEach();

async function receiver(reply?: (index: number) => Reply, path?: string): Promise<Receiver> {
  return startClosedAfterEach(reply ? (_req, i) => reply(i) : undefined, path);
}

/** Fast by default: tiny backoff, two retries. */
function sender(url: string, options: HttpOptions = {}): HttpSender {
  return new HttpSender('Webhook', url, {
    retries: 2,
    backoffMs: 5,
    timeoutMs: 2_000,
    fetch: loopbackFetch,
    ...options,
  });
}

const post = (s: HttpSender, signal?: AbortSignal) =>
  s.post({
    body: '{"hello":"world"}',
    headers: { 'content-type': 'application/json' },
    what: 'deliver Isolated of action a',
    ...(signal ? { signal } : {}),
  });

const failure = (promise: Promise<unknown>) => rejectionOf(promise, NotifyError);

describe('HttpSender retries', () => {
  it('GIVEN a receiver answering 503 then 200 THEN it retries once and succeeds, sending the same bytes twice', async () => {
    const r = await receiver((i) =>
      i === 0 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' },
    );
    await post(sender(r.url));
    expect(r.requests).toHaveLength(2);
    expect(r.requests[1]!.body).toBe(r.requests[0]!.body);
    expect(r.requests.map((q) => q.method)).toEqual(['POST', 'POST']);
  });

  it('GIVEN 5xx on every attempt THEN it stops after the bounded retries with a transient FST_NOTIFY_HTTP', async () => {
    const r = await receiver(() => ({ status: 502, body: 'bad gateway' }));
    const err = await failure(post(sender(r.url, { retries: 2 })));
    expect(err).toMatchObject({
      code: 'FST_NOTIFY_HTTP',
      errorClass: 'transient',
      status: 502,
      attempts: 3,
    });
    // The receiver's text is never shown: only the status (and a structured code from JSON).
    expect(err.message).toBe(
      `Webhook notifier ${r.origin}/…: deliver Isolated of action a: HTTP 502 (3 attempts)`,
    );
    expect(r.requests).toHaveLength(3);
  });

  it('GIVEN 429 with Retry-After: 1 THEN the retry waits that second, not the (tiny) backoff', async () => {
    const r = await receiver((i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    await post(sender(r.url, { backoffMs: 1, maxRetryAfterMs: 2_000 }));
    expect(r.requests).toHaveLength(2);
    const gap = r.requests[1]!.at - r.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(1_900);
  });

  it('GIVEN 429 with a Retry-After beyond the cap THEN it fails at once with the wait attached, for the caller to requeue', async () => {
    const r = await receiver(() => ({
      status: 429,
      headers: { 'retry-after': '5' },
      body: 'rate_limited',
    }));
    const started = performance.now();
    const err = await failure(post(sender(r.url, { maxRetryAfterMs: 1_000 })));
    expect(performance.now() - started).toBeLessThan(900);
    expect(err).toMatchObject({
      code: 'FST_NOTIFY_HTTP',
      errorClass: 'transient',
      status: 429,
      retryAfterMs: 5_000,
      attempts: 1,
    });
    expect(err.message).toContain('retry after 5 s');
    expect(r.requests).toHaveLength(1);
  });

  it('GIVEN 400 THEN it is not retried and fails with a terminal FST_NOTIFY_REJECTED carrying the status, not the text', async () => {
    const r = await receiver(() => ({ status: 400, body: 'invalid_payload' }));
    const err = await failure(post(sender(r.url)));
    expect(err).toMatchObject({
      code: 'FST_NOTIFY_REJECTED',
      errorClass: 'terminal',
      status: 400,
      attempts: 1,
    });
    expect(err.message).toMatch(/HTTP 400$/);
    expect(r.requests).toHaveLength(1);
  });

  it('GIVEN 408 THEN it is retried like 5xx', async () => {
    const r = await receiver((i) => (i === 0 ? { status: 408 } : { status: 204 }));
    await post(sender(r.url));
    expect(r.requests).toHaveLength(2);
  });

  it('GIVEN a redirect THEN it is not followed: terminal FST_NOTIFY_REJECTED, and the redirect target receives nothing', async () => {
    const elsewhere = await receiver();
    const r = await receiver(() => ({ status: 307, headers: { location: elsewhere.url } }));
    const err = await failure(post(sender(r.url)));
    expect(err).toMatchObject({ code: 'FST_NOTIFY_REJECTED', errorClass: 'terminal', status: 307 });
    expect(err.message).toContain('redirects are not followed');
    expect(r.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('GIVEN a receiver that never answers THEN each attempt times out and it fails with FST_NOTIFY_TIMEOUT', async () => {
    const r = await receiver(() => 'hang');
    const started = performance.now();
    const err = await failure(post(sender(r.url, { timeoutMs: 150, retries: 1 })));
    const elapsed = performance.now() - started;
    expect(err).toMatchObject({ code: 'FST_NOTIFY_TIMEOUT', errorClass: 'transient', attempts: 2 });
    expect(err.message).toContain('no answer within 150 ms');
    expect(r.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('GIVEN a closed port THEN it retries and fails with FST_NOTIFY_NETWORK naming the cause', async () => {
    const port = await closedPort();
    const err = await failure(post(sender(`http://127.0.0.1:${port}/hook`)));
    expect(err).toMatchObject({ code: 'FST_NOTIFY_NETWORK', errorClass: 'transient', attempts: 3 });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('GIVEN the caller aborts while the sender waits to retry THEN it stops at once with FST_NOTIFY_ABORTED', async () => {
    const r = await receiver(() => ({ status: 503 }));
    const controller = new AbortController();
    const started = performance.now();
    const pending = failure(
      post(sender(r.url, { backoffMs: 10_000, retries: 3 }), controller.signal),
    );
    setTimeout(() => controller.abort(), 100);
    const err = await pending;
    expect(err).toMatchObject({ code: 'FST_NOTIFY_ABORTED', errorClass: 'transient' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.requests).toHaveLength(1);
  });

  it('GIVEN a signal already aborted THEN nothing is sent', async () => {
    const r = await receiver();
    const err = await failure(post(sender(r.url), AbortSignal.abort()));
    expect(err.code).toBe('FST_NOTIFY_ABORTED');
    expect(r.requests).toHaveLength(0);
  });

  it('GIVEN backoff settings THEN waits double per retry, are capped, and jitter between half and all of the step', async () => {
    const port = await closedPort();
    const waits = (random: number, maxBackoffMs?: number) => {
      const slept: number[] = [];
      const s = new HttpSender('Webhook', `http://127.0.0.1:${port}/`, {
        retries: 3,
        backoffMs: 100,
        fetch: loopbackFetch,
        ...(maxBackoffMs ? { maxBackoffMs } : {}),
        random: () => random,
        sleep: async (ms) => {
          slept.push(ms);
        },
      });
      return post(s).catch(() => slept);
    };
    expect(await waits(0)).toEqual([50, 100, 200]);
    expect(await waits(1)).toEqual([100, 200, 400]);
    expect(await waits(1, 150)).toEqual([100, 150, 150]);
  });
});

describe('HttpSender redaction: the target URL is a credential', () => {
  const SECRET_PARTS = [
    'T0SECRET1',
    'B0SECRET2',
    'xoxSuperSecretToken42',
    'abc123xyz',
    '/services/',
  ];
  const path = '/services/T0SECRET1/B0SECRET2/xoxSuperSecretToken42?token=abc123xyz';

  function expectNoSecret(err: NotifyError, logged: unknown[]) {
    const texts = [
      err.message,
      String(err.stack),
      JSON.stringify(err),
      inspect(err, { depth: 5 }),
      JSON.stringify(logged),
    ];
    for (const text of texts) for (const part of SECRET_PARTS) expect(text).not.toContain(part);
  }

  it.each<[string, (i: number) => Reply]>([
    // A receiver that echoes the request line back must not leak it either.
    ['400 echoing the URL', () => ({ status: 400, body: `no_service for POST ${path}` })],
    ['503 echoing the URL', () => ({ status: 503, body: `overloaded: ${path}` })],
    ['a receiver that never answers', () => 'hang'],
  ])(
    'GIVEN %s THEN neither the error nor the log carries the path, query or tokens',
    async (_name, reply) => {
      const r = await receiver(reply, path);
      const logged: unknown[] = [];
      const err = await failure(
        post(
          sender(r.url, {
            timeoutMs: 100,
            retries: 1,
            logger: { warn: (obj, msg) => logged.push(obj, msg) },
          }),
        ),
      );
      expect(err.message).toContain(`${r.origin}/…`);
      expect(err.target).toBe(`${r.origin}/…`);
      // The echo arrived, and none of it is shown.
      expect(err.message).not.toMatch(/no_service|overloaded/);
      expectNoSecret(err, logged);
    },
  );

  it('GIVEN a closed port THEN the network error carries no part of the URL', async () => {
    const port = await closedPort();
    const logged: unknown[] = [];
    const err = await failure(
      post(
        sender(`http://127.0.0.1:${port}${path}`, {
          logger: { warn: (obj, msg) => logged.push(obj, msg) },
        }),
      ),
    );
    expect(err.code).toBe('FST_NOTIFY_NETWORK');
    expect(logged.length).toBeGreaterThan(0);
    expectNoSecret(err, logged);
  });

  it.each([
    ['a relative URL', `hooks.slack.com${path}`],
    ['a non-http scheme', `ftp://hooks.slack.com${path}`],
    ['a file URL', `file:///etc${path}`],
    ['user info', `https://alice:pw-abc123xyz@hooks.slack.com${path}`],
    ['garbage', `::${path}`],
  ])(
    'GIVEN %s THEN construction fails with FST_NOTIFY_INVALID_URL that does not echo it',
    (_name, url) => {
      let err: unknown;
      try {
        new HttpSender('Slack', url);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotifyError);
      expect(err).toMatchObject({ code: 'FST_NOTIFY_INVALID_URL', errorClass: 'terminal' });
      expectNoSecret(err as NotifyError, []);
    },
  );

  it.each<[string, HttpOptions]>([
    ['a zero timeout', { timeoutMs: 0 }],
    ['negative retries', { retries: -1 }],
    ['fractional retries', { retries: 1.5 }],
    ['too many retries', { retries: 50 }],
    ['a negative backoff', { backoffMs: -1 }],
  ])('GIVEN %s THEN construction fails with FST_NOTIFY_INVALID_CONFIG', (_name, options) => {
    expect(() => new HttpSender('Webhook', 'https://receiver.example/x', options)).toThrow(
      expect.objectContaining({ code: 'FST_NOTIFY_INVALID_CONFIG' }),
    );
  });
});

describe('HttpSender over the outbound client (lib/http)', () => {
  it.each([[400], [500]])(
    'GIVEN a non-JSON answer %s holding a marker THEN the marker is in no error message',
    (status) =>
      withHostileAnswer(status, async (server) => {
        const err = await failure(post(sender(`${server.origin}/hook`, { retries: 0 })));
        expect(err.message).toContain(`HTTP ${status}`);
        expect(err.message).not.toContain(MARKER);
        expect(inspect(err, { depth: 5 })).not.toContain(MARKER);
      }),
  );

  it('GIVEN plain http to a host that is not loopback THEN FST_NOTIFY_INVALID_URL before any connection, not retried', async () => {
    const fetch = publicFetch();
    const slept: number[] = [];
    const s = new HttpSender('Slack', 'http://hooks.example.test/services/T0/B0/x', {
      fetch,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const err = await failure(post(s));
    expect(err).toMatchObject({ code: 'FST_NOTIFY_INVALID_URL', attempts: 1 });
    expect(err.message).toContain('FST_HTTP_INSECURE');
    expect(slept).toEqual([]);
  });

  it('GIVEN no fetch THEN the default client has no SSRF exceptions: a loopback receiver is refused', async () => {
    const r = await receiver();
    const err = await failure(post(new HttpSender('Webhook', r.url)));
    expect(err.code).toBe('FST_NOTIFY_INVALID_URL');
    expect(err.message).toContain('FST_HTTP_SSRF_BLOCKED');
    expect(r.requests).toHaveLength(0);
  });
});
