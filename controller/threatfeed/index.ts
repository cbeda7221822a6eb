import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type ThreatFeed } from '../../crds/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { Controller } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import type { Metrics } from '../runtime/metrics.js';
import { ThreatFeedReconciler } from './reconciler.js';

export { ThreatFeedReconciler } from './reconciler.js';
export { ThreatFeedCondition, ThreatFeedReason } from './reasons.js';
export { desiredStatus } from './status.js';

/** The ThreatFeed controller and its watch set. */
export function threatFeedController(deps: {
  kc: KubeConfig; client: KubeClient; events: EventRecorder; clock: Clock; log: Logger; metrics: Metrics;
  concurrency: number; resyncPeriodMs: number;
}): Controller<ThreatFeed> {
  const informer = new Informer<ThreatFeed>({
    kc: deps.kc,
    path: `/apis/${GROUP}/${VERSION}/threatfeeds`,
    list: async () => (await deps.client.list<ThreatFeed>(API_VERSION, 'ThreatFeed')) as KubernetesListObject<ThreatFeed>,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
  });
  return new Controller<ThreatFeed>({
    name: 'threatfeed',
    informer,
    reconciler: new ThreatFeedReconciler({ cache: informer, client: deps.client, events: deps.events, clock: deps.clock }),
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    concurrency: deps.concurrency,
    resyncPeriodMs: deps.resyncPeriodMs,
  });
}
