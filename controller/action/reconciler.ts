import type { Logger } from 'pino';
import {
  personDecision,
  type ExposurePolicy,
  type PersonDecision,
  type PreemptiveAction,
  type PreemptiveActionStatus,
} from '../../crds/index.js';
import type { ConnectorCatalog } from '../../connectors/index.js';
import type { ActionRequest } from '../../crds/index.js';
import type { Connector } from '../../connectors/core/types.js';
import type { Guardrails } from '../../feeds/index.js';
import { parseDuration } from '../../crds/duration.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { rfc3339 } from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import {
  hasFinalizer,
  isDeleting,
  withFinalizer,
  withoutFinalizer,
} from '../runtime/finalizers.js';
import type { Informer } from '../runtime/informer.js';
import type { FeedbackStore } from '../stores/feedback-store.js';
import type { IndicatorStore } from '../stores/indicator-store.js';
import {
  afterProposal,
  alreadyRecorded,
  applied,
  applyFailed,
  decide,
  episodeStatus,
  invalid,
  mergedApplied,
  mergedApplyFailed,
  proposalFailed,
  recordFailed,
  recorded,
  rejected,
  rejectedByPerson,
  removalCommitted,
  removalFailed,
  removalProposed,
  removed,
  synced,
  type Observed,
  type Outcome,
  type Phase,
  type PullRequestSeen,
  type Recording,
  type Transition,
} from './decide.js';
import { DirectDelivery, GitChannel } from './delivery.js';
import { failure, type FailureKind } from './failure.js';
import type { GitDelivery } from './git-delivery.js';
import { gitForm } from './git-form.js';
import { guardrailRefusal, madeByPolicy } from './hand-written.js';
import type { ActionMetrics } from './metrics.js';
import type { ActionNotifier } from './notifications.js';
import { requestOf } from './request.js';
import { StatusWriter } from './status.js';
import { feedbackOf, withOutcomeTimes } from './outcome-feedback.js';
import type { SourceConfidenceRecorder } from '../stores/source-confidence.js';

export { ActionCondition, ActionReason } from './reasons.js';
export { requestOf } from './request.js';

/** How often an open pull request is looked at. */
const PULL_REQUEST_POLL_MS = 30_000;
/** How soon to look again when the indicator ConfigMap has not caught up with the spec. */
const INDICATORS_RETRY_MS = 500;

export interface ActionDeps {
  cache: Informer<PreemptiveAction>;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  metrics: ActionMetrics;
  store: IndicatorStore;
  /** The connector for an id, or undefined when there is none. */
  connector: (id: string) => Connector | undefined;
  /** Connector ids for messages. */
  /** What each connector is: layer, whether it renders manifests, its Git form. */
  catalog: Pick<ConnectorCatalog, 'info' | 'ids'>;
  /** Connector per layer when the action names none. */
  defaultConnector: (layer: string) => string;
  /** Git delivery of actions that need approval; without it they wait in Proposed. */
  git?: GitDelivery;
  /** Sends spec.notify notifications on phase changes. */
  notifier?: ActionNotifier;
  /** Where rejected indicators are recorded, so the policy leaves them out for spec.git.suppressRejectedFor. */
  feedback?: FeedbackStore;
  pullRequestPollMs?: number;
  /** The ExposurePolicy of that name, from the cache (a person's rejection reads its suppressRejectedFor). */
  policy?: (name: string) => ExposurePolicy | undefined;
  /** Where feedback on an action's outcome moves its feeds' source confidence. */
  sourceConfidence?: SourceConfidenceRecorder;
  /** The feeds' guardrails, which actions no policy made (madeByPolicy) must pass too. */
  guardrails?: () => Promise<Pick<Guardrails, 'check'>>;
}

/** What carrying out one transition works with. */
interface Context {
  o: Observed<GitChannel>;
  connector: Connector;
  direct: DirectDelivery;
  log: Logger;
}

/** A step that writes nothing: why the reconcile stops, and when to look again. */
interface Skip {
  skip: Result | undefined;
}

type Step = Outcome | Skip;
type Former = { id: string; connector: Connector };
type Of<K extends Transition['kind']> = Extract<Transition<GitChannel>, { kind: K }>;
type Rejection = NonNullable<PreemptiveActionStatus['rejection']>;

/**
 * Reconciles one PreemptiveAction through its lifecycle:
 *   Pending → Proposed (needs approval) → Enforced → Expired | Lifted | Failed.
 * Observes, lets decide() pick the transition, carries it out through its delivery
 * (direct, or Git), and writes status once (StatusWriter, which also notifies and
 * records Events). Expiry, an emptied indicator set and deletion remove everything
 * applied (the finalizer sees to the last, so nothing is orphaned).
 *
 * Fail static: an action that is enforced stays enforced when an update needs approval,
 * fails validation, or cannot be applied; its conditions say why. A reconcile with
 * nothing new writes nothing: the connector compares before it writes, and the status
 * is written only when it changes.
 */
export class ActionReconciler implements Reconciler {
  private readonly writer: StatusWriter;
  private readonly pollMs: number;

  constructor(private readonly deps: ActionDeps) {
    this.pollMs = deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS;
    this.writer = new StatusWriter({
      client: deps.client,
      events: deps.events,
      metrics: deps.metrics,
      ...(deps.notifier ? { notifier: deps.notifier } : {}),
      ...(deps.policy ? { policy: deps.policy } : {}),
      retryMs: this.pollMs,
    });
  }

  async reconcile({ key, log }: Request): Promise<Result | void> {
    let action = this.deps.cache.get(key);
    if (!action) return;
    const connectorId = action.spec.connector ?? this.deps.defaultConnector(action.spec.layer);
    const connector = this.deps.connector(connectorId);
    const former = this.former(action, connectorId);
    const direct =
      connector &&
      new DirectDelivery({
        name: action.metadata.name!,
        connectorId,
        connector,
        identity: this.deps.catalog.info(connectorId)?.layer === 'identity',
        ...(former ? { former } : {}),
        metrics: this.deps.metrics,
        log,
      });
    if (isDeleting(action)) return this.finalize(action, direct, former, log);
    // The finalizer first, then on in the same reconcile with what the server returned
    // (a new action is enforced one queue round sooner).
    if (!hasFinalizer(action))
      action = await this.deps.client.setFinalizers(action, withFinalizer(action));

    const o = this.observe(action, connectorId, connector !== undefined);
    const transition = decide(o);
    if (transition.kind === 'noop') return;
    if (transition.kind === 'fail' || transition.kind === 'awaitApproval')
      return this.settle(o, transition.outcome);
    // decide() fails an action without a connector before any of these.
    if (!connector || !direct) return;
    const step = await this.execute({ o, connector, direct, log }, transition);
    return 'skip' in step ? step.skip : this.settle(o, step);
  }

  /** The connector that enforced the action last, when the spec has moved to another one. */
  private former(action: PreemptiveAction, connectorId: string): Former | undefined {
    const id = action.status?.connectorResults?.find((r) => r.connector !== connectorId)?.connector;
    const connector = id ? this.deps.connector(id) : undefined;
    return id && connector ? { id, connector } : undefined;
  }

  /** Deletion: everything the action applied is removed, then its finalizer. */
  private async finalize(
    action: PreemptiveAction,
    direct: DirectDelivery | undefined,
    former: Former | undefined,
    log: Logger,
  ): Promise<void> {
    if (!hasFinalizer(action)) return;
    if (direct) await direct.remove();
    else await former?.connector.remove(action.metadata.name!);
    await this.deps.store.delete(action.metadata.name!);
    await this.deps.client.setFinalizers(action, withoutFinalizer(action));
    log.info('Removed what the action applied, and its finalizer');
  }

  /** Everything decide() reads. */
  private observe(
    action: PreemptiveAction,
    connectorId: string,
    known: boolean,
  ): Observed<GitChannel> {
    const now = new Date(this.deps.clock.now());
    const previous = (action.status?.phase ?? 'Pending') as Phase;
    const expiresAt = action.spec.expiresAt ? Date.parse(action.spec.expiresAt) : undefined;
    const count = action.spec.indicators.count;
    const person = personDecision(action);
    const ending =
      count === 0 ||
      (expiresAt !== undefined && expiresAt <= now.getTime()) ||
      person?.verb === 'lift';
    const spec = this.deps.git?.gitSpec(action);
    return {
      action,
      previous,
      generation: action.metadata.generation ?? 0,
      observedGeneration: action.status?.observedGeneration,
      now,
      expiresAt,
      count,
      ending,
      connectorId,
      connector: !known
        ? 'unknown'
        : this.deps.catalog.info(connectorId)?.rendersManifests
          ? 'manifests'
          : 'identity',
      knownConnectors: this.deps.catalog.ids(),
      delivery: action.spec.delivery === 'Git' ? 'Git' : 'Direct',
      // A person's approval stands in for the policy's; Git delivery is approved by merging.
      approvalRequired:
        action.spec.approval?.required !== false &&
        !(person?.verb === 'approve' && action.spec.delivery !== 'Git'),
      ...(person ? { person } : {}),
      guarded: this.deps.guardrails !== undefined && !madeByPolicy(action, this.deps.policy),
      git: spec && this.deps.git ? new GitChannel(this.deps.git, action, spec) : undefined,
      status: episodeStatus(action, previous, ending, now),
      pollMs: this.pollMs,
    };
  }

  private execute(ctx: Context, t: Exclude<Transition<GitChannel>, { outcome: Outcome }>) {
    switch (t.kind) {
      case 'noop':
        return Promise.resolve<Step>({ skip: undefined });
      case 'remove':
        return this.remove(ctx, t);
      case 'removeByPullRequest':
      case 'removeByCommit':
        return this.removeThroughGit(ctx, t);
      case 'apply':
        return this.apply(ctx, t);
      case 'propose':
        return this.propose(ctx, t);
      case 'rejectByPerson':
        return this.rejectByPerson(ctx.o, t.decision);
    }
  }

  /** The one status write, the time-to-enforce metric, and the requeue or rethrow. */
  private async settle(o: Observed<GitChannel>, outcome: Outcome): Promise<Result | void> {
    const status = withOutcomeTimes(o.action, outcome.status, o.now);
    if (!o.status.enforcedAt && status.enforcedAt)
      this.deps.metrics.actionTimeToEnforce.observe(
        { type: o.action.spec.type },
        status.timeToEnforceSeconds ?? 0,
      );
    // Once per episode: at enforcement, or when spec.publishedAt arrives after it.
    if (o.status.exposureWindowSeconds === undefined && status.exposureWindowSeconds !== undefined)
      this.deps.metrics.exposureWindow.observe(
        { layer: o.action.spec.layer },
        status.exposureWindowSeconds,
      );
    // Recorded before the status write: a retry after a failed write finds it recorded.
    // A failed recording is logged by the recorder and never holds up the transition.
    const feedback = feedbackOf(o.action, o.previous, status, o.person, o.now);
    if (feedback && o.action.spec.feeds?.length)
      await this.deps.sourceConfidence?.record(o.action.spec.feeds, feedback);
    const result = await this.writer.write({
      action: o.action,
      status,
      conditions: outcome.conditions,
      generation: o.generation,
      now: o.now,
      ...(outcome.expires && o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
    });
    if ('rethrow' in outcome) throw outcome.rethrow;
    return outcome.after ?? result;
  }

  /** Removed through the connector: an open proposal withdrawn, a recorded action recorded removed. */
  private async remove(ctx: Context, t: Of<'remove'>): Promise<Step> {
    const { o, direct } = ctx;
    // Already ended: make sure nothing is left, and keep the status that says how it
    // ended (a later reconcile must not replace "removal committed to main" with the
    // generic message).
    if (t.recheck && (await direct.sweep()).changes.length === 0) return { skip: undefined };
    const withdrawn = t.withdraw
      ? await t.withdraw.git.withdrawOpen(t.withdraw.why, t.withdraw.known)
      : undefined;
    const { outcome } = await direct.remove();
    const record =
      t.record && (await this.record(ctx, t.record, true, (g) => g.recordRemoval(t.cause)));
    return removed(o, outcome, withdrawn, record || undefined);
  }

  /**
   * Enforced through Git: the removal as a pull request, or committed to the base branch
   * (spec.git.directRemoval, once); the action ends when its objects have left the
   * cluster (Argo CD or Flux pruned them).
   */
  private async removeThroughGit(
    ctx: Context,
    t: Of<'removeByPullRequest'> | Of<'removeByCommit'>,
  ): Promise<Step> {
    const { o, direct } = ctx;
    const byCommit = t.kind === 'removeByCommit';
    const objects = (o.status.appliedObjects ?? []).map((a) => ({
      apiVersion: a.apiVersion ?? 'v1',
      kind: a.kind,
      name: a.name,
      ...(a.namespace ? { namespace: a.namespace } : {}),
    }));
    const known = o.status.removalPullRequest?.number;
    let delivered;
    try {
      delivered =
        byCommit && t.committed
          ? { via: 'commit' as const, commit: t.committed }
          : await t.git.remove({ cause: t.cause, objects, known });
    } catch (err) {
      const kind: FailureKind = byCommit
        ? { what: 'Committing the removal failed', git: true, retry: 'forge' }
        : { what: 'Git removal failed', git: true, retry: 'forge' };
      const step = byCommit ? 'committing the removal' : 'the removal pull request';
      return failure(err, this.failureContext(ctx), kind, (detail) =>
        removalFailed(o, t.git, step, detail),
      );
    }
    const left = await direct.remaining();
    return delivered.via === 'commit'
      ? removalCommitted(o, t.git, delivered.commit, left)
      : removalProposed(o, delivered.pullRequest, left);
  }

  /** Approved: applied through the connector, and recorded in Git when spec.git asks. */
  private async apply(ctx: Context, t: Of<'apply'>): Promise<Step> {
    const { o, connector, direct } = ctx;
    const values = await this.values(o.action);
    if (!values) return { skip: { requeueAfter: INDICATORS_RETRY_MS } };
    const request = requestOf(o.action, values);
    const refusal = await this.refusal(o.action, values, t.guard);
    const problems = refusal ? [refusal] : connector.validate(request);
    const refused = invalid(o, 'apply', problems, refusal !== undefined);
    if (refused) return refused;
    let outcome;
    try {
      ({ outcome } = await direct.enforce({ request }));
    } catch (err) {
      const kind: FailureKind = { what: 'Connector apply failed', git: false, retry: 'backoff' };
      return failure(err, this.failureContext(ctx), kind, (detail, transient) =>
        applyFailed(o, detail, transient),
      );
    }
    const form = gitForm(
      this.deps.catalog.info(o.connectorId)!,
      connector,
      this.deps.store.namespace,
    );
    const { changes } = outcome;
    const record =
      t.record &&
      (await this.record(ctx, t.record, false, async (g) =>
        g.record(request, await form.render(request, changes)),
      ));
    return applied(o, outcome, record || undefined);
  }

  /**
   * Needs approval, with Git delivery: the rendered manifests (or an identity action's
   * description) as a pull request on the policy's repository; afterProposal() says
   * what its state means.
   */
  private async propose(ctx: Context, t: Of<'propose'>): Promise<Step> {
    const { o, connector, direct } = ctx;
    const values = await this.values(o.action);
    if (!values) return { skip: { requeueAfter: INDICATORS_RETRY_MS } };
    const request = requestOf(o.action, values);
    const form = gitForm(
      this.deps.catalog.info(o.connectorId)!,
      connector,
      this.deps.store.namespace,
    );
    const refusal = await this.refusal(o.action, values, t.guard);
    const problems = refusal ? [refusal] : form.validate(request);
    const refused = invalid(o, 'propose', problems, refusal !== undefined);
    if (refused) return refused;
    const render = async () => form.render(request, await connector.plan(request));
    let pr: PullRequestSeen;
    try {
      ({ pullRequest: pr } = await t.git.enforce({ request, render, proposal: t.proposal }));
    } catch (err) {
      const kind: FailureKind = { what: 'Git delivery failed', git: true, retry: 'forge' };
      return failure(err, this.failureContext(ctx), kind, (detail) =>
        proposalFailed(o, t.git, detail),
      );
    }
    ctx.log.debug({ pullRequest: pr.number, state: pr.state }, 'Pull request state');
    const next = afterProposal(o, pr);
    switch (next.kind) {
      case 'settle':
        return next.outcome;
      case 'reject': {
        // Once per pull request: a later reconcile keeps the rejection it recorded.
        const { status } = o.action;
        const known = status?.pullRequest?.url === pr.url ? status.rejection : undefined;
        return rejected(o, pr, known ?? (await this.holdOut(o, t.git.policy(), values, pr.url)));
      }
      case 'awaitSync':
        // Argo CD or Flux applies the merged tree; enforcement counts once the objects are there as rendered.
        return synced(o, pr, request.values.length, await direct.pending(request));
      case 'applyMerged':
        return this.applyMerged(ctx, pr, request);
    }
  }

  /**
   * An identity action whose pull request was merged: nothing syncs an identity
   * provider from Git, so the controller sends the reviewed requests itself.
   */
  private async applyMerged(
    ctx: Context,
    pr: PullRequestSeen,
    request: ActionRequest,
  ): Promise<Outcome> {
    try {
      const outcome = await ctx.direct.apply(request);
      return mergedApplied(ctx.o, pr, request.values.length, outcome);
    } catch (err) {
      const kind: FailureKind = {
        what: 'Identity apply after merge failed',
        git: false,
        retry: 'forge',
      };
      return failure(err, this.failureContext(ctx), kind, (detail) =>
        mergedApplyFailed(ctx.o, pr, detail),
      );
    }
  }

  /**
   * spec.git.recordAutoApproved: commits what was applied (or removed) to the policy's
   * base branch, so Git stays the audit trail. Once per spec generation. A failure
   * leaves enforcement as it is, says so in the Recorded condition, and is retried
   * with backoff (rethrown after status is written).
   */
  private async record(
    ctx: Context,
    git: GitChannel,
    removal: boolean,
    commit: (git: GitChannel) => Promise<string>,
  ): Promise<Recording> {
    const done = alreadyRecorded(ctx.o, removal);
    if (done) return done;
    try {
      return recorded(git, removal, await commit(git));
    } catch (err) {
      const kind: FailureKind = { what: 'Recording in Git failed', git: true, retry: 'record' };
      return failure(err, this.failureContext(ctx), kind, (detail) => ({
        condition: recordFailed(git, detail),
      }));
    }
  }

  /**
   * Why the guardrails refuse the values of an action no policy made, when decide()
   * guards it: its indicators never went through a feed's guardrails, so they get the
   * same check here, before anything is applied or proposed.
   */
  private async refusal(
    action: PreemptiveAction,
    values: readonly string[],
    guard: boolean,
  ): Promise<string | undefined> {
    const guardrails = guard ? this.deps.guardrails : undefined;
    return guardrails ? guardrailRefusal(action.spec, values, await guardrails()) : undefined;
  }

  private failureContext(ctx: Context) {
    return { log: ctx.log, metrics: this.deps.metrics, pollMs: this.pollMs };
  }

  /**
   * Review feedback, after a pull request closed without merging or a person's
   * `forestall reject`: the rejected indicators stay out of the policy's actions for its
   * spec.git.suppressRejectedFor (default 168h), so the next sync does not propose them
   * again. Returns the status.rejection that says until when, or undefined when nothing
   * is held out (no feedback store or policy, a zero period, values not loaded yet).
   * StatusWriter records the Event and counts the rejection once that status is
   * written; a retried reconcile replaces its own feedback record.
   */
  private async holdOut(
    { action, now }: Observed<GitChannel>,
    policy: ExposurePolicy | undefined,
    values: readonly string[] | undefined,
    pullRequest?: string,
  ): Promise<Rejection | undefined> {
    const ms = parseDuration(policy?.spec.git?.suppressRejectedFor ?? '168h');
    if (!this.deps.feedback || !policy?.metadata.uid || ms <= 0 || values === undefined)
      return undefined;
    const at = rfc3339(now);
    const until = rfc3339(new Date(now.getTime() + ms));
    const record = { action: action.metadata.name!, ...(pullRequest ? { pullRequest } : {}) };
    await this.deps.feedback.reject(
      { name: policy.metadata.name!, uid: policy.metadata.uid },
      { ...record, at, until, values: [...values] },
      now,
    );
    const digest = action.spec.indicators.digest;
    return { at, until, indicators: values.length, ...(digest ? { digest } : {}) };
  }

  /**
   * A person rejected the action (forestall reject): its indicators stay out of its
   * policy (holdOut), as after a pull request closed unmerged. Once per indicator set.
   */
  private async rejectByPerson(
    o: Observed<GitChannel>,
    decision: PersonDecision,
  ): Promise<Outcome> {
    const { action, now } = o;
    const digest = action.spec.indicators.digest;
    const earlier = action.status?.rejection;
    if (earlier?.at && earlier.digest === digest) return rejectedByPerson(o, decision, earlier);
    const name = action.spec.policyRef?.name;
    const policy = name ? this.deps.policy?.(name) : undefined;
    const held = await this.holdOut(o, policy, await this.values(action));
    // Nothing held out: the rejection of this set is still noted, without an end.
    const noted = { at: rfc3339(now), indicators: action.spec.indicators.count };
    return rejectedByPerson(o, decision, held ?? { ...noted, ...(digest ? { digest } : {}) });
  }

  /** The action's values: inline, or from its ConfigMap once that holds the spec's digest. */
  private async values(action: PreemptiveAction): Promise<string[] | undefined> {
    const { indicators } = action.spec;
    if (indicators.configMapRef)
      return this.deps.store.load(indicators.configMapRef, indicators.digest);
    return indicators.values ?? [];
  }
}
