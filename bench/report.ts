/**
 * One JSON line per figure, as every benchmark prints them: {"name", "value", "unit", ...},
 * the value rounded to `decimals` places (sub-millisecond figures want more than one).
 */
export function emit(
  name: string,
  value: number,
  unit: string,
  extra: Record<string, unknown> = {},
  decimals = 1,
): void {
  const scale = 10 ** decimals;
  console.log(JSON.stringify({ name, value: Math.round(value * scale) / scale, unit, ...extra }));
}

/** The p-th percentile of ascending values (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs a benchmark's main, and on failure prints the error and exits 1 so a CI step fails. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
