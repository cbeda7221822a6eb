import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../controller/runtime/client.js';
import { validateObject } from '../../crds/index.js';
import { ControlPlane } from '../harness/control-plane.js';

// The CRDs on the real API server: installed, explained, defaulted, and rejecting bad
// objects with messages that name the field. The offline validator must agree.
let cp: ControlPlane;
let kc: KubeConfig;
let custom: CustomObjectsApi;

beforeAll(async () => {
  cp = await ControlPlane.start();
  kc = cp.kubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterAll(async () => cp?.stop());

const group = 'forestall.io';
const version = 'v1alpha1';

async function createRejection(plural: string, body: Record<string, unknown>): Promise<string> {
  try {
    await custom.createClusterCustomObject({ group, version, plural, body });
  } catch (err) {
    const e = err as { code?: number; body?: string };
    expect(e.code).toBe(422);
    return (JSON.parse(e.body ?? '{}') as { message: string }).message;
  }
  throw new Error(`${plural} ${JSON.stringify(body)} was accepted`);
}

const obj = (kind: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: `${group}/${version}`,
  kind,
  metadata: { name },
  spec,
});

describe('Forestall CRDs on a real API server', () => {
  it('GIVEN the generated CRDs THEN all three are Established, cluster-scoped and in the forestall category', async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const plural of ['threatfeeds', 'exposurepolicies', 'preemptiveactions']) {
      const crd = await api.readCustomResourceDefinition({ name: `${plural}.${group}` });
      expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
      expect(crd.spec.scope).toBe('Cluster');
      expect(crd.spec.names.categories).toEqual(['forestall']);
    }
  });

  it('GIVEN a ThreatFeed with two sources THEN the API server rejects it naming spec.source, as the offline validator does', async () => {
    const bad = obj('ThreatFeed', 'two-sources', {
      format: 'lines',
      source: {
        http: { url: 'https://example.org/list.txt' },
        configMapRef: { name: 'x', key: 'y' },
      },
    });
    const message = await createRejection('threatfeeds', bad);
    expect(message).toContain(
      'spec.source: Invalid value: "object": exactly one of source.http, source.taxii or source.configMapRef must be set',
    );
    expect(validateObject(structuredClone(bad)).ok).toBe(false);
  });

  it.each([
    [
      'an unknown format',
      'threatfeeds',
      obj('ThreatFeed', 'bad-format', { format: 'yaml', source: { http: { url: 'https://x/y' } } }),
      'spec.format: Unsupported value: "yaml"',
    ],
    [
      'a malformed refreshInterval',
      'threatfeeds',
      obj('ThreatFeed', 'bad-interval', {
        format: 'lines',
        refreshInterval: 'hourly',
        source: { http: { url: 'https://x/y' } },
      }),
      'spec.refreshInterval: Invalid value: "hourly"',
    ],
    [
      'a non-http URL',
      'threatfeeds',
      obj('ThreatFeed', 'bad-url', {
        format: 'lines',
        source: { http: { url: 'file:///etc/passwd' } },
      }),
      'spec.source.http.url: Invalid value: "file:///etc/passwd"',
    ],
    [
      'json without a path',
      'threatfeeds',
      obj('ThreatFeed', 'json-no-path', {
        format: 'json',
        source: { http: { url: 'https://x/y' } },
      }),
      'spec.parser: Invalid value: "object": format json needs parser.path',
    ],
    [
      'a policy with no feeds',
      'exposurepolicies',
      obj('ExposurePolicy', 'no-feeds', { feeds: {}, actions: [{ type: 'EgressDeny' }] }),
      'spec.feeds: Invalid value: "object": feeds needs names or a selector',
    ],
    [
      'an action on the wrong layer',
      'preemptiveactions',
      obj('PreemptiveAction', 'wrong-layer', {
        type: 'DNSBlock',
        layer: 'network',
        indicators: { count: 1 },
      }),
      'spec.layer: Invalid value: "object": DNSBlock acts on the dns layer',
    ],
  ])(
    'GIVEN %s THEN the API server and the offline validator both reject it',
    async (_what, plural, body, expected) => {
      expect(await createRejection(plural, body)).toContain(expected);
      expect(validateObject(structuredClone(body)).ok).toBe(false);
    },
  );

  it('GIVEN a minimal valid ThreatFeed THEN it is stored with the schema defaults', async () => {
    const created = (await custom.createClusterCustomObject({
      group,
      version,
      plural: 'threatfeeds',
      body: obj('ThreatFeed', 'minimal', {
        format: 'lines',
        source: { http: { url: 'https://example.org/ipsum.txt' } },
      }),
    })) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({
      refreshInterval: '1h',
      ttl: '168h',
      suspend: false,
      confidence: { default: 50 },
    });
    await custom.deleteClusterCustomObject({
      group,
      version,
      plural: 'threatfeeds',
      name: 'minimal',
    });
  });

  it('GIVEN every example in examples/ THEN the API server accepts it', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { parseAllDocuments } = await import('yaml');
    const root = new URL('../../examples/', import.meta.url);
    const client = new KubeClient(kc, undefined, 'forestall-test');
    const applied: string[] = [];
    for (const dir of ['threatfeeds', 'policies']) {
      for (const file of readdirSync(new URL(`${dir}/`, root)).filter((f) => f.endsWith('.yaml'))) {
        for (const doc of parseAllDocuments(
          readFileSync(new URL(`${dir}/${file}`, root), 'utf8'),
        )) {
          const o = doc.toJS() as { kind: string; metadata: { name: string } };
          await client.apply(o as never);
          applied.push(`${o.kind}/${o.metadata.name}`);
        }
      }
    }
    expect(applied.length).toBeGreaterThanOrEqual(5);
  });

  it('GIVEN the published OpenAPI THEN field descriptions are there for kubectl explain', async () => {
    const doc = await rawGet(`/openapi/v3/apis/${group}/${version}`);
    const schema = (
      doc as {
        components: {
          schemas: Record<
            string,
            {
              properties: Record<string, { properties?: Record<string, { description?: string }> }>;
            }
          >;
        };
      }
    ).components.schemas['io.forestall.v1alpha1.ThreatFeed']!;
    expect(schema.properties.spec!.properties!.source!.description).toBe(
      'Where the feed comes from. Exactly one of http, taxii or configMapRef.',
    );
  });
});

async function rawGet(path: string): Promise<unknown> {
  const https = await import('node:https');
  const cluster = kc.getCurrentCluster()!;
  const ca = cluster.caData
    ? Buffer.from(cluster.caData, 'base64')
    : cluster.caFile
      ? (await import('node:fs')).readFileSync(cluster.caFile)
      : undefined;
  return new Promise((resolve, reject) => {
    https
      .get(
        `${cp.apiServerUrl}${path}`,
        { ca, headers: { authorization: `Bearer ${cp.token}` } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(JSON.parse(body))
              : reject(new Error(`${res.statusCode}: ${body}`)),
          );
        },
      )
      .on('error', reject);
  });
}
