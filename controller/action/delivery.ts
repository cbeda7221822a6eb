import type { Logger } from 'pino';
import type { ApplyOutcome, Connector, Manifest } from '../../connectors/core/types.js';
import type {
  ActionRequest,
  ExposurePolicy,
  ObjectRef,
  PreemptiveAction,
} from '../../crds/index.js';
import type { PullRequest } from '../../delivery/index.js';
import type { Cause, GitTarget, Proposal } from './decide.js';
import type { GitDelivery } from './git-delivery.js';
import type { ActionMetrics } from './metrics.js';

/** What a delivery did: the connector's outcome, a pull request, or a commit on the base branch. */
export type Delivered =
  | { via: 'connector'; outcome: ApplyOutcome }
  | { via: 'pullRequest'; pullRequest: PullRequest }
  | { via: 'commit'; commit: string };

type ByConnector = Extract<Delivered, { via: 'connector' }>;
type ByPullRequest = Extract<Delivered, { via: 'pullRequest' }>;
type ByCommit = Extract<Delivered, { via: 'commit' }>;

/** A change to put in force: the request, and for Git how to render it and which pull request it has. */
export interface Enforcement {
  request: ActionRequest;
  /** Rendered only when a branch is written, not on every poll. */
  render?: () => Promise<Manifest[]>;
  proposal?: Proposal;
}

/** A removal: why, what the action applied, and the removal pull request known so far. */
export interface Removal {
  cause: Cause;
  objects?: readonly ObjectRef[];
  known?: number | undefined;
}

/**
 * How one action's change reaches the cluster. Direct: through the connector, at once.
 * Git: as a pull request (or, for spec.git.directRemoval, a commit) that Argo CD or
 * Flux applies after review.
 */
export interface Delivery {
  enforce(change: Enforcement): Promise<Delivered>;
  remove(removal: Removal): Promise<Delivered>;
}

/**
 * Direct delivery through the action's connector. `former` is the connector that
 * enforced the action before the spec moved to another one: what it applied goes once
 * the new one is in place, or with the removal.
 */
export class DirectDelivery implements Delivery {
  constructor(
    private readonly deps: {
      name: string;
      connectorId: string;
      /** An identity connector: its changes at the provider are counted. */
      identity: boolean;
      connector: Connector;
      former?: { id: string; connector: Connector };
      metrics: Pick<ActionMetrics, 'identityChanges'>;
      log: Logger;
    },
  ) {}

  async enforce({ request }: Enforcement): Promise<ByConnector> {
    const outcome = await this.apply(request);
    const { former } = this.deps;
    if (former) {
      await former.connector.remove(this.deps.name);
      this.deps.log.info(
        { from: former.id, to: this.deps.connectorId },
        'Action moved to another connector; removed the old objects',
      );
    }
    return { via: 'connector', outcome };
  }

  async remove(): Promise<ByConnector> {
    const outcome = await this.sweep();
    await this.deps.former?.connector.remove(this.deps.name);
    return { via: 'connector', outcome };
  }

  /** Applies through the current connector only (a merged identity action: the former one stays). */
  async apply(request: ActionRequest): Promise<ApplyOutcome> {
    const outcome = await this.deps.connector.apply(request);
    this.countIdentity(outcome);
    return outcome;
  }

  /** Removes what the current connector applied (not the former one's). */
  async sweep(): Promise<ApplyOutcome> {
    const outcome = await this.deps.connector.remove(this.deps.name);
    this.countIdentity(outcome);
    return outcome;
  }

  /** How many objects a removal would still delete (a dry run). */
  async remaining(): Promise<number> {
    return (await this.deps.connector.remove(this.deps.name, { dryRun: true })).changes.length;
  }

  /** How many objects the request still needs in the cluster (a plan). */
  async pending(request: ActionRequest): Promise<number> {
    return (await this.deps.connector.plan(request)).length;
  }

  /** forestall_identity_changes_total: what an identity connector changed at its provider. */
  private countIdentity(outcome: ApplyOutcome): void {
    const { connectorId, metrics, identity } = this.deps;
    if (!identity) return;
    for (const change of outcome.changes)
      metrics.identityChanges.inc({ connector: connectorId, kind: change.ref.kind, op: change.op });
  }
}

type GitSpec = NonNullable<ExposurePolicy['spec']['git']>;

/**
 * Git delivery of one action to its policy's spec.git (GitDelivery bound to both), and
 * the audit trail there: `record` and `recordRemoval` commit to the base branch,
 * `withdrawOpen` closes a proposal no longer wanted. It exists only when Git delivery
 * is configured and the policy has a repository.
 */
export class GitChannel implements Delivery, GitTarget {
  readonly url: string;
  readonly branch: string | undefined;
  readonly recordAutoApproved: boolean | undefined;
  readonly directRemoval: boolean | undefined;

  constructor(
    private readonly git: GitDelivery,
    private readonly action: PreemptiveAction,
    readonly spec: GitSpec,
  ) {
    this.url = spec.url;
    this.branch = spec.branch;
    this.recordAutoApproved = spec.recordAutoApproved;
    this.directRemoval = spec.directRemoval;
  }

  /** The action's policy (for review feedback), from the informer. */
  policy(): ExposurePolicy | undefined {
    return this.git.policy(this.action);
  }

  async enforce({ request, render, proposal }: Enforcement): Promise<ByPullRequest> {
    const pullRequest = await this.git.propose({
      action: this.action,
      git: this.spec,
      request,
      render: render ?? (() => []),
      ...proposal,
    });
    return { via: 'pullRequest', pullRequest };
  }

  async remove({ cause, objects = [], known }: Removal): Promise<ByPullRequest | ByCommit> {
    if (this.spec.directRemoval) return { via: 'commit', commit: await this.recordRemoval(cause) };
    const { action, spec: git } = this;
    const pullRequest = await this.git.proposeRemoval({ action, git, cause, objects, known });
    return { via: 'pullRequest', pullRequest };
  }

  record(request: ActionRequest, manifests: Manifest[]): Promise<string> {
    return this.git.record(this.action, this.spec, request, manifests);
  }

  recordRemoval(cause: Cause): Promise<string> {
    return this.git.recordRemoval(this.action, this.spec, cause);
  }

  withdrawOpen(why: string, known: number | undefined): Promise<PullRequest | undefined> {
    return this.git.withdrawOpen(this.spec, this.action.metadata.name!, why, known);
  }
}
