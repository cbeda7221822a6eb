/**
 * The HTTP client of one identity provider endpoint (the IdentityHttp contract in
 * types.ts): credentials, per-attempt timeout, bounded retries, and errors that name the
 * call and the provider's answer but never a credential.
 *
 * - Credentials: `Authorization: Bearer <token>` (SCIM), `SSWS <token>` (Okta), or an
 *   OAuth 2.0 client-credentials access token (Keycloak, Microsoft Graph) fetched from the
 *   token URL and cached until 30 s before its expires_in, so a token is never sent in
 *   its last seconds. A 401 from the API drops the cached token and repeats the call once
 *   with a new one: the provider may have revoked it (a rotated client secret, a
 *   restarted Keycloak) before it expired.
 * - Retries: network errors, timeouts, 5xx and 429, up to `retries` times after the first
 *   attempt, with exponential backoff and jitter (each wait between half and all of
 *   backoffMs·2^retry, capped at maxBackoffMs). A Retry-After (seconds or an HTTP date)
 *   replaces the backoff; one longer than maxRetryAfterMs (60 s) ends the call at once
 *   with `retryAfterMs`, so the controller requeues instead of sleeping in a reconcile.
 *   Every call is retried, writes included: the providers' writes Forestall makes (set a
 *   flag, add a member, log out) give the same state when repeated.
 * - Redirects are not followed: a redirect would carry the credentials somewhere the
 *   operator did not configure. They are FST_IDENTITY_REJECTED, naming where they point.
 * - Transport: the one outbound client (lib/http): SSRF guard with pinned resolution,
 *   https unless loopback or in --outbound-allow, a byte cap on every answer. The
 *   controller injects it with its allow-list and cluster ranges; the default here is
 *   the same client with no exceptions at all.
 * - Errors: ConnectorError with the method, the path (never the query), the status and
 *   at most a structured code from a JSON answer (Okta E0000011, Graph
 *   Authorization_RequestDenied, SCIM scimType, OAuth invalid_client). No other part
 *   of an answer is ever shown: a proxy page or a metadata document behind a
 *   misconfigured URL must not end up in the action's Ready condition. The token,
 *   client secret and every access token this client got are also removed from the
 *   message when it is built.
 */
import {
  answerCodeSuffix,
  attemptsNote,
  defaultOutboundFetch,
  fetchOnce,
  isRedirect,
  parseConfiguredUrl,
  parseRetryAfter,
  readBodyStart,
  retrySettings,
  withRetry,
  type AttemptResult,
  type GiveUpReason,
  type RetrySettings,
} from '../../lib/http/index.js';
import { secretForms } from '../../lib/redact.js';
import { ConnectorError, type ConnectorErrorCode } from '../core/errors.js';
import type { AuthScheme, HttpAnswer, HttpCall, IdentityHttp } from './types.js';

export interface IdentityHttpOptions {
  /** The API base URL; HttpCall paths are appended to it. */
  baseUrl: string;
  auth: AuthScheme;
  /** Default the outbound client (lib/http) with no SSRF exceptions. */
  fetch?: typeof globalThis.fetch;
  /** Per attempt, response body included. Default 10 s. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  retries?: number;
  /** First backoff, doubled per retry. Default 500 ms. */
  backoffMs?: number;
  /** Longest backoff. Default 10 s. */
  maxBackoffMs?: number;
  /** Longest Retry-After slept through in-process. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Default Date.now: token expiry and Retry-After dates. */
  now?: () => number;
  /** Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Default Math.random; for jitter. */
  random?: () => number;
}

export const IDENTITY_HTTP_DEFAULTS = {
  timeoutMs: 10_000,
  retries: 3,
  backoffMs: 500,
  maxBackoffMs: 10_000,
  maxRetryAfterMs: 60_000,
} as const;

/** A cached access token is not used in its last 30 s: a call may take that long with retries. */
export const TOKEN_RENEW_MARGIN_MS = 30_000;
/** Bytes of an error answer read for its structured code; the rest is discarded unread. */
const MAX_ERROR_BYTES = 4096;

export function createIdentityHttp(options: IdentityHttpOptions): IdentityHttp {
  return new IdentityHttpClient(options);
}

/** One attempt's outcome: an answer (any status), or no answer at all. */
type Attempt =
  | { answered: true; status: number; headers: Headers; text: string }
  | { answered: false; detail: string; terminal?: boolean };
type Answered = Extract<Attempt, { answered: true }>;

interface Exchange {
  /** For messages: "PUT /users/1" or "POST (token request)". */
  what: string;
  url: string;
  init: { method: string; headers: Record<string, string>; body?: string };
  /** Statuses returned whole (the body read in full) instead of classified. */
  accept: readonly number[];
}

class IdentityHttpClient implements IdentityHttp {
  private readonly base: string;
  /** scheme://host/path of the API base, for messages. */
  private readonly label: string;
  private readonly auth: AuthScheme;
  private readonly fetch: typeof globalThis.fetch;
  private readonly timeoutMs: number;
  private readonly retry: RetrySettings;
  private readonly now: () => number;
  /** Strings removed from every message: the configured secret and the access tokens this client got. */
  private readonly secrets = new Set<string>();
  private cached: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(options: IdentityHttpOptions) {
    const base = parseBase(options.baseUrl, 'baseUrl');
    this.base = base.href.replace(/\/+$/, '');
    this.label = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    this.auth = options.auth;
    if (options.auth.type === 'client-credentials') {
      parseBase(options.auth.tokenUrl, 'the token URL');
      this.addSecret(options.auth.clientSecret);
    } else {
      this.addSecret(options.auth.token);
    }
    this.fetch = options.fetch ?? defaultOutboundFetch();
    this.timeoutMs = options.timeoutMs ?? IDENTITY_HTTP_DEFAULTS.timeoutMs;
    this.retry = retrySettings(
      options,
      IDENTITY_HTTP_DEFAULTS,
      (rule) => new RangeError(`identity HTTP client: ${rule}, not ${String(options.retries)}`),
    );
    if (!(this.timeoutMs > 0))
      throw new RangeError(
        `identity HTTP client: timeoutMs must be positive, not ${String(options.timeoutMs)}`,
      );
    this.now = options.now ?? Date.now;
  }

  async send<T = unknown>(
    call: HttpCall,
    options: { accept?: readonly number[] } = {},
  ): Promise<HttpAnswer<T>> {
    const query =
      call.query && Object.keys(call.query).length > 0
        ? `?${new URLSearchParams(call.query).toString()}`
        : '';
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'forestall-identity',
    };
    for (const [name, value] of Object.entries(call.headers ?? {})) {
      // The client alone decides the credentials.
      if (name.toLowerCase() !== 'authorization') headers[name.toLowerCase()] = value;
    }
    let body: string | undefined;
    if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers['content-type'] ??= 'application/json';
    }
    const exchange: Exchange = {
      what: `${call.method} ${call.path}`,
      url: `${this.base}${call.path}${query}`,
      init: { method: call.method, headers, ...(body === undefined ? {} : { body }) },
      accept: options.accept ?? [],
    };
    let fresh = false;
    for (;;) {
      headers['authorization'] = await this.authorization();
      const answer = await this.exchange(exchange, this.label);
      const tokenRejected =
        answer.status === 401 &&
        this.auth.type === 'client-credentials' &&
        !exchange.accept.includes(401);
      if (tokenRejected && !fresh) {
        // The provider no longer takes the cached token; one new token, one more try.
        this.cached = undefined;
        fresh = true;
        continue;
      }
      return this.result<T>(answer, exchange, this.label, 'api');
    }
  }

  private async authorization(): Promise<string> {
    switch (this.auth.type) {
      case 'bearer':
        return `Bearer ${this.auth.token}`;
      case 'ssws':
        return `SSWS ${this.auth.token}`;
      case 'client-credentials':
        return `Bearer ${await this.accessToken()}`;
    }
  }

  /** The cached access token, or a new one; concurrent callers share one token request. */
  private async accessToken(): Promise<string> {
    if (this.cached !== undefined && this.now() < this.cached.renewAt) return this.cached.token;
    this.pending ??= this.requestToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async requestToken(): Promise<string> {
    if (this.auth.type !== 'client-credentials')
      throw new Error('unreachable: no token request without client credentials');
    const { tokenUrl, clientId, clientSecret, scope } = this.auth;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    if (scope !== undefined) form.set('scope', scope);
    const url = new URL(tokenUrl);
    const label = `token endpoint ${url.origin}${url.pathname}`;
    const exchange: Exchange = {
      what: 'POST (client credentials)',
      url: tokenUrl,
      init: {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'forestall-identity',
        },
        body: form.toString(),
      },
      accept: [],
    };
    const startedAt = this.now();
    const answer = await this.exchange(exchange, label, 'token');
    const { body } = this.result<{ access_token?: unknown; expires_in?: unknown }>(
      answer,
      exchange,
      label,
      'token',
    );
    const token = body?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw this.error(
        'FST_IDENTITY_AUTH',
        `${label}: ${exchange.what} answered HTTP ${answer.status} without an access_token`,
      );
    }
    this.addSecret(token);
    const lifetimeMs = Number(body.expires_in) * 1000;
    // Without a usable expires_in the token serves this call only.
    this.cached = Number.isFinite(lifetimeMs)
      ? { token, renewAt: startedAt + lifetimeMs - TOKEN_RENEW_MARGIN_MS }
      : undefined;
    return token;
  }

  /**
   * Sends until an answer that is not retried: a success, an accepted status, or a
   * client error. Throws for what stays retryable after the retries.
   */
  private async exchange(
    exchange: Exchange,
    label: string,
    kind: 'api' | 'token' = 'api',
  ): Promise<Answered> {
    return withRetry(async () => this.retryable(await this.attempt(exchange), exchange), {
      ...this.retry,
      giveUp: (outcome, reason, attempts) =>
        this.giveUp(outcome, reason, attempts, { exchange, label, kind }),
    });
  }

  /** 429 and 5xx (unless accepted) and no answer at all are retried; the rest is returned. */
  private retryable(outcome: Attempt, exchange: Exchange): AttemptResult<Answered, Attempt> {
    if (!outcome.answered) return { ok: false, failure: outcome, retry: outcome.terminal !== true };
    const { status } = outcome;
    if ((status !== 429 && status < 500) || exchange.accept.includes(status))
      return { ok: true, value: outcome };
    const retryAfterMs = parseRetryAfter(outcome.headers.get('retry-after'), this.now());
    return {
      ok: false,
      failure: outcome,
      retry: true,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  private giveUp(
    outcome: Attempt,
    reason: GiveUpReason,
    attempts: number,
    call: { exchange: Exchange; label: string; kind: 'api' | 'token' },
  ): ConnectorError {
    const { exchange, label, kind } = call;
    const tries = attemptsNote(attempts);
    if (!outcome.answered) {
      // Refused by the outbound client itself (SSRF guard, plain http, byte cap): retrying cannot help.
      if (reason === 'final')
        return this.error('FST_IDENTITY_REJECTED', `${label}: ${exchange.what}: ${outcome.detail}`);
      const what = kind === 'token' ? 'no access token' : 'no answer';
      return this.error(
        'FST_IDENTITY_UNAVAILABLE',
        `${label}: ${exchange.what}: ${what}: ${outcome.detail}${tries}`,
      );
    }
    const { status } = outcome;
    const code: ConnectorErrorCode =
      status === 429 ? 'FST_IDENTITY_RATE_LIMITED' : 'FST_IDENTITY_UNAVAILABLE';
    const retryAfterMs = parseRetryAfter(outcome.headers.get('retry-after'), this.now());
    const message = `${label}: ${exchange.what} answered HTTP ${status}${answerCodeSuffix(outcome.text)}`;
    if (reason === 'retry-after-too-long' && retryAfterMs !== undefined) {
      const wait = Math.ceil(retryAfterMs / 1000);
      return this.error(
        code,
        `${message}; the provider asked to retry after ${wait} s${tries}`,
        retryAfterMs,
      );
    }
    return this.error(code, `${message}${tries}`, retryAfterMs);
  }

  private async attempt(exchange: Exchange): Promise<Attempt> {
    const outcome = await fetchOnce(this.fetch, exchange.url, exchange.init, {
      timeoutMs: this.timeoutMs,
      read: async (response): Promise<Answered> => {
        const whole =
          (response.status >= 200 && response.status < 300) ||
          exchange.accept.includes(response.status);
        const text = whole ? await response.text() : await readBodyStart(response, MAX_ERROR_BYTES);
        return { answered: true, status: response.status, headers: response.headers, text };
      },
    });
    switch (outcome.kind) {
      case 'answer':
        return outcome.value;
      case 'outbound':
        return {
          answered: false,
          detail: outcome.detail,
          terminal: outcome.error.errorClass !== 'transient',
        };
      default:
        // A timeout or a network error (there is no caller signal to cancel with).
        return { answered: false, detail: outcome.detail };
    }
  }

  /** The answer of a call that is not retried, or the error it is. */
  private result<T>(
    answer: Answered,
    exchange: Exchange,
    label: string,
    kind: 'api' | 'token',
  ): HttpAnswer<T> {
    const { status, headers, text } = answer;
    const prefix = `${label}: ${exchange.what} answered HTTP ${status}`;
    const ok = status >= 200 && status < 300;
    if (ok || exchange.accept.includes(status)) {
      if (text.trim() === '') return { status, headers, body: undefined as T };
      try {
        return { status, headers, body: JSON.parse(text) as T };
      } catch {
        // A 404 page from a proxy is still a 404; a success must be what the API promised.
        if (!ok) return { status, headers, body: undefined as T };
        throw this.error(
          'FST_IDENTITY_REJECTED',
          `${prefix} with a body that is not JSON (not shown)`,
        );
      }
    }
    if (isRedirect(status)) {
      const location = headers.get('location');
      const where = location === null ? '' : ` (to ${safeLocation(location, exchange.url)})`;
      throw this.error(
        'FST_IDENTITY_REJECTED',
        `${prefix}: a redirect${where}, which is not followed; configure the final URL`,
      );
    }
    // The token endpoint answers 400 for a wrong or unauthorised client (RFC 6749 5.2).
    const auth = status === 401 || status === 403 || (kind === 'token' && status === 400);
    throw this.error(
      auth ? 'FST_IDENTITY_AUTH' : 'FST_IDENTITY_REJECTED',
      `${prefix}${answerCodeSuffix(text)}`,
    );
  }

  private addSecret(secret: string): void {
    if (secret.length < 4) return;
    for (const form of secretForms(secret)) this.secrets.add(form);
  }

  private error(code: ConnectorErrorCode, message: string, retryAfterMs?: number): ConnectorError {
    return new ConnectorError(code, message, {
      secrets: this.secrets,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
}

function parseBase(raw: string, what: string): URL {
  const invalid = (problem: string) =>
    new ConnectorError('FST_CONNECTOR_INVALID_REQUEST', `identity HTTP client: ${what} ${problem}`);
  return parseConfiguredUrl(raw, {
    notAbsolute: () => invalid('is not an absolute URL'),
    scheme: (url) => invalid(`must be http or https, not ${url.protocol.slice(0, 20)}`),
    userInfo: () => invalid('must not carry user info; credentials come from the Secret'),
  });
}

/**
 * A redirect target by its origin only: the path and query are the answering server's
 * words (a code, a token, an error text), which never reach a condition.
 */
function safeLocation(location: string, from: string): string {
  try {
    return new URL(location, from).origin;
  } catch {
    return 'an unparsable Location';
  }
}
