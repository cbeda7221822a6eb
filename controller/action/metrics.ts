import type { Metrics } from '../runtime/metrics.js';

/**
 * The metrics the action controller records, and no others: typed narrowly so they can
 * move out of the runtime's Metrics into a registry of this kind's own without a change here.
 */
export type ActionMetrics = Pick<
  Metrics,
  | 'actionTimeToEnforce'
  | 'gitDeliveryFailures'
  | 'identityChanges'
  | 'notificationFailures'
  | 'reviewRejections'
>;

/** The code a failure is counted under: its own, or `unknown`. */
export function codeOf(err: unknown): string {
  return (err as { code?: string }).code ?? 'unknown';
}
