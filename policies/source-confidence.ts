/**
 * Source confidence: how far a ThreatFeed is trusted after what people did with the
 * actions built from it (issue 17's feedback loop). Pure and deterministic: the same
 * history of feedback, applied in the same order, gives the same numbers, so a test can
 * replay one.
 *
 * Every feed starts at 100. Each piece of feedback adds a signed amount to its
 * `adjustment`, which decays towards zero with a half-life:
 *   - a rejection in review (a pull request closed unmerged, `forestall reject`): -10;
 *   - a ThreatException raised against its indicators (once per exception): -5;
 *   - a lift by a person (`forestall lift`, a false positive): -15;
 *   - an enforced action that ran out its expiry with no exception on it: +5.
 * The adjustment stays within [-(100 - FLOOR), 0]: good outcomes raise a feed back to
 * 100, never above, and bad ones never take it below FLOOR.
 *   effective(now) = clamp(round(100 + adjustment * 0.5^((now - updatedAt) / halfLife)), FLOOR, 100)
 */

export const FEEDBACK_KINDS = ['rejected', 'excepted', 'lifted', 'expiredClean'] as const;
export type FeedbackKind = (typeof FEEDBACK_KINDS)[number];

export const FEEDBACK_DELTA: Readonly<Record<FeedbackKind, number>> = {
  rejected: -10,
  excepted: -5,
  lifted: -15,
  expiredClean: 5,
};
/** The half-life of an adjustment: 30 days. */
export const HALF_LIFE_MS = 30 * 24 * 3600 * 1000;
/** The lowest effective confidence feedback can bring a feed to. */
export const CONFIDENCE_FLOOR = 10;
/** Events kept in status (the newest): the dedupe window and what a reader sees. */
export const EVENTS_KEPT = 20;
/** The default of spec.guardrails.minSourceConfidence. */
export const DEFAULT_MIN_SOURCE_CONFIDENCE = 50;

/** One piece of feedback against a feed. */
export interface FeedbackEvent {
  kind: FeedbackKind;
  /** RFC 3339 */
  at: string;
  /** The PreemptiveAction it concerns. */
  action: string;
  policy?: string;
  /** The ThreatException, for `excepted`. */
  exception?: string;
  /** Identifies the event: one key is applied once (a retried reconcile records it again). */
  key: string;
}

export interface RecordedFeedback extends FeedbackEvent {
  /** What it added to the adjustment. */
  delta: number;
}

/** A feed's status.sourceConfidence. */
export interface SourceConfidence {
  /** At updatedAt, 0-100. */
  effective: number;
  /** Signed, at updatedAt; rounded to 0.01. */
  adjustment: number;
  /** RFC 3339: the time of the last event applied. */
  updatedAt: string;
  counts: Record<FeedbackKind, number>;
  /** The newest events, oldest first. */
  events: RecordedFeedback[];
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

function decayed(adjustment: number, from: number, to: number): number {
  return to <= from ? adjustment : adjustment * 0.5 ** ((to - from) / HALF_LIFE_MS);
}

function clampAdjustment(adjustment: number): number {
  return Math.min(0, Math.max(-(100 - CONFIDENCE_FLOOR), adjustment));
}

function effectiveOf(adjustment: number): number {
  return Math.min(100, Math.max(CONFIDENCE_FLOOR, Math.round(100 + adjustment)));
}

export function emptyConfidence(at: string): SourceConfidence {
  return {
    effective: 100,
    adjustment: 0,
    updatedAt: at,
    counts: { rejected: 0, excepted: 0, lifted: 0, expiredClean: 0 },
    events: [],
  };
}

/** True when `ledger` has already applied an event with this key. */
export function hasFeedback(ledger: SourceConfidence | undefined, key: string): boolean {
  return ledger?.events.some((e) => e.key === key) ?? false;
}

/**
 * The ledger after one more event. An event older than the ledger's last counts as
 * happening at that time (events are applied in the order they are recorded). An event
 * whose key the ledger holds changes nothing.
 */
export function applyFeedback(
  ledger: SourceConfidence | undefined,
  event: FeedbackEvent,
): SourceConfidence {
  const at = Date.parse(event.at);
  const before = ledger ?? emptyConfidence(event.at);
  if (hasFeedback(before, event.key)) return before;
  const from = Date.parse(before.updatedAt);
  const when = Number.isNaN(at) || at < from ? from : at;
  const adjustment = round2(
    clampAdjustment(decayed(before.adjustment, from, when) + FEEDBACK_DELTA[event.kind]),
  );
  const delta = FEEDBACK_DELTA[event.kind];
  return {
    effective: effectiveOf(adjustment),
    adjustment,
    updatedAt: new Date(when).toISOString(),
    counts: { ...before.counts, [event.kind]: before.counts[event.kind] + 1 },
    events: [...before.events, { ...event, delta }].slice(-EVENTS_KEPT),
  };
}

/** A whole history from nothing: what a unit test replays. */
export function replayFeedback(events: readonly FeedbackEvent[]): SourceConfidence | undefined {
  return events.reduce<SourceConfidence | undefined>((l, e) => applyFeedback(l, e), undefined);
}

/** The effective confidence at `now`: the adjustment decayed since the last event. */
export function confidenceAt(ledger: SourceConfidence | undefined, now: Date): number {
  if (!ledger) return 100;
  return effectiveOf(decayed(ledger.adjustment, Date.parse(ledger.updatedAt), now.getTime()));
}

/**
 * When the decaying adjustment brings the feed back to `minimum` (ms since the epoch),
 * for a requeue; undefined when it is there already or never gets below.
 */
export function recoversAt(
  ledger: SourceConfidence | undefined,
  minimum: number,
  now: Date,
): number | undefined {
  if (!ledger || confidenceAt(ledger, now) >= minimum) return undefined;
  // 100 + adj * 0.5^(t/h) >= minimum - 0.5 (the rounding) <=> t >= h * log2(-adj / (100.5 - minimum))
  const room = 100.5 - minimum;
  if (room <= 0) return undefined;
  const t = HALF_LIFE_MS * Math.log2(-ledger.adjustment / room);
  return Date.parse(ledger.updatedAt) + Math.ceil(t) + 1000;
}

/** "2 rejected, 1 lifted; last: lifted shop-egress-0 (policy shop) at 2026-12-01T10:00:00Z" */
export function describeFeedback(ledger: SourceConfidence | undefined): string {
  if (!ledger) return 'no feedback';
  const counts = FEEDBACK_KINDS.filter((k) => ledger.counts[k] > 0)
    .map((k) => `${ledger.counts[k]} ${k === 'expiredClean' ? 'expired clean' : k}`)
    .join(', ');
  const last = ledger.events.at(-1);
  const lastText = last
    ? `; last: ${last.kind === 'expiredClean' ? 'expired clean' : last.kind} ${last.action}${last.exception ? ` (exception ${last.exception})` : ''}${last.policy ? ` (policy ${last.policy})` : ''} at ${last.at}`
    : '';
  return `${counts || 'no feedback'}${lastText}`;
}
