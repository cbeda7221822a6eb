import type { Indicator } from '../feeds/index.js';
import type { FeedView } from './types.js';

/**
 * Where an action's intelligence came from, as the engine records it on a PlannedAction:
 * how far the feedback loop trusts its sources (sourceConfidence) and when the
 * intelligence was published (publishedAt, the start of the exposure window).
 */

export type FeedsByName = ReadonlyMap<string, FeedView>;

export function feedsByName(feeds: readonly FeedView[]): FeedsByName {
  return new Map(feeds.map((f) => [f.name, f]));
}

const confidenceOf = (feeds: FeedsByName, name: string): number =>
  feeds.get(name)?.sourceConfidence?.effective ?? 100;

/** True when some feed's confidence is lowered, so views must carry it (the common case needs none). */
export function anyLowered(feeds: readonly FeedView[]): boolean {
  return feeds.some((f) => (f.sourceConfidence?.effective ?? 100) < 100);
}

/** An indicator is as credible as its best source: the highest confidence among them. */
export function indicatorSourceConfidence(sources: readonly string[], feeds: FeedsByName): number {
  return sources.reduce((m, s) => Math.max(m, confidenceOf(feeds, s)), sources.length ? 0 : 100);
}

/** An action is held back by its weakest source: the lowest confidence among its feeds. */
export function actionSourceConfidence(sources: readonly string[], feeds: FeedsByName): number {
  return sources.reduce((m, s) => Math.min(m, confidenceOf(feeds, s)), 100);
}

/** KEV's dateAdded (YYYY-MM-DD) as the start of that day, UTC. */
function dateAdded(indicator: Indicator): string | undefined {
  const added = indicator.attributes?.dateAdded;
  return typeof added === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(added)
    ? `${added}T00:00:00.000Z`
    : undefined;
}

/**
 * When the earliest of these indicators was published: its first_seen or valid_from
 * (Indicator.firstSeen), KEV's dateAdded, or else the last change of a feed it came
 * from. Undefined when none of them says.
 */
export function publishedAt(
  indicators: Iterable<Indicator>,
  feeds: FeedsByName,
): string | undefined {
  let earliest = Infinity;
  // Per feed, its last change parsed once: a lines feed gives no date of its own.
  const changed = new Map<string, number>();
  const changeOf = (feed: string): number => {
    let ms = changed.get(feed);
    if (ms === undefined) {
      const at = feeds.get(feed)?.changedAt;
      changed.set(feed, (ms = at === undefined ? NaN : Date.parse(at)));
    }
    return ms;
  };
  for (const i of indicators) {
    const own = i.firstSeen ?? dateAdded(i);
    if (own !== undefined) {
      const ms = Date.parse(own);
      if (ms < earliest) earliest = ms;
      continue;
    }
    for (const s of i.sources) {
      const ms = changeOf(s);
      if (ms < earliest) earliest = ms;
    }
  }
  return Number.isFinite(earliest) ? new Date(earliest).toISOString() : undefined;
}

/** The earlier of two RFC 3339 times; undefined when both are. */
export function earliestTime(a: string | undefined, b: string | undefined): string | undefined {
  if (!a || !b) return a ?? b;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

/** The provenance fields of a PlannedAction built from `indicators` of `sources`. */
export function provenance(
  sources: readonly string[],
  indicators: Iterable<Indicator>,
  feeds: FeedsByName,
  /** A publication the action inherits (an identity action around isolations). */
  inherited?: string,
): { sourceConfidence: number; publishedAt?: string } {
  const own = publishedAt(indicators, feeds);
  const published = earliestTime(own, inherited);
  return {
    sourceConfidence: actionSourceConfidence(sources, feeds),
    ...(published ? { publishedAt: published } : {}),
  };
}
