import type { KubernetesListObject } from '@kubernetes/client-node';
import { defaultConnectorCatalog } from '../connectors/index.js';
import type { Connector } from '../connectors/core/types.js';
import {
  API_VERSION,
  GROUP,
  VERSION,
  type ExposurePolicy,
  type PreemptiveAction,
  type ThreatException,
  type Layer,
} from '../crds/index.js';
import { ExceptionSet } from './exception/exception-set.js';
import { ExceptionReconciler } from './exception/reconciler.js';
import { checkGitRemote, createOutboundFetch } from '../lib/http/index.js';
import { GitDelivery } from './action/git-delivery.js';
import { ActionNotifier } from './action/notifications.js';
import { PullRequestWebhook } from './action/pull-request-webhook.js';
import { SourceConfidenceRecorder } from './stores/source-confidence.js';
import { FeedbackStore } from './stores/feedback-store.js';
import { IndicatorStore } from './stores/indicator-store.js';
import { ActionReconciler } from './action/reconciler.js';
import { kubeClusterAccess } from './connectors/cluster-access.js';
import { kubeIdentityAccess } from './connectors/identity-access.js';
import { InventoryCache } from './inventory/cache.js';
import { PolicyReporter } from './policy/policy-report.js';
import { PolicyReconciler, readsExposure } from './policy/reconciler.js';
import { managedBy, type ControllerContext, type ControllerDefaults } from './runtime/builder.js';
import { Informer, objectKey } from './runtime/informer.js';
import type { Manager } from './runtime/manager.js';
import { PolicyMetrics } from './policy/metrics.js';
import { ActionMetrics, countActions } from './action/metrics.js';
import { threatFeedController, type FeedSettings } from './threatfeed/index.js';
import { CelCache } from '../cel/index.js';

export interface ControllerDeps extends ControllerContext {
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

/** A second look after a webhook event, for forges whose API lags their events. */
const WEBHOOK_RECHECK_MS = 3000;

/** What the action and policy controllers share: informers, stores, the catalogue. */
interface Shared {
  deps: ControllerDeps;
  defaults: ControllerDefaults;
  policies: Informer<ExposurePolicy>;
  actions: Informer<PreemptiveAction>;
  /** ThreatExceptions, compiled; every policy honours them. */
  exceptions: ExceptionSet;
  store: IndicatorStore;
  feedback: FeedbackStore;
  /** The feedback loop: outcomes of actions move their feeds' source confidence. */
  sourceConfidence: SourceConfidenceRecorder;
  catalog: typeof defaultConnectorCatalog;
  /** Identity providers, forges and notification receivers (feeds stream with the same policy). */
  outbound: typeof globalThis.fetch;
}

/**
 * Every controller of the operator, declared and added to the manager: the ThreatFeed
 * controller keeps snapshots; the ExposurePolicy controller turns them and the inventory
 * into PreemptiveActions; the PreemptiveAction controller enforces them through
 * connectors. main.ts and the integration tests both build the operator here.
 */
export function addControllers(manager: Manager, deps: ControllerDeps) {
  const defaults: ControllerDefaults = {
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    concurrency: deps.concurrency,
    resyncPeriodMs: deps.resyncPeriodMs,
  };
  const policies = informerFor<ExposurePolicy>(
    deps,
    'ExposurePolicy',
    'exposurepolicies',
  ) as Informer<ExposurePolicy>;
  const feeds = threatFeedController({ ...deps, policies, sink: manager, defaults });
  // One outbound policy for every client: --outbound-allow and the cluster's own ranges,
  // which the feed controller reads; immutable, a new object when the ranges change.
  const outbound = createOutboundFetch({ ssrf: feeds.ssrfPolicy }) as typeof globalThis.fetch;
  const inventory = new InventoryCache(deps);
  manager.add(inventory);
  const shared: Shared = {
    deps,
    defaults,
    policies,
    actions: informerFor<PreemptiveAction>(deps, 'PreemptiveAction', 'preemptiveactions'),
    exceptions: new ExceptionSet(
      informerFor<ThreatException>(
        deps,
        'ThreatException',
        'threatexceptions',
      ) as Informer<ThreatException>,
    ),
    store: new IndicatorStore(deps.client, deps.feeds.namespace),
    feedback: new FeedbackStore(deps.client, deps.feeds.namespace),
    sourceConfidence: new SourceConfidenceRecorder({
      client: deps.client,
      feeds: feeds.informer,
      events: deps.events,
      log: deps.log,
    }),
    catalog: defaultConnectorCatalog,
    outbound,
  };
  const policy = policyController(manager, shared, feeds, inventory);
  const action = actionController(manager, shared, feeds);
  const exceptions = exceptionController(manager, shared);
  const webhook = deps.git?.webhook
    ? new PullRequestWebhook({
        ...deps.git.webhook,
        log: deps.log,
        metrics: action.metrics,
        actions: () => shared.actions.list().map((a) => a.metadata.name!),
        // Now, and once more shortly after: a forge may send the event before its API shows the change.
        enqueue: (name) => {
          action.controller.queue.add(name);
          action.controller.queue.addAfter(name, WEBHOOK_RECHECK_MS);
        },
      })
    : undefined;
  if (webhook) manager.add(webhook);
  return {
    webhook,
    feeds,
    inventory,
    policies: policy.controller,
    policyReconciler: policy.reconciler,
    policyMetrics: policy.metrics,
    actions: action.controller,
    actionReconciler: action.reconciler,
    actionMetrics: action.metrics,
    exceptions,
  };
}

/** ThreatException: its status follows its expiry and the actions whose spec names it. */
function exceptionController(manager: Manager, shared: Shared) {
  const reconciler = new ExceptionReconciler({
    exceptions: shared.exceptions,
    actions: shared.actions,
    client: shared.deps.client,
    events: shared.deps.events,
    clock: shared.deps.clock,
    sourceConfidence: shared.sourceConfidence,
  });
  // An action names its exceptions in spec; one that stops naming one must update that
  // exception too, and the old object is not at hand here: every exception is looked at
  // (there are few, and an unchanged status is not written).
  const all = () => shared.exceptions.informer.list().map((e) => objectKey(e));
  return managedBy(manager, shared.defaults)
    .named('threatexception')
    .for(shared.exceptions.informer)
    .watches(shared.actions, all)
    .complete(reconciler);
}

/** ExposurePolicy: reconciled when it, its actions, its feeds, their snapshots or the inventory change. */
function policyController(
  manager: Manager,
  shared: Shared,
  feeds: ReturnType<typeof threatFeedController>,
  inventory: InventoryCache,
) {
  const { deps } = shared;
  const metrics = new PolicyMetrics(deps.metrics.registry);
  const reconciler = new PolicyReconciler({
    cache: shared.policies,
    actions: shared.actions,
    feeds: feeds.informer,
    snapshot: (name, log) => feeds.snapshots.get(name, log),
    inventory,
    store: shared.store,
    reporter: new PolicyReporter(deps.client, deps.clock, deps.log),
    client: deps.client,
    events: deps.events,
    clock: deps.clock,
    metrics,
    cel: new CelCache(),
    connectors: shared.catalog,
    defaultConnectors: deps.defaultConnectors,
    feedback: shared.feedback,
    exceptions: shared.exceptions,
  });
  const readers = (feed: string) => reconciler.policiesReading(feed);
  const controller = managedBy(manager, shared.defaults)
    .named('exposurepolicy')
    .for(shared.policies)
    // Owned actions changing phase move the policy's counts; feeds and inventory move its plan.
    .owns(shared.actions, (a) => a.spec.policyRef?.name)
    .watches(feeds.informer, (f) => readers(f.metadata.name!))
    // An exception moves every policy: one that changed its spec.policies moves the old ones too.
    .watches(shared.exceptions.informer, () => shared.policies.list().map((p) => objectKey(p)))
    .triggeredBy((enqueue) => feeds.snapshots.onChange((feed) => readers(feed).forEach(enqueue)))
    // Exposure and vulnerability data only move policies with an Isolate template.
    .triggeredBy((enqueue) =>
      inventory.onChange((group) =>
        shared.policies
          .list()
          .filter((p) => group === 'core' || readsExposure(p))
          .forEach((p) => enqueue(objectKey(p))),
      ),
    )
    .complete(reconciler);
  return { controller, reconciler, metrics };
}

/** PreemptiveAction: enforced through connectors, directly or through Git. */
function actionController(
  manager: Manager,
  shared: Shared,
  feeds: ReturnType<typeof threatFeedController>,
) {
  const { deps, catalog } = shared;
  const metrics = new ActionMetrics(deps.metrics.registry);
  const reconciler = new ActionReconciler({
    cache: shared.actions,
    client: deps.client,
    events: deps.events,
    clock: deps.clock,
    metrics,
    store: shared.store,
    connector: boundConnectors(shared),
    catalog,
    defaultConnector: (layer) =>
      deps.defaultConnectors?.[layer as Layer] ?? catalog.defaultFor(layer as Layer) ?? '',
    feedback: shared.feedback,
    sourceConfidence: shared.sourceConfidence,
    notifier: new ActionNotifier({
      client: deps.client,
      namespace: deps.feeds.namespace,
      policies: shared.policies,
      log: deps.log,
      http: { ...deps.notifyHttp, fetch: shared.outbound },
    }),
    guardrails: feeds.guardrails,
    policy: (name) => shared.policies.get(name),
    ...(deps.git ? { git: gitDelivery(shared, deps.git, feeds.ssrfPolicy) } : {}),
    ...(deps.git?.pullRequestPollMs ? { pullRequestPollMs: deps.git.pullRequestPollMs } : {}),
  });
  const controller = managedBy(manager, shared.defaults)
    .named('preemptiveaction')
    .for(shared.actions)
    // Git delivery and notifications read the owning policy (spec.git, spec.notify).
    .reads(shared.policies)
    .complete(reconciler);
  const countPhases = () => countActions(metrics, shared.actions.list());
  for (const event of ['add', 'update', 'delete'] as const) shared.actions.on(event, countPhases);
  return { controller, reconciler, metrics };
}

/** Each connector bound to the cluster and the identity providers once, on first use. */
function boundConnectors({ deps, catalog, outbound }: Shared) {
  const cluster = kubeClusterAccess(deps.client, {
    configMapNamespace: deps.dnsNamespace ?? 'kube-system',
  });
  const identity = kubeIdentityAccess(
    deps.client,
    deps.feeds.namespace,
    deps.identityNeverTouch ?? [],
    outbound,
  );
  const bound = new Map<string, Connector | undefined>();
  return (id: string) => {
    if (!bound.has(id)) bound.set(id, catalog.info(id)?.connect({ cluster, identity }));
    return bound.get(id);
  };
}

function gitDelivery(
  { deps, policies, outbound }: Shared,
  git: NonNullable<ControllerDeps['git']>,
  ssrfPolicy: ReturnType<typeof threatFeedController>['ssrfPolicy'],
): GitDelivery {
  return new GitDelivery({
    client: deps.client,
    namespace: deps.feeds.namespace,
    policies,
    workRoot: git.workRoot,
    env: git.env,
    fetch: outbound,
    checkRemote: async (url) => checkGitRemote(url, await ssrfPolicy()),
  });
}
