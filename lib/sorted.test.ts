import { describe, expect, it } from 'vitest';
import { sortedUnion } from './sorted.js';

const reference = (runs: string[][]) => [...new Set(runs.flat())].sort();

describe('sortedUnion', () => {
  it('merges sorted runs into the distinct values in code-unit order', () => {
    const runs = [
      ['1.2.3.0/24', '10.0.0.0/8', '9.9.9.0/24'],
      ['1.2.3.4', '1.2.3.40', '10.0.0.1', '9.9.9.9'],
      ['10.0.0.1', 'a@example.org'],
    ];
    expect(sortedUnion(runs)).toEqual(reference(runs));
    expect(sortedUnion(runs)).toContain('10.0.0.1');
    expect(sortedUnion(runs).filter((v) => v === '10.0.0.1')).toHaveLength(1);
  });

  it('sorts when a run is out of order, with the same answer as a Set and a sort', () => {
    const runs = [
      ['b', 'a', 'b'],
      ['c', 'a'],
    ];
    expect(sortedUnion(runs)).toEqual(['a', 'b', 'c']);
  });

  it('drops duplicates inside a sorted run and handles empty runs', () => {
    expect(sortedUnion([['a', 'a', 'b'], [], ['b']])).toEqual(['a', 'b']);
    expect(sortedUnion([])).toEqual([]);
  });

  it('orders by UTF-16 code units, as Array.prototype.sort does', () => {
    const runs = [
      ['Z', 'a', 'é'],
      ['B', 'b', '𝒳'],
    ];
    expect(sortedUnion(runs)).toEqual(reference(runs));
  });

  it('agrees with the reference on random runs', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 50; round++) {
      const runs = Array.from({ length: 1 + Math.floor(next() * 4) }, () => {
        const run = Array.from({ length: Math.floor(next() * 30) }, () =>
          String(Math.floor(next() * 40)),
        );
        return next() < 0.8 ? run.sort() : run;
      });
      expect(sortedUnion(runs)).toEqual(reference(runs));
    }
  });
});
