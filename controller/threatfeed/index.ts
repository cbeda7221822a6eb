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
  defaultGuardrailConfig,
  FeedError,
  Guardrails,
  INDICATOR_TYPES,
  infrastructureHosts,
  IngestSandbox,
  type GuardrailConfig,
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
import { readClusterRanges } from './cluster-ranges.js';
import { ThreatFeedMetrics } from './metrics.js';
import { clusterSourceReaders } from './source-readers.js';
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

/** Cluster ranges change rarely; read them at most this often. */
const CLUSTER_RANGES_TTL_MS = 300_000;
/** How long a sync waits at start-up for the ExposurePolicies' cache before it fails closed. */
const POLICIES_SYNC_WAIT_MS = 30_000;

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
  // The guardrails protect the cluster's ranges (re-read every CLUSTER_RANGES_TTL_MS; a
  // failed read fails the sync, see readClusterRanges) and the hosts every ThreatFeed and
  // ExposurePolicy names (from the informers' caches, so no request per sync). Their
  // config (plain data, built in the ingestion worker) is rebuilt only when either
  // changed: loading the warninglists takes a few hundred ms.
  let ranges: { at: number; cidrs: string[] } | undefined;
  let built: { key: string; config: GuardrailConfig } | undefined;
  let ssrf: Readonly<SsrfPolicy> = Object.freeze({ allow: deps.feeds.fetchAllow });
  /** The cluster's ranges, re-read at most every CLUSTER_RANGES_TTL_MS. */
  const clusterRanges = async (): Promise<string[]> => {
    if (!ranges || deps.clock.now() - ranges.at > CLUSTER_RANGES_TTL_MS) {
      ranges = undefined; // a failed read leaves none: the next sync reads again, and fails again
      ranges = { at: deps.clock.now(), cidrs: await readClusterRanges(deps.client, deps.log) };
    }
    return ranges.cidrs;
  };
  /**
   * The outbound policy of this moment: --outbound-allow and the cluster's own ranges.
   * Immutable: a new frozen object whenever the ranges are re-read, so no guard ever
   * holds a compiled copy of a policy that changed under it.
   */
  const ssrfPolicy = async (): Promise<Readonly<SsrfPolicy>> => {
    const cidrs = await clusterRanges();
    if (ssrf.clusterCidrs !== cidrs)
      ssrf = Object.freeze({ allow: deps.feeds.fetchAllow, clusterCidrs: cidrs });
    return ssrf;
  };
  const guardrailConfig = async (): Promise<GuardrailConfig> => {
    const cidrs = await clusterRanges();
    // The hosts policies name are protected like the cluster's ranges: fail closed until they are known.
    await deps.policies.waitForSync(AbortSignal.timeout(POLICIES_SYNC_WAIT_MS)).catch(() => {
      throw new FeedError(
        'FST_FEED_CLUSTER_RANGES',
        'The ExposurePolicies are not read yet, so the guardrails cannot protect the hosts they name; refusing to ingest until they are',
      );
    });
    const hosts = infrastructureHosts(informer.list(), deps.policies.list());
    const key = JSON.stringify([cidrs, hosts]);
    if (built?.key !== key) {
      built = {
        key,
        config: defaultGuardrailConfig({
          clusterCidrs: cidrs,
          clusterDomain: deps.feeds.clusterDomain,
          infrastructureHosts: hosts,
          allowlist: deps.feeds.neverBlock,
        }),
      };
    }
    return built.config;
  };
  // Built on the main thread only for hand-written actions (the worker builds its own).
  let guardrailsBuilt: { config: GuardrailConfig; guardrails: Guardrails } | undefined;
  const guardrails = async (): Promise<Guardrails> => {
    const config = await guardrailConfig();
    if (guardrailsBuilt?.config !== config)
      guardrailsBuilt = { config, guardrails: new Guardrails(config) };
    return guardrailsBuilt.guardrails;
  };
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
    guardrailConfig,
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
