import { describe, expect, it } from 'vitest';
import { contains, inSync } from './manifest-connector.js';
import { synthesize } from './render.js';
import type { Manifest } from './types.js';
import type { ActionRequest } from '../../crds/index.js';

// ManifestConnector itself runs against the real API server (test/integration/connectors.test.ts);
// these are the pure comparisons it decides with.
const request: ActionRequest = {
  name: 'a',
  type: 'EgressDeny',
  values: [],
  scope: { namespaces: [] },
  params: {},
};
const [desired] = synthesize(request, [
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    name: 'forestall-a',
    namespace: 'shop',
    body: {
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['192.0.2.1/32'] } }] }],
      },
    },
  },
]) as [Manifest];

/** What the API server returns for it: server-set metadata, another manager's label, defaults. */
const live = (): Manifest => {
  const copy = structuredClone(desired);
  copy.metadata = {
    ...copy.metadata,
    uid: 'u',
    resourceVersion: '7',
    managedFields: [],
    labels: { ...copy.metadata.labels, team: 'x' },
  };
  return copy;
};

describe('inSync', () => {
  it('GIVEN the live object as the server returns it THEN in sync: server metadata and extra labels are ignored', () => {
    expect(inSync(desired, live())).toBe(true);
  });

  it('GIVEN a rendered field edited on the live object THEN out of sync', () => {
    const edited = live();
    (edited.spec as { policyTypes: string[] }).policyTypes = ['Ingress'];
    expect(inSync(desired, edited)).toBe(false);
  });

  it('GIVEN a different render hash (the render changed, even if only by dropping a field) THEN out of sync', () => {
    const older = live();
    older.metadata.annotations = {
      ...older.metadata.annotations,
      'forestall.io/render-hash': '0000000000000000',
    };
    expect(inSync(desired, older)).toBe(false);
  });

  it('GIVEN one of our labels removed by hand THEN out of sync', () => {
    const edited = live();
    delete edited.metadata.labels!['forestall.io/action'];
    expect(inSync(desired, edited)).toBe(false);
  });
});

describe('contains', () => {
  it('compares scalars exactly, objects by the expected keys, arrays by length and position', () => {
    expect(contains({ a: 1, b: 2 }, { a: 1 })).toBe(true);
    expect(contains({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(contains([{ x: 1, y: 2 }], [{ x: 1 }])).toBe(true);
    expect(contains([1, 2, 3], [1, 2])).toBe(false);
    expect(contains([2, 1], [1, 2])).toBe(false);
    expect(contains({}, {})).toBe(true);
    expect(contains(undefined, {})).toBe(false);
    expect(contains('1', 1)).toBe(false);
  });
});
