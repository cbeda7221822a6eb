/**
 * The forge interface: what Git delivery needs from GitHub, Gitea or Forgejo, and no
 * more. One action has one branch (its head), and the head branch is how a pull request
 * is found again: findOpenPullRequest(head) after a restart, or after a crash between the
 * push and the pull request, is what keeps it to one pull request per action.
 *
 * Every call may be cancelled through `signal`. Failures are ForgeErrors (errors.ts) with
 * a stable code and a class; clients have already retried transient failures a bounded
 * number of times before they throw.
 */

export type PullRequestState = 'Open' | 'Merged' | 'Closed';

export interface PullRequest {
  number: number;
  /** Web URL, for people. */
  url: string;
  state: PullRequestState;
  /** The head branch name, without an owner prefix. */
  head: string;
  /** The commit the head branch points at. */
  headSha: string;
  base: string;
  title: string;
  /** Empty when the forge has none. */
  body: string;
  /** Only when Merged. */
  mergeCommitSha?: string;
}

export interface OpenPullRequestInput {
  /** Branch with the changes, in the same repository. */
  head: string;
  /** Branch to merge into (spec.git.branch). */
  base: string;
  title: string;
  body: string;
  /** Label names; created on forges that need them to exist first (Gitea). */
  labels?: readonly string[];
  /** User logins, or `org/team` for a team; a leading `@` (CODEOWNERS style) is accepted. */
  reviewers?: readonly string[];
}

export interface OpenedPullRequest extends PullRequest {
  /**
   * Labels and reviewers are added after the pull request exists; a failure there does
   * not undo the pull request (it would only be found again on retry without them), so it
   * is reported here instead of thrown.
   */
  warnings: string[];
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface Forge {
  /** GitHub or Gitea (Forgejo speaks Gitea's API). */
  readonly type: ForgeType;
  /** owner/repo, for messages. */
  readonly repository: string;
  /** The open pull request whose head is this branch of this repository, if any. */
  findOpenPullRequest(head: string, options?: CallOptions): Promise<PullRequest | undefined>;
  /**
   * The closed and merged pull requests whose head is this branch, most recently
   * updated first; at most `limit` (default 50), found within a bounded number of list
   * pages. Lets a caller that lost its record of a pull request find it again.
   */
  findClosedPullRequests(
    head: string,
    options?: CallOptions & { limit?: number },
  ): Promise<PullRequest[]>;
  /**
   * Opens a pull request. When the forge says one already exists for the head, returns
   * that one (found with findOpenPullRequest) instead of failing, so a retry after a lost
   * response cannot make two.
   */
  openPullRequest(input: OpenPullRequestInput, options?: CallOptions): Promise<OpenedPullRequest>;
  updatePullRequest(
    number: number,
    change: { title: string; body: string },
    options?: CallOptions,
  ): Promise<PullRequest>;
  getPullRequest(number: number, options?: CallOptions): Promise<PullRequest>;
  comment(number: number, body: string, options?: CallOptions): Promise<void>;
  /** Closes without merging. Closing a closed pull request succeeds. */
  closePullRequest(number: number, options?: CallOptions): Promise<PullRequest>;
}

export type ForgeType = 'GitHub' | 'Gitea';

/** A repository as named by its Git URL. */
export interface RepoRef {
  /** Host name, with the port when the URL had one (https://host:3000/…). */
  host: string;
  owner: string;
  repo: string;
  /** The URL's scheme: https, http, or ssh (scp-like git@host:owner/repo included). */
  protocol: 'https' | 'http' | 'ssh';
  /** Path segments before owner/repo, for forges served under a sub-path (https://host/gitea/owner/repo). */
  prefix: string;
}

/** Logger the clients write to; pino's child loggers fit. Never given the token. */
export interface ForgeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The fields both forges' pull-request JSON share (GitHub and Gitea use the same names). */
export interface PullJson {
  number: number;
  html_url: string;
  state: string;
  head: { ref: string; sha: string };
  base: { ref: string };
  title: string;
  body?: string | null;
  merge_commit_sha?: string | null;
}

/** A forge's pull request as ours; `merged` comes from the forge's own flag(s). */
export function pullRequestFrom(data: PullJson, merged: boolean): PullRequest {
  const state: PullRequestState = data.state === 'open' ? 'Open' : merged ? 'Merged' : 'Closed';
  return {
    number: data.number,
    url: data.html_url,
    state,
    head: data.head.ref,
    headSha: data.head.sha,
    base: data.base.ref,
    title: data.title,
    body: data.body ?? '',
    ...(state === 'Merged' && data.merge_commit_sha
      ? { mergeCommitSha: data.merge_commit_sha }
      : {}),
  };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What every forge client is built with. */
export interface ForgeClientOptions {
  repo: RepoRef;
  token: string;
  logger?: ForgeLogger;
  /** Per attempt, in ms. Default 30 s. */
  requestTimeoutMs?: number;
  /** Retries of 5xx and network errors. Default 3. */
  retries?: number;
  /** Default the outbound client (lib/http) with no SSRF exceptions; the controller passes its own, with --outbound-allow. */
  fetch?: typeof globalThis.fetch;
  /** Default Date.now. */
  now?: () => number;
}
