import type { Indicator } from '../feeds/index.js';

/**
 * What the engine reads of a snapshot before it looks at any indicator: where each type's
 * run starts and ends (a snapshot is sorted by type, then value) and every confidence in
 * one byte array. With the match's type and confidence terms (cel/shortcut.ts) the loop
 * then skips whole types, and indicators below a threshold, without touching their
 * objects. Built once per snapshot: a sync replaces the list, so the list itself is the
 * key, and the index goes when the list does.
 */
export interface SnapshotIndex {
  /** Each type's run, [from, to), in the order the list holds them. */
  ranges: Map<string, readonly [number, number]>;
  confidence: Uint8Array;
}

const built = new WeakMap<readonly Indicator[], SnapshotIndex | null>();

function build(list: readonly Indicator[]): SnapshotIndex | null {
  const ranges = new Map<string, readonly [number, number]>();
  const confidence = new Uint8Array(list.length);
  let from = 0;
  for (let n = 0; n < list.length; n++) {
    const i = list[n]!;
    const c = i.confidence;
    // Not a sync's snapshot (a confidence that is no small integer): no index, the engine reads every object.
    if (!Number.isInteger(c) || c < 0 || c > 255 || typeof i.type !== 'string') return null;
    confidence[n] = c;
    if (n > 0 && list[n - 1]!.type !== i.type) {
      if (ranges.has(i.type)) return null; // not grouped by type
      ranges.set(list[n - 1]!.type, [from, n]);
      from = n;
    }
  }
  if (list.length > 0) {
    const last = list[list.length - 1]!.type;
    if (ranges.has(last)) return null;
    ranges.set(last, [from, list.length]);
  }
  return { ranges, confidence };
}

/** The list's index, built on first use; undefined when the list is not grouped by type. */
export function snapshotIndex(list: readonly Indicator[]): SnapshotIndex | undefined {
  let index = built.get(list);
  if (index === undefined) {
    index = build(list);
    built.set(list, index);
  }
  return index ?? undefined;
}
