import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, answerCode } from './errors.js';
import { createOutboundFetch, defaultOutboundFetch } from './fetch.js';
import type { Resolver } from './ssrf.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// Real servers on 127.0.0.1. Made-up names resolve through an injected resolver;
// nothing here ever connects anywhere but loopback.

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Loopback {
  origin: string;
  seen: Seen[];
  close(): Promise<void>;
}

const MARKER = 'MARKER-ami-secret-8f3a';

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<Loopback> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const resolver =
  (table: Record<string, string>): Resolver =>
  async (host) => {
    const address = table[host];
    if (address === undefined) throw Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };

const LOOPBACK = { allow: ['127.0.0.1'] };

const failure = (promise: Promise<unknown>) => rejectionOf(promise, HttpError);

let a: Loopback;
let b: Loopback;

beforeAll(async () => {
  b = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"from":"b"}');
  });
  a = await serve((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, body }));
        return;
      case '/same-origin':
        res.writeHead(302, { location: '/ok' });
        res.end();
        return;
      case '/cross-origin':
        res.writeHead(302, { location: `${b.origin}/landing` });
        res.end();
        return;
      case '/see-other':
        res.writeHead(303, { location: '/ok' });
        res.end();
        return;
      case '/to-metadata':
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end(MARKER);
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-length': '5000' });
        res.end('x'.repeat(5000));
        return;
      case '/big-chunked':
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 5; i++) res.write('y'.repeat(1000));
        res.end();
        return;
      case '/error-with-marker':
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end(`<html>${MARKER} ami-id i-0123 AccessKeyId</html>`);
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  });
});

afterAll(async () => {
  await a.close();
  await b.close();
});

describe('createOutboundFetch: https unless loopback or allow-listed', () => {
  it('GIVEN plain http to a made-up name that resolves to a public address WHEN fetched THEN FST_HTTP_INSECURE, before any connection', async () => {
    const fetch = createOutboundFetch({
      ssrf: { resolve: resolver({ 'api.idp.test': '93.184.216.34' }) },
    });
    const err = await failure(
      fetch('http://api.idp.test/scim/v2/Users', { headers: { authorization: 'Bearer t0ken' } }),
    );
    expect(err.code).toBe('FST_HTTP_INSECURE');
    expect(err.message).toContain('http://api.idp.test/scim/v2/Users');
    expect(err.message).toContain('use https');
  });

  it('GIVEN a made-up name on loopback, allowed by the SSRF allow-list WHEN fetched over http THEN it is sent', async () => {
    const port = new URL(a.origin).port;
    const fetch = createOutboundFetch({
      ssrf: { allow: ['127.0.0.1'], resolve: resolver({ 'idp.test': '127.0.0.1' }) },
    });
    const response = await fetch(`http://idp.test:${port}/ok`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true });
  });

  it('GIVEN loopback without an SSRF allow entry WHEN fetched THEN the guard refuses it', async () => {
    const before = a.seen.length;
    const err = await failure(createOutboundFetch({ ssrf: {} })(`${a.origin}/ok`));
    expect(err.code).toBe('FST_HTTP_SSRF_BLOCKED');
    expect(a.seen.length).toBe(before);
  });
});

describe('createOutboundFetch: redirects', () => {
  const headers = {
    authorization: 'Bearer t0ken',
    cookie: 'session=c00kie',
    'x-api-key': 'k3y',
    accept: 'application/json',
  };

  it('GIVEN a cross-origin redirect WHEN followed THEN Authorization, Cookie and the marked credential headers are dropped', async () => {
    const fetch = createOutboundFetch({ ssrf: LOOPBACK, credentialHeaders: ['X-Api-Key'] });
    const response = await fetch(`${a.origin}/cross-origin`, { headers });
    expect(await response.json()).toEqual({ from: 'b' });
    expect(response.redirected).toBe(true);
    expect(response.url).toBe(`${b.origin}/landing`);
    const landed = b.seen.at(-1)!;
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.cookie).toBeUndefined();
    expect(landed.headers['x-api-key']).toBeUndefined();
    expect(landed.headers.accept).toBe('application/json');
  });

  it('GIVEN a credential header marked on the request only WHEN redirected cross-origin THEN it is dropped too', async () => {
    const fetch = createOutboundFetch({ ssrf: LOOPBACK });
    await fetch(`${a.origin}/cross-origin`, {
      headers: { 'x-taxii-token': 'tt' },
      credentialHeaders: ['x-taxii-token'],
    });
    expect(b.seen.at(-1)!.headers['x-taxii-token']).toBeUndefined();
  });

  it('GIVEN a same-origin redirect WHEN followed THEN the credentials are kept', async () => {
    const fetch = createOutboundFetch({ ssrf: LOOPBACK, credentialHeaders: ['x-api-key'] });
    const response = await fetch(`${a.origin}/same-origin`, { headers });
    expect(response.status).toBe(200);
    const landed = a.seen.at(-1)!;
    expect(landed.path).toBe('/ok');
    expect(landed.headers.authorization).toBe('Bearer t0ken');
    expect(landed.headers.cookie).toBe('session=c00kie');
    expect(landed.headers['x-api-key']).toBe('k3y');
  });

  it('GIVEN redirect "manual" WHEN the server redirects THEN the 3xx is the answer and nothing is followed', async () => {
    const before = b.seen.length;
    const response = await createOutboundFetch({ ssrf: LOOPBACK })(`${a.origin}/cross-origin`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${b.origin}/landing`);
    expect(b.seen.length).toBe(before);
  });

  it('GIVEN redirect "error" WHEN the server redirects THEN FST_HTTP_REDIRECT_INVALID without the body', async () => {
    const err = await failure(
      createOutboundFetch({ ssrf: LOOPBACK })(`${a.origin}/to-metadata`, { redirect: 'error' }),
    );
    expect(err.code).toBe('FST_HTTP_REDIRECT_INVALID');
    expect(err.message).not.toContain(MARKER);
  });

  it('GIVEN a POST answered 303 WHEN followed THEN the next hop is a GET without the body', async () => {
    const response = await createOutboundFetch({ ssrf: LOOPBACK })(`${a.origin}/see-other`, {
      method: 'POST',
      body: 'payload',
    });
    expect(response.status).toBe(200);
    expect(a.seen.at(-1)).toMatchObject({ method: 'GET', path: '/ok', body: '' });
  });

  it('GIVEN a redirect to the metadata endpoint WHEN followed THEN FST_HTTP_SSRF_BLOCKED names the redirect, not the body', async () => {
    const err = await failure(createOutboundFetch({ ssrf: LOOPBACK })(`${a.origin}/to-metadata`));
    expect(err.code).toBe('FST_HTTP_SSRF_BLOCKED');
    expect(err.message).toContain('Redirect from');
    expect(err.message).toContain('cloud metadata');
    expect(err.message).not.toContain(MARKER);
  });
});

describe('createOutboundFetch: metadata and embedded IPv4 are refused, allow-list or not', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/'],
    ['http://[::ffff:169.254.169.254]/latest/meta-data/'],
    ['http://[::ffff:a9fe:a9fe]/latest/meta-data/'],
    ['http://[64:ff9b::a9fe:a9fe]/latest/meta-data/'],
    ['https://[fd00:ec2::254]/latest/meta-data/'],
    ['http://2852039166/latest/meta-data/'],
    ['http://metadata.idp.test/latest/meta-data/'],
  ])('GIVEN %s WHEN fetched THEN FST_HTTP_SSRF_BLOCKED', async (url) => {
    const fetch = createOutboundFetch({
      ssrf: {
        allow: ['127.0.0.1', 'metadata.idp.test'],
        resolve: resolver({ 'metadata.idp.test': '::ffff:169.254.169.254' }),
      },
    });
    const err = await failure(fetch(url));
    expect(err.code).toBe('FST_HTTP_SSRF_BLOCKED');
  });

  it('GIVEN a cluster range from a policy function WHEN it changes THEN the next request sees the new range', async () => {
    let clusterCidrs: string[] = [];
    const fetch = createOutboundFetch({ ssrf: () => ({ allow: ['127.0.0.1'], clusterCidrs }) });
    expect((await fetch(`${a.origin}/ok`)).status).toBe(200);
    clusterCidrs = ['127.0.0.0/8'];
    // An allow entry still wins over a cluster range, as in the feed guard; the point is the new object is read.
    expect((await fetch(`${a.origin}/ok`)).status).toBe(200);
    const blocked = createOutboundFetch({ ssrf: () => ({ clusterCidrs: ['93.184.0.0/16'] }) });
    expect((await failure(blocked('https://93.184.216.34/'))).message).toContain('cluster');
  });
});

describe('createOutboundFetch: bounded bodies and error texts', () => {
  it.each([['/big-declared'], ['/big-chunked']])(
    'GIVEN %s larger than the cap WHEN fetched THEN FST_HTTP_TOO_LARGE names the cap',
    async (path) => {
      const err = await failure(
        createOutboundFetch({ ssrf: LOOPBACK, maxBytes: 1000 })(`${a.origin}${path}`),
      );
      expect(err.code).toBe('FST_HTTP_TOO_LARGE');
      expect(err.message).toContain('1000-byte cap');
    },
  );

  it('GIVEN a body within the cap WHEN fetched THEN it arrives whole', async () => {
    const response = await createOutboundFetch({ ssrf: LOOPBACK, maxBytes: 5000 })(
      `${a.origin}/big-chunked`,
    );
    expect((await response.text()).length).toBe(5000);
  });

  it('GIVEN an error answer holding a marker WHEN the client fails on it THEN no message holds the marker', async () => {
    const fetch = createOutboundFetch({ ssrf: LOOPBACK, maxBytes: 10 });
    const err = await failure(fetch(`${a.origin}/error-with-marker`));
    expect(err.code).toBe('FST_HTTP_TOO_LARGE');
    expect(err.message).not.toContain(MARKER);
    expect(JSON.stringify(err)).not.toContain(MARKER);
  });

  it.each([
    ['{"errorCode":"E0000011","errorSummary":"Invalid token provided"}', 'E0000011'],
    [
      '{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}',
      'Authorization_RequestDenied',
    ],
    [
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"uniqueness","detail":"x"}',
      'uniqueness',
    ],
    ['{"error":"invalid_client","error_description":"Invalid client secret"}', 'invalid_client'],
    [
      '{"message":"Validation Failed","errors":[{"code":"custom","message":"A pull request already exists"}]}',
      'custom',
    ],
  ])('GIVEN the JSON answer %s THEN only its code %s is taken', (body, code) => {
    expect(answerCode(body)).toBe(code);
  });

  it.each([
    [`<html>${MARKER}</html>`],
    [`{"error":"${MARKER} with spaces"}`],
    [`{"errorCode":"${'A'.repeat(65)}"}`],
    ['{"message":"free text only"}'],
    ['"just a string"'],
  ])('GIVEN the answer %s THEN no code is taken', (body) => {
    expect(answerCode(body)).toBeUndefined();
  });
});

describe('defaultOutboundFetch: the clients default, with no SSRF exceptions', () => {
  it.each([['https://10.0.0.1/'], ['https://169.254.169.254/latest/meta-data/']])(
    'GIVEN %s WHEN fetched THEN FST_HTTP_SSRF_BLOCKED',
    async (url) => {
      const err = await failure(defaultOutboundFetch()(url));
      expect(err.code).toBe('FST_HTTP_SSRF_BLOCKED');
    },
  );

  it('GIVEN plain http to a public address WHEN fetched THEN FST_HTTP_INSECURE', async () => {
    const err = await failure(defaultOutboundFetch()('http://93.184.216.34/'));
    expect(err.code).toBe('FST_HTTP_INSECURE');
  });
});
