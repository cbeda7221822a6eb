import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NotifyError } from './errors.js';
import {
  loopbackFetch,
  sampleNotification,
  receiversClosedAfterEach,
} from '../test/harness/notify-receiver.js';
import { headerValue, signBody, WebhookNotifier } from './webhook.js';

const receiver = receiversClosedAfterEach();

/** What a receiver does: HMAC over the raw bytes it got, compared in constant time. */
function verify(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('WebhookNotifier', () => {
  it('GIVEN no signing secret THEN it POSTs the Notification as JSON with the event and delivery headers, unsigned', async () => {
    const r = await receiver();
    const n = sampleNotification();
    await new WebhookNotifier(r.url, { fetch: loopbackFetch }).send(n);

    expect(r.requests).toHaveLength(1);
    const request = r.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hook');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-forestall-event']).toBe('Isolated');
    expect(request.headers['x-forestall-delivery']).toBe(
      'isolate-shop-web-3f9a/2024-03-29T18:00:00Z/Isolated',
    );
    expect(request.headers['x-forestall-signature']).toBeUndefined();
    expect(JSON.parse(request.body)).toEqual(n);
  });

  it('GIVEN a signing secret THEN X-Forestall-Signature is sha256=<hex> of the raw body, verifiable by the receiver, and not by a wrong secret', async () => {
    const secret = 'whsec-0123456789abcdef';
    const r = await receiver();
    await new WebhookNotifier(r.url, { fetch: loopbackFetch, signingSecret: secret }).send(
      sampleNotification({ summary: 'Isolated web → ünïcode ✓' }),
    );

    const request = r.requests[0]!;
    expect(request.headers['x-forestall-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(secret, request.raw, request.headers['x-forestall-signature'])).toBe(true);
    expect(verify('another-secret', request.raw, request.headers['x-forestall-signature'])).toBe(
      false,
    );
    expect(
      verify(
        secret,
        Buffer.concat([request.raw, Buffer.from(' ')]),
        request.headers['x-forestall-signature'],
      ),
    ).toBe(false);
  });

  it('GIVEN 503 then 200 THEN the retry carries the same delivery id, body and signature, so the receiver can drop the duplicate', async () => {
    const r = await receiver((_req, i) => (i === 0 ? { status: 503 } : { status: 202 }));
    await new WebhookNotifier(r.url, {
      fetch: loopbackFetch,
      signingSecret: 's3cret-value',
      backoffMs: 5,
    }).send(sampleNotification());

    expect(r.requests).toHaveLength(2);
    const [first, second] = r.requests;
    expect(second!.headers['x-forestall-delivery']).toBe(first!.headers['x-forestall-delivery']);
    expect(second!.headers['x-forestall-signature']).toBe(first!.headers['x-forestall-signature']);
    expect(second!.body).toBe(first!.body);
  });

  it('GIVEN a receiver that refuses the signature (401) THEN it is terminal, not retried, and the secret is not in the message', async () => {
    const secret = 'whsec-do-not-print-me';
    const r = await receiver(() => ({ status: 401, body: `bad signature for secret ${secret}` }));
    const err = await new WebhookNotifier(r.url, { fetch: loopbackFetch, signingSecret: secret })
      .send(sampleNotification())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(NotifyError);
    expect(err).toMatchObject({ code: 'FST_NOTIFY_REJECTED', errorClass: 'terminal', status: 401 });
    expect((err as Error).message).not.toContain(secret);
    expect(r.requests).toHaveLength(1);
  });

  it('GIVEN an empty signing secret THEN construction fails with FST_NOTIFY_INVALID_CONFIG rather than sending unsigned', () => {
    expect(
      () => new WebhookNotifier('https://receiver.example/hook', { signingSecret: '' }),
    ).toThrow(expect.objectContaining({ code: 'FST_NOTIFY_INVALID_CONFIG' }));
  });

  it('GIVEN an id with spaces, % or non-ASCII THEN the header value is percent-encoded UTF-8 and fetch accepts it', async () => {
    expect(headerValue('a b%c/ü')).toBe('a%20b%25c/%C3%BC');
    expect(headerValue('plain/2024-03-29T18:00:00Z/Isolated')).toBe(
      'plain/2024-03-29T18:00:00Z/Isolated',
    );
    const r = await receiver();
    await new WebhookNotifier(r.url, { fetch: loopbackFetch }).send(
      sampleNotification({ id: 'act ü/1/Isolated' }),
    );
    expect(r.requests[0]!.headers['x-forestall-delivery']).toBe('act%20%C3%BC/1/Isolated');
  });

  it('GIVEN a body THEN signBody is the HMAC-SHA256 hex of its UTF-8 bytes', () => {
    expect(signBody('key', 'The quick brown fox jumps over the lazy dog')).toBe(
      'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
  });
});
