import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueObserver } from './queue.js';

/**
 * The controller's Prometheus metrics. The registry is created here and passed down,
 * never prom-client's global one, so two managers in one test process do not collide.
 * Names follow controller-runtime's where one exists.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'forestall_reconcile_total',
    help: 'Reconciles by controller and result (success, requeue, error, terminal, conflict).',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'forestall_reconcile_errors_total',
    help: 'Reconciles that returned an error, by controller and error code.',
    labelNames: ['controller', 'code'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'forestall_reconcile_duration_seconds',
    help: 'Time per reconcile.',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'forestall_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'forestall_workqueue_adds_total',
    help: 'Keys added to the work queue.',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'forestall_workqueue_retries_total',
    help: 'Rate-limited re-adds after an error.',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'forestall_controller_active_workers',
    help: 'Reconciles running now.',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: 'forestall_informer_watch_restarts_total',
    help: 'Watch restarts, by resource and reason (closed, error, gone).',
    labelNames: ['resource', 'reason'],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'forestall_leader_election_is_leader',
    help: '1 while this process holds the leader lease.',
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'forestall_api_writes_total',
    help: 'Writes sent to the API server, by verb and kind.',
    labelNames: ['verb', 'kind'],
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
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
