import { MIN_REFRESH_INTERVAL, type ThreatFeed } from '../../crds/index.js';
import { parseDuration } from '../../crds/duration.js';
import {
  compileConfidence,
  ConfidenceExpressionError,
  FeedCapError,
  isFeedError,
  type CappedTags,
} from '../../feeds/index.js';
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
export function staleCondition(
  lastSyncTime: string | undefined,
  refreshMs: number,
  now: Date,
): Omit<ConditionInput, 'observedGeneration'> {
  const limit = Math.max(3 * refreshMs, 600_000);
  if (!lastSyncTime)
    return {
      type: ThreatFeedCondition.Stale,
      status: 'Unknown',
      reason: ThreatFeedReason.AwaitingFirstSync,
      message: 'never synced',
    };
  const age = now.getTime() - Date.parse(lastSyncTime);
  return age > limit
    ? {
        type: ThreatFeedCondition.Stale,
        status: 'True',
        reason: ThreatFeedReason.SyncOverdue,
        message: `last successful sync was ${Math.round(age / 60_000)} min ago; the limit is ${Math.round(limit / 60_000)} min`,
      }
    : {
        type: ThreatFeedCondition.Stale,
        status: 'False',
        reason: ThreatFeedReason.Fresh,
        message: `last successful sync at ${lastSyncTime}; stale after ${Math.round(limit / 60_000)} min`,
      };
}

/**
 * The refresh interval in force: spec.refreshInterval, raised to the minimum for its
 * source when it is below it (an object stored before the CRD rule existed; the API
 * server now refuses such values). `clampedFrom` is set when it was raised.
 */
export function effectiveRefresh(feed: ThreatFeed): {
  ms: number;
  minimum: string;
  clampedFrom?: string;
} {
  const text = feed.spec.refreshInterval ?? '1h';
  const minimum = feed.spec.source.configMapRef
    ? MIN_REFRESH_INTERVAL.configMap
    : MIN_REFRESH_INTERVAL.remote;
  const ms = parseDuration(text);
  const min = parseDuration(minimum);
  return ms >= min ? { ms, minimum } : { ms: min, minimum, clampedFrom: text };
}

/** The Degraded reason for a failed sync: the limit it hit when it hit one, else fetch or parse. */
export function failureReason(
  err: unknown,
): (typeof ThreatFeedReason)[keyof typeof ThreatFeedReason] {
  if (err instanceof FeedCapError) {
    return {
      records: ThreatFeedReason.RecordsCapExceeded,
      indicators: ThreatFeedReason.IndicatorsCapExceeded,
      mispEvents: ThreatFeedReason.MispEventsCapExceeded,
    }[err.cap];
  }
  if (isFeedError(err)) {
    if (err.code === 'FST_FEED_WORKER_MEMORY') return ThreatFeedReason.WorkerMemoryExceeded;
    if (err.code === 'FST_FEED_DEADLINE') return ThreatFeedReason.SyncDeadlineExceeded;
    if (err.code === 'FST_FEED_WORKER_FAILED') return ThreatFeedReason.ParseFailed;
    return ThreatFeedReason.FetchFailed;
  }
  return ThreatFeedReason.ParseFailed;
}

/** Degraded after a successful sync: tags were cut to the caps. */
export function cappedTagsCondition(
  capped: CappedTags,
  caps: { maxTagsPerIndicator: number; maxTagLength: number },
): Omit<ConditionInput, 'observedGeneration'> {
  return {
    type: ThreatFeedCondition.Degraded,
    status: 'True',
    reason: ThreatFeedReason.TagsCapExceeded,
    message:
      `${capped.indicators} indicators had more than ${caps.maxTagsPerIndicator} tags (at most ${capped.maxTagsSeen}) ` +
      `or tags longer than ${caps.maxTagLength} characters (the longest ${capped.longestTagSeen}); the extra tags were dropped`,
  };
}

export { withConditions };
