import { isDeepStrictEqual } from 'node:util';
import {
  API_VERSION,
  TERMINAL_PHASES,
  type PreemptiveAction,
  type PreemptiveActionStatus,
} from '../../crds/index.js';
import { isConnectorId, rendererFor } from '../../connectors/index.js';
import { identityChangeManifest } from '../../connectors/identity/describe.js';
import type {
  ActionRequest,
  ApplyOutcome,
  Change,
  Connector,
  Manifest,
} from '../../connectors/types.js';
import { NAMESPACE_NAME_LABEL } from '../../policies/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import {
  findCondition,
  rfc3339,
  withConditions,
  type Condition,
  type ConditionInput,
} from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import { classify, messageOf } from '../runtime/errors.js';
import type { EventRecorder } from '../runtime/events.js';
import {
  hasFinalizer,
  isDeleting,
  withFinalizer,
  withoutFinalizer,
} from '../runtime/finalizers.js';
import type { Informer } from '../runtime/informer.js';
import type { Metrics } from '../runtime/metrics.js';
import { parseDuration } from '../../crds/duration.js';
import type { FeedbackStore } from '../stores/feedback-store.js';
import { describeDeliveryError, type GitDelivery } from './git-delivery.js';
import type { ActionNotifier } from './notifications.js';
import type { IndicatorStore } from '../stores/indicator-store.js';
import { guardrailRefusal } from './hand-written.js';
import type { Guardrails } from '../../feeds/index.js';

export const ActionCondition = {
  Ready: 'Ready',
  Approved: 'Approved',
  Recorded: 'Recorded',
  Notified: 'Notified',
} as const;
export const ActionReason = {
  Enforced: 'Enforced',
  AwaitingApproval: 'AwaitingApproval',
  AutoApproved: 'AutoApproved',
  UpdateAwaitingApproval: 'UpdateAwaitingApproval',
  Expired: 'Expired',
  Lifted: 'Lifted',
  InvalidAction: 'InvalidAction',
  /** A hand-written action names an indicator the guardrails refuse. */
  GuardrailRefused: 'GuardrailRefused',
  UnknownConnector: 'UnknownConnector',
  ApplyFailed: 'ApplyFailed',
  WaitingForIndicators: 'WaitingForIndicators',
  AwaitingReview: 'AwaitingReview',
  AwaitingSync: 'AwaitingSync',
  Merged: 'Merged',
  Rejected: 'Rejected',
  DeliveryFailed: 'DeliveryFailed',
  RemovalProposed: 'RemovalProposed',
  RemovalCommitted: 'RemovalCommitted',
  Recorded: 'Recorded',
  NotificationSent: 'NotificationSent',
  NotificationFailed: 'NotificationFailed',
} as const;

type Phase = NonNullable<PreemptiveActionStatus['phase']>;
/** How often an open pull request is looked at. */
const PULL_REQUEST_POLL_MS = 30_000;
/** How soon to look again when the indicator ConfigMap has not caught up with the spec. */
const INDICATORS_RETRY_MS = 500;

export interface ActionDeps {
  cache: Informer<PreemptiveAction>;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  metrics: Metrics;
  store: IndicatorStore;
  /** The connector for an id, or undefined when there is none. */
  connector: (id: string) => Connector | undefined;
  /** Connector ids for messages. */
  connectorIds: readonly string[];
  /** Connector per layer when the action names none. */
  defaultConnector: (layer: string) => string;
  /** Git delivery of actions that need approval; without it they wait in Proposed. */
  git?: GitDelivery;
  /** Sends spec.notify notifications on phase changes. */
  notifier?: ActionNotifier;
  /** Where rejected indicators are recorded, so the policy leaves them out for spec.git.suppressRejectedFor. */
  feedback?: FeedbackStore;
  pullRequestPollMs?: number;
  /** The feeds' guardrails, which hand-written actions (no policyRef) must pass too. */
  guardrails?: () => Promise<Pick<Guardrails, 'check'>>;
}

/**
 * Reconciles one PreemptiveAction through its lifecycle:
 *   Pending → Proposed (needs approval) → Enforced → Expired | Lifted | Failed.
 * Approved Direct actions are applied through their connector with server-side apply;
 * expiry, an emptied indicator set and deletion remove everything applied (the
 * finalizer sees to the last, so nothing is orphaned).
 *
 * Fail static: an action that is enforced stays enforced when an update needs approval,
 * fails validation, or cannot be applied; its conditions say why. A reconcile with
 * nothing new writes nothing: the connector compares before it writes, and the status
 * is written only when it changes.
 */
export class ActionReconciler implements Reconciler {
  constructor(private readonly deps: ActionDeps) {}

  async reconcile({ key, log }: Request): Promise<Result | void> {
    const { cache, client } = this.deps;
    let action = cache.get(key);
    if (!action) return;
    const name = action.metadata.name!;
    const connectorId = action.spec.connector ?? this.deps.defaultConnector(action.spec.layer);
    const connector = this.deps.connector(connectorId);

    // The connector that enforced the action last, when the spec has moved to another one.
    const previousId = action.status?.connectorResults?.find(
      (r) => r.connector !== connectorId,
    )?.connector;
    const former = previousId ? this.deps.connector(previousId) : undefined;
    if (isDeleting(action)) {
      if (hasFinalizer(action)) {
        if (connector) this.countIdentity(connectorId, await connector.remove(name));
        if (former) await former.remove(name);
        await this.deps.store.delete(name);
        await client.setFinalizers(action, withoutFinalizer(action));
        log.info('Removed what the action applied, and its finalizer');
      }
      return;
    }
    // The finalizer first, then on in the same reconcile with what the server returned
    // (a new action is enforced one queue round sooner).
    if (!hasFinalizer(action)) action = await client.setFinalizers(action, withFinalizer(action));

    const now = new Date(this.deps.clock.now());
    const previous = (action.status?.phase ?? 'Pending') as Phase;
    const status: PreemptiveActionStatus = { ...action.status };
    const expiresAt = action.spec.expiresAt ? Date.parse(action.spec.expiresAt) : undefined;
    const count = action.spec.indicators.count;
    const ending = count === 0 || (expiresAt !== undefined && expiresAt <= now.getTime());
    const generation = action.metadata.generation ?? 0;
    // A rejected action stays rejected until new intelligence: other indicators than the
    // ones reviewers rejected. A spec change that keeps them (blast radius, confidence,
    // written by a policy reconcile whose cache did not yet show the rejection) is not a
    // new proposal; treating it as one opened a second pull request for the same set.
    if (
      previous === 'Rejected' &&
      (action.status?.observedGeneration === generation ||
        (action.status?.rejection?.digest !== undefined &&
          action.status.rejection.digest === action.spec.indicators.digest))
    )
      return;
    // A terminal action that has something to do again starts a new episode.
    if (TERMINAL_PHASES.has(previous) && !ending && previous !== 'Failed') {
      status.detectedAt = rfc3339(now);
      delete status.enforcedAt;
      delete status.timeToEnforceSeconds;
      delete status.pullRequest;
      delete status.rejection;
    }
    // The first episode starts when the action was created: the same answer from a
    // reconcile whose cache does not yet show our last status write.
    status.detectedAt ??= action.metadata.creationTimestamp
      ? rfc3339(new Date(action.metadata.creationTimestamp))
      : rfc3339(now);

    if (!connector) {
      return this.finish(
        action,
        { ...status, phase: previous === 'Enforced' ? 'Enforced' : 'Failed' },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'False',
            reason: ActionReason.UnknownConnector,
            message: `spec.connector: no connector ${connectorId}; known: ${this.deps.connectorIds.join(', ')}`,
          },
        ],
      );
    }

    if (ending) {
      // Already ended: make sure nothing is left, and keep the status that says how it
      // ended (a later reconcile must not replace "removal committed to main" with the
      // generic message).
      if (previous === 'Expired' || previous === 'Lifted') {
        const left = await connector.remove(name);
        this.countIdentity(connectorId, left);
        if (left.changes.length === 0) return undefined;
      }
      // Enforced through Git: the removal goes through Git too, and the action stays
      // Enforced until that pull request is merged and its objects have left the cluster.
      // Identity providers are not synced from Git: the controller reverses an identity
      // action itself, and records the removal of its description on the base branch.
      const manifests = isConnectorId(connectorId);
      const git =
        action.spec.delivery === 'Git' && previous === 'Enforced' && status.pullRequest && manifests
          ? this.deps.git?.gitSpec(action)
          : undefined;
      if (git)
        return this.removeByGit(
          action,
          status,
          git,
          connector,
          count === 0 ? 'Lifted' : 'Expired',
          generation,
          now,
          log,
        );
      // Enforced through a merged pull request: its description is on the base branch (an
      // update proposed since, still open, is withdrawn below).
      const describedInGit =
        !manifests && action.spec.delivery === 'Git' && previous === 'Enforced';
      // A proposal (or an update of an enforced identity action) still open is withdrawn.
      // Found by its head, not only from the status, which a lagging cache may not show yet.
      const proposal =
        action.spec.delivery === 'Git' && !TERMINAL_PHASES.has(previous)
          ? this.deps.git?.gitSpec(action)
          : undefined;
      if (proposal) {
        const pr = await this.deps.git!.withdrawOpen(
          proposal,
          name,
          count === 0 ? 'no indicator is left' : `the action expired at ${action.spec.expiresAt}`,
          status.pullRequest?.state === 'Open' ? status.pullRequest.number : undefined,
        );
        if (pr && status.pullRequest?.state !== 'Merged')
          status.pullRequest = { url: pr.url, number: pr.number, state: pr.state };
      }
      const outcome = await connector.remove(name);
      this.countIdentity(connectorId, outcome);
      if (former) await former.remove(name);
      const phase: Phase = count === 0 ? 'Lifted' : 'Expired';
      const message =
        count === 0
          ? 'no indicators are left: everything the action applied is removed'
          : `expired at ${action.spec.expiresAt}: everything the action applied is removed`;
      // Recorded when it was applied: the removal is recorded too.
      const record =
        status.recordedCommit || describedInGit
          ? await this.recordInGit(
              action,
              status,
              generation,
              (git) =>
                this.deps.git!.recordRemoval(
                  action,
                  git,
                  phase === 'Lifted' ? 'Lifted' : 'Expired',
                ),
              log,
              true,
              describedInGit,
            )
          : undefined;
      const result = await this.finish(
        action,
        {
          ...status,
          phase,
          appliedObjects: [],
          connectorResults: this.result(
            status,
            connectorId,
            'Removed',
            'nothing the action applied is left in place',
            now,
            outcome,
          ),
          ...(record?.commit ? { recordedCommit: record.commit } : {}),
        },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'True',
            reason: phase === 'Lifted' ? ActionReason.Lifted : ActionReason.Expired,
            message,
          },
          ...(record ? [record.condition] : []),
        ],
      );
      if (record?.error) throw record.error;
      return result;
    }

    if (action.spec.approval?.required !== false) {
      const reason = action.spec.approval?.reason ?? 'approval required';
      const git = action.spec.delivery === 'Git' ? this.deps.git?.gitSpec(action) : undefined;
      if (git) {
        // Enforced through a merged pull request, and the spec has not moved since: nothing to do.
        if (
          previous === 'Enforced' &&
          status.pullRequest?.state === 'Merged' &&
          action.status?.observedGeneration === generation
        )
          return undefined;
        return this.deliverByGit(
          action,
          status,
          previous,
          git,
          connector,
          connectorId,
          generation,
          now,
          log,
        );
      }
      if (previous === 'Enforced') {
        return this.finish(
          action,
          status,
          generation,
          now,
          [
            {
              type: ActionCondition.Approved,
              status: 'False',
              reason: ActionReason.UpdateAwaitingApproval,
              message: `the current change needs approval (${reason}); what is enforced stays in place`,
            },
          ],
          expiresAt,
        );
      }
      return this.finish(
        action,
        { ...status, phase: 'Proposed' },
        generation,
        now,
        [
          {
            type: ActionCondition.Approved,
            status: 'False',
            reason: ActionReason.AwaitingApproval,
            message: reason,
          },
          {
            type: ActionCondition.Ready,
            status: 'True',
            reason: ActionReason.AwaitingApproval,
            message:
              action.spec.delivery === 'Git'
                ? 'awaiting a pull request and its review'
                : 'awaiting approval; nothing is applied',
          },
        ],
        expiresAt,
      );
    }

    const values = await this.values(action);
    if (!values) {
      return { requeueAfter: INDICATORS_RETRY_MS };
    }
    const request = requestOf(action, values);
    // A hand-written action's indicators never went through a feed's guardrails: the same check, here.
    const guard =
      !action.spec.policyRef?.name && action.spec.layer !== 'identity'
        ? this.deps.guardrails
        : undefined;
    const refusal = guard ? guardrailRefusal(values, await guard()) : undefined;
    const problems = refusal ? [refusal] : connector.validate(request);
    if (problems.length) {
      const reason = refusal ? ActionReason.GuardrailRefused : ActionReason.InvalidAction;
      return this.finish(
        action,
        { ...status, phase: previous === 'Enforced' ? 'Enforced' : 'Failed' },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'False',
            reason,
            message: `${connectorId}: ${problems.join('; ')}${previous === 'Enforced' ? '; what is enforced stays in place' : ''}`,
          },
        ],
        expiresAt,
      );
    }

    let outcome: ApplyOutcome;
    try {
      outcome = await connector.apply(request);
      this.countIdentity(connectorId, outcome);
      // Moved to another connector: what the old one applied goes once the new one is in place.
      if (former) {
        await former.remove(name);
        log.info(
          { from: previousId, to: connectorId },
          'Action moved to another connector; removed the old objects',
        );
      }
    } catch (err) {
      const message = `${connectorId}: ${withCode(err)}`;
      log.warn({ err }, 'Connector apply failed');
      const transient = classify(err) !== 'terminal';
      await this.finish(
        action,
        { ...status, phase: previous === 'Enforced' || transient ? previous : 'Failed' },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'False',
            reason: ActionReason.ApplyFailed,
            message: `${message}${previous === 'Enforced' ? '; what is enforced stays in place' : ''}`,
          },
        ],
      );
      if (transient) throw err;
      // Terminal (a missing Secret, refused credentials, a CRD not installed): looked at
      // again at the poll interval, so the fix is picked up without a restart or a spec change.
      return { requeueAfter: this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS };
    }
    const record = await this.recordInGit(
      action,
      status,
      generation,
      async (git) =>
        this.deps.git!.record(
          action,
          git,
          request,
          await this.gitForm(connectorId, connector).render(request, outcome.changes),
        ),
      log,
    );
    const skipped = outcome.skipped?.length ? `; left alone: ${outcome.skipped.join('; ')}` : '';
    const result = await this.finish(
      action,
      {
        ...status,
        phase: 'Enforced',
        ...this.enforcement(action, status, now),
        appliedObjects: outcome.objects.slice(0, 1024).map((o) => ({ ...o })),
        connectorResults: this.result(
          status,
          connectorId,
          'Applied',
          `${outcome.objects.length} objects enforce ${count} indicators${skipped}`.slice(0, 4096),
          now,
          outcome,
        ),
        ...(record?.commit ? { recordedCommit: record.commit } : {}),
      },
      generation,
      now,
      [
        {
          type: ActionCondition.Approved,
          status: 'True',
          reason: ActionReason.AutoApproved,
          message: action.spec.approval?.reason ?? 'approved',
        },
        {
          type: ActionCondition.Ready,
          status: 'True',
          reason: ActionReason.Enforced,
          message: `${count} indicators enforced by ${outcome.objects.length} objects through ${connectorId}${skipped}`,
        },
        ...(record ? [record.condition] : []),
      ],
      expiresAt,
    );
    if (record?.error) throw record.error;
    return result;
  }

  /**
   * spec.git.recordAutoApproved: commits what was applied (or removed) to the policy's
   * base branch, so Git stays the audit trail. Once per spec generation. A failure
   * leaves enforcement as it is, says so in the Recorded condition, and is retried
   * with backoff (`error` is set for the caller to throw after writing status).
   */
  private async recordInGit(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    generation: number,
    commit: (git: NonNullable<ReturnType<GitDelivery['gitSpec']>>) => Promise<string>,
    log: Request['log'],
    removal = false,
    always = false,
  ): Promise<
    | { commit?: string; condition: Omit<ConditionInput, 'observedGeneration'>; error?: Error }
    | undefined
  > {
    const git = this.deps.git?.gitSpec(action);
    if (!git || (!git.recordAutoApproved && !always)) return undefined;
    const done = findCondition(
      action.status?.conditions as Condition[] | undefined,
      ActionCondition.Recorded,
    );
    if (
      status.recordedCommit &&
      done?.status === 'True' &&
      action.status?.observedGeneration === generation &&
      done.message.startsWith(removal ? 'removal' : 'applied')
    ) {
      return {
        commit: status.recordedCommit,
        condition: {
          type: ActionCondition.Recorded,
          status: 'True',
          reason: ActionReason.Recorded,
          message: done.message,
        },
      };
    }
    try {
      const sha = await commit(git);
      return {
        commit: sha,
        condition: {
          type: ActionCondition.Recorded,
          status: 'True',
          reason: ActionReason.Recorded,
          message: `${removal ? 'removal' : 'applied objects'} recorded in ${git.url} on ${git.branch ?? 'main'} at ${sha.slice(0, 12)}`,
        },
      };
    } catch (err) {
      log.warn({ err }, 'Recording in Git failed');
      this.deps.metrics.gitDeliveryFailures.inc({
        code: (err as { code?: string }).code ?? 'unknown',
      });
      return {
        condition: {
          type: ActionCondition.Recorded,
          status: 'False',
          reason: ActionReason.DeliveryFailed,
          message: `spec.git.recordAutoApproved (${git.url}): ${describeDeliveryError(err)}; enforcement is not affected, retrying`,
        },
        ...(classify(err) !== 'terminal' ? { error: err as Error } : {}),
      };
    }
  }

  /**
   * Git delivery: the rendered manifests as a pull request on the policy's repository.
   * Open: Proposed, polled. Merged: Enforced once the objects are observed in the
   * cluster as rendered (Argo CD or Flux applied them). Closed unmerged: Rejected.
   */
  private async deliverByGit(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    previous: Phase,
    git: NonNullable<ReturnType<GitDelivery['gitSpec']>>,
    connector: Connector,
    connectorId: string,
    generation: number,
    now: Date,
    log: Request['log'],
  ): Promise<Result | void> {
    const values = await this.values(action);
    if (!values) return { requeueAfter: INDICATORS_RETRY_MS };
    const request = requestOf(action, values);
    const renderer = this.gitForm(connectorId, connector);
    const problems = renderer.validate(request);
    if (problems.length) {
      return this.finish(action, { ...status, phase: 'Failed' }, generation, now, [
        {
          type: ActionCondition.Ready,
          status: 'False',
          reason: ActionReason.InvalidAction,
          message: `${connectorId}: ${problems.join('; ')}`,
        },
      ]);
    }
    let pr;
    try {
      // After a merge, a changed spec is an update: a new pull request on the same branch.
      const known =
        previous === 'Enforced' && status.pullRequest?.state === 'Merged'
          ? undefined
          : status.pullRequest?.number;
      const pushed =
        status.pullRequest?.state === 'Open' && action.status?.observedGeneration === generation;
      // Rendered only when the branch is written, not on every poll.
      pr = await this.deps.git!.propose(
        action,
        git,
        request,
        async () => renderer.render(request, await connector.plan(request)),
        known,
        pushed,
        previous === 'Enforced',
      );
    } catch (err) {
      const transient = classify(err) !== 'terminal';
      log.warn({ err }, 'Git delivery failed');
      this.deps.metrics.gitDeliveryFailures.inc({
        code: (err as { code?: string }).code ?? 'unknown',
      });
      await this.finish(
        action,
        { ...status, phase: previous === 'Enforced' ? 'Enforced' : 'Proposed' },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'False',
            reason: ActionReason.DeliveryFailed,
            message: `spec.git (${git.url}): ${describeDeliveryError(err)}${previous === 'Enforced' ? '; what is enforced stays in place' : ''}`,
          },
        ],
      );
      return this.afterDeliveryFailure(err, transient);
    }
    log.debug({ pullRequest: pr.number, state: pr.state }, 'Pull request state');
    const pullRequest = { url: pr.url, number: pr.number, state: pr.state };
    const poll = this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS;
    // An update to an enforced action: what is enforced stays while the new pull request is reviewed.
    const updating = previous === 'Enforced';
    if (pr.state === 'Closed' && updating) {
      return this.finish(action, { ...status, pullRequest }, generation, now, [
        {
          type: ActionCondition.Approved,
          status: 'False',
          reason: ActionReason.Rejected,
          message: `the update in pull request #${pr.number} was closed without merging; what is enforced stays in place`,
        },
      ]);
    }
    if (pr.state === 'Closed') {
      const rejection = await this.recordRejection(action, values, pr.url, git, now);
      const until = rejection
        ? `; its ${rejection.indicators} indicators stay out of policy ${action.spec.policyRef?.name} until ${rejection.until}`
        : '';
      return this.finish(
        action,
        { ...status, phase: 'Rejected', pullRequest, ...(rejection ? { rejection } : {}) },
        generation,
        now,
        [
          {
            type: ActionCondition.Approved,
            status: 'False',
            reason: ActionReason.Rejected,
            message: `pull request #${pr.number} was closed without merging`,
          },
          {
            type: ActionCondition.Ready,
            status: 'True',
            reason: ActionReason.Rejected,
            message: `rejected in review (${pr.url}); nothing is applied${until}`,
          },
        ],
      );
    }
    if (pr.state === 'Merged' && !isConnectorId(connectorId))
      return this.applyMergedIdentity(
        action,
        status,
        pr,
        connector,
        connectorId,
        request,
        generation,
        now,
        log,
      );
    if (pr.state === 'Merged') {
      // Argo CD or Flux applies the merged tree; enforcement counts once the objects are there as rendered.
      const pending = await connector.plan(request);
      if (pending.length === 0) {
        return this.finish(
          action,
          { ...status, phase: 'Enforced', pullRequest, ...this.enforcement(action, status, now) },
          generation,
          now,
          [
            {
              type: ActionCondition.Approved,
              status: 'True',
              reason: ActionReason.Merged,
              message: `pull request #${pr.number} was merged`,
            },
            {
              type: ActionCondition.Ready,
              status: 'True',
              reason: ActionReason.Enforced,
              message: `${request.values.length} indicators enforced; the objects from ${pr.url} are in the cluster`,
            },
          ],
        );
      }
      return this.finish(action, { ...status, phase: 'Proposed', pullRequest }, generation, now, [
        {
          type: ActionCondition.Approved,
          status: 'True',
          reason: ActionReason.Merged,
          message: `pull request #${pr.number} was merged`,
        },
        {
          type: ActionCondition.Ready,
          status: 'True',
          reason: ActionReason.AwaitingSync,
          message: `merged; waiting for Argo CD or Flux to apply ${pending.length} objects`,
        },
      ]).then(() => ({ requeueAfter: Math.min(poll, 2000) }));
    }
    return this.finish(
      action,
      { ...status, phase: updating ? 'Enforced' : 'Proposed', pullRequest },
      generation,
      now,
      [
        {
          type: ActionCondition.Approved,
          status: 'False',
          reason: ActionReason.AwaitingReview,
          message: `${action.spec.approval?.reason ?? 'approval required'}; pull request #${pr.number}`,
        },
        ...(updating
          ? []
          : [
              {
                type: ActionCondition.Ready,
                status: 'True' as const,
                reason: ActionReason.AwaitingReview,
                message: `pull request ${pr.url} is open for review`,
              },
            ]),
      ],
    ).then(() => ({ requeueAfter: poll }));
  }

  /**
   * An identity action whose pull request was merged: nothing syncs an identity
   * provider from Git, so the controller sends the reviewed requests itself. Later
   * reconciles converge again (a user someone re-enabled is suspended again).
   */
  private async applyMergedIdentity(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    pr: { url: string; number: number; state: 'Open' | 'Merged' | 'Closed' },
    connector: Connector,
    connectorId: string,
    request: ActionRequest,
    generation: number,
    now: Date,
    log: Request['log'],
  ): Promise<Result | void> {
    const pullRequest = { url: pr.url, number: pr.number, state: pr.state };
    let outcome: ApplyOutcome;
    try {
      outcome = await connector.apply(request);
      this.countIdentity(connectorId, outcome);
    } catch (err) {
      log.warn({ err }, 'Identity apply after merge failed');
      const transient = classify(err) !== 'terminal';
      await this.finish(action, { ...status, pullRequest }, generation, now, [
        {
          type: ActionCondition.Approved,
          status: 'True',
          reason: ActionReason.Merged,
          message: `pull request #${pr.number} was merged`,
        },
        {
          type: ActionCondition.Ready,
          status: 'False',
          reason: ActionReason.ApplyFailed,
          message: `${connectorId}: ${withCode(err)}`,
        },
      ]);
      return this.afterDeliveryFailure(err, transient);
    }
    const skipped = outcome.skipped?.length ? `; left alone: ${outcome.skipped.join('; ')}` : '';
    return this.finish(
      action,
      {
        ...status,
        phase: 'Enforced',
        pullRequest,
        ...this.enforcement(action, status, now),
        appliedObjects: outcome.objects.slice(0, 1024).map((o) => ({ ...o })),
        connectorResults: this.result(
          status,
          connectorId,
          'Applied',
          `${outcome.objects.length} identity changes in place${skipped}`.slice(0, 4096),
          now,
          outcome,
        ),
      },
      generation,
      now,
      [
        {
          type: ActionCondition.Approved,
          status: 'True',
          reason: ActionReason.Merged,
          message: `pull request #${pr.number} was merged`,
        },
        {
          type: ActionCondition.Ready,
          status: 'True',
          reason: ActionReason.Enforced,
          message: `${request.values.length} subjects enforced through ${connectorId} after ${pr.url} was merged${skipped}`,
        },
      ],
      request.expiresAt ? Date.parse(request.expiresAt) : undefined,
    );
  }

  /** forestall_identity_changes_total: what an identity connector changed at its provider. */
  private countIdentity(connectorId: string, outcome: ApplyOutcome): void {
    if (isConnectorId(connectorId)) return;
    for (const change of outcome.changes)
      this.deps.metrics.identityChanges.inc({
        connector: connectorId,
        kind: change.ref.kind,
        op: change.op,
      });
  }

  /**
   * What goes to Git for a connector: its rendered objects, or for an identity
   * connector the description of the requests it will send (identityChangeManifest).
   */
  private gitForm(
    connectorId: string,
    connector: Connector,
  ): {
    validate(request: ActionRequest): string[];
    render(request: ActionRequest, changes: readonly Change[]): Promise<Manifest[]>;
  } {
    if (isConnectorId(connectorId)) {
      const renderer = rendererFor(connectorId);
      return { validate: (r) => renderer.validate(r), render: async (r) => renderer.render(r) };
    }
    return {
      validate: (r) => connector.validate(r),
      render: async (r, changes) => [
        identityChangeManifest(connectorId, r, changes, this.deps.store.namespace),
      ],
    };
  }

  private async removeByGit(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    git: NonNullable<ReturnType<GitDelivery['gitSpec']>>,
    connector: Connector,
    cause: 'Expired' | 'Lifted',
    generation: number,
    now: Date,
    log: Request['log'],
  ): Promise<Result | void> {
    const name = action.metadata.name!;
    const poll = this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS;
    if (git.directRemoval)
      return this.removeByCommit(action, status, git, connector, cause, generation, now, log);
    let pr;
    try {
      const objects = (status.appliedObjects ?? []).map((o) => ({
        apiVersion: o.apiVersion ?? 'v1',
        kind: o.kind,
        name: o.name,
        ...(o.namespace ? { namespace: o.namespace } : {}),
      }));
      pr = await this.deps.git!.proposeRemoval(
        action,
        git,
        cause,
        objects,
        status.removalPullRequest?.number,
      );
    } catch (err) {
      log.warn({ err }, 'Git removal failed');
      this.deps.metrics.gitDeliveryFailures.inc({
        code: (err as { code?: string }).code ?? 'unknown',
      });
      await this.finish(action, status, generation, now, [
        {
          type: ActionCondition.Ready,
          status: 'False',
          reason: ActionReason.DeliveryFailed,
          message: `spec.git (${git.url}): the removal pull request: ${describeDeliveryError(err)}; what is enforced stays in place`,
        },
      ]);
      return this.afterDeliveryFailure(err, classify(err) !== 'terminal');
    }
    const removalPullRequest = { url: pr.url, number: pr.number, state: pr.state };
    // Gone from the cluster (Argo CD or Flux pruned them after the merge): the action has ended.
    const left = (await connector.remove(name, { dryRun: true })).changes.length;
    if (pr.state === 'Merged' && left === 0) {
      return this.finish(
        action,
        { ...status, phase: cause, removalPullRequest, appliedObjects: [] },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'True',
            reason: cause === 'Lifted' ? ActionReason.Lifted : ActionReason.Expired,
            message: `removed through pull request #${pr.number}, and its objects have left the cluster`,
          },
        ],
      );
    }
    const message =
      pr.state === 'Open'
        ? `removal proposed in ${pr.url}; what is enforced stays until it is merged and applied`
        : pr.state === 'Merged'
          ? `removal merged in #${pr.number}; waiting for Argo CD or Flux to delete ${left} objects`
          : `the removal in #${pr.number} was closed without merging; what is enforced stays in place`;
    return this.finish(action, { ...status, removalPullRequest }, generation, now, [
      {
        type: ActionCondition.Ready,
        status: 'True',
        reason: ActionReason.RemovalProposed,
        message,
      },
    ]).then(() => (pr.state === 'Closed' ? undefined : { requeueAfter: poll }));
  }

  /**
   * spec.git.directRemoval: the removal is committed straight to the base branch (no
   * review), then the action waits, Enforced, until Argo CD or Flux has deleted the
   * objects. The commit is made once; later polls only look at the cluster.
   */
  private async removeByCommit(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    git: NonNullable<ReturnType<GitDelivery['gitSpec']>>,
    connector: Connector,
    cause: 'Expired' | 'Lifted',
    generation: number,
    now: Date,
    log: Request['log'],
  ): Promise<Result | void> {
    const committed =
      findCondition(action.status?.conditions as Condition[] | undefined, ActionCondition.Ready)
        ?.reason === ActionReason.RemovalCommitted;
    let commit = status.recordedCommit;
    if (!committed || !commit) {
      try {
        commit = await this.deps.git!.recordRemoval(action, git, cause);
      } catch (err) {
        log.warn({ err }, 'Committing the removal failed');
        this.deps.metrics.gitDeliveryFailures.inc({
          code: (err as { code?: string }).code ?? 'unknown',
        });
        await this.finish(action, status, generation, now, [
          {
            type: ActionCondition.Ready,
            status: 'False',
            reason: ActionReason.DeliveryFailed,
            message: `spec.git (${git.url}): committing the removal: ${describeDeliveryError(err)}; what is enforced stays in place`,
          },
        ]);
        return this.afterDeliveryFailure(err, classify(err) !== 'terminal');
      }
    }
    const left = (await connector.remove(action.metadata.name!, { dryRun: true })).changes.length;
    const branch = git.branch ?? 'main';
    if (left === 0) {
      return this.finish(
        action,
        { ...status, phase: cause, recordedCommit: commit, appliedObjects: [] },
        generation,
        now,
        [
          {
            type: ActionCondition.Ready,
            status: 'True',
            reason: cause === 'Lifted' ? ActionReason.Lifted : ActionReason.Expired,
            message: `removal committed to ${branch} at ${commit.slice(0, 12)}, and its objects have left the cluster`,
          },
        ],
      );
    }
    await this.finish(action, { ...status, recordedCommit: commit }, generation, now, [
      {
        type: ActionCondition.Ready,
        status: 'True',
        reason: ActionReason.RemovalCommitted,
        message: `removal committed to ${branch} at ${commit.slice(0, 12)}; waiting for Argo CD or Flux to delete ${left} objects`,
      },
    ]);
    return { requeueAfter: this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS };
  }

  /**
   * How a failed delivery is retried: a rate limit at the time the forge named; other
   * transient failures with the controller's per-key backoff (thrown); terminal ones
   * (a wrong token, a denied push) at the poll interval, so a corrected Secret or
   * repository setting is picked up without a restart.
   */
  private afterDeliveryFailure(err: unknown, transient: boolean): Result {
    const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
    if (retryAfterMs !== undefined && retryAfterMs > 0) return { requeueAfter: retryAfterMs };
    if (transient) throw err;
    return { requeueAfter: this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS };
  }

  /**
   * Review feedback: the rejected indicators stay out of the policy's actions for
   * spec.git.suppressRejectedFor, so the next sync does not propose them again.
   * Recorded once per rejection (a retried reconcile replaces its own record).
   */
  private async recordRejection(
    action: PreemptiveAction,
    values: readonly string[],
    url: string,
    git: NonNullable<ReturnType<GitDelivery['gitSpec']>>,
    now: Date,
  ): Promise<PreemptiveActionStatus['rejection']> {
    const policy = this.deps.git?.policy(action);
    const ms = parseDuration(git.suppressRejectedFor ?? '168h');
    if (!this.deps.feedback || !policy?.metadata.uid || ms <= 0) return undefined;
    if (action.status?.rejection && action.status.pullRequest?.url === url)
      return action.status.rejection;
    const until = rfc3339(new Date(now.getTime() + ms));
    await this.deps.feedback.reject(
      { name: policy.metadata.name!, uid: policy.metadata.uid },
      {
        action: action.metadata.name!,
        pullRequest: url,
        at: rfc3339(now),
        until,
        values: [...values],
      },
      now,
    );
    this.deps.events.event(
      policy,
      'Normal',
      'ReviewRejected',
      `pull request ${url} for ${action.metadata.name} was closed without merging: ${values.length} indicators are left out until ${until}`,
    );
    this.deps.metrics.reviewRejections.inc({ policy: policy.metadata.name! });
    return {
      at: rfc3339(now),
      until,
      indicators: values.length,
      ...(action.spec.indicators.digest ? { digest: action.spec.indicators.digest } : {}),
    };
  }

  /** enforcedAt (kept from an earlier enforcement of this episode) and the time to enforce, observed once per episode. */
  private enforcement(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    now: Date,
  ): { enforcedAt: string; timeToEnforceSeconds: number } {
    const enforcedAt = status.enforcedAt ?? rfc3339(now);
    const timeToEnforceSeconds = Math.max(
      0,
      (Date.parse(enforcedAt) - Date.parse(status.detectedAt ?? enforcedAt)) / 1000,
    );
    if (!status.enforcedAt)
      this.deps.metrics.actionTimeToEnforce.observe(
        { type: action.spec.type },
        timeToEnforceSeconds,
      );
    return { enforcedAt, timeToEnforceSeconds };
  }

  /** The action's values: inline, or from its ConfigMap once that holds the spec's digest. */
  private async values(action: PreemptiveAction): Promise<string[] | undefined> {
    const { indicators } = action.spec;
    if (indicators.configMapRef)
      return this.deps.store.load(indicators.configMapRef, indicators.digest);
    return indicators.values ?? [];
  }

  /** One connector result, keeping the previous entry (and its time) when nothing about it changed. */
  private result(
    status: PreemptiveActionStatus,
    connector: string,
    result: 'Applied' | 'Removed' | 'Unchanged',
    message: string,
    now: Date,
    outcome: ApplyOutcome,
  ): NonNullable<PreemptiveActionStatus['connectorResults']> {
    const prev = status.connectorResults?.find((r) => r.connector === connector);
    if (prev && prev.result === result && prev.message === message && outcome.changes.length === 0)
      return [prev];
    return [{ connector, result, message, time: rfc3339(now) }];
  }

  /**
   * Sets conditions, sends the notification the phase calls for (spec.notify), writes
   * status if it changed, records phase transitions as Events (on the action, and for
   * Isolate on the workload too), and schedules expiry. A notification that could not
   * be delivered is retried later; it never holds back the status.
   */
  private async finish(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    generation: number,
    now: Date,
    conditions: Omit<ConditionInput, 'observedGeneration'>[],
    expiresAt?: number,
  ): Promise<Result | void> {
    let next = withConditions(status, generation, now, conditions);
    let notifyFailed = false;
    if (this.deps.notifier?.wants(action)) {
      const readyMessage = findCondition(
        next.conditions as Condition[] | undefined,
        ActionCondition.Ready,
      )?.message;
      try {
        const notified = await this.deps.notifier.notify(action, next, readyMessage, now);
        if (notified) {
          next = withConditions({ ...next, notified }, generation, now, [
            {
              type: ActionCondition.Notified,
              status: 'True',
              reason: ActionReason.NotificationSent,
              message: `${notified.at(-1)!.split('/').pop()} announced to spec.notify`,
            },
          ]);
        }
      } catch (err) {
        notifyFailed = true;
        this.deps.metrics.notificationFailures.inc({
          code: (err as { code?: string }).code ?? 'unknown',
        });
        next = withConditions(next, generation, now, [
          {
            type: ActionCondition.Notified,
            status: 'False',
            reason: ActionReason.NotificationFailed,
            message: `spec.notify: ${messageOf(err)}; retrying`,
          },
        ]);
      }
    }
    const clean = JSON.parse(JSON.stringify(next)) as PreemptiveActionStatus;
    const before = action.status?.phase;
    if (!isDeepStrictEqual(clean, JSON.parse(JSON.stringify(action.status ?? {})))) {
      await this.deps.client.applyStatus({
        apiVersion: API_VERSION,
        kind: 'PreemptiveAction',
        metadata: { name: action.metadata.name },
        status: clean,
      } as PreemptiveAction);
      const ready = findCondition(
        clean.conditions as Condition[] | undefined,
        ActionCondition.Ready,
      );
      const readyBefore = findCondition(
        action.status?.conditions as Condition[] | undefined,
        ActionCondition.Ready,
      );
      if (clean.phase !== before) {
        this.deps.events.event(
          action,
          clean.phase === 'Failed' ? 'Warning' : 'Normal',
          clean.phase ?? 'Pending',
          ready?.message ?? `phase ${clean.phase}`,
        );
        this.workloadEvents(action, clean.phase);
      } else if (ready && ready.status === 'False' && readyBefore?.reason !== ready.reason) {
        this.deps.events.event(action, 'Warning', ready.reason, ready.message);
      }
      const notified = findCondition(
        clean.conditions as Condition[] | undefined,
        ActionCondition.Notified,
      );
      const notifiedBefore = findCondition(
        action.status?.conditions as Condition[] | undefined,
        ActionCondition.Notified,
      );
      if (notified?.status === 'False' && notifiedBefore?.message !== notified.message)
        this.deps.events.event(action, 'Warning', notified.reason, notified.message);
    }
    const retry = notifyFailed ? (this.deps.pullRequestPollMs ?? PULL_REQUEST_POLL_MS) : undefined;
    const expiry =
      expiresAt !== undefined && !TERMINAL_PHASES.has(clean.phase as Phase)
        ? Math.max(1, expiresAt - now.getTime())
        : undefined;
    const after = [retry, expiry].filter((v): v is number => v !== undefined);
    return after.length ? { requeueAfter: Math.min(...after) } : undefined;
  }

  /** An Isolate action's transitions, told on the workload it isolates, where its owners look. */
  private workloadEvents(action: PreemptiveAction, phase: PreemptiveActionStatus['phase']): void {
    if (action.spec.type !== 'Isolate') return;
    const cves = [...new Set((action.spec.evidence?.vulnerabilities ?? []).map((v) => v.cveID))];
    const ids = cves.length ? cves.join(', ') : `${action.spec.indicators.count} CVEs`;
    const fixes = (action.spec.evidence?.vulnerabilities ?? [])
      .filter((v) => v.fixedVersion)
      .map(
        (v) =>
          `${v.package ?? 'package'} ${v.installedVersion ?? ''} → ${v.fixedVersion} (container ${v.container ?? '?'})`,
      );
    const [type, reason, message] =
      phase === 'Enforced'
        ? [
            'Warning',
            'Isolated',
            `Forestall isolated this workload from ingress outside the cluster (PreemptiveAction ${action.metadata.name}): ${ids}${action.spec.evidence?.exposure?.length ? `, reachable through ${action.spec.evidence.exposure.join('; ')}` : ''}.${fixes.length ? ` Fix: ${fixes.join('; ')}.` : ''}`,
          ]
        : phase === 'Proposed'
          ? [
              'Warning',
              'IsolationProposed',
              `Forestall proposes isolating this workload (PreemptiveAction ${action.metadata.name}, awaiting approval): ${ids}`,
            ]
          : phase === 'Lifted' || phase === 'Expired'
            ? [
                'Normal',
                'IsolationLifted',
                `Forestall lifted the isolation of this workload (PreemptiveAction ${action.metadata.name}, ${phase})`,
              ]
            : [undefined, undefined, undefined];
    if (!type || !reason || !message) return;
    for (const t of action.spec.targets ?? []) {
      this.deps.events.event(
        {
          apiVersion: t.apiVersion ?? 'apps/v1',
          kind: t.kind,
          metadata: { name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}) },
        },
        type as 'Warning' | 'Normal',
        reason,
        message.slice(0, 1024),
      );
    }
  }
}

/** An error for a condition message: its FST_ code first, when it has one the message does not already name. */
function withCode(err: unknown): string {
  const message = messageOf(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('FST_') && !message.includes(code)
    ? `${code}: ${message}`
    : message;
}

/** The connector request a PreemptiveAction describes. */
export function requestOf(action: PreemptiveAction, values: string[]): ActionRequest {
  const { spec } = action;
  const scope: ActionRequest['scope'] = { namespaces: spec.scope?.namespaces ?? [] };
  if (spec.scope?.namespaceSelector) scope.namespaceSelector = spec.scope.namespaceSelector;
  // A hand-written action that lists namespaces means those namespaces, also to the
  // cluster-wide connectors (to which an absent selector means every namespace).
  else if (!spec.policyRef && scope.namespaces.length) {
    scope.namespaceSelector = {
      matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: scope.namespaces }],
    };
  }
  if (spec.scope?.workloadSelector) scope.workloadSelector = spec.scope.workloadSelector;
  return {
    name: action.metadata.name!,
    ...(spec.policyRef?.name ? { policy: spec.policyRef.name } : {}),
    type: spec.type,
    values,
    scope,
    params: (spec.params ?? {}) as Record<string, unknown>,
    ...(spec.targets?.length
      ? {
          targets: spec.targets.map((t) => ({
            apiVersion: t.apiVersion ?? 'v1',
            kind: t.kind,
            name: t.name,
            ...(t.namespace ? { namespace: t.namespace } : {}),
          })),
        }
      : {}),
    ...(spec.expiresAt ? { expiresAt: spec.expiresAt } : {}),
  };
}
