import { describe, expect, it } from 'vitest';
import { LAYERS } from '../crds/index.js';
import type { ActionRequest } from '../crds/index.js';
import {
  createConnectorCatalog,
  defaultConnectorCatalog as catalog,
  manifestConnectorInfo,
  RENDERER_LIST,
} from './catalog.js';
import { checkParams } from './core/params.js';

const request = (overrides: Partial<ActionRequest>): ActionRequest => ({
  name: 'a',
  type: 'EgressDeny',
  values: ['192.0.2.1'],
  scope: { namespaces: ['shop'] },
  params: {},
  ...overrides,
});

describe('connector catalogue', () => {
  it('GIVEN two connectors with one id THEN building the catalogue fails', () => {
    const info = manifestConnectorInfo(RENDERER_LIST[0]!);
    expect(() => createConnectorCatalog([info, { ...info }], {})).toThrow(
      'two connectors are registered as network:networkpolicy',
    );
  });

  it('GIVEN a default that is not registered, or of another layer, THEN building the catalogue fails', () => {
    const info = manifestConnectorInfo(RENDERER_LIST[0]!);
    expect(() => createConnectorCatalog([info], { network: 'network:antrea' })).toThrow(
      /default network connector network:antrea/,
    );
    expect(() => createConnectorCatalog([info], { dns: 'network:networkpolicy' })).toThrow(
      /default dns connector/,
    );
  });

  it('lists every connector once, by layer:name, manifest connectors first', () => {
    expect(catalog.ids()).toEqual([
      'network:networkpolicy',
      'network:clusternetworkpolicy',
      'network:cilium',
      'network:calico',
      'dns:coredns',
      'dns:rpz',
      'identity:scim',
      'identity:keycloak',
      'identity:okta',
      'identity:entra',
    ]);
    for (const id of catalog.ids()) {
      const info = catalog.info(id)!;
      expect(info.id).toBe(id);
      expect(id.startsWith(`${info.layer}:`)).toBe(true);
      expect(info.rendersManifests).toBe(info.layer !== 'identity');
      expect(info.types.length).toBeGreaterThan(0);
      expect(info.permissions.length).toBeGreaterThan(0);
    }
    expect(catalog.info('toString')).toBeUndefined();
  });

  it.each(catalog.ids())(
    'GIVEN %s THEN its example is a type it enforces with valid params',
    (id) => {
      const { example, params, types } = catalog.info(id)!;
      expect(types).toContain(example.type);
      expect(checkParams(example.params, params, example.type)).toEqual([]);
    },
  );

  it('GIVEN each layer THEN its default is a registered connector of that layer, and notify has none', () => {
    for (const layer of LAYERS) {
      const id = catalog.defaultFor(layer);
      if (id !== undefined) expect(catalog.info(id)?.layer).toBe(layer);
    }
    expect(Object.fromEntries(LAYERS.map((layer) => [layer, catalog.defaultFor(layer)]))).toEqual({
      network: 'network:networkpolicy',
      dns: 'dns:coredns',
      identity: 'identity:scim',
      notify: undefined,
    });
  });

  it('GIVEN a manifest connector THEN its Git form is its render, and its RBAC covers its kinds', () => {
    const info = catalog.info('network:calico')!;
    const r = request({ values: ['192.0.2.0/24'] });
    expect(info.gitForm.validate(r)).toEqual([]);
    expect(info.gitForm.render(r, [], 'ignored').map((m) => m.kind)).toEqual([
      'GlobalNetworkSet',
      'GlobalNetworkPolicy',
    ]);
    expect(info.permissions).toEqual([
      expect.objectContaining({
        apiGroups: ['projectcalico.org'],
        resources: ['globalnetworksets'],
      }),
      expect.objectContaining({
        apiGroups: ['projectcalico.org'],
        resources: ['globalnetworkpolicies'],
      }),
    ]);
    expect(catalog.info('dns:coredns')!.permissions).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        verbs: ['get', 'list', 'create', 'patch', 'delete'],
        scope: 'ParamsNamespace',
      },
    ]);
  });

  it('GIVEN an identity connector THEN its Git form is a ConfigMap describing the requests, in the given namespace', () => {
    const info = catalog.info('identity:okta')!;
    const r = request({
      type: 'IdentitySuspend',
      values: ['alice@example.com'],
      params: { url: 'https://example.okta.com', credentialsSecretRef: 'okta' },
    });
    expect(info.gitForm.validate(r)).toEqual([]);
    expect(info.gitForm.validate({ ...r, params: {} })).toEqual([
      expect.stringContaining('params.credentialsSecretRef is required'),
      expect.stringContaining('params.url is required'),
    ]);
    const [manifest, ...rest] = info.gitForm.render(r, [], 'forestall-system');
    expect(rest).toEqual([]);
    expect(manifest).toMatchObject({
      kind: 'ConfigMap',
      metadata: { namespace: 'forestall-system', name: 'forestall-identity-change-a' },
    });
  });
});
