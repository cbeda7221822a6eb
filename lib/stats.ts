/** Percentiles of a sample by the nearest-rank method: p50, p90 and p99 of `values`, and their count. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Undefined for an empty sample. Values that are not finite numbers are left out. */
export function percentiles(values: Iterable<number>): Percentiles | undefined {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return undefined;
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { count: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99) };
}
