import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type ThreatFeed } from '../../crds/index.js';
import { defaultGuardrailConfig, Guardrails, type SsrfPolicy } from '../../feeds/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { Controller } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import type { Metrics } from '../runtime/metrics.js';
import { readClusterRanges } from './cluster-ranges.js';
import { ThreatFeedReconciler } from './reconciler.js';
import { SnapshotStore } from './snapshot-store.js';

export { ThreatFeedReconciler } from './reconciler.js';
export { ThreatFeedCondition, ThreatFeedReason } from './reasons.js';
export { SnapshotStore } from './snapshot-store.js';

export interface FeedSettings {
  /** Namespace for snapshots and for Secrets/ConfigMaps referenced without one. */
  namespace: string;
  /** SSRF exceptions for feed URLs (CIDRs, addresses, host names). */
  fetchAllow: string[];
  /** Ranges and domains that are never blocked, besides the built-in lists. */
  neverBlock: string[];
  maxBytes: number;
  timeoutMs: number;
}

/** Cluster ranges change rarely; read them at most this often. */
const CLUSTER_RANGES_TTL_MS = 300_000;

/** The ThreatFeed controller and its watch set. */
export function threatFeedController(deps: {
  kc: KubeConfig; client: KubeClient; events: EventRecorder; clock: Clock; log: Logger; metrics: Metrics;
  concurrency: number; resyncPeriodMs: number; feeds: FeedSettings;
}): {
  controller: Controller<ThreatFeed>; reconciler: ThreatFeedReconciler; informer: Informer<ThreatFeed>;
  /** The guardrails of the current cluster ranges; hand-written actions pass them too. */
  guardrails: () => Promise<Guardrails>;
} {
  const informer = new Informer<ThreatFeed>({
    kc: deps.kc,
    path: `/apis/${GROUP}/${VERSION}/threatfeeds`,
    list: async () => (await deps.client.list<ThreatFeed>(API_VERSION, 'ThreatFeed')) as KubernetesListObject<ThreatFeed>,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
  });
  let ranges: { at: number; cidrs: string[]; guardrails: Guardrails } | undefined;
  const clusterRanges = async () => {
    if (!ranges || deps.clock.now() - ranges.at > CLUSTER_RANGES_TTL_MS) {
      const cidrs = await readClusterRanges(deps.client, deps.log);
      ranges = { at: deps.clock.now(), cidrs, guardrails: new Guardrails(defaultGuardrailConfig({ clusterCidrs: cidrs, allowlist: deps.feeds.neverBlock })) };
    }
    return ranges;
  };
  const ssrf: SsrfPolicy = { allow: deps.feeds.fetchAllow };
  const guardrails = async () => {
    const r = await clusterRanges();
    ssrf.clusterCidrs = r.cidrs;
    return r.guardrails;
  };
  const reconciler = new ThreatFeedReconciler({
    cache: informer, client: deps.client, events: deps.events, clock: deps.clock, metrics: deps.metrics,
    store: new SnapshotStore(deps.client, deps.feeds.namespace),
    fetchPolicy: { ssrf, maxBytes: deps.feeds.maxBytes, timeoutMs: deps.feeds.timeoutMs, namespace: deps.feeds.namespace },
    guardrails,
  });
  const controller = new Controller<ThreatFeed>({
    name: 'threatfeed', informer, reconciler,
    clock: deps.clock, log: deps.log, metrics: deps.metrics,
    concurrency: deps.concurrency, resyncPeriodMs: deps.resyncPeriodMs,
  });
  return { controller, reconciler, informer, guardrails };
}
