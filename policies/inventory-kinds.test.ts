import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INVENTORY_KINDS, ROUTE_KINDS } from './inventory-kinds.js';
import { WORKLOAD_KINDS } from './workloads.js';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('the inventory kinds', () => {
  it('GIVEN the Gateway API THEN every route kind is read, and the docs and the chart name each one', () => {
    expect([...ROUTE_KINDS]).toEqual([
      'HTTPRoute',
      'GRPCRoute',
      'TLSRoute',
      'TCPRoute',
      'UDPRoute',
    ]);
    const docs = [read('./README.md'), read('../README.md')];
    const clusterRole = read('../charts/forestall/templates/clusterrole.yaml');
    for (const kind of ROUTE_KINDS) {
      for (const doc of docs) expect(doc).toContain(kind);
      const spec = INVENTORY_KINDS.find((k) => k.kind === kind)!;
      expect(spec).toMatchObject({ namespaced: true, optional: true, watched: true });
      expect(clusterRole).toContain(`"${spec.plural}"`);
    }
  });

  it('GIVEN the workload kinds the engine scopes over THEN the controller watches each one', () => {
    for (const kind of [...WORKLOAD_KINDS, 'Namespace'])
      expect(INVENTORY_KINDS.find((k) => k.kind === kind)).toMatchObject({
        group: 'core',
        watched: true,
      });
    // Bare Pods: read by the CLI from files, never watched (see InventoryKind.watched).
    expect(INVENTORY_KINDS.find((k) => k.kind === 'Pod')?.watched).toBe(false);
  });

  it('lists each kind once, with its resource name', () => {
    const keys = INVENTORY_KINDS.map((k) => `${k.apiVersion.split('/')[0]}/${k.kind}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of INVENTORY_KINDS) expect(k.plural).toMatch(/^[a-z]+s$/);
  });
});
