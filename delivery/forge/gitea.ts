import { setTimeout as delay } from 'node:timers/promises';
import {
  defaultOutboundFetch,
  isHttpError,
  networkMessage as outboundNetworkMessage,
  withRetry,
  type AttemptResult,
} from '../../lib/http/index.js';
import { ForgeError, forgeAnswerError, forgeNoAnswerError } from './errors.js';
import { createOrFindExisting, requestReviewers } from './opening.js';
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

/**
 * Gitea (and Forgejo, which keeps Gitea's API) over its REST API v1, through the one
 * outbound client (lib/http; the controller injects it with --outbound-allow, the
 * default has no SSRF exceptions). Redirects are not followed: they would carry the
 * token somewhere the operator did not configure.
 *
 * Each request has its own timeout. 5xx, 408, 429 and network errors are retried up to
 * `retries` times with exponential backoff and jitter; a Retry-After from the forge
 * replaces the backoff when it is at most `maxRetryAfterMs`, and a longer one fails at
 * once with FST_FORGE_RATE_LIMITED and retryAfterMs, so the controller requeues instead
 * of sleeping inside a reconcile. Retrying POST /pulls is safe: Gitea refuses a second
 * pull request for the same head and base (409), and openPullRequest then returns the
 * existing one. A retried comment may, rarely, post twice.
 *
 * Auth is `Authorization: token <t>`; the token is never logged and is redacted from
 * every error.
 */
export interface GiteaForgeOptions extends ForgeClientOptions {
  /** API base, ending in /api/v1. */
  apiUrl: string;
  /** First backoff, doubled per retry, capped at 10 s. Default 500 ms. */
  backoffMs?: number;
  /** Longest forge-requested wait slept through in-process. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Colour for labels Forestall creates. Default b60205. */
  labelColor?: string;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

interface GiteaPull {
  number: number;
  html_url: string;
  state: string;
  title: string;
  body?: string | null;
  merged?: boolean;
  merge_commit_sha?: string | null;
  head: { ref: string; sha: string; repo?: { full_name?: string } | null };
  base: { ref: string };
}

interface GiteaLabel {
  id: number;
  name: string;
}

/** Gitea's default and usual MAX_RESPONSE_ITEMS. */
const PAGE_SIZE = 50;
/** Pages read before giving up on a listing: 1,000 open pull requests or labels. */
const MAX_PAGES = 20;
/** Closed pull requests are only searched this deep (recently updated first): a lost record is a recent one. */
const CLOSED_PAGES = 4;

export class GiteaForge implements Forge {
  readonly type = 'Gitea' as const;
  readonly repository: string;
  private readonly base: string;
  private readonly token: string;
  private readonly options: GiteaForgeOptions;
  private readonly fetch: typeof globalThis.fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(options: GiteaForgeOptions) {
    this.options = options;
    this.repository = `${options.repo.owner}/${options.repo.repo}`;
    this.base = `${options.apiUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(options.repo.owner)}/${encodeURIComponent(options.repo.repo)}`;
    this.token = options.token;
    this.fetch = options.fetch ?? defaultOutboundFetch();
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, signal ? { signal } : {}));
    this.random = options.random ?? Math.random;
  }

  async findOpenPullRequest(
    head: string,
    options: CallOptions = {},
  ): Promise<PullRequest | undefined> {
    // Gitea's list has no head filter (GET /pulls/{base}/{head} needs the base too), so page through the open ones.
    for (let page = 1; page <= MAX_PAGES; page++) {
      const pulls = await this.request<GiteaPull[]>(
        'GET',
        '/pulls',
        `list open pull requests (page ${page})`,
        options,
        { query: { state: 'open', page: String(page), limit: String(PAGE_SIZE) } },
      );
      const match = pulls.find((pr) => pr.head.ref === head && this.sameRepo(pr));
      if (match) return toPullRequest(match);
      if (pulls.length < PAGE_SIZE) return undefined;
    }
    throw new ForgeError(
      'FST_FORGE_REJECTED',
      `Gitea ${this.repository}: more than ${MAX_PAGES * PAGE_SIZE} open pull requests; cannot search them all for head ${head}`,
    );
  }

  async findClosedPullRequests(
    head: string,
    options: CallOptions & { limit?: number } = {},
  ): Promise<PullRequest[]> {
    const limit = options.limit ?? 50;
    const found: PullRequest[] = [];
    // No head filter here either: the closed ones, most recently updated first, a few pages deep.
    for (let page = 1; page <= CLOSED_PAGES && found.length < limit; page++) {
      const pulls = await this.request<GiteaPull[]>(
        'GET',
        '/pulls',
        `list closed pull requests (page ${page})`,
        options,
        {
          query: {
            state: 'closed',
            sort: 'recentupdate',
            page: String(page),
            limit: String(PAGE_SIZE),
          },
        },
      );
      found.push(
        ...pulls.filter((pr) => pr.head.ref === head && this.sameRepo(pr)).map(toPullRequest),
      );
      if (pulls.length < PAGE_SIZE) break;
    }
    return found.slice(0, limit);
  }

  async openPullRequest(
    input: OpenPullRequestInput,
    options: CallOptions = {},
  ): Promise<OpenedPullRequest> {
    const warnings: string[] = [];
    let labelIds: number[] = [];
    if (input.labels && input.labels.length > 0) {
      try {
        labelIds = await this.labelIds(input.labels, options);
      } catch (err) {
        warnings.push(`labels not added: ${messageOf(err)}`);
      }
    }
    // 409 (422 on older Gitea): "pull request already exists for these targets".
    const opened = await createOrFindExisting(
      async () =>
        toPullRequest(
          await this.request<GiteaPull>(
            'POST',
            '/pulls',
            `open a pull request from ${input.head} into ${input.base}`,
            options,
            {
              body: {
                head: input.head,
                base: input.base,
                title: input.title,
                body: input.body,
                ...(labelIds.length > 0 ? { labels: labelIds } : {}),
              },
            },
          ),
        ),
      () => this.findOpenPullRequest(input.head, options),
    );
    const { pr } = opened;
    if (!opened.created) return { ...pr, warnings };
    await requestReviewers(
      input.reviewers,
      (users, teams) =>
        this.request(
          'POST',
          `/pulls/${pr.number}/requested_reviewers`,
          `request reviewers on pull request #${pr.number}`,
          options,
          { body: { reviewers: users, team_reviewers: teams } },
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
    return this.pull('PATCH', number, 'update', options, {
      title: change.title,
      body: change.body,
    });
  }

  async getPullRequest(number: number, options: CallOptions = {}): Promise<PullRequest> {
    return this.pull('GET', number, 'get', options);
  }

  async comment(number: number, body: string, options: CallOptions = {}): Promise<void> {
    await this.request(
      'POST',
      `/issues/${number}/comments`,
      `comment on pull request #${number}`,
      options,
      { body: { body } },
    );
  }

  async closePullRequest(number: number, options: CallOptions = {}): Promise<PullRequest> {
    return this.pull('PATCH', number, 'close', options, { state: 'closed' });
  }

  /** One call on pull request `number` ("get pull request #3"), answered with the pull request. */
  private async pull(
    method: 'GET' | 'PATCH',
    number: number,
    verb: string,
    options: CallOptions,
    body?: Record<string, unknown>,
  ): Promise<PullRequest> {
    return toPullRequest(
      await this.request<GiteaPull>(
        method,
        `/pulls/${number}`,
        `${verb} pull request #${number}`,
        options,
        body === undefined ? {} : { body },
      ),
    );
  }

  /** Label ids by name, creating the labels that do not exist yet. */
  private async labelIds(names: readonly string[], options: CallOptions): Promise<number[]> {
    const existing = new Map<string, number>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const labels = await this.request<GiteaLabel[]>(
        'GET',
        '/labels',
        `list labels (page ${page})`,
        options,
        { query: { page: String(page), limit: String(PAGE_SIZE) } },
      );
      for (const label of labels) existing.set(label.name, label.id);
      if (labels.length < PAGE_SIZE) break;
    }
    const ids: number[] = [];
    for (const name of new Set(names)) {
      let id = existing.get(name);
      if (id === undefined) {
        const created = await this.request<GiteaLabel>(
          'POST',
          '/labels',
          `create label ${name}`,
          options,
          {
            body: {
              name,
              color: `#${this.options.labelColor ?? 'b60205'}`,
              description: 'Managed by Forestall',
            },
          },
        );
        id = created.id;
        this.options.logger?.info(
          { repository: this.repository, label: name },
          'Created Gitea label',
        );
      }
      ids.push(id);
    }
    return ids;
  }

  private sameRepo(pr: GiteaPull): boolean {
    const fullName = pr.head.repo?.full_name;
    return fullName === undefined || fullName.toLowerCase() === this.repository.toLowerCase();
  }

  /**
   * One API call with per-attempt timeout and bounded retries of transient failures,
   * by the one retry rule of the outbound clients (lib/http withRetry): backoff with
   * jitter, the forge's Retry-After honoured up to maxRetryAfterMs.
   */
  private async request<T>(
    method: string,
    path: string,
    what: string,
    options: CallOptions,
    init: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<T> {
    const label = `Gitea ${this.repository}: ${what}`;
    const url = `${this.base}${path}${init.query ? `?${new URLSearchParams(init.query).toString()}` : ''}`;
    return withRetry<T, ForgeError>(
      async () => this.attempt<T>(url, method, label, options, init),
      {
        retries: this.options.retries ?? 3,
        backoffMs: this.options.backoffMs ?? 500,
        maxBackoffMs: 10_000,
        maxRetryAfterMs: this.options.maxRetryAfterMs ?? 60_000,
        random: this.random,
        sleep: this.sleep,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        giveUp: (error) => error,
        cancelled: () => cancelled(label, options.signal?.reason, this.token),
        onRetry: (error, attempt, waitMs) =>
          this.options.logger?.warn(
            {
              repository: this.repository,
              method,
              path,
              code: error.code,
              status: error.status,
              attempt,
              waitMs,
            },
            'Retrying Gitea request',
          ),
      },
    );
  }

  /** One attempt: the parsed answer, or the ForgeError it is, retried when transient. */
  private async attempt<T>(
    url: string,
    method: string,
    label: string,
    options: CallOptions,
    init: { body?: unknown },
  ): Promise<AttemptResult<T, ForgeError>> {
    const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let error: ForgeError;
    try {
      const response = await this.fetch(url, {
        method,
        headers: {
          authorization: `token ${this.token}`,
          accept: 'application/json',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal,
        redirect: 'error',
      });
      if (response.ok) {
        const text = await response.text();
        return { ok: true, value: (text === '' ? undefined : JSON.parse(text)) as T };
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        headers[key] = value;
      });
      const body = await response.text().catch(() => '');
      error = forgeAnswerError(
        label,
        { status: response.status, headers, body },
        { now: this.now(), secrets: [this.token] },
      );
    } catch (err) {
      if (err instanceof ForgeError) throw err;
      if (options.signal?.aborted) throw cancelled(label, options.signal.reason, this.token);
      const detail = timeout.aborted ? `timed out after ${timeoutMs} ms` : networkMessage(err);
      error = forgeNoAnswerError(label, detail, { secrets: [this.token], cause: err });
    }
    return {
      ok: false,
      failure: error,
      retry: error.errorClass === 'transient',
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  }
}

function cancelled(label: string, reason: unknown, token: string): ForgeError {
  return new ForgeError('FST_FORGE_UNAVAILABLE', `${label}: cancelled`, {
    cause: reason,
    secrets: [token],
  });
}

function networkMessage(err: unknown): string {
  // The outbound client's own message: method, redacted URL, the refusal or Node error code.
  if (isHttpError(err)) return `${err.code}: ${err.message}`;
  return outboundNetworkMessage(err);
}

function toPullRequest(data: GiteaPull): PullRequest {
  return pullRequestFrom(data, data.merged === true);
}
