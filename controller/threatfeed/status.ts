import type { ThreatFeed } from '../../crds/index.js';
import { compileConfidence, ConfidenceExpressionError } from '../../feeds/index.js';
import { withConditions, type ConditionInput } from '../runtime/conditions.js';
import { ThreatFeedCondition, ThreatFeedReason } from './reasons.js';

/** Checks the CRD schema cannot make: today, that the confidence expression compiles. */
export function specProblem(feed: ThreatFeed): string | undefined {
  try {
    compileConfidence(feed.spec.confidence?.expression);
  } catch (err) {
    if (err instanceof ConfidenceExpressionError) return err.message;
    throw err;
  }
  return undefined;
}

/** Stale when the last good sync is older than three refresh intervals (at least 10 minutes). */
export function staleCondition(lastSyncTime: string | undefined, refreshMs: number, now: Date): Omit<ConditionInput, 'observedGeneration'> {
  const limit = Math.max(3 * refreshMs, 600_000);
  if (!lastSyncTime) return { type: ThreatFeedCondition.Stale, status: 'Unknown', reason: ThreatFeedReason.AwaitingFirstSync, message: 'never synced' };
  const age = now.getTime() - Date.parse(lastSyncTime);
  return age > limit
    ? { type: ThreatFeedCondition.Stale, status: 'True', reason: ThreatFeedReason.SyncOverdue, message: `last successful sync was ${Math.round(age / 60_000)} min ago; the limit is ${Math.round(limit / 60_000)} min` }
    : { type: ThreatFeedCondition.Stale, status: 'False', reason: ThreatFeedReason.Fresh, message: `last successful sync at ${lastSyncTime}; stale after ${Math.round(limit / 60_000)} min` };
}

export { withConditions };
