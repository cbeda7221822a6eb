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
import { setTimeout as delay } from 'node:timers/promises';
import { answerCodeSuffix, createOutboundFetch, isHttpError } from '../../lib/http/index.js';
import { parseRetryAfter, readBodyStart } from '../../notify/index.js';
import { ConnectorError, type ConnectorErrorCode } from '../errors.js';
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
/** Retries beyond this are a configuration mistake, not resilience. */
const MAX_RETRIES = 10;
/** Bytes of an error answer read for its structured code; the rest is discarded unread. */
const MAX_ERROR_BYTES = 4096;

export function createIdentityHttp(options: IdentityHttpOptions): IdentityHttp {
  return new IdentityHttpClient(options);
}

/** One attempt's outcome: an answer (any status), or no answer at all. */
type Attempt =
  | { answered: true; status: number; headers: Headers; text: string }
  | { answered: false; detail: string; terminal?: boolean };

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
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
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
    this.fetch = options.fetch ?? (createOutboundFetch({ ssrf: {} }) as typeof globalThis.fetch);
    this.timeoutMs = options.timeoutMs ?? IDENTITY_HTTP_DEFAULTS.timeoutMs;
    this.retries = options.retries ?? IDENTITY_HTTP_DEFAULTS.retries;
    if (!Number.isInteger(this.retries) || this.retries < 0 || this.retries > MAX_RETRIES) {
      throw new RangeError(
        `identity HTTP client: retries must be an integer from 0 to ${MAX_RETRIES}, not ${String(options.retries)}`,
      );
    }
    if (!(this.timeoutMs > 0))
      throw new RangeError(
        `identity HTTP client: timeoutMs must be positive, not ${String(options.timeoutMs)}`,
      );
    this.backoffMs = options.backoffMs ?? IDENTITY_HTTP_DEFAULTS.backoffMs;
    this.maxBackoffMs = options.maxBackoffMs ?? IDENTITY_HTTP_DEFAULTS.maxBackoffMs;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? IDENTITY_HTTP_DEFAULTS.maxRetryAfterMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.random = options.random ?? Math.random;
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
  ): Promise<Extract<Attempt, { answered: true }>> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(exchange);
      const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
      if (outcome.answered) {
        const { status } = outcome;
        const retryable = (status === 429 || status >= 500) && !exchange.accept.includes(status);
        if (!retryable) return outcome;
        const code: ConnectorErrorCode =
          status === 429 ? 'FST_IDENTITY_RATE_LIMITED' : 'FST_IDENTITY_UNAVAILABLE';
        const retryAfterMs = parseRetryAfter(outcome.headers.get('retry-after'), this.now());
        const message = `${label}: ${exchange.what} answered HTTP ${status}${answerCodeSuffix(outcome.text)}`;
        if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
          throw this.error(
            code,
            `${message}; the provider asked to retry after ${Math.ceil(retryAfterMs / 1000)} s${tries}`,
            retryAfterMs,
          );
        }
        if (attempt > this.retries) throw this.error(code, `${message}${tries}`, retryAfterMs);
        await this.sleep(retryAfterMs ?? this.backoff(attempt - 1));
        continue;
      }
      if (outcome.terminal === true) {
        // Refused by the outbound client itself (SSRF guard, plain http, byte cap): retrying cannot help.
        throw this.error('FST_IDENTITY_REJECTED', `${label}: ${exchange.what}: ${outcome.detail}`);
      }
      if (attempt > this.retries) {
        const what = kind === 'token' ? 'no access token' : 'no answer';
        throw this.error(
          'FST_IDENTITY_UNAVAILABLE',
          `${label}: ${exchange.what}: ${what}: ${outcome.detail}${tries}`,
        );
      }
      await this.sleep(this.backoff(attempt - 1));
    }
  }

  private async attempt(exchange: Exchange): Promise<Attempt> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await this.fetch(exchange.url, {
        ...exchange.init,
        redirect: 'manual',
        signal,
      });
      const whole =
        (response.status >= 200 && response.status < 300) ||
        exchange.accept.includes(response.status);
      const text = whole ? await response.text() : await readBodyStart(response, MAX_ERROR_BYTES);
      return { answered: true, status: response.status, headers: response.headers, text };
    } catch (err) {
      if (signal.aborted)
        return { answered: false, detail: `no answer within ${this.timeoutMs} ms` };
      if (isHttpError(err))
        return { answered: false, detail: `${err.code}: ${err.message}`, terminal: !err.transient };
      return { answered: false, detail: networkMessage(err) };
    }
  }

  /** The answer of a call that is not retried, or the error it is. */
  private result<T>(
    answer: Extract<Attempt, { answered: true }>,
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
    if (status >= 300 && status < 400) {
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

  private backoff(retry: number): number {
    const base = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** retry);
    return Math.round(base / 2 + (base / 2) * this.random());
  }

  private addSecret(secret: string): void {
    if (secret.length < 4) return;
    this.secrets.add(secret);
    this.secrets.add(encodeURIComponent(secret));
    this.secrets.add(new URLSearchParams({ s: secret }).toString().slice(2));
  }

  private error(code: ConnectorErrorCode, message: string, retryAfterMs?: number): ConnectorError {
    return new ConnectorError(
      code,
      redact(message, this.secrets),
      retryAfterMs === undefined ? {} : { retryAfterMs },
    );
  }
}

function parseBase(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConnectorError(
      'FST_CONNECTOR_INVALID_REQUEST',
      `identity HTTP client: ${what} is not an absolute URL`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConnectorError(
      'FST_CONNECTOR_INVALID_REQUEST',
      `identity HTTP client: ${what} must be http or https, not ${url.protocol.slice(0, 20)}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConnectorError(
      'FST_CONNECTOR_INVALID_REQUEST',
      `identity HTTP client: ${what} must not carry user info; credentials come from the Secret`,
    );
  }
  return url;
}

/**
 * Removes the known secrets (longest first) and anything shaped like an Authorization
 * value or a client_secret form field.
 */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out
    .replace(/\b(Bearer|SSWS|Basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [REDACTED]')
    .replace(
      /(client_secret|access_token|refresh_token)(["']?\s*[:=]\s*["']?)(?!\[REDACTED\])[^"'&\s,}]+/gi,
      '$1$2[REDACTED]',
    );
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

/** fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause. */
function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message}: ${cause.message || (typeof code === 'string' ? code : cause.name)}`;
  }
  return err.message;
}
