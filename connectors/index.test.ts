import { describe, expect, it } from 'vitest';
import {
  CONNECTOR_IDS,
  defaultConnectorCatalog,
  RENDERERS,
  connectorFor,
  rendererFor,
  renderPlan,
  type ClusterAccess,
} from './index.js';

describe('connector catalogue', () => {
  it('lists every connector once, by layer:name, each describing itself', () => {
    // The order and the ids themselves are the catalogue's (catalog.test.ts).
    expect(CONNECTOR_IDS).toEqual(
      defaultConnectorCatalog.ids().filter((id) => !id.startsWith('identity:')),
    );
    for (const id of CONNECTOR_IDS) {
      const renderer = RENDERERS[id]!;
      expect(renderer.id).toBe(id);
      expect(id.startsWith(`${renderer.layer}:`)).toBe(true);
      expect(renderer.description.length).toBeGreaterThan(20);
      expect(renderer.kinds.length).toBeGreaterThan(0);
      expect(renderer.supports.length).toBeGreaterThan(0);
      for (const param of renderer.params) expect(param.description.length).toBeGreaterThan(10);
    }
  });

  it('GIVEN an unknown id THEN FST_CONNECTOR_UNKNOWN names the known ones', () => {
    expect(() => rendererFor('network:antrea')).toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_UNKNOWN',
        errorClass: 'terminal',
        message: expect.stringContaining('known connectors: network:networkpolicy,'),
      }),
    );
    expect(() => rendererFor('toString')).toThrow(/no connector toString/);
  });

  it("GIVEN an id and a ClusterAccess THEN a connector with the renderer's id, layer and action types", () => {
    const access = {} as ClusterAccess; // never called: construction only
    const connector = connectorFor('dns:rpz', access);
    expect([connector.id, connector.layer, connector.supports]).toEqual([
      'dns:rpz',
      'dns',
      ['DNSBlock'],
    ]);
  });

  it('GIVEN actions of several connectors THEN renderPlan renders each with its own', () => {
    const manifests = renderPlan([
      {
        connector: 'network:cilium',
        request: {
          name: 'a',
          type: 'EgressDeny',
          values: ['192.0.2.1'],
          scope: { namespaces: [] },
          params: {},
        },
      },
      {
        connector: 'dns:coredns',
        request: {
          name: 'b',
          type: 'DNSBlock',
          values: ['evil.example'],
          scope: { namespaces: [] },
          params: {},
        },
      },
    ]);
    expect(manifests.map((m) => m.kind)).toEqual([
      'CiliumCIDRGroup',
      'CiliumClusterwideNetworkPolicy',
      'ConfigMap',
    ]);
  });
});
