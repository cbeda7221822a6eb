import { Octokit } from 'octokit';
import { defaultOutboundFetch, isHttpError, type HttpError } from '../../lib/http/index.js';
import { ForgeError, forgeAnswerError, forgeNoAnswerError, type HeaderBag } from './errors.js';
import {
  messageOf,
  pullRequestFrom,
  type CallOptions,
  type Forge,
  type ForgeClientOptions,
  type OpenedPullRequest,
  type OpenPullRequestInput,
  type PullRequest,
} from './types.js';
import { createOrFindExisting, requestReviewers } from './opening.js';

/**
 * GitHub (and GitHub Enterprise Server) through octokit. The `octokit` package's Octokit
 * already composes the retry and throttling plugins (node_modules/octokit/dist-src/
 * octokit.js); this client replaces their handlers with bounded ones:
 *
 *  - retry (plugin-retry): 5xx and network errors, `retries` times with quadratic backoff.
 *    403 and 429 are left to the throttling plugin (they are in doNotRetry here), so a
 *    rate limit is never hammered by a second retry loop.
 *  - throttling (plugin-throttling): primary limits (x-ratelimit-remaining: 0, waits until
 *    x-ratelimit-reset) and secondary limits (waits Retry-After, else 60 s) are retried at
 *    most `rateLimitRetries` times, and only when the wait is at most `maxRetryAfterSeconds`.
 *    A longer wait is not slept through inside a reconcile: the call fails with
 *    FST_FORGE_RATE_LIMITED carrying retryAfterMs, and the controller requeues then.
 *    The plugin also spaces content-creating requests (1 s between writes, 3 s between
 *    pull requests and comments), as GitHub asks of integrations.
 *
 * Token auth only for now (a GitHub App installation token is a later addition). The
 * token goes into octokit's auth and nowhere else; errors are redacted of it.
 *
 * Transport: octokit's `request.fetch` is the one outbound client (lib/http; injected by
 * the controller with --outbound-allow, the default has no SSRF exceptions). Octokit
 * follows redirects (a renamed repository answers 301); the outbound client checks each
 * hop and drops the token on one that leaves the API's origin.
 */
export interface GitHubForgeOptions extends ForgeClientOptions {
  /** REST API base URL: https://api.github.com, or https://ghe.example/api/v3. */
  baseUrl: string;
  /** Retries of a rate-limited request. Default 2. */
  rateLimitRetries?: number;
  /** Longest forge-requested wait slept through in-process. Default 60 s. */
  maxRetryAfterSeconds?: number;
  /** Multiplier turning plugin retry delays (seconds) into ms. Default 1000; tests pass 1. */
  retryAfterBaseValue?: number;
  /** Turns the throttling plugin off (contract tests, where write spacing only slows things down). */
  throttle?: boolean;
}

type PullData = {
  number: number;
  html_url: string;
  state: string;
  title: string;
  body?: string | null;
  merged?: boolean;
  merged_at?: string | null;
  merge_commit_sha?: string | null;
  head: { ref: string; sha: string };
  base: { ref: string };
};

export class GitHubForge implements Forge {
  readonly type = 'GitHub' as const;
  readonly repository: string;
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;
  private readonly secrets: string[];
  private readonly now: () => number;

  constructor(options: GitHubForgeOptions) {
    this.owner = options.repo.owner;
    this.repo = options.repo.repo;
    this.repository = `${this.owner}/${this.repo}`;
    this.secrets = [options.token];
    this.now = options.now ?? Date.now;
    const logger = options.logger;
    const rateLimitRetries = options.rateLimitRetries ?? 2;
    const maxRetryAfter = options.maxRetryAfterSeconds ?? 60;
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    const baseFetch = options.fetch ?? defaultOutboundFetch();
    const repository = this.repository;
    const onLimit =
      (kind: 'primary' | 'secondary') =>
      (
        retryAfter: number,
        request: { method: string; url: string },
        _octokit: unknown,
        retryCount: number,
      ): boolean => {
        const retry = shouldRetryRateLimit(retryAfter, retryCount, rateLimitRetries, maxRetryAfter);
        logger?.warn(
          {
            repository,
            method: request.method,
            url: request.url,
            limit: kind,
            retryAfterSeconds: retryAfter,
            retryCount,
            retry,
          },
          'GitHub rate limit hit',
        );
        return retry;
      };
    this.octokit = new Octokit({
      auth: options.token,
      baseUrl: options.baseUrl,
      userAgent: 'forestall',
      // Octokit logs through console by default; route its warnings to our logger or drop them.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => logger?.warn({ repository }, `Octokit: ${message}`),
        error: (message: string) => logger?.warn({ repository }, `Octokit: ${message}`),
      },
      request: {
        // Each attempt gets its own timeout, so retries and throttle waits are not cut short.
        fetch: async (url: string | URL, init: RequestInit = {}) => {
          const timeout = AbortSignal.timeout(timeoutMs);
          try {
            return await baseFetch(url, {
              ...init,
              signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
            });
          } catch (err) {
            // octokit turns every fetch error into a RequestError that plugin-retry retries
            // (1 + 4 + 9 s), except an AbortError, which it passes through untouched. A
            // refusal of the outbound client (SSRF guard, plain http) cannot change on retry.
            if (isHttpError(err) && err.errorClass !== 'transient') throw new OutboundRefusal(err);
            throw err;
          }
        },
      },
      retry: {
        retries: options.retries ?? 3,
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
        ...(options.retryAfterBaseValue === undefined
          ? {}
          : { retryAfterBaseValue: options.retryAfterBaseValue }),
      },
      throttle:
        options.throttle === false
          ? { enabled: false }
          : {
              onRateLimit: onLimit('primary'),
              onSecondaryRateLimit: onLimit('secondary'),
              ...(options.retryAfterBaseValue === undefined
                ? {}
                : { retryAfterBaseValue: options.retryAfterBaseValue }),
            },
    });
  }

  async findOpenPullRequest(
    head: string,
    options: CallOptions = {},
  ): Promise<PullRequest | undefined> {
    const [match] = await this.pullsFrom(head, 'open', options, { per_page: 10 });
    return match ? toPullRequest(match) : undefined;
  }

  async findClosedPullRequests(
    head: string,
    options: CallOptions & { limit?: number } = {},
  ): Promise<PullRequest[]> {
    const limit = options.limit ?? 50;
    const closed = await this.pullsFrom(head, 'closed', options, {
      sort: 'updated',
      direction: 'desc',
      per_page: Math.min(100, limit),
    });
    return closed.slice(0, limit).map(toPullRequest);
  }

  /** The pull requests in `state` whose head is the branch `head` of this repository. */
  private async pullsFrom(
    head: string,
    state: 'open' | 'closed',
    options: CallOptions,
    page: { sort?: 'updated'; direction?: 'desc'; per_page: number },
  ): Promise<PullData[]> {
    const { data } = await this.call(`list ${state} pull requests with head ${head}`, () =>
      this.octokit.rest.pulls.list({
        owner: this.owner,
        repo: this.repo,
        state,
        head: `${this.owner}:${head}`,
        ...page,
        request: requestOptions(options),
      }),
    );
    // The head filter is server-side; check anyway, a fork's branch of the same name must never match.
    return (data as PullData[]).filter((pr) => pr.head.ref === head);
  }

  async openPullRequest(
    input: OpenPullRequestInput,
    options: CallOptions = {},
  ): Promise<OpenedPullRequest> {
    // 422 "A pull request already exists for owner:branch": an earlier attempt got through.
    const opened = await createOrFindExisting(
      async () => {
        const { data } = await this.call(
          `open a pull request from ${input.head} into ${input.base}`,
          () =>
            this.octokit.rest.pulls.create({
              owner: this.owner,
              repo: this.repo,
              head: input.head,
              base: input.base,
              title: input.title,
              body: input.body,
              maintainer_can_modify: false,
              request: requestOptions(options),
            }),
        );
        return toPullRequest(data as PullData);
      },
      () => this.findOpenPullRequest(input.head, options),
    );
    const { pr } = opened;
    if (!opened.created) return { ...pr, warnings: [] };
    const warnings: string[] = [];
    if (input.labels && input.labels.length > 0) {
      const labels = [...input.labels];
      await this.call(`label pull request #${pr.number}`, () =>
        this.octokit.rest.issues.addLabels({
          owner: this.owner,
          repo: this.repo,
          issue_number: pr.number,
          labels,
          request: requestOptions(options),
        }),
      ).catch((err: unknown) => warnings.push(`labels not added: ${messageOf(err)}`));
    }
    await requestReviewers(
      input.reviewers,
      (users, teams) =>
        this.call(`request reviewers on pull request #${pr.number}`, () =>
          this.octokit.rest.pulls.requestReviewers({
            owner: this.owner,
            repo: this.repo,
            pull_number: pr.number,
            ...(users.length > 0 ? { reviewers: users } : {}),
            ...(teams.length > 0 ? { team_reviewers: teams } : {}),
            request: requestOptions(options),
          }),
        ),
      warnings,
    );
    return { ...pr, warnings };
  }

  async updatePullRequest(
    number: number,
    change: { title: string; body: string },
    options: CallOptions = {},
  ): Promise<PullRequest> {
    return this.pull('update', number, options, (target) =>
      this.octokit.rest.pulls.update({ ...target, title: change.title, body: change.body }),
    );
  }

  async getPullRequest(number: number, options: CallOptions = {}): Promise<PullRequest> {
    return this.pull('get', number, options, (target) => this.octokit.rest.pulls.get(target));
  }

  async comment(number: number, body: string, options: CallOptions = {}): Promise<void> {
    await this.call(`comment on pull request #${number}`, () =>
      this.octokit.rest.issues.createComment({
        owner: this.owner,
        repo: this.repo,
        issue_number: number,
        body,
        request: requestOptions(options),
      }),
    );
  }

  async closePullRequest(number: number, options: CallOptions = {}): Promise<PullRequest> {
    return this.pull('close', number, options, (target) =>
      this.octokit.rest.pulls.update({ ...target, state: 'closed' }),
    );
  }

  /** One call about pull request `number`, given its owner, repo, number and request options. */
  private async pull(
    what: string,
    number: number,
    options: CallOptions,
    send: (target: {
      owner: string;
      repo: string;
      pull_number: number;
      request: ReturnType<typeof requestOptions>;
    }) => Promise<{ data: unknown }>,
  ): Promise<PullRequest> {
    const target = {
      owner: this.owner,
      repo: this.repo,
      pull_number: number,
      request: requestOptions(options),
    };
    const { data } = await this.call(`${what} pull request #${number}`, () => send(target));
    return toPullRequest(data as PullData);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toForgeError(`GitHub ${this.repository}: ${what}`, err, this.secrets, this.now());
    }
  }
}

/** Whether a rate-limited request is retried in-process: a bounded count and a bounded wait. */
export function shouldRetryRateLimit(
  retryAfterSeconds: number,
  retryCount: number,
  maxRetries: number,
  maxRetryAfterSeconds: number,
): boolean {
  return retryCount < maxRetries && retryAfterSeconds <= maxRetryAfterSeconds;
}

function requestOptions(options: CallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/**
 * octokit's RequestError to a ForgeError. Its message is the forge's own text
 * (toErrorMessage of the answer), so it is never used: the status and response.data
 * go to forgeAnswerError, which shows at most a structured code.
 */
export function toForgeError(
  what: string,
  err: unknown,
  secrets: readonly string[],
  now: number,
): ForgeError {
  if (err instanceof ForgeError) return err;
  const e = err as {
    status?: unknown;
    response?: { headers?: HeaderBag; data?: unknown };
    cause?: unknown;
    name?: unknown;
  } | null;
  if (e?.response !== undefined && typeof e.status === 'number') {
    return forgeAnswerError(
      what,
      { status: e.status, headers: e.response.headers ?? {}, body: e.response.data },
      { now, secrets },
    );
  }
  // A RequestError without a response never reached GitHub: a refusal of the outbound
  // client, a network error, a timeout, an abort. octokit keeps the fetch error as cause.
  const cause = isHttpError(err) ? err : e?.cause;
  if (isHttpError(cause))
    return forgeNoAnswerError(what, `${cause.code}: ${cause.message}`, { secrets, cause });
  const reason = cause instanceof Error ? ((cause as { cause?: unknown }).cause ?? cause) : err;
  return forgeNoAnswerError(
    what,
    reason instanceof Error
      ? reason.message
      : e?.name === 'AbortError'
        ? 'cancelled'
        : 'network error',
    { secrets, cause: reason },
  );
}

/** A terminal refusal of the outbound client, named so octokit neither wraps nor retries it (see request.fetch). */
class OutboundRefusal extends Error {
  override readonly name = 'AbortError';
  constructor(readonly refusal: HttpError) {
    super(refusal.message, { cause: refusal });
  }
}

function toPullRequest(data: PullData): PullRequest {
  return pullRequestFrom(
    data,
    data.merged === true || (data.merged_at !== undefined && data.merged_at !== null),
  );
}
