import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import { fetchFeed, type FetchPolicy } from '../../feeds/index.js';
import { installLoopbackFence, type LoopbackFence } from '../../test/harness/feed-server.js';
import type { KubeClient } from '../runtime/client.js';
import { ANNOTATION_ALLOWED_DESTINATIONS, LABEL_CREDENTIAL } from '../runtime/secrets.js';
import { clusterSourceReaders } from './source-readers.js';

// spec.source.taxii.authSecretRef through the controller's readers (clusterSourceReaders)
// and fetchFeed, as a sync runs them: the Secret is checked against the TAXII API root
// before any request. The TAXII server is a real HTTP server on 127.0.0.1 that records
// what reaches it and answers 404; the Secret comes from a KubeClient answering get()
// as the API server would.
const NS = 'forestall-system';
const TOKEN = 'taxii-token-5e2a91c7';
let server: Server;
let apiRoot: string;
let host: string;
const seen: IncomingHttpHeaders[] = [];
let fence: LoopbackFence;

beforeAll(async () => {
  fence = installLoopbackFence();
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(404, { 'content-type': 'application/taxii+json;version=2.1' });
    res.end('{"title":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  apiRoot = `http://${host}/taxii/api1/`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  expect(fence.violations).toEqual([]);
  fence?.uninstall();
});

function client(meta: { labels?: Record<string, string>; annotations?: Record<string, string> }) {
  return {
    get: async (apiVersion: string, kind: string, name: string, namespace?: string) =>
      kind === 'Secret' && namespace === NS && name === 'taxii'
        ? {
            apiVersion,
            kind,
            metadata: { name, namespace, ...meta },
            data: { token: Buffer.from(TOKEN).toString('base64') },
          }
        : undefined,
  } as unknown as KubeClient;
}

const feed = (): ThreatFeed =>
  ({
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'ThreatFeed',
    metadata: { name: 'taxii' },
    spec: {
      format: 'stix',
      source: { taxii: { apiRoot, collection: 'c', authSecretRef: { name: 'taxii' } } },
    },
  }) as ThreatFeed;
const policy: FetchPolicy = { ssrf: { allow: ['127.0.0.1'] }, maxBytes: 1 << 20, timeoutMs: 5_000 };
const sync = (kube: KubeClient) =>
  fetchFeed(feed(), undefined, clusterSourceReaders(kube, NS), policy).then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );

describe('clusterSourceReaders: spec.source.taxii.authSecretRef', () => {
  it('GIVEN a Secret bound to another host THEN the sync fails FST_FEED_AUTH with FST_SECRET_NOT_ALLOWED naming the Secret and the API root host, and no request is made', async () => {
    seen.length = 0;
    const err = await sync(
      client({
        labels: { [LABEL_CREDENTIAL]: 'true' },
        annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: 'taxii.example.org' },
      }),
    );
    expect(err).toMatchObject({ code: 'FST_FEED_AUTH' });
    expect(err?.message).toContain(
      `FST_SECRET_NOT_ALLOWED: Secret ${NS}/taxii (spec.source.taxii.authSecretRef) may not be sent to ${host}`,
    );
    expect(err?.message).not.toContain(TOKEN);
    expect(seen).toEqual([]);
  });

  it('GIVEN a Secret that does not opt in THEN it is refused the same way, and no request is made', async () => {
    seen.length = 0;
    const err = await sync(client({ annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: host } }));
    expect(err).toMatchObject({ code: 'FST_FEED_AUTH' });
    expect(err?.message).toContain(`label it ${LABEL_CREDENTIAL}=true`);
    expect(seen).toEqual([]);
  });

  it('GIVEN the Secret bound to the API root (host:port or URL prefix) THEN the request carries its token', async () => {
    for (const allowed of [host, apiRoot]) {
      seen.length = 0;
      const err = await sync(
        client({
          labels: { [LABEL_CREDENTIAL]: 'true' },
          annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: allowed },
        }),
      );
      // The server answers 404: the sync fails past the Secret, at the server.
      expect(err?.message).not.toContain('FST_SECRET_NOT_ALLOWED');
      expect(seen.length).toBeGreaterThan(0);
      expect(seen[0]!.authorization).toBe(`Bearer ${TOKEN}`);
    }
  });
});
