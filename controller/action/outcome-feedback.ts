import {
  ENDED_PHASES,
  type PersonDecision,
  type PreemptiveAction,
  type PreemptiveActionStatus,
} from '../../crds/index.js';
import type { FeedbackEvent } from '../../policies/index.js';
import { rfc3339 } from '../runtime/conditions.js';

/**
 * The times a status write adds to the exposure window: liftedAt when the action
 * ends, and exposureWindowSeconds (spec.publishedAt to enforcedAt) once it is enforced.
 */
export function withOutcomeTimes(
  action: PreemptiveAction,
  status: PreemptiveActionStatus,
  now: Date,
): PreemptiveActionStatus {
  const out = { ...status };
  if (out.enforcedAt && out.exposureWindowSeconds === undefined && action.spec.publishedAt) {
    out.exposureWindowSeconds = Math.max(
      0,
      (Date.parse(out.enforcedAt) - Date.parse(action.spec.publishedAt)) / 1000,
    );
  }
  if (out.phase !== undefined && ENDED_PHASES.has(out.phase) && !out.liftedAt)
    out.liftedAt = rfc3339(now);
  return out;
}

/**
 * The feedback an action's transition gives its feeds' source confidence
 * (policies/source-confidence.ts), or none:
 *   - into Rejected: rejected (a review or a person said no);
 *   - into Lifted by a person (forestall lift): lifted, a false positive;
 *   - into Expired after being enforced, with no ThreatException on it: expiredClean.
 * (ThreatExceptions are charged by the exception controller, once per exception and feed.)
 */
export function feedbackOf(
  action: PreemptiveAction,
  previous: string,
  status: PreemptiveActionStatus,
  person: PersonDecision | undefined,
  now: Date,
): FeedbackEvent | undefined {
  const name = action.metadata.name!;
  const base = {
    action: name,
    at: rfc3339(now),
    ...(action.spec.policyRef?.name ? { policy: action.spec.policyRef.name } : {}),
  };
  const episode = `${name}@${status.detectedAt ?? action.metadata.creationTimestamp ?? ''}`;
  const phase = status.phase;
  if (phase === previous) return undefined;
  // A person decides about one indicator set: the same set coming back and settling
  // under the same decision again is not new feedback.
  const set = `${name}/${action.spec.indicators.digest ?? ''}`;
  if (phase === 'Rejected') return { ...base, kind: 'rejected', key: `rejected/${set}` };
  if (phase === 'Lifted' && person?.verb === 'lift')
    return { ...base, kind: 'lifted', key: `lifted/${set}` };
  if (phase === 'Expired' && status.enforcedAt && !action.spec.exceptions?.length)
    return { ...base, kind: 'expiredClean', key: `expired/${episode}` };
  return undefined;
}
