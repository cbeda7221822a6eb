import type { Indicator } from '../../feeds/index.js';
import { indicatorKey } from '../../feeds/index.js';
import { pause, PAUSE_EVERY } from '../../lib/yield.js';

/** What a sync changed: indicators added and removed, and whether any kept one changed its facts. */
export interface SnapshotDiff {
  added: number;
  removed: number;
  /** Added or removed, or a kept indicator's confidence, tags, expiry or sources changed. */
  contentChanged: boolean;
}

/** The facts policies read besides identity: a re-scored indicator is new content for them. */
function facts(i: Indicator): string {
  return `${i.confidence}|${i.tags.join(',')}|${i.validUntil ?? ''}|${i.sources.join(',')}`;
}

/** -1, 0, 1 by type, then value: the order every snapshot is kept in (feeds/ingest.ts). */
function compare(a: Indicator, b: Indicator): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

function sorted(list: readonly Indicator[]): boolean {
  for (let i = 1; i < list.length; i++) if (compare(list[i - 1]!, list[i]!) >= 0) return false;
  return true;
}

/**
 * The difference between two snapshots. Both are sorted by type, then value, so this is
 * one merge, with no key string or Set per indicator, pausing every PAUSE_EVERY steps
 * so a million-indicator feed never holds the event loop. Lists that are not sorted
 * (never from a sync) are compared through keys.
 */
export async function diffSnapshots(
  before: readonly Indicator[],
  after: readonly Indicator[],
): Promise<SnapshotDiff> {
  if (!sorted(before) || !sorted(after)) return diffByKeys(before, after);
  let i = 0;
  let j = 0;
  let added = 0;
  let removed = 0;
  let refacted = false;
  let steps = 0;
  while (i < before.length || j < after.length) {
    if (++steps % PAUSE_EVERY === 0) await pause();
    const order = i >= before.length ? 1 : j >= after.length ? -1 : compare(before[i]!, after[j]!);
    if (order < 0) {
      removed++;
      i++;
    } else if (order > 0) {
      added++;
      j++;
    } else {
      if (!refacted && facts(before[i]!) !== facts(after[j]!)) refacted = true;
      i++;
      j++;
    }
  }
  return { added, removed, contentChanged: added > 0 || removed > 0 || refacted };
}

function diffByKeys(before: readonly Indicator[], after: readonly Indicator[]): SnapshotDiff {
  const previous = new Map(before.map((i) => [indicatorKey(i), facts(i)]));
  const current = new Set(after.map(indicatorKey));
  let added = 0;
  let refacted = false;
  for (const i of after) {
    const was = previous.get(indicatorKey(i));
    if (was === undefined) added++;
    else if (was !== facts(i)) refacted = true;
  }
  const removed = [...previous.keys()].filter((k) => !current.has(k)).length;
  return { added, removed, contentChanged: added > 0 || removed > 0 || refacted };
}
