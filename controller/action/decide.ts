import {
  ENDED_PHASES,
  TERMINAL_PHASES,
  type PersonDecision,
  type PreemptiveAction,
  type PreemptiveActionStatus,
} from '../../crds/index.js';
import type { ApplyOutcome } from '../../connectors/core/types.js';
import {
  findCondition,
  rfc3339,
  type Condition,
  type ConditionInput,
} from '../runtime/conditions.js';
import type { Result } from '../runtime/controller.js';
import { ActionCondition, ActionReason } from './reasons.js';

/**
 * The PreemptiveAction lifecycle as pure functions: `decide(observed)` picks the
 * transition, and where the outcome depends on an effect (a pull request's state known
 * only once it is polled or opened, an apply, a commit) a second pure step takes the
 * effect's result and builds the outcome: `afterProposal`, `applied`, `removed`,
 * `removalProposed`, `removalCommitted`, and the `…Failed` builders for errors. Nothing
 * here reads the cluster, the clock or the network; the reconciler observes, carries the
 * transition out (delivery.ts) and writes status once (status.ts).
 */

export type Phase = NonNullable<PreemptiveActionStatus['phase']>;
export type Cause = 'Expired' | 'Lifted';
export type ConditionSpec = Omit<ConditionInput, 'observedGeneration'>;
/** A known connector renders manifests (synced from Git) or changes an identity provider. */
export type ConnectorKind = 'manifests' | 'identity' | 'unknown';
type PullRequestStatus = NonNullable<PreemptiveActionStatus['pullRequest']>;
export interface PullRequestSeen {
  url: string;
  number: number;
  state: 'Open' | 'Merged' | 'Closed';
}

/** What decide() reads of the policy's spec.git; the Git delivery itself passes through opaque. */
export interface GitTarget {
  url: string;
  branch?: string;
  recordAutoApproved?: boolean;
  directRemoval?: boolean;
}

/** Everything a decision reads, gathered before deciding. */
export interface Observed<G extends GitTarget = GitTarget> {
  action: PreemptiveAction;
  previous: Phase;
  generation: number;
  observedGeneration: number | undefined;
  now: Date;
  expiresAt: number | undefined;
  /** spec.indicators.count; 0 lifts the action. */
  count: number;
  /** Expired, or no indicator left: what was applied is removed. */
  ending: boolean;
  connectorId: string;
  connector: ConnectorKind;
  knownConnectors: readonly string[];
  delivery: 'Direct' | 'Git';
  approvalRequired: boolean;
  /** The decision a person made about the current indicators (forestall approve, reject, lift). */
  person?: PersonDecision;
  /**
   * No policy made the action (hand-written, or a policyRef its owner does not confirm:
   * madeByPolicy), and guardrails are configured: its indicators are judged before
   * they are applied or proposed.
   */
  guarded: boolean;
  /** The policy's spec.git when Git delivery is configured for it, else undefined. */
  git: G | undefined;
  /** The status this reconcile builds on: the stored one, reset when a new episode starts. */
  status: PreemptiveActionStatus;
  pollMs: number;
}

/** What a reconcile writes, and how it asks to run again. */
export interface Outcome {
  status: PreemptiveActionStatus;
  conditions: ConditionSpec[];
  /** Run again at spec.expiresAt while the phase is not terminal. */
  expires?: boolean;
  /** Replaces the writer's requeue (notification retry, expiry); `{}` for none. */
  after?: Result;
  /** Thrown once status is written, for the controller's backoff. */
  rethrow?: unknown;
}

/** How the pull request of a proposal is looked for (GitDelivery.propose). */
export interface Proposal {
  /** The pull request this episode has; none after a merge, when a changed spec is an update. */
  known: number | undefined;
  /** The known pull request already carries this spec: only its state is read. */
  pushed: boolean;
  /** A change to an action enforced through an earlier, merged pull request. */
  updating: boolean;
}

export type Transition<G extends GitTarget = GitTarget> =
  /** Nothing to do and nothing to write. */
  | { kind: 'noop' }
  /** Cannot go on (no such connector); fail static when enforced. */
  | { kind: 'fail'; outcome: Outcome }
  /** Approval needed and no Git delivery: Proposed, or the update waits. */
  | { kind: 'awaitApproval'; outcome: Outcome }
  /** Removed through the connector; an open proposal is withdrawn, a recorded one recorded removed. */
  | {
      kind: 'remove';
      cause: Cause;
      /** Already ended: removed again only if something is left. */
      recheck: boolean;
      withdraw: { git: G; why: string; known: number | undefined } | undefined;
      record: G | undefined;
    }
  /** Enforced through Git: the removal goes through a pull request too. */
  | { kind: 'removeByPullRequest'; cause: Cause; git: G }
  /** spec.git.directRemoval: committed to the base branch, then wait for the sync. */
  | { kind: 'removeByCommit'; cause: Cause; git: G; committed: string | undefined }
  /** Approved: applied through the connector (and recorded in Git when asked). */
  | { kind: 'apply'; guard: boolean; record: G | undefined }
  /** Needs approval with Git delivery: proposed as a pull request; see afterProposal. */
  | { kind: 'propose'; guard: boolean; git: G; proposal: Proposal }
  /** A person rejected it before it was enforced: the indicators are recorded as rejected (feedback), then `rejectedByPerson`. */
  | { kind: 'rejectByPerson'; decision: PersonDecision };

const STAYS = '; what is enforced stays in place';

export function decide<G extends GitTarget>(o: Observed<G>): Transition<G> {
  if (o.previous === 'Rejected' && stillRejected(o)) return { kind: 'noop' };
  if (o.connector === 'unknown') return { kind: 'fail', outcome: unknownConnector(o) };
  if (o.ending) return ending(o);
  // Git delivery is decided on its pull request: a reject there would leave it open.
  if (o.person?.verb === 'reject' && !enforced(o) && o.delivery !== 'Git')
    return { kind: 'rejectByPerson', decision: o.person };
  if (o.approvalRequired) return approval(o);
  return { kind: 'apply', guard: o.guarded, record: o.git?.recordAutoApproved ? o.git : undefined };
}

/**
 * A rejected action stays rejected until new intelligence: other indicators than the
 * ones reviewers rejected. A spec change that keeps them (blast radius, confidence,
 * written by a policy reconcile whose cache did not yet show the rejection) is not a
 * new proposal; treating it as one opened a second pull request for the same set.
 */
function stillRejected(o: Observed<GitTarget>): boolean {
  const digest = o.action.status?.rejection?.digest;
  return (
    o.observedGeneration === o.generation ||
    (digest !== undefined && digest === o.action.spec.indicators.digest)
  );
}

/**
 * The status a reconcile starts from: a terminal action that has something to do again
 * starts a new episode. The first episode starts when the action was created: the same
 * answer from a reconcile whose cache does not yet show our last status write.
 */
export function episodeStatus(
  action: PreemptiveAction,
  previous: Phase,
  ending: boolean,
  now: Date,
): PreemptiveActionStatus {
  const status: PreemptiveActionStatus = { ...action.status };
  if (ENDED_PHASES.has(previous) && !ending) {
    status.detectedAt = rfc3339(now);
    delete status.enforcedAt;
    delete status.timeToEnforceSeconds;
    delete status.exposureWindowSeconds;
    delete status.liftedAt;
    delete status.pullRequest;
    delete status.rejection;
  }
  status.detectedAt ??= action.metadata.creationTimestamp
    ? rfc3339(new Date(action.metadata.creationTimestamp))
    : rfc3339(now);
  return status;
}

const enforced = (o: Observed<GitTarget>) => o.previous === 'Enforced';
const staysIfEnforced = (o: Observed<GitTarget>) => (enforced(o) ? STAYS : '');
const causeOf = (o: Observed<GitTarget>): Cause =>
  o.count === 0 || o.person?.verb === 'lift' ? 'Lifted' : 'Expired';
/** " by alice (reason)": who decided, for messages. */
export const byPerson = (d: PersonDecision) => ` by ${d.by}${d.reason ? ` (${d.reason})` : ''}`;
const ready = (status: 'True' | 'False', reason: string, message: string): ConditionSpec => ({
  type: ActionCondition.Ready,
  status,
  reason,
  message,
});
/** Not ready for `reason`: what is in place stays Enforced; otherwise the phase is `otherwise`. */
const notReady = (
  o: Observed<GitTarget>,
  otherwise: Phase,
  reason: string,
  message: string,
): Outcome => ({
  status: { ...o.status, phase: enforced(o) ? 'Enforced' : otherwise },
  conditions: [ready('False', reason, message)],
});
const approved = (status: 'True' | 'False', reason: string, message: string): ConditionSpec => ({
  type: ActionCondition.Approved,
  status,
  reason,
  message,
});
const mergedCondition = (pr: PullRequestSeen) =>
  approved('True', ActionReason.Merged, `pull request #${pr.number} was merged`);
const seen = (pr: PullRequestSeen): PullRequestStatus => ({
  url: pr.url,
  number: pr.number,
  state: pr.state,
});

function unknownConnector(o: Observed<GitTarget>): Outcome {
  return notReady(
    o,
    'Failed',
    ActionReason.UnknownConnector,
    o.connectorId
      ? `spec.connector: no connector ${o.connectorId}; known: ${o.knownConnectors.join(', ')}`
      : `spec.connector: the ${o.action.spec.layer} layer has no default connector; name one of: ${o.knownConnectors.join(', ')}`,
  );
}

function ending<G extends GitTarget>(o: Observed<G>): Transition<G> {
  const cause = causeOf(o);
  const manifests = o.connector === 'manifests';
  const git = o.delivery === 'Git' && enforced(o) ? o.git : undefined;
  // Enforced through Git: the removal goes through Git too, and the action stays
  // Enforced until that change is merged and its objects have left the cluster.
  if (git && o.status.pullRequest && manifests) {
    return git.directRemoval
      ? { kind: 'removeByCommit', cause, git, committed: committedRemoval(o) }
      : { kind: 'removeByPullRequest', cause, git };
  }
  // Identity providers are not synced from Git: the controller reverses an identity
  // action itself, and records the removal of its description (on the base branch
  // since its pull request was merged) there.
  const describedInGit = !manifests && o.delivery === 'Git' && enforced(o);
  // A proposal (or an update of an enforced identity action) still open is withdrawn.
  // Found by its head, not only from the status, which a lagging cache may not show yet.
  const proposal = o.delivery === 'Git' && !TERMINAL_PHASES.has(o.previous) ? o.git : undefined;
  const open = o.status.pullRequest?.state === 'Open' ? o.status.pullRequest.number : undefined;
  const why =
    o.count === 0 ? 'no indicator is left' : `the action expired at ${o.action.spec.expiresAt}`;
  const recorded = o.status.recordedCommit || describedInGit;
  return {
    kind: 'remove',
    cause,
    recheck: o.previous === 'Expired' || o.previous === 'Lifted',
    withdraw: proposal ? { git: proposal, why, known: open } : undefined,
    record: recorded && (o.git?.recordAutoApproved || describedInGit) ? o.git : undefined,
  };
}

/** The commit of a removal already committed (its Ready says so): later polls only look at the cluster. */
function committedRemoval(o: Observed<GitTarget>): string | undefined {
  const readyNow = findCondition(
    o.action.status?.conditions as Condition[] | undefined,
    ActionCondition.Ready,
  );
  return readyNow?.reason === ActionReason.RemovalCommitted ? o.status.recordedCommit : undefined;
}

function approval<G extends GitTarget>(o: Observed<G>): Transition<G> {
  const reason = o.action.spec.approval?.reason ?? 'approval required';
  const pr = o.status.pullRequest;
  if (o.delivery === 'Git' && o.git) {
    // Enforced through a merged pull request, and the spec has not moved since: nothing to do.
    if (enforced(o) && pr?.state === 'Merged' && o.observedGeneration === o.generation)
      return { kind: 'noop' };
    // After a merge, a changed spec is an update: a new pull request on the same branch.
    const proposal: Proposal = {
      known: enforced(o) && pr?.state === 'Merged' ? undefined : pr?.number,
      pushed: pr?.state === 'Open' && o.observedGeneration === o.generation,
      updating: enforced(o),
    };
    return { kind: 'propose', guard: o.guarded, git: o.git, proposal };
  }
  if (enforced(o)) {
    const message = `the current change needs approval (${reason}); what is enforced stays in place`;
    return {
      kind: 'awaitApproval',
      outcome: {
        status: o.status,
        conditions: [approved('False', ActionReason.UpdateAwaitingApproval, message)],
        expires: true,
      },
    };
  }
  const waiting =
    o.delivery === 'Git'
      ? 'awaiting a pull request and its review'
      : 'awaiting approval; nothing is applied';
  return {
    kind: 'awaitApproval',
    outcome: {
      status: { ...o.status, phase: 'Proposed' },
      conditions: [
        approved('False', ActionReason.AwaitingApproval, reason),
        ready('True', ActionReason.AwaitingApproval, waiting),
      ],
      expires: true,
    },
  };
}

/** A request that cannot go ahead: the connector's (or Git form's) problems, or the guardrails' refusal. */
export function invalid(
  o: Observed<GitTarget>,
  via: 'apply' | 'propose',
  problems: readonly string[],
  refused: boolean,
): Outcome | undefined {
  if (problems.length === 0) return undefined;
  const message = `${o.connectorId}: ${problems.join('; ')}`;
  // Refused by the guardrails, whether applied or proposed: nothing new goes out, and
  // what is enforced stays (fail static), as for any apply that cannot go ahead.
  if (via === 'propose' && !refused)
    return {
      status: { ...o.status, phase: 'Failed' },
      conditions: [ready('False', ActionReason.InvalidAction, message)],
    };
  const reason = refused ? ActionReason.GuardrailRefused : ActionReason.InvalidAction;
  return { ...notReady(o, 'Failed', reason, `${message}${staysIfEnforced(o)}`), expires: true };
}

/** spec.git.recordAutoApproved (or a described identity action): the Recorded condition and commit. */
export interface Recording {
  commit?: string;
  condition: ConditionSpec;
  rethrow?: unknown;
}

/** Recorded already for this generation (once per spec generation), or undefined. */
export function alreadyRecorded(o: Observed<GitTarget>, removal: boolean): Recording | undefined {
  const done = findCondition(
    o.action.status?.conditions as Condition[] | undefined,
    ActionCondition.Recorded,
  );
  if (
    !o.status.recordedCommit ||
    done?.status !== 'True' ||
    o.observedGeneration !== o.generation ||
    !done.message.startsWith(removal ? 'removal' : 'applied')
  )
    return undefined;
  return {
    commit: o.status.recordedCommit,
    condition: {
      type: ActionCondition.Recorded,
      status: 'True',
      reason: ActionReason.Recorded,
      message: done.message,
    },
  };
}

export function recorded(git: GitTarget, removal: boolean, sha: string): Recording {
  const what = removal ? 'removal' : 'applied objects';
  return {
    commit: sha,
    condition: {
      type: ActionCondition.Recorded,
      status: 'True',
      reason: ActionReason.Recorded,
      message: `${what} recorded in ${git.url} on ${git.branch ?? 'main'} at ${sha.slice(0, 12)}`,
    },
  };
}

/** A failed recording leaves enforcement as it is and says so. */
export function recordFailed(git: GitTarget, detail: string): ConditionSpec {
  return {
    type: ActionCondition.Recorded,
    status: 'False',
    reason: ActionReason.DeliveryFailed,
    message: `spec.git.recordAutoApproved (${git.url}): ${detail}; enforcement is not affected, retrying`,
  };
}

const withRecording = (status: PreemptiveActionStatus, record: Recording | undefined) =>
  record?.commit ? { ...status, recordedCommit: record.commit } : status;
const recordingConditions = (record: Recording | undefined) => (record ? [record.condition] : []);
const recordingError = (record: Recording | undefined) =>
  record?.rethrow !== undefined ? { rethrow: record.rethrow } : {};

/** Removed through the connector: Lifted or Expired. */
export function removed(
  o: Observed<GitTarget>,
  outcome: ApplyOutcome,
  withdrawn: PullRequestSeen | undefined,
  record: Recording | undefined,
): Outcome {
  const cause = causeOf(o);
  const status = { ...o.status };
  if (withdrawn && status.pullRequest?.state !== 'Merged') status.pullRequest = seen(withdrawn);
  const message =
    o.person?.verb === 'lift'
      ? `lifted${byPerson(o.person)}: everything the action applied is removed`
      : cause === 'Lifted'
        ? 'no indicators are left: everything the action applied is removed'
        : `expired at ${o.action.spec.expiresAt}: everything the action applied is removed`;
  const left = 'nothing the action applied is left in place';
  const next: PreemptiveActionStatus = {
    ...status,
    phase: cause,
    appliedObjects: [],
    connectorResults: connectorResult(o, 'Removed', left, outcome),
  };
  return {
    status: withRecording(next, record),
    conditions: [ready('True', ActionReason[cause], message), ...recordingConditions(record)],
    ...recordingError(record),
  };
}

const skippedNote = (outcome: ApplyOutcome) =>
  outcome.skipped?.length ? `; left alone: ${outcome.skipped.join('; ')}` : '';
const appliedObjects = (outcome: ApplyOutcome) =>
  outcome.objects.slice(0, 1024).map((o) => ({ ...o }));

/** Applied through the connector: Enforced. */
export function applied(
  o: Observed<GitTarget>,
  outcome: ApplyOutcome,
  record: Recording | undefined,
): Outcome {
  const skipped = skippedNote(outcome);
  const n = outcome.objects.length;
  const result = `${n} objects enforce ${o.count} indicators${skipped}`.slice(0, 4096);
  const next: PreemptiveActionStatus = {
    ...o.status,
    phase: 'Enforced',
    ...enforcement(o.status, o.now),
    appliedObjects: appliedObjects(outcome),
    connectorResults: connectorResult(o, 'Applied', result, outcome),
  };
  return {
    status: withRecording(next, record),
    conditions: [
      o.person?.verb === 'approve' && o.action.spec.approval?.required !== false
        ? approved(
            'True',
            ActionReason.ApprovedByPerson,
            `approved${byPerson(o.person)} at ${o.person.at}`,
          )
        : approved('True', ActionReason.AutoApproved, o.action.spec.approval?.reason ?? 'approved'),
      ready(
        'True',
        ActionReason.Enforced,
        `${o.count} indicators enforced by ${n} objects through ${o.connectorId}${skipped}`,
      ),
      ...recordingConditions(record),
    ],
    expires: true,
    ...recordingError(record),
  };
}

/** What comes after a proposal, by the state of its pull request. */
export type ProposalStep =
  | { kind: 'settle'; outcome: Outcome }
  /** Closed unmerged: the indicators are recorded as rejected (feedback), then `rejected`. */
  | { kind: 'reject' }
  /** Merged identity action: nothing syncs a provider from Git; applied, then `mergedApplied`. */
  | { kind: 'applyMerged' }
  /** Merged manifests: enforced once Argo CD or Flux applied them; see `synced`. */
  | { kind: 'awaitSync' };

/**
 * Git delivery: Open → AwaitingReview (Proposed, polled); Merged → awaiting the sync;
 * Closed unmerged → Rejected. An update to an enforced action: what is enforced stays
 * while the new pull request is reviewed, and a closed update leaves it in place.
 */
export function afterProposal(o: Observed<GitTarget>, pr: PullRequestSeen): ProposalStep {
  const updating = enforced(o);
  if (pr.state === 'Closed' && updating) {
    const message = `the update in pull request #${pr.number} was closed without merging${STAYS}`;
    return {
      kind: 'settle',
      outcome: {
        status: { ...o.status, pullRequest: seen(pr) },
        conditions: [approved('False', ActionReason.Rejected, message)],
      },
    };
  }
  if (pr.state === 'Closed') return { kind: 'reject' };
  if (pr.state === 'Merged')
    return o.connector === 'identity' ? { kind: 'applyMerged' } : { kind: 'awaitSync' };
  const reason = `${o.action.spec.approval?.reason ?? 'approval required'}; pull request #${pr.number}`;
  const open = `pull request ${pr.url} is open for review`;
  return {
    kind: 'settle',
    outcome: {
      status: { ...o.status, phase: updating ? 'Enforced' : 'Proposed', pullRequest: seen(pr) },
      conditions: [
        approved('False', ActionReason.AwaitingReview, reason),
        ...(updating ? [] : [ready('True', ActionReason.AwaitingReview, open)]),
      ],
      after: { requeueAfter: o.pollMs },
    },
  };
}

/** "; its N indicators stay out of policy P until T" when the rejection holds them out. */
const suppressedUntil = (
  o: Observed<GitTarget>,
  rejection: PreemptiveActionStatus['rejection'],
): string =>
  rejection?.until
    ? `; its ${rejection.indicators} indicators stay out of policy ${o.action.spec.policyRef?.name} until ${rejection.until}`
    : '';

/** Closed without merging: Rejected, with what the review feedback keeps out and until when. */
export function rejected(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  rejection: PreemptiveActionStatus['rejection'],
): Outcome {
  const until = suppressedUntil(o, rejection);
  return {
    status: {
      ...o.status,
      phase: 'Rejected',
      pullRequest: seen(pr),
      ...(rejection ? { rejection } : {}),
    },
    conditions: [
      approved(
        'False',
        ActionReason.Rejected,
        `pull request #${pr.number} was closed without merging`,
      ),
      ready(
        'True',
        ActionReason.Rejected,
        `rejected in review (${pr.url}); nothing is applied${until}`,
      ),
    ],
  };
}

/** A person rejected the action before it was enforced (forestall reject): nothing is applied. */
export function rejectedByPerson(
  o: Observed<GitTarget>,
  decision: PersonDecision,
  rejection: PreemptiveActionStatus['rejection'],
): Outcome {
  const until = suppressedUntil(o, rejection);
  return {
    status: { ...o.status, phase: 'Rejected', ...(rejection ? { rejection } : {}) },
    conditions: [
      approved('False', ActionReason.Rejected, `rejected${byPerson(decision)} at ${decision.at}`),
      ready(
        'True',
        ActionReason.Rejected,
        `rejected${byPerson(decision)}; nothing is applied${until}`,
      ),
    ],
  };
}

/** Enforced through the merge of `pr`: the merge is the approval, `message` says what is in place. */
function enforcedByMerge(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  message: string,
  applied: Partial<PreemptiveActionStatus> = {},
): Outcome {
  return {
    status: {
      ...o.status,
      phase: 'Enforced',
      pullRequest: seen(pr),
      ...enforcement(o.status, o.now),
      ...applied,
    },
    conditions: [mergedCondition(pr), ready('True', ActionReason.Enforced, message)],
  };
}

/** Merged manifests: Enforced once nothing is pending in the cluster, else waiting for the sync. */
export function synced(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  values: number,
  pending: number,
): Outcome {
  if (pending === 0) {
    const message = `${values} indicators enforced; the objects from ${pr.url} are in the cluster`;
    return enforcedByMerge(o, pr, message);
  }
  const message = `merged; waiting for Argo CD or Flux to apply ${pending} objects`;
  return {
    status: { ...o.status, phase: 'Proposed', pullRequest: seen(pr) },
    conditions: [mergedCondition(pr), ready('True', ActionReason.AwaitingSync, message)],
    after: { requeueAfter: Math.min(o.pollMs, 2000) },
  };
}

/**
 * An identity action whose pull request was merged, applied by the controller. Later
 * reconciles converge again (a user someone re-enabled is suspended again).
 */
export function mergedApplied(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  values: number,
  outcome: ApplyOutcome,
): Outcome {
  const skipped = skippedNote(outcome);
  const result = `${outcome.objects.length} identity changes in place${skipped}`.slice(0, 4096);
  const message = `${values} subjects enforced through ${o.connectorId} after ${pr.url} was merged${skipped}`;
  const applied = {
    appliedObjects: appliedObjects(outcome),
    connectorResults: connectorResult(o, 'Applied', result, outcome),
  };
  return { ...enforcedByMerge(o, pr, message, applied), expires: true };
}

/** The removal pull request: ended once merged and its objects have left the cluster. */
export function removalProposed(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  left: number,
): Outcome {
  const cause = causeOf(o);
  const removalPullRequest = seen(pr);
  if (pr.state === 'Merged' && left === 0) {
    const message = `removed through pull request #${pr.number}, and its objects have left the cluster`;
    return {
      status: { ...o.status, phase: cause, removalPullRequest, appliedObjects: [] },
      conditions: [ready('True', ActionReason[cause], message)],
    };
  }
  const message =
    pr.state === 'Open'
      ? `removal proposed in ${pr.url}; what is enforced stays until it is merged and applied`
      : pr.state === 'Merged'
        ? `removal merged in #${pr.number}; waiting for Argo CD or Flux to delete ${left} objects`
        : `the removal in #${pr.number} was closed without merging${STAYS}`;
  return {
    status: { ...o.status, removalPullRequest },
    conditions: [ready('True', ActionReason.RemovalProposed, message)],
    after: pr.state === 'Closed' ? {} : { requeueAfter: o.pollMs },
  };
}

/** spec.git.directRemoval: ended once the committed removal's objects have left the cluster. */
export function removalCommitted(
  o: Observed<GitTarget>,
  git: GitTarget,
  commit: string,
  left: number,
): Outcome {
  const cause = causeOf(o);
  const at = `removal committed to ${git.branch ?? 'main'} at ${commit.slice(0, 12)}`;
  if (left === 0) {
    return {
      status: { ...o.status, phase: cause, recordedCommit: commit, appliedObjects: [] },
      conditions: [
        ready('True', ActionReason[cause], `${at}, and its objects have left the cluster`),
      ],
    };
  }
  const message = `${at}; waiting for Argo CD or Flux to delete ${left} objects`;
  return {
    status: { ...o.status, recordedCommit: commit },
    conditions: [ready('True', ActionReason.RemovalCommitted, message)],
    after: { requeueAfter: o.pollMs },
  };
}

/** The connector's apply failed: fail static when enforced; a transient failure keeps the phase. */
export function applyFailed(o: Observed<GitTarget>, detail: string, transient: boolean): Outcome {
  return {
    status: { ...o.status, phase: enforced(o) || transient ? o.previous : 'Failed' },
    conditions: [
      ready('False', ActionReason.ApplyFailed, `${o.connectorId}: ${detail}${staysIfEnforced(o)}`),
    ],
  };
}

/** The proposal could not be delivered: still Proposed (or Enforced, with what is in place). */
export function proposalFailed(o: Observed<GitTarget>, git: GitTarget, detail: string): Outcome {
  return notReady(
    o,
    'Proposed',
    ActionReason.DeliveryFailed,
    `spec.git (${git.url}): ${detail}${staysIfEnforced(o)}`,
  );
}

/** The merged identity action could not be applied: the merge stands, Ready says why. */
export function mergedApplyFailed(
  o: Observed<GitTarget>,
  pr: PullRequestSeen,
  detail: string,
): Outcome {
  return {
    status: { ...o.status, pullRequest: seen(pr) },
    conditions: [
      mergedCondition(pr),
      ready('False', ActionReason.ApplyFailed, `${o.connectorId}: ${detail}`),
    ],
  };
}

/** The removal could not go to Git (its pull request, or its commit): what is enforced stays. */
export function removalFailed(
  o: Observed<GitTarget>,
  git: GitTarget,
  step: 'the removal pull request' | 'committing the removal',
  detail: string,
): Outcome {
  return {
    status: o.status,
    conditions: [
      ready(
        'False',
        ActionReason.DeliveryFailed,
        `spec.git (${git.url}): ${step}: ${detail}${STAYS}`,
      ),
    ],
  };
}

/** enforcedAt (kept from an earlier enforcement of this episode) and the time to enforce. */
export function enforcement(
  status: PreemptiveActionStatus,
  now: Date,
): { enforcedAt: string; timeToEnforceSeconds: number } {
  const enforcedAt = status.enforcedAt ?? rfc3339(now);
  const timeToEnforceSeconds = Math.max(
    0,
    (Date.parse(enforcedAt) - Date.parse(status.detectedAt ?? enforcedAt)) / 1000,
  );
  return { enforcedAt, timeToEnforceSeconds };
}

/** One connector result, keeping the previous entry (and its time) when nothing about it changed. */
function connectorResult(
  o: Observed<GitTarget>,
  result: 'Applied' | 'Removed',
  message: string,
  outcome: ApplyOutcome,
): NonNullable<PreemptiveActionStatus['connectorResults']> {
  const connector = o.connectorId;
  const prev = o.status.connectorResults?.find((r) => r.connector === connector);
  if (prev && prev.result === result && prev.message === message && outcome.changes.length === 0)
    return [prev];
  return [{ connector, result, message, time: rfc3339(o.now) }];
}
