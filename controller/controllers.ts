import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import { defaultConnectorCatalog } from '../connectors/index.js';
import type { Connector } from '../connectors/types.js';
import {
  API_VERSION,
  GROUP,
  VERSION,
  type ExposurePolicy,
  type PreemptiveAction,
  type Layer,
} from '../crds/index.js';
import { checkGitRemote, createOutboundFetch } from '../lib/http/index.js';
import { GitDelivery } from './action/git-delivery.js';
import { ActionNotifier } from './action/notifications.js';
import { PullRequestWebhook } from './action/pull-request-webhook.js';
import { FeedbackStore } from './stores/feedback-store.js';
import { IndicatorStore } from './stores/indicator-store.js';
import { ActionReconciler } from './action/reconciler.js';
import { kubeClusterAccess } from './connectors/cluster-access.js';
import { kubeIdentityAccess } from './connectors/identity-access.js';
import { InventoryCache } from './inventory/cache.js';
import { PolicyReporter } from './policy/policy-report.js';
import { PolicyReconciler, readsExposure } from './policy/reconciler.js';
import type { Clock } from './runtime/clock.js';
import type { KubeClient } from './runtime/client.js';
import { Controller } from './runtime/controller.js';
import type { EventRecorder } from './runtime/events.js';
import { Informer, objectKey } from './runtime/informer.js';
import type { Logger } from './runtime/logger.js';
import type { Manager } from './runtime/manager.js';
import type { Metrics } from './runtime/metrics.js';
import { PolicyMetrics } from './policy/metrics.js';
import { ActionMetrics } from './action/metrics.js';
import { threatFeedController, type FeedSettings } from './threatfeed/index.js';
import { CelCache } from '../cel/index.js';

export interface ControllerDeps {
  kc: KubeConfig;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  concurrency: number;
  resyncPeriodMs: number;
  feeds: FeedSettings;
  /** Connector per layer when a policy's action names none (--default-connector). */
  defaultConnectors?: Partial<Record<Layer, string>>;
  /** Git delivery of actions that need approval (policies with spec.git): where clones live, and git's environment. */
  git?: {
    workRoot: string;
    env: Readonly<Record<string, string | undefined>>;
    pullRequestPollMs?: number;
    /** The pull-request webhook endpoint (optional): where it listens and the hooks' shared secret. */
    webhook?: { bind: string; secret: string };
  };
  /** Logins and groups no identity action touches (--identity-never-touch). */
  identityNeverTouch?: readonly string[];
  /** The only namespace the DNS connectors write ConfigMaps in (--dns-namespace); default kube-system. */
  dnsNamespace?: string;
  /** Notification transport settings; tests shorten the retries. */
  notifyHttp?: { retries?: number; backoffMs?: number; timeoutMs?: number };
}

function informerFor<T extends { metadata?: unknown }>(
  deps: ControllerDeps,
  kind: string,
  plural: string,
): Informer<T & { metadata: { name?: string } }> {
  return new Informer({
    kc: deps.kc,
    path: `/apis/${GROUP}/${VERSION}/${plural}`,
    list: async () =>
      (await deps.client.list(API_VERSION, kind)) as KubernetesListObject<
        T & { metadata: { name?: string } }
      >,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    writes: { client: deps.client, apiVersion: API_VERSION, kind },
  });
}

/**
 * Every controller of the operator, wired together and added to the manager: the
 * ThreatFeed controller keeps snapshots; the ExposurePolicy controller turns them and
 * the inventory into PreemptiveActions; the PreemptiveAction controller enforces them
 * through connectors. main.ts and the integration tests both build the operator here.
 */
/** A second look after a webhook event, for forges whose API lags their events. */
const WEBHOOK_RECHECK_MS = 3000;

export function addControllers(manager: Manager, deps: ControllerDeps) {
  const catalog = defaultConnectorCatalog;
  const defaultConnector = (layer: Layer) =>
    deps.defaultConnectors?.[layer] ?? catalog.defaultFor(layer);
  const policyInformer = informerFor<ExposurePolicy>(
    deps,
    'ExposurePolicy',
    'exposurepolicies',
  ) as Informer<ExposurePolicy>;
  const feeds = threatFeedController({ ...deps, policies: policyInformer });
  // One outbound policy for every client: --outbound-allow and the cluster's own ranges,
  // which the feed controller reads; immutable, a new object when the ranges change.
  const currentSsrf = feeds.ssrfPolicy;
  // Identity providers, forges and notification receivers; feeds use the streaming transport with the same policy.
  const outbound = createOutboundFetch({ ssrf: currentSsrf }) as typeof globalThis.fetch;
  const checkRemote = async (url: string): Promise<void> =>
    checkGitRemote(url, await currentSsrf());
  const inventory = new InventoryCache(deps);
  const access = kubeClusterAccess(deps.client, {
    configMapNamespace: deps.dnsNamespace ?? 'kube-system',
  });
  const store = new IndicatorStore(deps.client, deps.feeds.namespace);
  const feedback = new FeedbackStore(deps.client, deps.feeds.namespace);
  const cache = new Map<string, Connector | undefined>();
  const identity = kubeIdentityAccess(
    deps.client,
    deps.feeds.namespace,
    deps.identityNeverTouch ?? [],
    outbound,
  );
  const connector = (id: string) => {
    if (!cache.has(id)) cache.set(id, catalog.info(id)?.connect({ cluster: access, identity }));
    return cache.get(id);
  };

  const actionInformer = informerFor<PreemptiveAction>(
    deps,
    'PreemptiveAction',
    'preemptiveactions',
  ) as Informer<PreemptiveAction>;
  const git = deps.git
    ? new GitDelivery({
        client: deps.client,
        namespace: deps.feeds.namespace,
        policies: policyInformer,
        workRoot: deps.git.workRoot,
        env: deps.git.env,
        fetch: outbound,
        checkRemote,
      })
    : undefined;
  const actionMetrics = new ActionMetrics(deps.metrics.registry);
  const actionReconciler = new ActionReconciler({
    cache: actionInformer,
    client: deps.client,
    events: deps.events,
    clock: deps.clock,
    metrics: actionMetrics,
    store,
    connector,
    catalog,
    defaultConnector: (layer) => defaultConnector(layer as Layer) ?? '',
    feedback,
    notifier: new ActionNotifier({
      client: deps.client,
      namespace: deps.feeds.namespace,
      policies: policyInformer,
      log: deps.log,
      http: { ...deps.notifyHttp, fetch: outbound },
    }),
    guardrails: feeds.guardrails,
    ...(git ? { git } : {}),
    ...(deps.git?.pullRequestPollMs ? { pullRequestPollMs: deps.git.pullRequestPollMs } : {}),
  });
  const actions = new Controller<PreemptiveAction>({
    name: 'preemptiveaction',
    informer: actionInformer,
    reconciler: actionReconciler,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    concurrency: deps.concurrency,
    resyncPeriodMs: deps.resyncPeriodMs,
  });
  const countPhases = () => {
    actionMetrics.actionPhases.reset();
    for (const a of actionInformer.list())
      actionMetrics.actionPhases.inc({ type: a.spec.type, phase: a.status?.phase ?? 'Pending' });
  };
  for (const event of ['add', 'update', 'delete'] as const) actionInformer.on(event, countPhases);

  const policyMetrics = new PolicyMetrics(deps.metrics.registry);
  const policyReconciler = new PolicyReconciler({
    cache: policyInformer,
    actions: actionInformer,
    feeds: feeds.informer,
    snapshot: (name, log) => feeds.snapshots.get(name, log),
    inventory,
    store,
    reporter: new PolicyReporter(deps.client, deps.clock, deps.log),
    client: deps.client,
    events: deps.events,
    clock: deps.clock,
    metrics: policyMetrics,
    cel: new CelCache(),
    connectors: catalog,
    defaultConnectors: deps.defaultConnectors,
    feedback,
  });
  const policies = new Controller<ExposurePolicy>({
    name: 'exposurepolicy',
    informer: policyInformer,
    reconciler: policyReconciler,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    concurrency: deps.concurrency,
    resyncPeriodMs: deps.resyncPeriodMs,
  });
  // Owned actions changing phase move the policy's counts; feeds and inventory move its plan.
  policies.watches(actionInformer, (a) => (a.spec.policyRef?.name ? [a.spec.policyRef.name] : []));
  policies.watches(feeds.informer, (f) => policyReconciler.policiesReading(f.metadata.name!));
  feeds.snapshots.onChange((feed) =>
    policyReconciler.policiesReading(feed).forEach((k) => policies.queue.add(k)),
  );
  // Exposure and vulnerability data only move policies with an Isolate template.
  inventory.onChange((group) =>
    policyInformer
      .list()
      .filter((p) => group === 'core' || readsExposure(p))
      .forEach((p) => policies.queue.add(objectKey(p))),
  );

  manager.add(feeds.controller);
  manager.add(inventory);
  manager.add(policies);
  manager.add(actions);
  const webhook = deps.git?.webhook
    ? new PullRequestWebhook({
        ...deps.git.webhook,
        log: deps.log,
        metrics: actionMetrics,
        actions: () => actionInformer.list().map((a) => a.metadata.name!),
        // Now, and once more shortly after: a forge may send the event before its API shows the change.
        enqueue: (name) => {
          actions.queue.add(name);
          actions.queue.addAfter(name, WEBHOOK_RECHECK_MS);
        },
      })
    : undefined;
  if (webhook) manager.add(webhook);
  return {
    webhook,
    feeds,
    inventory,
    policies,
    policyReconciler,
    policyMetrics,
    actions,
    actionReconciler,
    actionMetrics,
  };
}
