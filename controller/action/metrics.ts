import type { PreemptiveAction } from '../../crds/index.js';
import { metricSet } from '../runtime/metric-set.js';

/**
 * The PreemptiveAction controller's metrics: actions by phase, those not Ready, the
 * oldest waiting in Proposed, time to enforce, review rejections, Git delivery and
 * notification failures, identity changes and webhook requests. Registered on the
 * manager's registry by this kind's wiring (the runtime holds no domain metrics).
 */
export const ActionMetrics = metricSet({
  actionPhases: {
    type: 'gauge',
    name: 'forestall_actions',
    help: 'PreemptiveActions by type and phase.',
    labelNames: ['type', 'phase'],
  },
  actionsNotReady: {
    type: 'gauge',
    name: 'forestall_actions_not_ready',
    help: 'PreemptiveActions whose Ready condition is False (an apply or delivery failing, or the action refused), by type and reason.',
    labelNames: ['type', 'reason'],
  },
  oldestProposed: {
    type: 'gauge',
    name: 'forestall_action_oldest_proposed_timestamp_seconds',
    help: 'Unix time the oldest action now in Proposed began its episode (status.detectedAt), by type; absent when none is Proposed.',
    labelNames: ['type'],
  },
  actionTimeToEnforce: {
    type: 'histogram',
    name: 'forestall_action_time_to_enforce_seconds',
    help: "Seconds from an action's detectedAt to its enforcement, by type.",
    labelNames: ['type'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400],
  },
  exposureWindow: {
    type: 'histogram',
    name: 'forestall_exposure_window_seconds',
    help: 'Seconds from the intelligence behind an action being published (spec.publishedAt: first_seen, valid_from, KEV dateAdded, or the feed change) to its enforcement, by layer.',
    labelNames: ['layer'],
    buckets: [
      60,
      300,
      900,
      3600,
      4 * 3600,
      12 * 3600,
      86400,
      3 * 86400,
      7 * 86400,
      30 * 86400,
      90 * 86400,
      365 * 86400,
    ],
  },
  reviewRejections: {
    type: 'counter',
    name: 'forestall_review_rejections_total',
    help: 'Pull requests closed without merging, whose indicators the policy then leaves out for a while, by policy.',
    labelNames: ['policy'],
  },
  gitDeliveryFailures: {
    type: 'counter',
    name: 'forestall_git_delivery_failures_total',
    help: 'Failed Git deliveries (push, forge call), by error code.',
    labelNames: ['code'],
  },
  notificationFailures: {
    type: 'counter',
    name: 'forestall_notification_failures_total',
    help: 'Notifications (spec.notify) that could not be delivered after retries, by error code; they are retried.',
    labelNames: ['code'],
  },
  identityChanges: {
    type: 'counter',
    name: 'forestall_identity_changes_total',
    help: 'Changes made at identity providers (a suspension or its reversal is an update of a User; memberships and zones are created and deleted), by connector, kind and operation.',
    labelNames: ['connector', 'kind', 'op'],
  },
  gitWebhookRequests: {
    type: 'counter',
    name: 'forestall_git_webhook_requests_total',
    help: 'Requests to the pull-request webhook endpoint, by result (queued, ignored, unauthorized, invalid).',
    labelNames: ['result'],
  },
});
export type ActionMetrics = InstanceType<typeof ActionMetrics>;

/**
 * Sets the gauges that describe every action at once (by phase, not Ready, the oldest
 * Proposed) from the whole list, as the informer holds it: recounted on each change,
 * so an action that moves on or is deleted leaves no series behind.
 */
export function countActions(metrics: ActionMetrics, actions: readonly PreemptiveAction[]): void {
  metrics.actionPhases.reset();
  metrics.actionsNotReady.reset();
  metrics.oldestProposed.reset();
  const oldest = new Map<string, number>();
  for (const a of actions) {
    const { type } = a.spec;
    const phase = a.status?.phase ?? 'Pending';
    metrics.actionPhases.inc({ type, phase });
    const ready = a.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'False')
      metrics.actionsNotReady.inc({ type, reason: ready.reason ?? 'Unknown' });
    const since = new Date(a.status?.detectedAt ?? a.metadata.creationTimestamp ?? NaN).getTime();
    if (phase === 'Proposed' && since < (oldest.get(type) ?? Infinity)) oldest.set(type, since);
  }
  for (const [type, since] of oldest) metrics.oldestProposed.set({ type }, since / 1000);
}

/** The code a failure is counted under: its own, or `unknown`. */
export function codeOf(err: unknown): string {
  return (err as { code?: string }).code ?? 'unknown';
}
