import { describe, expect, it } from 'vitest';
import { ForgeError } from './errors.js';
import { GitHubForge, shouldRetryRateLimit } from './github.js';
import { parseRepoUrl } from './repo-url.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// How the octokit plugins are configured: bounded retries of 5xx and network errors,
// rate limits retried only for short waits, everything else surfaced as a ForgeError.
// Request shapes are covered by github.contract.test.ts.

const TOKEN = 'ghp_unitTestToken0123456789abcdefghij';
const NOW = Date.parse('2025-06-01T12:00:00Z');
const PR = {
  number: 1,
  html_url: 'https://github.com/acme/p/pull/1',
  state: 'open',
  title: 't',
  body: null,
  head: { ref: 'forestall/x', sha: 'abc' },
  base: { ref: 'main' },
};

type Step = { status: number; body?: unknown; headers?: Record<string, string> } | 'network-error';

function scripted(steps: Step[]) {
  const seen: string[] = [];
  const fetch = async (
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> => {
    init.signal?.throwIfAborted();
    seen.push(String(input));
    const step = steps[Math.min(seen.length - 1, steps.length - 1)]!;
    if (step === 'network-error')
      throw new TypeError('fetch failed', {
        cause: new Error('connect ECONNREFUSED 127.0.0.1:443'),
      });
    return new Response(JSON.stringify(step.body ?? {}), {
      status: step.status,
      headers: { 'content-type': 'application/json', ...step.headers },
    });
  };
  return { fetch, seen };
}

function forge(steps: Step[], logs: string[] = []) {
  const { fetch, seen } = scripted(steps);
  const logger = {
    info: (o: object, m: string) => logs.push(`${m} ${JSON.stringify(o)}`),
    warn: (o: object, m: string) => logs.push(`${m} ${JSON.stringify(o)}`),
  };
  const f = new GitHubForge({
    repo: parseRepoUrl('https://github.com/acme/p'),
    token: TOKEN,
    baseUrl: 'https://api.github.com',
    fetch,
    logger,
    retries: 2,
    rateLimitRetries: 2,
    maxRetryAfterSeconds: 60,
    retryAfterBaseValue: 1,
    now: () => NOW,
  });
  return { forge: f, seen };
}

const failure = (promise: Promise<unknown>) => rejectionOf(promise, ForgeError);

describe('GitHubForge retries and rate limits', () => {
  it('GIVEN two 502s then success THEN the call succeeds after retrying', async () => {
    const { forge: f, seen } = forge([{ status: 502 }, { status: 502 }, { status: 200, body: PR }]);
    expect((await f.getPullRequest(1)).number).toBe(1);
    expect(seen).toHaveLength(3);
  });

  it('GIVEN 503 on every attempt THEN it gives up after the bounded retries with FST_FORGE_UNAVAILABLE', async () => {
    const { forge: f, seen } = forge([{ status: 503, body: { message: 'unavailable' } }]);
    const err = await failure(f.getPullRequest(1));
    expect(err).toMatchObject({
      code: 'FST_FORGE_UNAVAILABLE',
      errorClass: 'transient',
      status: 503,
    });
    expect(seen).toHaveLength(3);
  });

  it('GIVEN the connection is refused THEN it is retried and then FST_FORGE_UNAVAILABLE with no status', async () => {
    const { forge: f, seen } = forge(['network-error']);
    const err = await failure(f.getPullRequest(1));
    expect(err.code).toBe('FST_FORGE_UNAVAILABLE');
    expect(err.status).toBeUndefined();
    expect(err.message).toContain('ECONNREFUSED');
    expect(seen).toHaveLength(3);
  });

  it('GIVEN a 401 THEN there is one attempt and a terminal FST_FORGE_AUTH without the token', async () => {
    const logs: string[] = [];
    const { forge: f, seen } = forge(
      [{ status: 401, body: { message: `Bad credentials ${TOKEN}` } }],
      logs,
    );
    const err = await failure(f.getPullRequest(1));
    expect(err).toMatchObject({ code: 'FST_FORGE_AUTH', errorClass: 'terminal', status: 401 });
    expect(err.message).not.toContain(TOKEN);
    expect(seen).toHaveLength(1);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('GIVEN a 403 without rate-limit headers THEN it is FST_FORGE_AUTH, not retried', async () => {
    const { forge: f, seen } = forge([
      {
        status: 403,
        body: { message: 'Resource not accessible by personal access token' },
        headers: { 'x-ratelimit-remaining': '4000' },
      },
    ]);
    expect((await failure(f.getPullRequest(1))).code).toBe('FST_FORGE_AUTH');
    expect(seen).toHaveLength(1);
  });

  it('GIVEN a secondary rate limit with a short Retry-After THEN it waits and retries', async () => {
    const logs: string[] = [];
    const { forge: f, seen } = forge(
      [
        {
          status: 403,
          body: { message: 'You have exceeded a secondary rate limit.' },
          headers: { 'retry-after': '1' },
        },
        { status: 200, body: PR },
      ],
      logs,
    );
    expect((await f.getPullRequest(1)).number).toBe(1);
    expect(seen).toHaveLength(2);
    expect(
      logs.some((l) => l.startsWith('GitHub rate limit hit') && l.includes('"limit":"secondary"')),
    ).toBe(true);
  });

  it('GIVEN secondary limits on every attempt THEN retries stop after rateLimitRetries with FST_FORGE_RATE_LIMITED', async () => {
    const { forge: f, seen } = forge([
      {
        status: 429,
        body: { message: 'You have exceeded a secondary rate limit.' },
        headers: { 'retry-after': '2' },
      },
    ]);
    const err = await failure(f.getPullRequest(1));
    expect(err).toMatchObject({
      code: 'FST_FORGE_RATE_LIMITED',
      errorClass: 'transient',
      retryAfterMs: 2000,
    });
    expect(seen).toHaveLength(3);
  });

  it('GIVEN the primary quota is spent for an hour THEN it does not sleep: FST_FORGE_RATE_LIMITED carries the wait', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    const { forge: f, seen } = forge([
      {
        status: 403,
        body: { message: 'API rate limit exceeded' },
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
      },
    ]);
    const err = await failure(f.getPullRequest(1));
    expect(err.code).toBe('FST_FORGE_RATE_LIMITED');
    // now() is injected: the wait is measured from it.
    expect(err.retryAfterMs).toBe(Number(reset) * 1000 - NOW + 1000);
    expect(seen).toHaveLength(1);
  });

  it('GIVEN the policy THEN a rate limit is retried only within count and wait bounds', () => {
    expect(shouldRetryRateLimit(30, 0, 2, 60)).toBe(true);
    expect(shouldRetryRateLimit(30, 2, 2, 60)).toBe(false);
    expect(shouldRetryRateLimit(61, 0, 2, 60)).toBe(false);
  });

  it('GIVEN the caller aborts THEN the call stops with a transient error', async () => {
    const { forge: f } = forge([{ status: 200, body: PR }]);
    const controller = new AbortController();
    controller.abort(new Error('shutdown'));
    const err = await failure(f.getPullRequest(1, { signal: controller.signal }));
    expect(err.errorClass).toBe('transient');
    expect(err.status).toBeUndefined();
  });
});
