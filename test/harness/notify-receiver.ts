import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { Notification } from '../../notify/types.js';

/** The outbound client with the loopback exception the receivers below need. */
export { loopbackFetch } from './outbound.js';

/**
 * For the notifier tests only: a real HTTP receiver on 127.0.0.1 (an ephemeral port)
 * that records every request and answers as the test says, and a sample notification.
 * It sits in test/harness so that notify/'s own code imports nothing from test/.
 */

export interface ReceivedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The raw body bytes, for signatures. */
  raw: Buffer;
  body: string;
  /** performance.now() when the request had fully arrived. */
  at: number;
}

/** 'hang' keeps the request open, never answering, until the receiver closes. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  /** http://127.0.0.1:<port><path> */
  url: string;
  origin: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(
  reply: (request: ReceivedRequest, index: number) => Reply = () => ({ status: 200, body: 'ok' }),
  path = '/hook',
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        raw,
        body: raw.toString('utf8'),
        at: performance.now(),
      };
      requests.push(request);
      const answer = reply(request, requests.length - 1);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}${path}`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** startReceiver for one test file: every receiver it starts is closed after each test. */
export function receiversClosedAfterEach(): typeof startReceiver {
  const open: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  return async (...args) => {
    const r = await startReceiver(...args);
    open.push(r);
    return r;
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The headline case: a KEV CVE in an internet-facing workload, isolated. */
export function sampleNotification(overrides: Partial<Notification> = {}): Notification {
  return {
    id: 'isolate-shop-web-3f9a/2024-03-29T18:00:00Z/Isolated',
    event: 'Isolated',
    action: {
      name: 'isolate-shop-web-3f9a',
      type: 'Isolate',
      layer: 'network',
      policy: 'kev-internet-facing',
      connector: 'network:networkpolicy',
    },
    summary:
      'Isolated Deployment shop/web: CVE-2023-0286 (KEV) in openssl, reachable from the internet',
    cluster: 'prod-eu-1',
    targets: [{ kind: 'Deployment', namespace: 'shop', name: 'web' }],
    why: {
      cves: [
        {
          cveID: 'CVE-2023-0286',
          dateAdded: '2024-03-29',
          knownRansomwareCampaignUse: 'Known',
          vendor: 'OpenSSL',
          product: 'OpenSSL',
          severity: 'HIGH',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.8',
          package: 'openssl',
          container: 'web',
          image: 'nginx:1.25.3',
        },
      ],
      exposure: ['Ingress shop/web → Service web:80'],
    },
    remediation: [
      'Upgrade openssl in container web (nginx:1.25.3) from 3.0.7 to 3.0.8 (fixes CVE-2023-0286)',
    ],
    links: { pullRequest: 'https://git.example/acme/policy/pulls/7' },
    time: '2024-03-29T18:00:01Z',
    ...overrides,
  };
}
