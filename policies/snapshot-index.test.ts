import { describe, expect, it } from 'vitest';
import type { Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';
import { evaluatePolicy } from './engine.js';
import { inventoryFromObjects } from './inventory.js';
import { snapshotIndex } from './snapshot-index.js';

const i = (type: Indicator['type'], value: string, confidence: number): Indicator => ({
  type,
  value,
  confidence,
  sources: ['f'],
  tags: [],
});

describe('snapshotIndex', () => {
  it('GIVEN a snapshot sorted by type THEN each type has its run and every confidence is in the byte array', () => {
    const list = [
      i('cidr', '10.0.0.0/8', 10),
      i('cidr', '11.0.0.0/8', 20),
      i('domain', 'a.test', 30),
      i('ipv4', '1.1.1.1', 100),
    ];
    const index = snapshotIndex(list)!;
    expect([...index.ranges]).toEqual([
      ['cidr', [0, 2]],
      ['domain', [2, 3]],
      ['ipv4', [3, 4]],
    ]);
    expect([...index.confidence]).toEqual([10, 20, 30, 100]);
    expect(snapshotIndex(list)).toBe(index);
    expect(snapshotIndex([])!.ranges.size).toBe(0);
  });

  it('GIVEN a list not grouped by type, or a confidence that is no small integer THEN there is no index', () => {
    expect(
      snapshotIndex([i('ipv4', '1.1.1.1', 1), i('cidr', '10.0.0.0/8', 1), i('ipv4', '2.2.2.2', 1)]),
    ).toBeUndefined();
    expect(snapshotIndex([i('ipv4', '1.1.1.1', 50.5)])).toBeUndefined();
    expect(snapshotIndex([i('ipv4', '1.1.1.1', -1)])).toBeUndefined();
  });
});

describe('the engine with and without the index', () => {
  it('GIVEN the same indicators sorted (indexed) and shuffled (not) THEN every match expression picks the same values', () => {
    let seed = 3;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const types = ['cidr', 'domain', 'ipv4'] as const;
    const list: Indicator[] = [];
    for (let n = 0; n < 3000; n++) {
      const type = types[Math.floor(next() * 3)]!;
      const value =
        type === 'domain'
          ? `d${n}.bad.test`
          : type === 'cidr'
            ? `45.${n >> 8}.${n & 255}.0/24`
            : `77.${n >> 8}.${n & 255}.1`;
      list.push({
        ...i(type, value, Math.floor(next() * 101)),
        tags: next() < 0.2 ? ['c2'] : [],
      });
    }
    const sorted = [...list].sort((a, b) =>
      a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.value < b.value ? -1 : 1,
    );
    expect(snapshotIndex(sorted)).toBeDefined();
    expect(snapshotIndex(list)).toBeUndefined();
    const inventory = inventoryFromObjects([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    ]);
    const opts = { now: new Date('2026-12-08T00:00:00Z'), cel: new CelCache(), connectors };
    for (const match of [
      "indicator.type in ['ipv4', 'cidr'] && indicator.confidence >= 80",
      "indicator.type == 'domain' && indicator.confidence < 30",
      "indicator.confidence > 40 && indicator.confidence <= 60 && 'c2' in indicator.tags",
      "indicator.confidence >= 90 && indicator.value.startsWith('77.')",
      "indicator.type != 'cidr' && indicator.confidence == 50",
    ]) {
      const values = (indicators: Indicator[]) =>
        evaluatePolicy(
          {
            name: 'p',
            generation: 1,
            spec: {
              feeds: { names: ['f'] },
              match,
              actions: [{ type: 'EgressDeny' }, { type: 'DNSBlock' }],
            },
          },
          [{ name: 'f', labels: {}, indicators }],
          inventory,
          opts,
        ).actions.map((a) => [a.type, a.request.values]);
      const indexed = values(sorted);
      expect(indexed, match).toEqual(values(list));
      expect(indexed.length, match).toBeGreaterThan(0);
    }
  });
});
