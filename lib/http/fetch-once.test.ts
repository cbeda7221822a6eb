import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import { fetchOnce } from './fetch-once.js';

const text = (response: Response) => response.text();

describe('fetchOnce', () => {
  it('GIVEN a 302 THEN it is an answer: redirect is manual, never followed', async () => {
    let redirect: RequestInit['redirect'];
    const fetch = (async (_url: string, init: RequestInit) => {
      redirect = init.redirect;
      return new Response('moved', { status: 302, headers: { location: 'https://elsewhere/' } });
    }) as typeof globalThis.fetch;
    const outcome = await fetchOnce(
      fetch,
      'https://a.example/',
      {},
      {
        timeoutMs: 1_000,
        read: async (r) => r.status,
      },
    );
    expect(outcome).toEqual({ kind: 'answer', value: 302 });
    expect(redirect).toBe('manual');
  });

  it.each([
    ['the caller cancels', 'cancelled'],
    ['the timeout passes', 'timeout'],
  ])('GIVEN %s THEN the outcome is %s', async (_what, kind) => {
    const caller = new AbortController();
    const fetch = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => {
        init.signal!.addEventListener('abort', () => reject(init.signal!.reason));
        if (kind === 'cancelled') caller.abort();
      })) as typeof globalThis.fetch;
    const outcome = await fetchOnce(
      fetch,
      'https://a.example/',
      {},
      {
        timeoutMs: 20,
        signal: caller.signal,
        read: text,
      },
    );
    expect(outcome.kind).toBe(kind);
  });

  it('GIVEN the outbound client refuses THEN its error; GIVEN fetch fails THEN the reason from its cause', async () => {
    const refused = new HttpError('FST_HTTP_SSRF_BLOCKED', 'GET https://a.example/ blocked');
    const refusing = (async () => {
      throw refused;
    }) as typeof globalThis.fetch;
    expect(
      await fetchOnce(refusing, 'https://a.example/', {}, { timeoutMs: 1_000, read: text }),
    ).toMatchObject({
      kind: 'outbound',
      error: refused,
      detail: `FST_HTTP_SSRF_BLOCKED: ${refused.message}`,
    });
    const failing = (async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error(''), { code: 'ECONNREFUSED' }),
      });
    }) as typeof globalThis.fetch;
    expect(
      await fetchOnce(failing, 'https://a.example/', {}, { timeoutMs: 1_000, read: text }),
    ).toEqual({ kind: 'network', detail: 'fetch failed: ECONNREFUSED' });
  });
});
