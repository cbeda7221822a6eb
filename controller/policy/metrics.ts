import { Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The ExposurePolicy controller's metrics: evaluation time and matched indicators.
 * Registered on the manager's registry by this kind's controller (the runtime holds
 * no domain metrics).
 */
export class PolicyMetrics {
  readonly policyEvaluationDuration: Histogram;
  readonly policyMatched: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.policyEvaluationDuration = new Histogram({
      name: 'forestall_policy_evaluation_duration_seconds',
      help: 'Time to evaluate one ExposurePolicy (CEL match over its feeds, scope, blast radius, decisions).',
      labelNames: ['policy'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.policyMatched = new Gauge({
      name: 'forestall_policy_matched_indicators',
      help: 'Indicators that matched each policy at its last evaluation.',
      labelNames: ['policy'],
      registers,
    });
  }
}
