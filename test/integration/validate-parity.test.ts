import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateObject } from '../../crds/index.js';
import { ControlPlane } from '../harness/control-plane.js';

// `forestall validate` must refuse what the API server refuses. Unknown fields are the
// case a schema check alone misses: the API server prunes them silently unless the
// client asks for strict field validation, as kubectl does by default. Here the real
// API server, asked as kubectl asks, names the unknown fields, and the offline
// validator must name exactly the same ones.
let cp: ControlPlane;
let custom: CustomObjectsApi;

beforeAll(async () => {
  cp = await ControlPlane.start();
  custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
});
afterAll(async () => cp?.stop());

const group = 'forestall.io';
const version = 'v1alpha1';

/** The unknown fields the API server names when it refuses `body` under strict field validation. */
async function serverUnknownFields(
  plural: string,
  body: Record<string, unknown>,
): Promise<string[]> {
  try {
    await custom.createClusterCustomObject({
      group,
      version,
      plural,
      body,
      fieldValidation: 'Strict',
    });
  } catch (err) {
    const message =
      (JSON.parse((err as { body?: string }).body ?? '{}') as { message?: string }).message ?? '';
    return [...message.matchAll(/unknown field "([^"]+)"/g)].map((m) => m[1]!).sort();
  }
  await custom.deleteClusterCustomObject({
    group,
    version,
    plural,
    name: (body.metadata as { name: string }).name,
  });
  return [];
}

function offlineUnknownFields(body: Record<string, unknown>): string[] {
  const result = validateObject(structuredClone(body));
  return result.ok
    ? []
    : result.issues
        .filter((i) => i.message.startsWith('unknown field'))
        .map((i) => i.path)
        .sort();
}

/** The plural the API server serves each kind under. */
const PLURALS = {
  ExposurePolicy: 'exposurepolicies',
  ThreatFeed: 'threatfeeds',
  PreemptiveAction: 'preemptiveactions',
} as const;

/** A case: what it is, and the forestall.io object of `kind` with that metadata and spec. */
function parityCase(
  what: string,
  kind: keyof typeof PLURALS,
  metadata: Record<string, unknown>,
  spec: Record<string, unknown>,
): [string, string, Record<string, unknown>] {
  return [what, PLURALS[kind], { apiVersion: `${group}/${version}`, kind, metadata, spec }];
}

const cases: [string, string, Record<string, unknown>][] = [
  parityCase(
    'matchh in a policy spec',
    'ExposurePolicy',
    { name: 'typo-match' },
    {
      feeds: { names: ['ips'] },
      matchh: "indicator.type == 'ipv4'",
      actions: [{ type: 'EgressDeny' }],
    },
  ),
  parityCase(
    'unknown fields at every depth, with params that take any key',
    'ExposurePolicy',
    { name: 'deep', lables: { a: 'b' } },
    {
      feeds: { names: ['ips'], nmaes: ['x'] },
      scope: { namespaceSelector: { matchLabel: { a: 'b' } } },
      actions: [
        { type: 'EgressDeny', params: { anything: { goes: 1 } } },
        { type: 'DNSBlock', conector: 'dns:rpz' },
      ],
    },
  ),
  parityCase(
    'a typo in a ThreatFeed source',
    'ThreatFeed',
    { name: 'typo-feed' },
    {
      format: 'lines',
      source: { http: { url: 'https://feeds.example.org/x', headerSecretRef: { name: 's' } } },
      confidense: { default: 10 },
    },
  ),
  parityCase(
    'a hand-written action',
    'PreemptiveAction',
    { name: 'typo-action' },
    {
      type: 'EgressDeny',
      layer: 'network',
      indicators: { count: 1, valuez: ['1.2.3.4'] },
      params: { free: true },
      approval: { requird: false },
    },
  ),
  parityCase(
    'a valid object',
    'ThreatFeed',
    { name: 'fine', labels: { a: 'b' } },
    { format: 'lines', source: { http: { url: 'https://feeds.example.org/x' } } },
  ),
];

describe('unknown fields: the offline validator and the API server under strict field validation', () => {
  it.each(cases)('GIVEN %s THEN both name the same unknown fields', async (_what, plural, body) => {
    const server = await serverUnknownFields(plural, body);
    expect(offlineUnknownFields(body)).toEqual(server);
  });

  it('GIVEN the cases THEN the API server did find unknown fields in all but the valid one, so the comparison is not vacuous', async () => {
    const found = await Promise.all(
      cases.map(([, plural, body]) =>
        serverUnknownFields(plural, {
          ...body,
          metadata: {
            ...(body.metadata as object),
            name: `again-${(body.metadata as { name: string }).name}`,
          },
        }),
      ),
    );
    expect(found.map((fields) => fields.length > 0)).toEqual([true, true, true, true, false]);
    expect(found[0]).toEqual(['spec.matchh']);
  });
});
