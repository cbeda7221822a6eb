import { describe, expect, it } from 'vitest';
import { ForgeError } from './errors.js';
import { GiteaForge } from './gitea.js';
import { parseRepoUrl } from './repo-url.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// The transport of the Gitea client: retries, Retry-After, timeouts, cancellation and
// redaction. What Gitea answers is tested against a real Gitea in
// test/integration/forge-gitea.test.ts.

const TOKEN = '0123456789abcdef0123456789abcdef01234567';
const PR = {
  number: 3,
  html_url: 'http://gitea.test/o/p/pulls/3',
  state: 'open',
  title: 't',
  body: 'b',
  merged: false,
  head: { ref: 'forestall/x', sha: 'abc', repo: { full_name: 'o/p' } },
  base: { ref: 'main' },
};

type Step =
  { status: number; body?: unknown; headers?: Record<string, string> } | 'network-error' | 'hang';

function client(
  steps: Step[],
  options: { retries?: number; maxRetryAfterMs?: number; requestTimeoutMs?: number } = {},
) {
  const calls: { url: string; method: string; headers: Headers; body?: string }[] = [];
  const sleeps: number[] = [];
  const fetch = async (
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> => {
    calls.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    });
    const step = steps[Math.min(calls.length - 1, steps.length - 1)]!;
    if (step === 'network-error')
      throw new TypeError('fetch failed', {
        cause: new Error('connect ECONNREFUSED 127.0.0.1:3000'),
      });
    if (step === 'hang') {
      return new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      );
    }
    return new Response(step.body === undefined ? '' : JSON.stringify(step.body), {
      status: step.status,
      headers: { 'content-type': 'application/json', ...step.headers },
    });
  };
  const forge = new GiteaForge({
    repo: parseRepoUrl('http://gitea.test/o/p.git'),
    token: TOKEN,
    apiUrl: 'http://gitea.test/api/v1',
    fetch,
    retries: options.retries ?? 2,
    backoffMs: 100,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    random: () => 0.5,
    now: () => 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { forge, calls, sleeps };
}

const failure = (promise: Promise<unknown>) => rejectionOf(promise, ForgeError);

describe('GiteaForge transport', () => {
  it('GIVEN a request THEN it carries `token` auth and goes to the repository path', async () => {
    const { forge, calls } = client([{ status: 200, body: PR }]);
    await forge.getPullRequest(3);
    expect(calls[0]!.url).toBe('http://gitea.test/api/v1/repos/o/p/pulls/3');
    expect(calls[0]!.headers.get('authorization')).toBe(`token ${TOKEN}`);
  });

  it('GIVEN 500 then success THEN it retries with exponential backoff', async () => {
    const { forge, calls, sleeps } = client([
      { status: 500 },
      { status: 502 },
      { status: 200, body: PR },
    ]);
    expect((await forge.getPullRequest(3)).number).toBe(3);
    expect(calls).toHaveLength(3);
    // base 100 ms doubled per retry, jitter in [50%, 100%] (random() = 0.5 → 75%).
    expect(sleeps).toEqual([75, 150]);
  });

  it('GIVEN 5xx on every attempt THEN it stops after the bounded retries with FST_FORGE_UNAVAILABLE', async () => {
    const { forge, calls } = client([{ status: 503, body: { message: 'maintenance' } }]);
    const err = await failure(forge.getPullRequest(3));
    expect(err).toMatchObject({ code: 'FST_FORGE_UNAVAILABLE', status: 503 });
    expect(err.message).toBe('Gitea o/p: get pull request #3: HTTP 503');
    expect(calls).toHaveLength(3);
  });

  it('GIVEN 429 with a short Retry-After THEN it waits exactly that long', async () => {
    const { forge, sleeps } = client([
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 200, body: PR },
    ]);
    await forge.getPullRequest(3);
    expect(sleeps).toEqual([7000]);
  });

  it('GIVEN 429 with a Retry-After beyond the limit THEN it fails at once with the wait attached', async () => {
    const { forge, calls, sleeps } = client([{ status: 429, headers: { 'retry-after': '600' } }]);
    const err = await failure(forge.getPullRequest(3));
    expect(err).toMatchObject({ code: 'FST_FORGE_RATE_LIMITED', retryAfterMs: 600_000 });
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('GIVEN a network error THEN it is retried, then FST_FORGE_UNAVAILABLE naming the cause', async () => {
    const { forge, calls } = client(['network-error']);
    const err = await failure(forge.getPullRequest(3));
    expect(err.code).toBe('FST_FORGE_UNAVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');
    expect(calls).toHaveLength(3);
  });

  it('GIVEN a forge that never answers THEN each attempt times out', async () => {
    const { forge, calls } = client(['hang'], { retries: 1, requestTimeoutMs: 20 });
    const err = await failure(forge.getPullRequest(3));
    expect(err.code).toBe('FST_FORGE_UNAVAILABLE');
    expect(err.message).toContain('timed out after 20 ms');
    expect(calls).toHaveLength(2);
  });

  it('GIVEN the caller cancels THEN no retry follows', async () => {
    const { forge, calls } = client(['hang']);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutdown')), 10);
    const err = await failure(forge.getPullRequest(3, { signal: controller.signal }));
    expect(err.message).toBe('Gitea o/p: get pull request #3: cancelled');
    expect(calls).toHaveLength(1);
  });

  it('GIVEN 401 and 404 THEN they are terminal and not retried, and the token never appears', async () => {
    const auth = client([{ status: 401, body: { message: `token ${TOKEN} is invalid` } }]);
    const err = await failure(auth.forge.getPullRequest(3));
    expect(err).toMatchObject({ code: 'FST_FORGE_AUTH', errorClass: 'terminal' });
    expect(err.message).not.toContain(TOKEN);
    expect(auth.calls).toHaveLength(1);
    const missing = client([{ status: 404, body: { message: "The target couldn't be found." } }]);
    expect((await failure(missing.forge.getPullRequest(3))).code).toBe('FST_FORGE_NOT_FOUND');
  });
});

describe('GiteaForge pull requests', () => {
  it('GIVEN open pull requests over two pages THEN findOpenPullRequest pages and matches the head branch of this repository only', async () => {
    const fork = { ...PR, number: 1, head: { ...PR.head, repo: { full_name: 'someone/p' } } };
    const filler = Array.from({ length: 49 }, (_, i) => ({
      ...PR,
      number: 100 + i,
      head: { ...PR.head, ref: `feature-${i}` },
    }));
    const { forge, calls } = client([
      { status: 200, body: [fork, ...filler] },
      { status: 200, body: [PR] },
    ]);
    expect((await forge.findOpenPullRequest('forestall/x'))?.number).toBe(3);
    expect(calls.map((c) => new URL(c.url).search)).toEqual([
      '?state=open&page=1&limit=50',
      '?state=open&page=2&limit=50',
    ]);
  });

  it('GIVEN Gitea says the pull request exists THEN openPullRequest returns the existing one', async () => {
    const { forge, calls } = client([
      {
        status: 409,
        body: {
          message:
            'pull request already exists for these targets [id: 3, issue_id: 3, head_repo_id: 1, base_repo_id: 1, head_branch: forestall/x, base_branch: main]',
        },
      },
      { status: 200, body: [PR] },
    ]);
    const pr = await forge.openPullRequest({
      head: 'forestall/x',
      base: 'main',
      title: 't',
      body: 'b',
    });
    expect(pr).toMatchObject({ number: 3, state: 'Open', warnings: [] });
    expect(calls.map((c) => c.method)).toEqual(['POST', 'GET']);
  });

  it('GIVEN a merged or closed pull request THEN its state maps to Merged or Closed', async () => {
    const merged = client([
      { status: 200, body: { ...PR, state: 'closed', merged: true, merge_commit_sha: 'def' } },
    ]);
    expect(await merged.forge.getPullRequest(3)).toMatchObject({
      state: 'Merged',
      mergeCommitSha: 'def',
    });
    const closed = client([
      { status: 200, body: { ...PR, state: 'closed', merged: false, merge_commit_sha: 'def' } },
    ]);
    const pr = await closed.forge.getPullRequest(3);
    expect(pr.state).toBe('Closed');
    expect(pr.mergeCommitSha).toBeUndefined();
  });
});
