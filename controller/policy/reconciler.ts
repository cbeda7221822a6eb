import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { applyStatusIfChanged, readyTransition } from '../runtime/status-write.js';
import {
  ACTION_PHASES,
  API_VERSION,
  TERMINAL_PHASES,
  type ExposurePolicy,
  type ExposurePolicyStatus,
  type PreemptiveAction,
  type PreemptiveActionSpec,
  type ThreatFeed,
  LABEL_MANAGED_BY,
  personDecision,
  LABEL_POLICY,
  type Layer,
  MANAGED_BY,
  withSchemaDefaults,
} from '../../crds/index.js';
import {
  evaluatePolicy,
  expiresAt,
  scopeReadKey,
  selectsFeed,
  valuesDigest,
  type ConnectorDirectory,
  type Evaluation,
  type FeedView,
  type PlannedAction,
  type CompiledException,
  type ExceptionUse,
  confidenceAt,
  DEFAULT_MIN_SOURCE_CONFIDENCE,
  describeFeedback,
  earliestTime,
  recoversAt,
} from '../../policies/index.js';
import { percentiles } from '../../lib/stats.js';
import { ledgerOf } from '../stores/source-confidence.js';
import { INLINE_VALUES, type IndicatorStore } from '../stores/indicator-store.js';
import type { InventoryCache } from '../inventory/cache.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { findCondition, rfc3339, withConditions, type Condition } from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import { forEachLimit } from '../runtime/concurrency.js';
import type { EventRecorder } from '../runtime/events.js';
import {
  hasFinalizer,
  isDeleting,
  withFinalizer,
  withoutFinalizer,
} from '../runtime/finalizers.js';
import type { Informer } from '../runtime/informer.js';
import type { PolicyMetrics } from './metrics.js';
import type { Snapshot } from '../stores/snapshot-store.js';
import { evidenceSpec } from './evidence.js';
import type { FeedbackStore, Suppression } from '../stores/feedback-store.js';
import type { PolicyReporter } from './policy-report.js';
import type { ExceptionSet } from '../exception/exception-set.js';
import { labelValue } from '../../connectors/index.js';
import type { CelCache } from '../../cel/index.js';

export const PolicyCondition = { Ready: 'Ready', InputsServed: 'InputsServed' } as const;
export const PolicyReason = {
  Evaluated: 'Evaluated',
  CompileError: 'CompileError',
  InvalidSpec: 'InvalidSpec',
  FeedsNotReady: 'FeedsNotReady',
  Suspended: 'Suspended',
  Deleting: 'Deleting',
  AllInputsServed: 'AllInputsServed',
  OptionalInputsAbsent: 'OptionalInputsAbsent',
} as const;

/**
 * For a policy that reads exposure and vulnerability data (an Isolate template): whether
 * the optional kinds it reads are served, and what their absence means. Kinds whose
 * absence means the same (the Gateway API's) are named together.
 */
export function inputsCondition(absent: readonly { kind: string; means: string }[]) {
  if (!absent.length)
    return {
      type: PolicyCondition.InputsServed,
      status: 'True' as const,
      reason: PolicyReason.AllInputsServed,
      message: 'every optional input is served (Gateway API, Trivy Operator VulnerabilityReports)',
    };
  const byMeaning = new Map<string, string[]>();
  for (const a of absent) byMeaning.set(a.means, [...(byMeaning.get(a.means) ?? []), a.kind]);
  return {
    type: PolicyCondition.InputsServed,
    status: 'False' as const,
    reason: PolicyReason.OptionalInputsAbsent,
    message: [...byMeaning]
      .map(([means, kinds]) => `${kinds.join(', ')} not served (CRD not installed): ${means}`)
      .join('; '),
  };
}

/** Owned actions written in parallel per reconcile. */
const CONVERGE_CONCURRENCY = 8;

/** Phases after which an action no longer enforces anything. */

export interface PolicyDeps {
  cache: Informer<ExposurePolicy>;
  actions: Informer<PreemptiveAction>;
  feeds: Informer<ThreatFeed>;
  /** The feed's last-known-good snapshot, loaded from the API server if needed. */
  snapshot: (feed: string, log: Request['log']) => Promise<Snapshot | undefined>;
  inventory: InventoryCache;
  store: IndicatorStore;
  reporter: PolicyReporter;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  metrics: PolicyMetrics;
  cel: CelCache;
  /** The connector catalogue the engine checks templates against (connectors/ defaultConnectorCatalog). */
  connectors: ConnectorDirectory;
  defaultConnectors?: Partial<Record<Layer, string>>;
  /** Indicators reviewers rejected, left out of the policy's actions for a while. */
  feedback?: FeedbackStore;
  /** The ThreatExceptions, which every policy honours before planning. */
  exceptions?: ExceptionSet;
}

/**
 * Reconciles one ExposurePolicy: evaluate it against the feeds' last-known-good
 * indicators and the inventory, then converge the PreemptiveActions it owns on the
 * plan (create, update, shrink, lift). The actions themselves are enforced by the
 * PreemptiveAction controller.
 *
 * Fail static: when an expression does not compile, when a selected feed is missing
 * or has never synced, or when the policy is suspended, the actions already in place
 * are left exactly as they are and Ready says why.
 */
export class PolicyReconciler implements Reconciler {
  private readonly memo = new Map<string, { key: string; evaluation: Evaluation }>();

  constructor(private readonly deps: PolicyDeps) {}

  /** Policies that read a feed, for mapping feed changes to policy keys. */
  policiesReading(feed: string): string[] {
    const labels = this.deps.feeds.get(feed)?.metadata.labels ?? {};
    return this.deps.cache
      .list()
      .filter((p) => selectsFeed(p.spec, feed, labels))
      .map((p) => p.metadata.name!);
  }

  async reconcile({ key, log, signal }: Request): Promise<Result | void> {
    const { cache, client } = this.deps;
    // Decisions about owned actions need the complete picture, also right after a restart.
    await Promise.all([this.deps.actions.waitForSync(signal), this.deps.feeds.waitForSync(signal)]);
    const policy = cache.get(key);
    if (!policy) {
      this.memo.delete(key);
      return;
    }
    const name = policy.metadata.name!;
    const owned = this.owned(name);
    if (isDeleting(policy)) {
      // Each action's own finalizer removes its objects; the policy goes once they are gone.
      for (const a of owned) if (!isDeleting(a)) await client.delete(a);
      if (owned.length === 0 && hasFinalizer(policy)) {
        await this.deps.reporter.remove(name);
        await client.setFinalizers(policy, withoutFinalizer(policy));
      }
      return;
    }
    if (!hasFinalizer(policy)) {
      await client.setFinalizers(policy, withFinalizer(policy));
      return;
    }
    await this.deps.inventory.waitForSync(signal);

    const now = new Date(this.deps.clock.now());
    const generation = policy.metadata.generation ?? 0;
    const base: ExposurePolicyStatus = { ...policy.status };
    if (policy.spec.suspend) {
      await this.writeStatus(
        policy,
        withConditions({ ...base, actions: phaseCounts(owned) }, generation, now, [
          {
            type: PolicyCondition.Ready,
            status: 'False',
            reason: PolicyReason.Suspended,
            message: `spec.suspend is true: no new actions; the ${owned.length} existing ones stay as they are`,
          },
        ]),
        now,
      );
      return;
    }

    const suppression = this.deps.feedback
      ? await this.deps.feedback.suppression(name, now)
      : undefined;
    const inForce = this.deps.exceptions?.inForce(name, now);
    const evaluation = await this.evaluate(policy, now, log, suppression, inForce);
    if (evaluation.compileErrors.length) {
      await this.writeStatus(
        policy,
        withConditions(
          { ...base, compileErrors: evaluation.compileErrors, actions: phaseCounts(owned) },
          generation,
          now,
          [
            {
              type: PolicyCondition.Ready,
              status: 'False',
              reason: evaluation.compileErrors.every(
                (e) => e.field === 'spec.match' || e.field === 'spec.autoApprove',
              )
                ? PolicyReason.CompileError
                : PolicyReason.InvalidSpec,
              message: `${evaluation.compileErrors.map((e) => e.message).join('; ')}; the ${owned.length} existing actions are left as they are`,
            },
          ],
        ),
        now,
      );
      return;
    }
    if (evaluation.missingFeeds.length) {
      await this.writeStatus(
        policy,
        withConditions(
          { ...base, compileErrors: undefined, actions: phaseCounts(owned) },
          generation,
          now,
          [
            {
              type: PolicyCondition.Ready,
              status: 'False',
              reason: PolicyReason.FeedsNotReady,
              message: `feeds not found or never synced: ${evaluation.missingFeeds.join(', ')}; the ${owned.length} existing actions are left as they are`,
            },
          ],
        ),
        now,
      );
      return;
    }

    const enforcing = policy.spec.mode !== 'Audit';
    const desired = enforcing ? evaluation.actions : [];
    const wanted = new Set(desired.map((a) => a.name));
    // A KEV catalog can isolate dozens of workloads at once: their actions are written
    // a few at a time rather than one after another.
    await forEachLimit(desired, CONVERGE_CONCURRENCY, (planned) =>
      this.converge(policy, planned, now, log),
    );
    // Audit mode enforces nothing, so actions left from another mode go; otherwise the
    // indicators left the feed or the scope, and the action lifts.
    // An action just rejected in review is not lifted: its indicators left the plan
    // because of that rejection, and the action controller records it as Rejected
    // (this cache may not show that status yet).
    const unwanted = owned.filter(
      (a) =>
        !wanted.has(a.metadata.name!) && !(enforcing && suppression?.actions.has(a.metadata.name!)),
    );
    const exceptedAway = new Map(
      (evaluation.exceptedAway ?? []).map((e) => [e.action, e.exceptions]),
    );
    await forEachLimit(unwanted, CONVERGE_CONCURRENCY, (action) =>
      enforcing
        ? this.lift(action, log, exceptedAway.get(action.metadata.name!))
        : client.delete(action),
    );
    await this.deps.reporter.report(policy, evaluation, now);

    // After converging: the actions as they stand now.
    const ownedNow = this.owned(name);
    const counts = phaseCounts(ownedNow);
    const byDecision = (d: string) => evaluation.actions.filter((a) => a.decision === d).length;
    const suppressed = evaluation.suppressed
      ? `; ${evaluation.suppressed} left out after a rejected review until ${new Date(suppression!.nextExpiry!).toISOString()} or later`
      : '';
    const excepted = evaluation.excepted
      ? `; ${evaluation.excepted.indicators} left out by ThreatExceptions (${evaluation.excepted.exceptions.map((e) => e.name).join(', ')})`
      : '';
    const lowConfidence = this.lowConfidenceFeeds(policy, now);
    const summary = `${evaluation.matched} indicators matched; ${evaluation.actions.length} actions (${byDecision('auto')} automatic, ${byDecision('approval')} awaiting approval, ${byDecision('audit')} audit only)${suppressed}${excepted}`;
    await this.writeStatus(
      policy,
      withConditions(
        {
          ...base,
          compileErrors: undefined,
          matchedIndicators: evaluation.matched,
          suppressedIndicators: evaluation.suppressed ?? 0,
          exceptedIndicators: evaluation.excepted?.indicators ?? 0,
          actions: counts,
          lowConfidenceFeeds: lowConfidence.feeds.length ? lowConfidence.feeds : undefined,
          exposureWindow: exposureWindowOf(ownedNow),
          planned: evaluation.actions.slice(0, 64).map((a) => ({
            name: a.name,
            type: a.type,
            connector: a.connector,
            indicators: a.request.values.length,
            decision: a.decision,
            reason: a.reason,
          })),
        },
        generation,
        now,
        [
          {
            type: PolicyCondition.Ready,
            status: 'True',
            reason: PolicyReason.Evaluated,
            message: [summary, ...evaluation.warnings].join('; ').slice(0, 32000),
          },
          ...(readsExposure(policy) ? [inputsCondition(this.deps.inventory.absentInputs())] : []),
        ],
      ),
      now,
    );
    // A suppression or an exception that ends brings its indicators back: evaluate again then.
    const ends = [suppression?.nextExpiry, inForce?.nextExpiry, lowConfidence.recovers].filter(
      (t): t is number => t !== undefined,
    );
    if (ends.length) return { requeueAfter: Math.max(1, Math.min(...ends) - now.getTime()) };
    return undefined;
  }

  /**
   * The selected feeds whose source confidence is below the policy's minimum (their
   * actions go to review), with the feedback behind it, and when the first of them
   * decays back to the minimum (a requeue).
   */
  private lowConfidenceFeeds(
    policy: ExposurePolicy,
    now: Date,
  ): { feeds: NonNullable<ExposurePolicyStatus['lowConfidenceFeeds']>; recovers?: number } {
    const minimum = policy.spec.guardrails?.minSourceConfidence ?? DEFAULT_MIN_SOURCE_CONFIDENCE;
    const feeds: NonNullable<ExposurePolicyStatus['lowConfidenceFeeds']> = [];
    const recovers: number[] = [];
    for (const feed of this.deps.feeds.list()) {
      const name = feed.metadata.name!;
      if (!selectsFeed(policy.spec, name, feed.metadata.labels ?? {})) continue;
      const ledger = ledgerOf(feed);
      const effective = confidenceAt(ledger, now);
      if (effective >= minimum) continue;
      feeds.push({ feed: name, effective, minimum, feedback: describeFeedback(ledger) });
      const at = recoversAt(ledger, minimum, now);
      if (at !== undefined) recovers.push(at);
    }
    return {
      feeds: feeds.slice(0, 32),
      ...(recovers.length ? { recovers: Math.min(...recovers) } : {}),
    };
  }

  private owned(policy: string): PreemptiveAction[] {
    return this.deps.actions.list().filter((a) => a.spec.policyRef?.name === policy);
  }

  /**
   * The evaluation, reused while nothing it depends on changed (the policy generation,
   * the selected feeds' snapshots, the inventory), so status churn on owned actions
   * costs no CEL.
   */
  private async evaluate(
    policy: ExposurePolicy,
    now: Date,
    log: Request['log'],
    suppression?: Suppression,
    inForce?: { exceptions: CompiledException[]; key: string },
  ): Promise<Evaluation> {
    const views: FeedView[] = [];
    // Only what this policy reads of the inventory: a change elsewhere keeps its evaluation.
    const scoped = readsExposure(policy)
      ? undefined
      : scopeReadKey(policy.spec, this.deps.inventory.snapshot());
    const inventoryKey = readsExposure(policy)
      ? `all:${this.deps.inventory.version}`
      : scoped !== undefined
        ? `scope:${createHash('sha256').update(scoped).digest('hex')}`
        : `core:${this.deps.inventory.coreVersion}`;
    const keyParts: string[] = [
      String(policy.metadata.generation),
      inventoryKey,
      suppression?.key ?? 'none',
      inForce?.key ?? 'none',
    ];
    for (const feed of this.deps.feeds.list()) {
      const fname = feed.metadata.name!;
      const labels = feed.metadata.labels ?? {};
      if (!selectsFeed(policy.spec, fname, labels)) continue;
      const snap = await this.deps.snapshot(fname, log);
      const st = feed.status;
      // The share of the previous set that the last sync changed; none for a first sync.
      const previous = (st?.indicatorCount ?? 0) - (st?.added ?? 0) + (st?.removed ?? 0);
      const changePercent =
        previous > 0 ? (((st?.added ?? 0) + (st?.removed ?? 0)) / previous) * 100 : undefined;
      const largeChange =
        findCondition(st?.conditions as Condition[] | undefined, 'LargeChange')?.status === 'True';
      const sourceConfidence = sourceConfidenceOf(feed, now);
      views.push({
        name: fname,
        labels,
        indicators: snap?.indicators,
        largeChange,
        ...(changePercent !== undefined ? { changePercent } : {}),
        ...(st?.lastChangeTime ? { changedAt: st.lastChangeTime } : {}),
        ...(sourceConfidence ? { sourceConfidence } : {}),
      });
      keyParts.push(
        `${fname}=${snapshotId(snap)}:${largeChange}:${changePercent ?? ''}:${st?.lastChangeTime ?? ''}:${sourceConfidence?.effective ?? 100}`,
      );
    }
    const memoKey = keyParts.join('|');
    const cached = this.memo.get(policy.metadata.name!);
    if (cached?.key === memoKey) return cached.evaluation;
    const started = this.deps.clock.now();
    const evaluation = evaluatePolicy(
      {
        name: policy.metadata.name!,
        generation: policy.metadata.generation ?? 0,
        spec: policy.spec,
      },
      views,
      this.deps.inventory.snapshot(),
      {
        now,
        cel: this.deps.cel,
        connectors: this.deps.connectors,
        defaultConnectors: this.deps.defaultConnectors,
        ...(suppression ? { suppressed: suppression.values } : {}),
        ...(inForce?.exceptions.length ? { exceptions: inForce.exceptions } : {}),
      },
    );
    this.deps.metrics.policyEvaluationDuration.observe(
      { policy: policy.metadata.name! },
      (this.deps.clock.now() - started) / 1000,
    );
    this.deps.metrics.policyMatched.set({ policy: policy.metadata.name! }, evaluation.matched);
    log.debug(
      {
        matched: evaluation.matched,
        actions: evaluation.actions.length,
        ms: this.deps.clock.now() - started,
      },
      'Evaluated policy',
    );
    this.memo.set(policy.metadata.name!, { key: memoKey, evaluation });
    return evaluation;
  }

  /** Creates or updates one action so its spec matches the plan; writes nothing when it already does. */
  private async converge(
    policy: ExposurePolicy,
    planned: PlannedAction,
    now: Date,
    log: Request['log'],
  ): Promise<void> {
    const existing = this.deps.actions.get(planned.name);
    if (existing && existing.spec.policyRef?.name !== policy.metadata.name) {
      log.warn(
        { action: planned.name },
        'A PreemptiveAction with this name belongs to something else; leaving it alone',
      );
      this.deps.events.event(
        policy,
        'Warning',
        'NameTaken',
        `PreemptiveAction ${planned.name} exists and is not owned by this policy; its plan is not applied`,
      );
      return;
    }
    const phase = existing?.status?.phase;
    const sameSet = existing?.spec.indicators.digest === planned.digest;
    // An action that expired or was rejected stays down until the intelligence changes.
    // So does one a person lifted (forestall lift), for the set they lifted.
    const liftedByPerson = phase === 'Lifted' && personDecision(existing!)?.verb === 'lift';
    if (existing && (phase === 'Expired' || phase === 'Rejected' || liftedByPerson) && sameSet)
      return;
    const active =
      existing &&
      existing.spec.indicators.count > 0 &&
      !TERMINAL_PHASES.has(phase as (typeof ACTION_PHASES)[number]);
    const spec = this.actionSpec(
      policy,
      planned,
      active ? existing.spec.expiresAt : expiresAt(policy.spec, now),
      active ? existing.spec : undefined,
    );
    if (planned.request.values.length > INLINE_VALUES) {
      spec.indicators.configMapRef = await this.deps.store.save(
        planned.name,
        planned.request.values,
        planned.digest,
      );
    } else {
      spec.indicators.values = planned.request.values;
    }
    if (existing && sameSpec(existing.spec, spec)) return;
    if (existing && exceptionsChanged(existing.spec, spec))
      this.deps.events.event(
        existing,
        'Normal',
        'Excepted',
        exceptionsMessage(spec.exceptions, planned.request.values.length),
      );
    await this.deps.client.apply<PreemptiveAction>({
      apiVersion: API_VERSION,
      kind: 'PreemptiveAction',
      metadata: {
        name: planned.name,
        labels: {
          [LABEL_MANAGED_BY]: MANAGED_BY,
          [LABEL_POLICY]: labelValue(policy.metadata.name!),
        },
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: 'ExposurePolicy',
            name: policy.metadata.name!,
            uid: policy.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec,
    });
    log.info(
      {
        action: planned.name,
        indicators: planned.request.values.length,
        decision: planned.decision,
      },
      existing ? 'Updated action' : 'Created action',
    );
  }

  /** The indicators left the feed or the scope: an empty set, which the action controller lifts. */
  private async lift(
    action: PreemptiveAction,
    log: Request['log'],
    exceptions?: ExceptionUse[],
  ): Promise<void> {
    if (
      action.spec.indicators.count === 0 ||
      TERMINAL_PHASES.has(action.status?.phase as (typeof ACTION_PHASES)[number])
    )
      return;
    const { exceptions: _before, ...rest } = action.spec;
    const spec: PreemptiveActionSpec = {
      ...rest,
      indicators: { count: 0, digest: valuesDigest([]), values: [] },
      ...(exceptions?.length ? { exceptions } : {}),
    };
    await this.deps.client.apply<PreemptiveAction>({
      apiVersion: API_VERSION,
      kind: 'PreemptiveAction',
      metadata: { name: action.metadata.name },
      spec,
    });
    if (exceptions?.length)
      this.deps.events.event(action, 'Normal', 'Excepted', exceptionsMessage(exceptions, 0));
    log.info(
      { action: action.metadata.name, exceptions: exceptions?.map((e) => e.name) },
      exceptions?.length
        ? 'Every indicator excepted; lifting action'
        : 'Indicators gone; lifting action',
    );
  }

  private actionSpec(
    policy: ExposurePolicy,
    planned: PlannedAction,
    expiry: string | undefined,
    stored?: PreemptiveActionSpec,
  ): PreemptiveActionSpec {
    // The exposure window starts at the earliest publication ever seen for the episode:
    // a feed without dates reports its latest change, which must not move it later.
    const publishedAt = earliestTime(stored?.publishedAt, planned.publishedAt);
    const scope: NonNullable<PreemptiveActionSpec['scope']> = {
      namespaces: planned.request.scope.namespaces,
    };
    if (planned.namespaceSelector) scope.namespaceSelector = planned.namespaceSelector;
    if (planned.workloadSelector) scope.workloadSelector = planned.workloadSelector;
    const evidence = evidenceSpec(planned);
    return {
      policyRef: { name: policy.metadata.name! },
      type: planned.type,
      layer: planned.layer,
      connector: planned.connector,
      indicators: { digest: planned.digest, count: planned.request.values.length },
      scope,
      params: planned.request.params,
      confidence: planned.confidence,
      blastRadius: { ...planned.blastRadius },
      ...(expiry ? { expiresAt: expiry } : {}),
      ...(planned.feeds.length ? { feeds: planned.feeds.slice(0, 64) } : {}),
      ...(publishedAt ? { publishedAt } : {}),
      approval: { required: planned.decision !== 'auto', reason: planned.reason },
      delivery: policy.spec.git?.url && planned.decision !== 'auto' ? 'Git' : 'Direct',
      ...(planned.request.targets?.length
        ? { targets: planned.request.targets.map((t) => ({ ...t })) }
        : {}),
      ...(evidence ? { evidence } : {}),
      ...(planned.exceptions?.length ? { exceptions: planned.exceptions } : {}),
    };
  }

  private async writeStatus(
    policy: ExposurePolicy,
    status: ExposurePolicyStatus,
    now: Date,
  ): Promise<void> {
    const target = { apiVersion: API_VERSION, kind: 'ExposurePolicy', name: policy.metadata.name! };
    const written = await applyStatusIfChanged(this.deps.client, target, policy.status, status, {
      field: 'lastEvaluationTime',
      value: rfc3339(now),
    });
    const after = written && readyTransition(policy.status, written);
    if (after) {
      this.deps.events.event(
        policy,
        after.status === 'False' ? 'Warning' : 'Normal',
        after.reason,
        after.message.slice(0, 1024),
      );
    }
  }
}

const snapshotIds = new WeakMap<Snapshot, number>();
let nextSnapshotId = 1;
/** An id per snapshot object: the feed controller replaces the object whenever its content changes. */
function snapshotId(snap: Snapshot | undefined): number {
  if (!snap) return 0;
  let id = snapshotIds.get(snap);
  if (id === undefined) snapshotIds.set(snap, (id = nextSnapshotId++));
  return id;
}

/** Whether the policy reads exposure and vulnerability data (it has an Isolate template). */
export function readsExposure(policy: ExposurePolicy): boolean {
  return policy.spec.actions.some((a) => a.type === 'Isolate');
}

/** What the engine reads of the feedback loop: the confidence now, and the feedback behind it. */
function sourceConfidenceOf(feed: ThreatFeed, now: Date): FeedView['sourceConfidence'] {
  const ledger = ledgerOf(feed);
  return ledger
    ? { effective: confidenceAt(ledger, now), feedback: describeFeedback(ledger) }
    : undefined;
}

/** Percentiles of the exposure window over the enforced actions (status.exposureWindowSeconds). */
function exposureWindowOf(
  actions: readonly PreemptiveAction[],
): ExposurePolicyStatus['exposureWindow'] {
  const p = percentiles(
    actions.flatMap((a) =>
      a.status?.exposureWindowSeconds === undefined ? [] : [a.status.exposureWindowSeconds],
    ),
  );
  return p && { count: p.count, p50Seconds: p.p50, p90Seconds: p.p90, p99Seconds: p.p99 };
}

/** Owned actions by phase; every phase present, so the map is stable. */
function phaseCounts(actions: readonly PreemptiveAction[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(ACTION_PHASES.map((p) => [p, 0]));
  for (const a of actions) {
    const phase = a.status?.phase ?? 'Pending';
    counts[phase] = (counts[phase] ?? 0) + 1;
  }
  return counts;
}

/** Whether the stored spec already says everything the desired one says (the API server adds defaults, never removes). */
function sameSpec(stored: PreemptiveActionSpec, wanted: PreemptiveActionSpec): boolean {
  // As the API server stores it: a field the schema defaults (an evidence entry's
  // knownRansomwareCampaignUse) would otherwise differ on every reconcile and rewrite the action.
  const desired = withSchemaDefaults({
    apiVersion: API_VERSION,
    kind: 'PreemptiveAction',
    metadata: {},
    spec: wanted,
  } as PreemptiveAction).spec;
  const pick = (s: PreemptiveActionSpec) =>
    JSON.parse(
      JSON.stringify(
        Object.fromEntries(
          Object.keys(desired).map((k) => [k, s[k as keyof PreemptiveActionSpec]]),
        ),
      ),
    ) as unknown;
  if (Boolean(stored.expiresAt) !== Boolean(desired.expiresAt)) return false;
  if (exceptionsChanged(stored, desired)) return false;
  if (Boolean(stored.indicators.values?.length) !== Boolean(desired.indicators.values?.length))
    return false;
  if (Boolean(stored.indicators.configMapRef) !== Boolean(desired.indicators.configMapRef))
    return false;
  return isDeepStrictEqual(pick(stored), pick(desired));
}

function exceptionsChanged(stored: PreemptiveActionSpec, desired: PreemptiveActionSpec): boolean {
  return JSON.stringify(stored.exceptions ?? []) !== JSON.stringify(desired.exceptions ?? []);
}

/** The Event on an action whose exceptions changed. */
function exceptionsMessage(uses: readonly ExceptionUse[] | undefined, left: number): string {
  if (!uses?.length) return 'no ThreatException leaves indicators out of it any more';
  const what = uses.map((u) => `${u.name} (${u.indicators})`).join(', ');
  return `ThreatExceptions leave indicators out: ${what}; ${left ? `${left} indicator(s) stay` : 'none is left, so it is lifted'}`.slice(
    0,
    1024,
  );
}
