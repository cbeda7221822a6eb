import { describe, expect, it } from 'vitest';
import {
  applyFeedback,
  confidenceAt,
  describeFeedback,
  HALF_LIFE_MS,
  recoversAt,
  replayFeedback,
  type FeedbackEvent,
  type FeedbackKind,
} from './source-confidence.js';

const day = 24 * 3600 * 1000;
const t0 = Date.parse('2026-11-01T00:00:00Z');
const at = (days: number) => new Date(t0 + days * day).toISOString();
const event = (kind: FeedbackKind, days: number, action = `a${days}`): FeedbackEvent => ({
  kind,
  at: at(days),
  action,
  policy: 'block-c2',
  key: `${kind}/${action}`,
});

// A month of a feed's life: three rejections in review, an exception, a person's lift,
// then four actions that ran out their expiry untouched.
const history: FeedbackEvent[] = [
  event('rejected', 0),
  event('rejected', 1),
  { ...event('excepted', 2), exception: 'partner-cdn', key: 'excepted/partner-cdn' },
  event('lifted', 3),
  event('rejected', 4),
  event('expiredClean', 10),
  event('expiredClean', 11),
  event('expiredClean', 12),
  event('expiredClean', 13),
];

describe('source confidence', () => {
  it('GIVEN the same history twice THEN the numbers are identical (a replay)', () => {
    const a = replayFeedback(history)!;
    const b = replayFeedback([...history])!;
    expect(a).toEqual(b);
    expect(a.counts).toEqual({ rejected: 3, excepted: 1, lifted: 1, expiredClean: 4 });
    expect(a.events).toHaveLength(history.length);
    expect(a.updatedAt).toBe(at(13));
  });

  it('GIVEN rejections, an exception and a lift THEN the confidence falls by their decayed sum', () => {
    const afterBad = replayFeedback(history.slice(0, 5))!;
    // -10 -10 -5 -15 -10 = -50, less what four days of a 30-day half-life took away.
    expect(afterBad.adjustment).toBeGreaterThan(-50);
    expect(afterBad.adjustment).toBeLessThan(-47);
    expect(afterBad.effective).toBe(Math.round(100 + afterBad.adjustment));
    expect(confidenceAt(afterBad, new Date(t0 + 4 * day))).toBe(afterBad.effective);
  });

  it('GIVEN clean expiries THEN the confidence rises back, and never above 100', () => {
    const bad = replayFeedback(history.slice(0, 5))!;
    const all = replayFeedback(history)!;
    expect(all.effective).toBeGreaterThan(bad.effective);
    const many = replayFeedback(
      Array.from({ length: 30 }, (_, i) => event('expiredClean', 20 + i)),
    )!;
    expect(many.adjustment).toBe(0);
    expect(many.effective).toBe(100);
  });

  it('GIVEN endless rejections THEN the confidence stops at the floor of 10', () => {
    const ledger = replayFeedback(Array.from({ length: 40 }, (_, i) => event('rejected', i / 10)))!;
    expect(ledger.effective).toBe(10);
    expect(ledger.adjustment).toBe(-90);
    expect(ledger.events).toHaveLength(20);
  });

  it('GIVEN one half-life without feedback THEN half the adjustment is left', () => {
    const ledger = replayFeedback([
      event('lifted', 0),
      event('lifted', 0, 'b'),
      event('rejected', 0),
    ])!;
    expect(ledger.adjustment).toBe(-40);
    expect(confidenceAt(ledger, new Date(t0 + HALF_LIFE_MS))).toBe(80);
    expect(confidenceAt(undefined, new Date(t0))).toBe(100);
  });

  it('GIVEN an event recorded twice (a retried reconcile) THEN it counts once', () => {
    const once = replayFeedback([event('rejected', 0)])!;
    expect(applyFeedback(once, event('rejected', 0))).toBe(once);
  });

  it('GIVEN an event older than the last THEN it counts at the last time (order of recording)', () => {
    const ledger = replayFeedback([event('rejected', 5), event('rejected', 1, 'late')])!;
    expect(ledger.updatedAt).toBe(at(5));
    expect(ledger.adjustment).toBe(-20);
  });

  it('GIVEN a confidence below a minimum THEN recoversAt is when it decays back to it', () => {
    const ledger = replayFeedback([
      event('lifted', 0),
      event('lifted', 0, 'b'),
      event('lifted', 0, 'c'),
      event('rejected', 0),
    ])!; // -55: 45
    const now = new Date(t0);
    expect(confidenceAt(ledger, now)).toBe(45);
    const back = recoversAt(ledger, 50, now)!;
    expect(confidenceAt(ledger, new Date(back))).toBeGreaterThanOrEqual(50);
    expect(confidenceAt(ledger, new Date(back - 60_000))).toBeLessThan(50);
    expect(recoversAt(ledger, 40, now)).toBeUndefined();
  });

  it('GIVEN a ledger THEN describeFeedback names the counts and the last event', () => {
    const text = describeFeedback(replayFeedback(history.slice(0, 4)));
    expect(text).toBe(
      `2 rejected, 1 excepted, 1 lifted; last: lifted a3 (policy block-c2) at ${at(3)}`,
    );
    expect(describeFeedback(undefined)).toBe('no feedback');
  });
});
