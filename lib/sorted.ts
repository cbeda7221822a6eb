/**
 * Sorted string lists without a Set or a full sort, for lists of a million values that
 * usually arrive in order (a feed's snapshot is sorted by type, then value).
 */

function isSorted(run: readonly string[]): boolean {
  for (let i = 1; i < run.length; i++) if (run[i - 1]! > run[i]!) return false;
  return true;
}

function mergeTwo(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let last: string | undefined;
  const push = (v: string) => {
    if (v !== last) out.push((last = v));
  };
  while (i < a.length && j < b.length) push(a[i]! <= b[j]! ? a[i++]! : b[j++]!);
  while (i < a.length) push(a[i++]!);
  while (j < b.length) push(b[j++]!);
  return out;
}

/**
 * The distinct values of every run, in ascending code-unit order: exactly
 * `[...new Set(runs.flat())].sort()`. Runs that are each sorted already are merged in
 * linear time; otherwise the whole is sorted.
 */
export function sortedUnion(runs: readonly (readonly string[])[]): string[] {
  if (!runs.every(isSorted)) return [...new Set(runs.flat())].sort();
  let merged: string[] = [];
  for (const run of runs) merged = mergeTwo(merged, run);
  return merged;
}
