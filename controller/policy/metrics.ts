import { metricSet } from '../runtime/metric-set.js';

/**
 * The ExposurePolicy controller's metrics: evaluation time and matched indicators.
 * Registered on the manager's registry by this kind's controller (the runtime holds
 * no domain metrics).
 */
export const PolicyMetrics = metricSet({
  policyEvaluationDuration: {
    type: 'histogram',
    name: 'forestall_policy_evaluation_duration_seconds',
    help: 'Time to evaluate one ExposurePolicy (CEL match over its feeds, scope, blast radius, decisions).',
    labelNames: ['policy'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  policyMatched: {
    type: 'gauge',
    name: 'forestall_policy_matched_indicators',
    help: 'Indicators that matched each policy at its last evaluation.',
    labelNames: ['policy'],
  },
});
export type PolicyMetrics = InstanceType<typeof PolicyMetrics>;
