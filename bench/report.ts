/** One JSON line per figure, as every benchmark prints them: {"name", "value", "unit", ...}. */
export function emit(
  name: string,
  value: number,
  unit: string,
  extra: Record<string, unknown> = {},
): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit, ...extra }));
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
