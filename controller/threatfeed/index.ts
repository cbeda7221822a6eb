import type { KubernetesListObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  GROUP,
  VERSION,
  type ExposurePolicy,
  type ThreatFeed,
} from '../../crds/index.js';
import {
  DEFAULT_INGEST_CAPS,
  DEFAULT_MAX_MISP_EVENTS,
  DEFAULT_SANDBOX,
  INDICATOR_TYPES,
  IngestSandbox,
  type Guardrails,
  type IngestCaps,
  type SsrfPolicy,
} from '../../feeds/index.js';
import {
  managedBy,
  type ControllerContext,
  type ControllerDefaults,
  type ControllerSink,
} from '../runtime/builder.js';
import type { Controller } from '../runtime/controller.js';
import { Informer } from '../runtime/informer.js';
import { ThreatFeedMetrics } from './metrics.js';
import { clusterSourceReaders } from './source-readers.js';
import { ClusterProtection } from './protection.js';
import type { ProxySettings } from '../../lib/http/index.js';
import { ThreatFeedReconciler } from './reconciler.js';
import { SnapshotStore } from '../stores/snapshot-store.js';
import { Snapshots } from '../stores/snapshots.js';

export { ThreatFeedReconciler } from './reconciler.js';
export { ThreatFeedMetrics } from './metrics.js';
export { ThreatFeedCondition, ThreatFeedReason } from './reasons.js';
export { SnapshotStore } from '../stores/snapshot-store.js';
export { Snapshots } from '../stores/snapshots.js';

export interface FeedSettings {
  /** Namespace for snapshots and for Secrets/ConfigMaps referenced without one. */
  namespace: string;
  /** SSRF exceptions for feed URLs (CIDRs, addresses, host names); --outbound-allow. */
  fetchAllow: string[];
  /**
   * The operator's forward proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). Here because the
   * outbound policy every client is handed is built by this controller.
   */
  proxy?: ProxySettings;
  /** Ranges and domains that are never blocked, besides the built-in lists. */
  neverBlock: string[];
  /** The cluster DNS domain (default cluster.local), never blocked with its parents and children. */
  clusterDomain?: string;
  maxBytes: number;
  timeoutMs: number;
  /** Per-sync caps on records and indicators (tags stay at the CEL bounds); defaults DEFAULT_INGEST_CAPS. */
  caps?: Partial<Pick<IngestCaps, 'maxRecords' | 'maxIndicators'>>;
  maxMispEvents?: number;
  /** The ingestion worker's heap, MiB; default DEFAULT_SANDBOX.heapMb. */
  workerHeapMb?: number;
  /** Deadline of one sync, fetch and ingestion together; default DEFAULT_SANDBOX.syncDeadlineMs. */
  syncDeadlineMs?: number;
}

/** The ThreatFeed controller and its watch set. */
export function threatFeedController(
  deps: ControllerContext & {
    feeds: FeedSettings;
    /** The ExposurePolicies (the policy controller's informer): the hosts they name are protected. */
    policies: Pick<Informer<ExposurePolicy>, 'list' | 'waitForSync'>;
    /** Where the controller is added (the manager), and the settings every controller shares. */
    sink: ControllerSink;
    defaults: ControllerDefaults;
  },
): {
  controller: Controller<ThreatFeed>;
  reconciler: ThreatFeedReconciler;
  /** The feeds' last-known-good snapshots: the policy controller reads them. */
  snapshots: Snapshots;
  /** This kind's metrics (forestall_feed_*). */
  metrics: ThreatFeedMetrics;
  informer: Informer<ThreatFeed>;
  /**
   * The controller-wide outbound policy: --outbound-allow and the cluster's ranges (re-read
   * at most every 5 min). Every client asks for it before a request: feeds once per sync,
   * identity, forge and notification clients per request.
   */
  ssrfPolicy: () => Promise<Readonly<SsrfPolicy>>;
  /** The guardrails of the current cluster ranges and named hosts; hand-written actions pass them too. */
  guardrails: () => Promise<Guardrails>;
} {
  const informer = new Informer<ThreatFeed>({
    kc: deps.kc,
    path: `/apis/${GROUP}/${VERSION}/threatfeeds`,
    list: async () =>
      (await deps.client.list<ThreatFeed>(
        API_VERSION,
        'ThreatFeed',
      )) as KubernetesListObject<ThreatFeed>,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    writes: { client: deps.client, apiVersion: API_VERSION, kind: 'ThreatFeed' },
  });
  const protection = new ClusterProtection({
    ...deps,
    feeds: informer,
    allow: deps.feeds.fetchAllow,
    proxy: deps.feeds.proxy,
    settings: deps.feeds,
  });
  const ssrfPolicy = () => protection.ssrfPolicy();
  const guardrails = () => protection.guardrails();
  const metrics = new ThreatFeedMetrics(deps.metrics.registry);
  const snapshots = new Snapshots(
    new SnapshotStore(deps.client, deps.feeds.namespace),
    (feed, snapshot) => {
      const byType: Record<string, number> = {};
      for (const i of snapshot.indicators) byType[i.type] = (byType[i.type] ?? 0) + 1;
      for (const type of INDICATOR_TYPES)
        metrics.feedIndicators.set({ feed, type }, byType[type] ?? 0);
    },
  );
  const reconciler = new ThreatFeedReconciler({
    cache: informer,
    client: deps.client,
    events: deps.events,
    clock: deps.clock,
    metrics,
    snapshots,
    fetchPolicy: async () => ({
      ssrf: await ssrfPolicy(),
      maxBytes: deps.feeds.maxBytes,
      timeoutMs: deps.feeds.timeoutMs,
    }),
    readers: clusterSourceReaders(deps.client, deps.feeds.namespace),
    sandbox: new IngestSandbox({ heapMb: deps.feeds.workerHeapMb ?? DEFAULT_SANDBOX.heapMb }),
    ingest: {
      caps: { ...DEFAULT_INGEST_CAPS, ...deps.feeds.caps },
      syncDeadlineMs: deps.feeds.syncDeadlineMs ?? DEFAULT_SANDBOX.syncDeadlineMs,
      maxMispEvents: deps.feeds.maxMispEvents ?? DEFAULT_MAX_MISP_EVENTS,
    },
    guardrailConfig: () => protection.guardrailConfig(),
  });
  const controller = managedBy(deps.sink, deps.defaults)
    .named('threatfeed')
    .for(informer)
    .complete(reconciler);
  return {
    controller,
    reconciler,
    snapshots,
    metrics,
    informer,
    ssrfPolicy,
    guardrails,
  };
}
