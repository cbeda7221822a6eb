import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ExposurePolicy, PreemptiveAction } from '../../crds/index.js';
import type { ActionRequest, ObjectRef } from '../../crds/index.js';
import type { Manifest } from '../../connectors/core/types.js';
import {
  actionBranchName,
  CODEOWNERS_PATHS,
  createForge,
  forgeEndpoint,
  ownersOf,
  parseCodeowners,
  parseMarker,
  FORGE_ERROR_CODES,
  GIT_ERROR_CODES,
  GitDeliveryError,
  GitRepository,
  pullRequestBody,
  removalBody,
  removalBranchName,
  type ActionSummary,
  type Forge,
  type PullRequest,
} from '../../delivery/index.js';
import type { GitRemotePin } from '../../lib/http/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';
import { readSecret } from '../runtime/secrets.js';
import type { Informer } from '../runtime/informer.js';

export interface GitDeliveryDeps {
  client: KubeClient;
  /** Namespace of Secrets referenced without one. */
  namespace: string;
  policies: Informer<ExposurePolicy>;
  /** Where clones live (one directory per repository). */
  workRoot: string;
  /** The environment git runs in; main.ts passes process.env. */
  env: Readonly<Record<string, string | undefined>>;
  author?: { name: string; email: string };
  /** The controller's outbound client, for the forge API (--outbound-allow, cluster ranges). */
  fetch?: typeof globalThis.fetch;
  /**
   * Checks the repository URL against the outbound rules before any git command
   * (lib/http checkGitRemote): git dials its remote itself, outside the outbound client.
   */
  checkRemote?: (url: string) => Promise<GitRemotePin | undefined>;
}

type GitSpec = NonNullable<ExposurePolicy['spec']['git']>;

/** What a proposal is made of, and what is known of its pull request. */
export interface ProposalInput {
  action: PreemptiveAction;
  git: GitSpec;
  request: ActionRequest;
  /** The manifests for the branch; called only when the branch is written. */
  render: () => Manifest[] | Promise<Manifest[]>;
  /** The pull request this episode already has, when known. */
  known?: number | undefined;
  /** The known pull request already carries this spec, so only its state is read. */
  pushed?: boolean;
  /** A change to an action enforced through an earlier, merged pull request. */
  updating?: boolean;
}

/** A removal pull request: of which action, why, and what it takes out of Git. */
export interface RemovalInput {
  action: PreemptiveAction;
  git: GitSpec;
  cause: 'Expired' | 'Lifted';
  /** What the action applied, listed in the pull request. */
  objects: readonly ObjectRef[];
  /** The removal pull request already opened, when known. */
  known?: number | undefined;
}

/** The forge client (no I/O to create) and the clone, opened on first use: polling a pull request never waits for git. */
interface Session {
  forge: Forge;
  repo(): Promise<GitRepository>;
}

/**
 * Delivers an action that needs approval as a pull request: the rendered manifests on
 * branch forestall/<action> of the policy's repository (spec.git), and one pull request
 * for that branch. Idempotent across reconciles and restarts: the branch is pushed only
 * when its content changes, and the pull request is found by its head branch before one
 * is opened, so a crash between push and open never makes a second.
 */
export class GitDelivery {
  private readonly sessions = new Map<string, { fingerprint: string; session: Session }>();

  constructor(private readonly deps: GitDeliveryDeps) {}

  /** The policy's spec.git, or undefined when the action has none (hand-written, or no git block). */
  gitSpec(action: PreemptiveAction): GitSpec | undefined {
    const policy = this.policy(action);
    return policy?.spec.git?.url ? policy.spec.git : undefined;
  }

  /** The policy that owns the action, from the informer. */
  policy(action: PreemptiveAction): ExposurePolicy | undefined {
    return action.spec.policyRef?.name
      ? this.deps.policies.get(action.spec.policyRef.name)
      : undefined;
  }

  /**
   * Pushes the branch if its content changed and makes sure one pull request is open
   * for it. A pull request already merged or closed is returned as it is, untouched.
   */
  async propose(proposal: ProposalInput): Promise<PullRequest> {
    const { action, git, request, known, pushed, updating } = proposal;
    const session = await this.session(git);
    if (known !== undefined) {
      const current = await session.forge.getPullRequest(known);
      // Merged or closed; or open with this spec already pushed: a poll, no git work.
      if (current.state !== 'Open' || pushed) return current;
    }
    const path = git.path ?? 'forestall';
    const manifests = await proposal.render();
    const body = proposalBody(proposal, manifests);
    await (
      await session.repo()
    ).writeActionBranch({ action: summary(action, request), path, manifests });
    const head = actionBranchName(request.name);
    const open = await session.forge.findOpenPullRequest(head);
    // The pull request this episode already has was merged or closed while we pushed: report that, never open a second.
    if (!open && known !== undefined) return session.forge.getPullRequest(known);
    // No record of one (a status write lost before a restart): a pull request reviewers
    // already closed or merged for these same indicators is that one. Not for an update
    // of an enforced action, whose merged pull request carries the same indicators.
    if (!open && !updating) {
      const digest = action.spec.indicators.digest ?? '';
      const decided = (await session.forge.findClosedPullRequests(head)).find((pr) => {
        const marker = parseMarker(pr.body);
        return marker?.op === 'apply' && marker.action === request.name && marker.digest === digest;
      });
      if (decided) return decided;
    }
    if (!open)
      return session.forge.openPullRequest({
        head,
        base: git.branch ?? 'main',
        title: body.title,
        body: body.body,
        labels: ['forestall'],
        reviewers: await reviewersFor(await session.repo(), git, `${path}/${request.name}`),
      });
    if (open.title !== body.title || open.body !== body.body)
      return session.forge.updatePullRequest(open.number, { title: body.title, body: body.body });
    return open;
  }

  /**
   * The removal of a Git-delivered action (expiry or lift): branch
   * forestall-removal/<action> without the action's directory, and one pull request.
   */
  async proposeRemoval(removal: RemovalInput): Promise<PullRequest> {
    const { action, git, cause, objects, known } = removal;
    const session = await this.session(git);
    if (known !== undefined) {
      const current = await session.forge.getPullRequest(known);
      if (current.state !== 'Open') return current;
    }
    const name = action.metadata.name!;
    const base = git.branch ?? 'main';
    const path = git.path ?? 'forestall';
    const enforcedBy = action.status?.pullRequest;
    const body = removalBody({
      action: {
        name,
        ...(action.spec.policyRef?.name ? { policy: action.spec.policyRef.name } : {}),
        type: action.spec.type,
        layer: action.spec.layer,
        digest: action.spec.indicators.digest ?? '',
      },
      count: action.spec.indicators.count,
      objects,
      cause,
      path,
      base,
      detail: cause === 'Expired' ? `expired at ${action.spec.expiresAt}` : 'no indicator is left',
      ...(enforcedBy?.number !== undefined && enforcedBy.url
        ? { enforcedBy: { number: enforcedBy.number, url: enforcedBy.url } }
        : {}),
    });
    await (
      await session.repo()
    ).removalBranch({
      action: { name, type: action.spec.type, indicators: action.spec.indicators.count },
      path,
    });
    const head = removalBranchName(name);
    const open = await session.forge.findOpenPullRequest(head);
    if (!open && known !== undefined) return session.forge.getPullRequest(known);
    return (
      open ??
      session.forge.openPullRequest({
        head,
        base,
        title: body.title,
        body: body.body,
        labels: ['forestall'],
      })
    );
  }

  /**
   * spec.git.recordAutoApproved: commits what an automatically approved action applied
   * straight to the base branch, so Git stays the audit trail. Returns the base head
   * that holds it (unchanged when the base already did).
   */
  async record(
    action: PreemptiveAction,
    git: GitSpec,
    request: ActionRequest,
    manifests: Manifest[],
  ): Promise<string> {
    const session = await this.session(git);
    const result = await (
      await session.repo()
    ).writeActionBranch({
      action: summary(action, request),
      path: git.path ?? 'forestall',
      manifests,
      branch: git.branch ?? 'main',
      message: `Applied automatically by Forestall (${action.spec.approval?.reason ?? 'approved'}); recorded here for the audit trail.`,
    });
    return result.commit;
  }

  /** The removal of a recorded action, committed straight to the base branch. */
  async recordRemoval(
    action: PreemptiveAction,
    git: GitSpec,
    cause: 'Expired' | 'Lifted',
  ): Promise<string> {
    const session = await this.session(git);
    const result = await (
      await session.repo()
    ).removalBranch({
      action: {
        name: action.metadata.name!,
        type: action.spec.type,
        indicators: action.spec.indicators.count,
      },
      path: git.path ?? 'forestall',
      branch: git.branch ?? 'main',
      message: `Removed by Forestall: the action ${cause === 'Expired' ? `expired at ${action.spec.expiresAt}` : 'lifted (no indicator is left)'}.`,
    });
    return result.commit;
  }

  /**
   * Closes whatever pull request of the action is still open (found by its head branch;
   * `known` is closed too if it is still open), saying why. Returns the one closed, or
   * `known` as it stands, or undefined when there was none.
   */
  async withdrawOpen(
    git: GitSpec,
    actionName: string,
    why: string,
    known?: number,
  ): Promise<PullRequest | undefined> {
    const session = await this.session(git);
    const open = await session.forge.findOpenPullRequest(actionBranchName(actionName));
    if (open) return this.withdraw(git, open.number, why);
    return known !== undefined ? this.withdraw(git, known, why) : undefined;
  }

  /** Closes a pull request that is no longer wanted (the action expired or lifted before review), saying why. */
  async withdraw(git: GitSpec, number: number, why: string): Promise<PullRequest> {
    const session = await this.session(git);
    const current = await session.forge.getPullRequest(number);
    if (current.state !== 'Open') return current;
    await session.forge.comment(number, `Forestall closes this pull request: ${why}.`);
    return session.forge.closePullRequest(number);
  }

  /**
   * One clone and forge client per repository, branch and credentials Secret, reused
   * across reconciles. The Secret is read on each call (one GET), so a rotated or
   * corrected token takes effect on the next reconcile: a changed token gets a fresh
   * session in its own work directory.
   */
  private async session(git: GitSpec): Promise<Session> {
    const credentials = await this.credentials(git);
    const ref = git.credentialsSecretRef!;
    const key = `${git.url}#${git.branch ?? 'main'}#${ref.namespace ?? this.deps.namespace}/${ref.name}#${git.forge?.type ?? ''}#${git.forge?.apiUrl ?? ''}`;
    const fingerprint = createHash('sha256')
      .update(`${key}\n${JSON.stringify(credentials)}`)
      .digest('hex')
      .slice(0, 16);
    const current = this.sessions.get(key);
    if (current?.fingerprint === fingerprint) return current.session;
    const session = this.open(git, credentials, join(this.deps.workRoot, fingerprint));
    this.sessions.set(key, { fingerprint, session });
    return session;
  }

  private open(git: GitSpec, credentials: Credentials, workDir: string): Session {
    const auth =
      credentials.sshPrivateKey && !/^https?:\/\//.test(git.url)
        ? {
            sshPrivateKey: credentials.sshPrivateKey,
            ...(credentials.knownHosts ? { knownHosts: credentials.knownHosts } : {}),
          }
        : {
            token: credentials.token,
            ...(credentials.username ? { username: credentials.username } : {}),
          };
    // The repository as last opened, and the pin (the checked addresses) it was opened with.
    let current: { pin: string; repo: Promise<GitRepository> } | undefined;
    const check = async (): Promise<GitRemotePin | undefined> => {
      if (!this.deps.checkRemote) return undefined;
      try {
        return await this.deps.checkRemote(git.url);
      } catch (err) {
        throw new GitDeliveryError('FST_GIT_INVALID_REQUEST', (err as Error).message);
      }
    };
    return {
      forge: createForge(git, {
        token: credentials.token,
        ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
      }),
      // The remote is checked on every use, so a refusal applies at once; when its host
      // resolves to other addresses (a moved forge, round-robin DNS), git is re-pinned
      // to those, which were checked too.
      repo: async () => {
        const pin = await check();
        const key = JSON.stringify(pin ?? null);
        if (current) {
          const held = current;
          if (held.pin !== key && pin) {
            held.pin = key;
            await (await held.repo).repin(pin);
          }
          return held.repo;
        }
        const opening = GitRepository.open({
          url: git.url,
          // git connects to the addresses checked, not to what DNS says later.
          ...(pin ? { pin } : {}),
          // checkRemote refused plain http unless the operator allowed the host.
          plainHttpAllowed: this.deps.checkRemote !== undefined,
          workDir,
          auth,
          baseBranch: git.branch ?? 'main',
          author: this.deps.author ?? {
            name: 'Forestall',
            email: 'forestall@localhost.localdomain',
          },
          env: this.deps.env,
        });
        const opened = { pin: key, repo: opening };
        current = opened;
        // A failed clone (bad token, forge down) is tried again on the next use.
        opening.catch(() => {
          if (current === opened) current = undefined;
        });
        return opening;
      },
    };
  }

  /**
   * From the Secret of spec.git.credentialsSecretRef: `token` (or the key named) for
   * the forge API and git over https, optional `username`, and for ssh URLs
   * `ssh-privatekey` with optional `known_hosts` (pinned host keys).
   */
  private async credentials(git: GitSpec): Promise<Credentials> {
    const ref = git.credentialsSecretRef;
    if (!ref)
      throw new ForestallError(
        'FST_INVALID_SPEC',
        'spec.git.credentialsSecretRef is required: a Secret with the forge token',
      );
    // The token goes to the git remote and to the forge's API: the Secret must admit both.
    const secret = await readSecret(this.deps.client, ref, {
      defaultNamespace: this.deps.namespace,
      defaultKey: 'token',
      field: 'spec.git.credentialsSecretRef',
      destinations: [git.url, forgeEndpoint(git).apiUrl],
    });
    const token = secret.value;
    const username = secret.optional('username');
    const sshPrivateKey = secret.optional('ssh-privatekey');
    const knownHosts = secret.optional('known_hosts');
    return {
      token,
      ...(username ? { username } : {}),
      ...(sshPrivateKey ? { sshPrivateKey: `${sshPrivateKey}\n` } : {}),
      ...(knownHosts ? { knownHosts } : {}),
    };
  }
}

interface Credentials {
  token: string;
  username?: string;
  sshPrivateKey?: string;
  knownHosts?: string;
}

/**
 * A delivery error for a condition message: its code, what git or the forge said (on
 * one line, without git's progress chatter), and what the code means.
 */
export function describeDeliveryError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = ((err as Error).message ?? String(err))
    .split('\n')
    .filter((l) => !/^Cloning into /.test(l.trim()))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (typeof code !== 'string') return message;
  const summary =
    (GIT_ERROR_CODES as Record<string, { summary: string }>)[code]?.summary ??
    (FORGE_ERROR_CODES as Record<string, { summary: string }>)[code]?.summary;
  return `${code}: ${message}${summary ? ` (${summary})` : ''}`;
}

/** spec.git.reviewers, and the CODEOWNERS owners of the action's directory on the base branch. */
async function reviewersFor(repo: GitRepository, git: GitSpec, dir: string): Promise<string[]> {
  const reviewers = new Set(git.reviewers ?? []);
  for (const file of CODEOWNERS_PATHS) {
    const text = await repo.readBaseFile(file);
    if (text === undefined) continue;
    for (const owner of ownersOf(parseCodeowners(text), `${dir}/kustomization.yaml`))
      reviewers.add(owner);
    break;
  }
  return [...reviewers];
}

/** What a commit says about the action. */
function summary(action: PreemptiveAction, request: ActionRequest): ActionSummary {
  return {
    name: request.name,
    type: request.type,
    indicators: request.values.length,
    ...(request.policy ? { policy: request.policy } : {}),
    ...(action.spec.indicators.digest ? { digest: action.spec.indicators.digest } : {}),
    ...(action.spec.approval?.reason ? { reason: action.spec.approval.reason } : {}),
    ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
  };
}

/** The pull request's title and body for a proposal. */
function proposalBody({ action, git, request }: ProposalInput, manifests: Manifest[]) {
  return pullRequestBody({
    action: {
      name: request.name,
      ...(request.policy ? { policy: request.policy } : {}),
      type: request.type,
      layer: action.spec.layer,
      ...(action.spec.connector ? { connector: action.spec.connector } : {}),
      digest: action.spec.indicators.digest ?? '',
      confidence: action.spec.confidence ?? 0,
      blastRadius: {
        namespaces: 0,
        workloads: 0,
        pods: 0,
        users: 0,
        addresses: 0,
        production: false,
        ...action.spec.blastRadius,
      },
      reason: action.spec.approval?.reason ?? 'approval required',
      feeds: [],
    },
    values: request.values,
    objects: manifests,
    path: git.path ?? 'forestall',
    base: git.branch ?? 'main',
    ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
    ...(action.status?.detectedAt ? { detectedAt: action.status.detectedAt } : {}),
  });
}
