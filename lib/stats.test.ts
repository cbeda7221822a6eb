import { describe, expect, it } from 'vitest';
import { percentiles } from './stats.js';

describe('percentiles', () => {
  it('GIVEN no finite value THEN there is no percentile', () => {
    expect(percentiles([])).toBeUndefined();
    expect(percentiles([NaN, Infinity])).toBeUndefined();
  });

  it('GIVEN 1..100 THEN the nearest ranks are 50, 90 and 99', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99 });
  });

  it('GIVEN one value THEN every percentile is that value', () => {
    expect(percentiles([7])).toEqual({ count: 1, p50: 7, p90: 7, p99: 7 });
  });
});
