import { describe, expect, it, vi } from 'vitest';
import { MARKER, publicFetch, withHostileAnswer } from '../../test/harness/hostile-answer.js';
import { loopbackFetch as loopback } from '../../test/harness/outbound.js';
import { ConnectorError } from '../core/errors.js';
import { createIdentityHttp, type IdentityHttpOptions } from './http.js';
import type { AuthScheme } from './types.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// The identity HTTP client's own logic (credentials, retries, error shaping), with an
// injected fetch. What real providers answer is covered by
// test/integration/identity-connectors.test.ts.

const BASE = 'https://idp.example.test/api/v1';
const TOKEN_URL = 'https://idp.example.test/oauth/token';
const SECRET = 'client-secret-3f9a1c7e55d2';
const TOKEN = 'api-token-a1b2c3d4e5f6a7b8c9d0';

type FetchArgs = [string, RequestInit];

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers });
}

function client(
  fetch: ReturnType<typeof vi.fn>,
  auth: AuthScheme = { type: 'bearer', token: TOKEN },
  options: Partial<IdentityHttpOptions> = {},
) {
  const sleep = vi.fn(async (_ms: number) => undefined);
  const http = createIdentityHttp({
    baseUrl: BASE,
    auth,
    fetch: fetch as unknown as typeof globalThis.fetch,
    sleep,
    random: () => 0,
    ...options,
  });
  return { http, sleep };
}

const calls = (fetch: ReturnType<typeof vi.fn>): FetchArgs[] => fetch.mock.calls as FetchArgs[];
const header = (init: RequestInit, name: string): string | undefined =>
  (init.headers as Record<string, string>)[name];

const failure = (promise: Promise<unknown>) => rejectionOf(promise, ConnectorError);

const credentials: AuthScheme = {
  type: 'client-credentials',
  tokenUrl: TOKEN_URL,
  clientId: 'forestall',
  clientSecret: SECRET,
  scope: 'users.write',
};

describe('createIdentityHttp', () => {
  it('GIVEN a bearer token WHEN a call with a query and a JSON body is sent THEN the URL, headers and body are as asked', async () => {
    const fetch = vi.fn(async () => json(200, { ok: true }));
    const { http } = client(fetch);
    const answer = await http.send({
      method: 'PATCH',
      path: '/Users/u1',
      query: { filter: 'userName eq "a b"' },
      body: { active: false },
    });
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
    const [url, init] = calls(fetch)[0]!;
    expect(url).toBe(`${BASE}/Users/u1?filter=userName+eq+%22a+b%22`);
    expect(init.method).toBe('PATCH');
    expect(init.body).toBe('{"active":false}');
    expect(init.redirect).toBe('manual');
    expect(init.signal).toBeInstanceOf(AbortSignal);
    expect(header(init, 'authorization')).toBe(`Bearer ${TOKEN}`);
    expect(header(init, 'content-type')).toBe('application/json');
  });

  it('GIVEN call headers THEN their Content-Type wins and an Authorization among them is ignored', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const { http } = client(fetch, { type: 'ssws', token: TOKEN });
    const answer = await http.send({
      method: 'PATCH',
      path: '/x',
      body: {},
      headers: { 'Content-Type': 'application/scim+json', Authorization: 'Bearer stolen' },
    });
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    const init = calls(fetch)[0]![1];
    expect(header(init, 'content-type')).toBe('application/scim+json');
    expect(header(init, 'authorization')).toBe(`SSWS ${TOKEN}`);
  });

  it('GIVEN client credentials THEN one token is requested with the form, cached, and renewed 30 s before it expires', async () => {
    let now = 1_000_000;
    let issued = 0;
    const fetch = vi.fn(async (url: string) =>
      url === TOKEN_URL
        ? json(200, { access_token: `access-${++issued}-abcdefgh`, expires_in: 300 })
        : json(200, []),
    );
    const { http } = client(fetch, credentials, { now: () => now });
    await http.send({ method: 'GET', path: '/users' });
    await http.send({ method: 'GET', path: '/users' });
    const [tokenUrl, tokenInit] = calls(fetch)[0]!;
    expect(tokenUrl).toBe(TOKEN_URL);
    expect(tokenInit.method).toBe('POST');
    expect(header(tokenInit, 'content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(tokenInit.body as string))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'forestall',
      client_secret: SECRET,
      scope: 'users.write',
    });
    expect(calls(fetch).filter(([url]) => url === TOKEN_URL)).toHaveLength(1);
    expect(header(calls(fetch)[2]![1], 'authorization')).toBe('Bearer access-1-abcdefgh');

    now += 269_000; // 31 s left: still used
    await http.send({ method: 'GET', path: '/users' });
    expect(issued).toBe(1);
    now += 2_000; // 29 s left: renewed
    await http.send({ method: 'GET', path: '/users' });
    expect(issued).toBe(2);
    expect(header(calls(fetch).at(-1)![1], 'authorization')).toBe('Bearer access-2-abcdefgh');
  });

  it('GIVEN concurrent calls and no token yet THEN they share one token request', async () => {
    const fetch = vi.fn(async (url: string) =>
      url === TOKEN_URL
        ? json(200, { access_token: 'shared-token-abcdef', expires_in: 300 })
        : json(200, {}),
    );
    const { http } = client(fetch, credentials);
    await Promise.all([1, 2, 3].map(() => http.send({ method: 'GET', path: '/users' })));
    expect(calls(fetch).filter(([url]) => url === TOKEN_URL)).toHaveLength(1);
  });

  it('GIVEN a cached token the API no longer takes WHEN it answers 401 THEN a new token is fetched and the call repeated once', async () => {
    let issued = 0;
    let apiCalls = 0;
    const fetch = vi.fn(async (url: string) => {
      if (url === TOKEN_URL)
        return json(200, { access_token: `access-${++issued}-abcdefgh`, expires_in: 300 });
      apiCalls++;
      return apiCalls === 2 ? json(401, { error: 'HTTP 401 Unauthorized' }) : json(200, {});
    });
    const { http } = client(fetch, credentials);
    await http.send({ method: 'GET', path: '/users' });
    await http.send({ method: 'GET', path: '/users' });
    expect(issued).toBe(2);
    expect(apiCalls).toBe(3);
    expect(header(calls(fetch).at(-1)![1], 'authorization')).toBe('Bearer access-2-abcdefgh');
  });

  it('GIVEN credentials the API refuses every time THEN FST_IDENTITY_AUTH after one repeat, without any token in the message', async () => {
    const fetch = vi.fn(async (url: string) =>
      url === TOKEN_URL
        ? json(200, { access_token: 'access-zzzzzzzzzzzz', expires_in: 300 })
        : json(401, { error: 'bad token access-zzzzzzzzzzzz' }),
    );
    const { http } = client(fetch, credentials);
    const err = await failure(
      http.send({ method: 'PUT', path: '/users/1', query: { secretish: 'q-value' } }),
    );
    expect(err.code).toBe('FST_IDENTITY_AUTH');
    expect(err.errorClass).toBe('terminal');
    expect(err.message).toContain('PUT /users/1 answered HTTP 401');
    expect(err.message).not.toContain('access-zzzzzzzzzzzz');
    expect(err.message).not.toContain('q-value');
    expect(calls(fetch).filter(([url]) => url !== TOKEN_URL)).toHaveLength(2);
  });

  it('GIVEN a wrong client secret THEN the token endpoint answer is FST_IDENTITY_AUTH and the secret appears nowhere in the message', async () => {
    for (const status of [400, 401]) {
      const fetch = vi.fn(async () =>
        json(status, {
          error: 'invalid_client',
          error_description: `Invalid client secret ${SECRET}`,
          echo: `client_secret=${SECRET}`,
        }),
      );
      const { http } = client(fetch, credentials);
      const err = await failure(http.send({ method: 'GET', path: '/users' }));
      expect(err.code).toBe('FST_IDENTITY_AUTH');
      expect(err.message).toContain(
        `token endpoint https://idp.example.test/oauth/token: POST (client credentials) answered HTTP ${status}`,
      );
      expect(err.message).toContain('invalid_client');
      expect(err.message).not.toContain(SECRET);
      expect(calls(fetch)).toHaveLength(1);
    }
  });

  it('GIVEN 503 twice, then 200 THEN the call succeeds after two exponential backoffs', async () => {
    const answers = [text(503, 'busy'), text(503, 'busy'), json(200, { done: true })];
    const fetch = vi.fn(async () => answers.shift()!);
    const { http, sleep } = client(fetch);
    expect((await http.send({ method: 'GET', path: '/x' })).body).toEqual({ done: true });
    // random() = 0: half of 500 ms · 2^retry.
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([250, 500]);
  });

  it('GIVEN 5xx on every attempt THEN FST_IDENTITY_UNAVAILABLE after 1 + retries attempts, with the status and never the answer', async () => {
    const fetch = vi.fn(async () => text(502, 'bad gateway from the proxy'));
    const { http } = client(fetch, undefined, { retries: 2 });
    const err = await failure(http.send({ method: 'GET', path: '/Users' }));
    expect(err.code).toBe('FST_IDENTITY_UNAVAILABLE');
    expect(err.errorClass).toBe('transient');
    expect(err.message).toBe(`${BASE}: GET /Users answered HTTP 502 (3 attempts)`);
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('GIVEN 429 with Retry-After in seconds THEN that wait replaces the backoff, and FST_IDENTITY_RATE_LIMITED comes after the retries', async () => {
    const fetch = vi.fn(async () => json(429, { errorCode: 'E0000047' }, { 'retry-after': '7' }));
    const { http, sleep } = client(fetch, undefined, { retries: 1 });
    const err = await failure(http.send({ method: 'GET', path: '/users' }));
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([7000]);
    expect(err.code).toBe('FST_IDENTITY_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(7000);
  });

  it('GIVEN 429 with a Retry-After over 60 s (seconds or an HTTP date) THEN FST_IDENTITY_RATE_LIMITED at once, with retryAfterMs', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    for (const retryAfter of ['120', new Date(now + 90_000).toUTCString()]) {
      const fetch = vi.fn(async () => text(429, 'slow down', { 'retry-after': retryAfter }));
      const { http, sleep } = client(fetch, undefined, { now: () => now });
      const err = await failure(http.send({ method: 'GET', path: '/users' }));
      expect(err.code).toBe('FST_IDENTITY_RATE_LIMITED');
      expect(err.retryAfterMs).toBe(retryAfter === '120' ? 120_000 : 90_000);
      expect(err.message).toMatch(/asked to retry after (120|90) s/);
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(sleep).not.toHaveBeenCalled();
    }
  });

  it('GIVEN a refused connection THEN it is retried, then FST_IDENTITY_UNAVAILABLE with the reason', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
          code: 'ECONNREFUSED',
        }),
      });
    });
    const { http } = client(fetch, undefined, { retries: 1 });
    const err = await failure(http.send({ method: 'POST', path: '/users/1/logout' }));
    expect(err.code).toBe('FST_IDENTITY_UNAVAILABLE');
    expect(err.message).toBe(
      `${BASE}: POST /users/1/logout: no answer: fetch failed: connect ECONNREFUSED 127.0.0.1:1 (2 attempts)`,
    );
  });

  it('GIVEN a provider that does not answer THEN each attempt times out and the call is FST_IDENTITY_UNAVAILABLE', async () => {
    const fetch = vi.fn(
      (_url: string, init: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal!.addEventListener('abort', () => reject(init.signal!.reason));
        }),
    );
    const { http } = client(fetch, undefined, { retries: 1, timeoutMs: 20 });
    const err = await failure(http.send({ method: 'GET', path: '/users' }));
    expect(err.code).toBe('FST_IDENTITY_UNAVAILABLE');
    expect(err.message).toContain('no answer within 20 ms (2 attempts)');
  });

  it('GIVEN a redirect THEN it is not followed: FST_IDENTITY_REJECTED naming the target without its query', async () => {
    const fetch = vi.fn(
      async () =>
        new Response(null, {
          status: 302,
          headers: { location: 'https://login.example.test/authorize?code=abc123' },
        }),
    );
    const { http } = client(fetch);
    const err = await failure(http.send({ method: 'GET', path: '/users' }));
    expect(err.code).toBe('FST_IDENTITY_REJECTED');
    expect(err.message).toBe(
      `${BASE}: GET /users answered HTTP 302: a redirect (to https://login.example.test), which is not followed; configure the final URL`,
    );
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('GIVEN 404 THEN FST_IDENTITY_REJECTED with the structured code only, unless the caller accepts 404', async () => {
    const answer = `{"scimType":"noTarget","detail":"${'x'.repeat(400)}"}`;
    const fetch = vi.fn(async () => text(404, answer));
    const { http } = client(fetch);
    const err = await failure(http.send({ method: 'GET', path: '/Groups/g1' }));
    expect(err.code).toBe('FST_IDENTITY_REJECTED');
    expect(err.message).toBe(`${BASE}: GET /Groups/g1 answered HTTP 404 (code noTarget)`);
    const accepted = await http.send({ method: 'GET', path: '/Groups/g1' }, { accept: [404] });
    expect(accepted.status).toBe(404);
  });

  it('GIVEN 403 THEN FST_IDENTITY_AUTH, not retried', async () => {
    const fetch = vi.fn(async () => json(403, { error: 'unknown_error' }));
    const { http } = client(fetch);
    const err = await failure(
      http.send({ method: 'PUT', path: '/users/1', body: { enabled: false } }),
    );
    expect(err.code).toBe('FST_IDENTITY_AUTH');
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('GIVEN an answer that echoes the credentials THEN the message has neither the token nor an Authorization value', async () => {
    const fetch = vi.fn(async () =>
      text(400, `bad request; you sent Authorization: Bearer ${TOKEN} and SSWS 00abcdefghijklmnop`),
    );
    const { http } = client(fetch);
    const err = await failure(http.send({ method: 'GET', path: '/x' }));
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain('00abcdefghijklmnop');
    expect(err.message).toBe(`${BASE}: GET /x answered HTTP 400`);
  });

  it('GIVEN a success whose body is not JSON THEN FST_IDENTITY_REJECTED', async () => {
    const fetch = vi.fn(async () => text(200, '<html>sign in</html>'));
    const { http } = client(fetch);
    const err = await failure(http.send({ method: 'GET', path: '/users' }));
    expect(err.code).toBe('FST_IDENTITY_REJECTED');
    expect(err.message).toContain('with a body that is not JSON (not shown)');
    expect(err.message).not.toContain('sign in');
  });

  it('GIVEN a base URL with user info or another scheme THEN the client is refused without echoing it', () => {
    expect(() =>
      createIdentityHttp({
        baseUrl: 'https://user:pw@idp.example.test',
        auth: { type: 'bearer', token: TOKEN },
      }),
    ).toThrow(/must not carry user info/);
    expect(() =>
      createIdentityHttp({
        baseUrl: 'ftp://idp.example.test',
        auth: { type: 'bearer', token: TOKEN },
      }),
    ).toThrow(/must be http or https/);
  });
});

describe('createIdentityHttp over the outbound client (lib/http)', () => {
  it.each([[403], [404], [500], [200]])(
    'GIVEN a non-JSON answer %s holding a marker THEN the marker is in no error message',
    (status) =>
      withHostileAnswer(status, async (server) => {
        const http = createIdentityHttp({
          baseUrl: `${server.origin}/scim/v2`,
          auth: { type: 'bearer', token: TOKEN },
          fetch: loopback,
          retries: 0,
        });
        const err = await failure(http.send({ method: 'GET', path: '/Users' }));
        expect(err.message).toContain(`GET /Users answered HTTP ${status}`);
        expect(err.message).not.toContain(MARKER);
        expect(JSON.stringify(err)).not.toContain(MARKER);
      }),
  );

  it('GIVEN plain http to a host that is not loopback THEN FST_IDENTITY_REJECTED before any connection, not retried', async () => {
    const fetch = publicFetch();
    const sleep = vi.fn(async (_ms: number) => undefined);
    const http = createIdentityHttp({
      baseUrl: 'http://okta.example.test/api/v1',
      auth: { type: 'ssws', token: TOKEN },
      fetch,
      sleep,
    });
    const err = await failure(http.send({ method: 'GET', path: '/users' }));
    expect(err.code).toBe('FST_IDENTITY_REJECTED');
    expect(err.message).toContain('FST_HTTP_INSECURE');
    expect(sleep).not.toHaveBeenCalled();
  });

  it('GIVEN no fetch THEN the default client has no SSRF exceptions: loopback is refused', () =>
    withHostileAnswer(
      200,
      async (server) => {
        const http = createIdentityHttp({
          baseUrl: server.origin,
          auth: { type: 'bearer', token: TOKEN },
        });
        const err = await failure(http.send({ method: 'GET', path: '/Users' }));
        expect(err.message).toContain('FST_HTTP_SSRF_BLOCKED');
        expect(server.requests).toBe(0);
      },
      '{}',
    ));
});
