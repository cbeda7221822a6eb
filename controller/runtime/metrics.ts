import { Registry, collectDefaultMetrics } from 'prom-client';
import { metricSet, type MetricTable } from './metric-set.js';
import type { QueueObserver } from './queue.js';

const RUNTIME_METRICS = {
  reconcileTotal: {
    type: 'counter',
    name: 'forestall_reconcile_total',
    help: 'Reconciles by controller and result (success, requeue, error, terminal, conflict).',
    labelNames: ['controller', 'result'],
  },
  reconcileErrors: {
    type: 'counter',
    name: 'forestall_reconcile_errors_total',
    help: 'Reconciles that returned an error, by controller and error code.',
    labelNames: ['controller', 'code'],
  },
  reconcileDuration: {
    type: 'histogram',
    name: 'forestall_reconcile_duration_seconds',
    help: 'Time per reconcile.',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  queueDepth: {
    type: 'gauge',
    name: 'forestall_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    labelNames: ['controller'],
  },
  queueAdds: {
    type: 'counter',
    name: 'forestall_workqueue_adds_total',
    help: 'Keys added to the work queue.',
    labelNames: ['controller'],
  },
  queueRetries: {
    type: 'counter',
    name: 'forestall_workqueue_retries_total',
    help: 'Rate-limited re-adds after an error.',
    labelNames: ['controller'],
  },
  activeWorkers: {
    type: 'gauge',
    name: 'forestall_controller_active_workers',
    help: 'Reconciles running now.',
    labelNames: ['controller'],
  },
  informerRestarts: {
    type: 'counter',
    name: 'forestall_informer_watch_restarts_total',
    help: 'Watch restarts, by resource and reason (closed, error, gone, not-served: an optional CRD the cluster lacks).',
    labelNames: ['resource', 'reason'],
  },
  leader: {
    type: 'gauge',
    name: 'forestall_leader_election_is_leader',
    help: '1 while this process holds the leader lease.',
  },
  optionalInputServed: {
    type: 'gauge',
    name: 'forestall_optional_input_served',
    help: 'Per optional input the controller reads (a CRD such as Gateway API or Trivy VulnerabilityReport): 1 while the cluster serves it, 0 while it does not.',
    labelNames: ['kind'],
  },
  writes: {
    type: 'counter',
    name: 'forestall_api_writes_total',
    help: 'Writes sent to the API server, by verb and kind.',
    labelNames: ['verb', 'kind'],
  },
} as const satisfies MetricTable;

/**
 * The controller's Prometheus metrics. The registry is created here and passed down,
 * never prom-client's global one, so two managers in one test process do not collide.
 * Names follow controller-runtime's where one exists.
 */
export class Metrics extends metricSet(RUNTIME_METRICS) {
  readonly registry: Registry;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    super(registry);
    this.registry = registry;
    if (opts.processMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'forestall_' });
  }

  queueObserver(controller: string): QueueObserver {
    return {
      depth: (n) => this.queueDepth.set({ controller }, n),
      added: () => this.queueAdds.inc({ controller }),
      retried: () => this.queueRetries.inc({ controller }),
    };
  }
}
