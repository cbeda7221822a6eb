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
  type HttpError,
  type RetrySettings,
} from '../lib/http/index.js';
import { redact, redactUrl, urlSecrets } from '../lib/redact.js';
import { NotifyError, NOTIFY_ERROR_CODES, type NotifyErrorCode } from './errors.js';
import type { NotifierType, NotifyLogger } from './types.js';

/** scheme://host/…: the target's path and query are its secret (a Slack webhook URL). */
const TARGET = { path: false } as const;

/**
 * The one HTTP sender every notifier uses: a POST with a per-attempt timeout and bounded
 * retries.
 *
 * - Retried: network errors, timeouts, 5xx, 408 and 429, up to `retries` times, with
 *   exponential backoff and jitter (each wait is between half and all of
 *   backoffMs·2^attempt, capped at maxBackoffMs).
 * - A Retry-After (delta-seconds or an HTTP-date) on a retried answer replaces the
 *   backoff when it is at most maxRetryAfterMs. A longer one ends the delivery at once
 *   with FST_NOTIFY_HTTP and `retryAfterMs`, so the caller requeues instead of sleeping
 *   inside a reconcile.
 * - Not retried: other 4xx (FST_NOTIFY_REJECTED) and redirects, which are never
 *   followed (a redirect would send the body, and its signature, somewhere the operator
 *   did not configure).
 *
 * A retry re-sends the same bytes, so the notification id travels with every attempt;
 * receivers that remember ids see one delivery. Slack does not deduplicate: an attempt
 * that timed out after Slack posted the message is posted again by the retry.
 *
 * The URL is validated when the sender is built (http or https, absolute, no user info)
 * and never appears in errors or logs, only its redacted form (scheme://host/…).
 *
 * Transport: the one outbound client (lib/http), injected by the controller with
 * --outbound-allow and the cluster ranges; the default is the same client with no SSRF
 * exceptions. A target it refuses (SSRF guard, plain http to a host that is not
 * loopback or allow-listed) is FST_NOTIFY_INVALID_URL, not retried. An error never
 * shows the receiver's answer, only its status and at most a structured code from a
 * JSON answer: Slack's plain-text `invalid_payload` is not shown either.
 */
export interface HttpOptions {
  /** Per attempt, response body included. Default 10 s. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  retries?: number;
  /** First backoff, doubled per retry. Default 1 s. */
  backoffMs?: number;
  /** Longest backoff. Default 30 s. */
  maxBackoffMs?: number;
  /** Longest Retry-After slept through in-process. Default 60 s. */
  maxRetryAfterMs?: number;
  logger?: NotifyLogger;
  /** Default Date.now; for Retry-After HTTP-dates. */
  now?: () => number;
  /** Default Math.random; for jitter. */
  random?: () => number;
  /** Default an abortable timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Default the outbound client (lib/http) with no SSRF exceptions. */
  fetch?: typeof globalThis.fetch;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;
const NOTIFY_RETRY_DEFAULTS = {
  retries: DEFAULT_RETRIES,
  backoffMs: DEFAULT_BACKOFF_MS,
  maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
  maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
};
/** Bytes of an error response read for its structured code; the rest is discarded unread. */
const MAX_ERROR_BYTES = 2048;

export interface HttpRequest {
  body: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** For messages, for example "deliver Isolated for action x". */
  what: string;
  signal?: AbortSignal;
}

interface Failure {
  code: NotifyErrorCode;
  detail: string;
  status?: number;
  retryAfterMs?: number;
}

export class HttpSender {
  /** scheme://host/…, safe to log. */
  readonly target: string;
  private readonly url: string;
  private readonly type: NotifierType;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly retry: RetrySettings;
  private readonly logger: NotifyLogger | undefined;
  private readonly now: () => number;
  private readonly fetch: typeof globalThis.fetch;

  /**
   * Throws FST_NOTIFY_INVALID_URL for a URL that is not absolute http(s) or carries user
   * info, and FST_NOTIFY_INVALID_CONFIG for out-of-range options. `extraSecrets` (a
   * signing secret) are redacted from messages as the URL is.
   */
  constructor(
    type: NotifierType,
    url: string,
    options: HttpOptions = {},
    extraSecrets: readonly string[] = [],
  ) {
    this.type = type;
    const parsed = validateUrl(type, url);
    this.url = parsed.href;
    this.target = redactUrl(parsed, TARGET);
    this.secrets = [...urlSecrets(url), ...extraSecrets];
    this.timeoutMs = positive(type, 'timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const invalid = (rule: string) =>
      new NotifyError(
        'FST_NOTIFY_INVALID_CONFIG',
        `${type} notifier: ${rule}, got ${String(options.retries)}`,
      );
    this.retry = retrySettings(options, NOTIFY_RETRY_DEFAULTS, invalid);
    for (const name of ['backoffMs', 'maxBackoffMs', 'maxRetryAfterMs'] as const)
      nonNegative(type, name, this.retry[name]);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? defaultOutboundFetch();
  }

  /** POSTs the body; resolves on 2xx, throws a NotifyError otherwise (after retries). */
  async post(request: HttpRequest): Promise<void> {
    await withRetry(async () => retryable(await this.attempt(request)), {
      ...this.retry,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      giveUp: (failure, reason, attempts) =>
        this.error(this.explained(failure, reason), request, attempts),
      cancelled: (attempts, whileWaiting) =>
        this.error(
          {
            code: 'FST_NOTIFY_ABORTED',
            detail: whileWaiting ? 'cancelled while waiting to retry' : 'cancelled',
          },
          request,
          attempts,
        ),
      onRetry: (failure, attempt, waitMs) =>
        this.logger?.warn(
          {
            notifier: this.type,
            target: this.target,
            code: failure.code,
            status: failure.status,
            attempt,
            waitMs,
          },
          'Retrying notification',
        ),
    });
  }

  /** A failure given up on because the receiver asked for too long a wait says so. */
  private explained(failure: Failure, reason: GiveUpReason): Failure {
    if (reason !== 'retry-after-too-long' || failure.retryAfterMs === undefined) return failure;
    const asked = Math.ceil(failure.retryAfterMs / 1000);
    const waits = Math.ceil(this.retry.maxRetryAfterMs / 1000);
    return {
      ...failure,
      detail: `${failure.detail}; the receiver asked to retry after ${asked} s, longer than the ${waits} s this client waits`,
    };
  }

  /** One request; undefined on success. */
  private async attempt(request: HttpRequest): Promise<Failure | undefined> {
    const outcome = await fetchOnce(
      this.fetch,
      this.url,
      {
        method: 'POST',
        headers: { 'user-agent': 'Forestall-Notifier', ...request.headers },
        body: request.body,
      },
      {
        timeoutMs: this.timeoutMs,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
        read: (response) => this.failureOf(response),
      },
    );
    switch (outcome.kind) {
      case 'answer':
        return outcome.value;
      case 'cancelled':
        return { code: 'FST_NOTIFY_ABORTED', detail: outcome.detail };
      case 'timeout':
        return { code: 'FST_NOTIFY_TIMEOUT', detail: outcome.detail };
      case 'outbound':
        return outboundFailure(outcome.error);
      case 'network':
        return { code: 'FST_NOTIFY_NETWORK', detail: networkDetail(outcome.detail) };
    }
  }

  /** undefined for a 2xx; otherwise what the answer means, read no further than its start. */
  private async failureOf(response: Response): Promise<Failure | undefined> {
    if (response.ok) {
      // Free the connection without reading what the receiver said ("ok" from Slack).
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    const status = response.status;
    const statusText = `HTTP ${status}${answerCodeSuffix(await readBodyStart(response, MAX_ERROR_BYTES))}`;
    if (isRedirect(status)) {
      return {
        code: 'FST_NOTIFY_REJECTED',
        status,
        detail: `HTTP ${status}: redirects are not followed; configure the final URL`,
      };
    }
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now());
      return {
        code: 'FST_NOTIFY_HTTP',
        status,
        detail: statusText,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    return { code: 'FST_NOTIFY_REJECTED', status, detail: statusText };
  }

  private error(failure: Failure, request: HttpRequest, attempts: number): NotifyError {
    const tries = attemptsNote(attempts);
    return new NotifyError(
      failure.code,
      `${this.type} notifier ${this.target}: ${request.what}: ${failure.detail}${tries}`,
      {
        ...(failure.status === undefined ? {} : { status: failure.status }),
        ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
        attempts,
        target: this.target,
        secrets: this.secrets,
      },
    );
  }
}

function validateUrl(type: NotifierType, raw: string): URL {
  // The input is not echoed: it may be a credential with a typo in it.
  const invalid = (message: string) =>
    new NotifyError('FST_NOTIFY_INVALID_URL', message, { secrets: urlSecrets(raw) });
  return parseConfiguredUrl(raw, {
    notAbsolute: () => invalid(`${type} notifier: the target is not an absolute URL`),
    scheme: (url) =>
      invalid(
        `${type} notifier: the target URL must be http or https, not ${url.protocol.slice(0, 20)}`,
      ),
    userInfo: (url) =>
      invalid(
        `${type} notifier ${redactUrl(url, TARGET)}: the target URL must not carry user info`,
      ),
  });
}

function positive(type: NotifierType, name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new NotifyError(
      'FST_NOTIFY_INVALID_CONFIG',
      `${type} notifier: ${name} must be a positive number of ms, got ${String(value)}`,
    );
  return value;
}

function nonNegative(type: NotifierType, name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new NotifyError(
      'FST_NOTIFY_INVALID_CONFIG',
      `${type} notifier: ${name} must be a non-negative number of ms, got ${String(value)}`,
    );
  return value;
}

/**
 * A refusal or failure of the outbound client. Its message names the URL, which the
 * NotifyError built from this redacts (the URL's path and query are its secret).
 */
function outboundFailure(err: HttpError): Failure {
  const detail = `${err.code}: ${err.message}`;
  switch (err.code) {
    case 'FST_HTTP_SSRF_BLOCKED':
    case 'FST_HTTP_INSECURE':
    case 'FST_HTTP_INVALID_REQUEST':
      return { code: 'FST_NOTIFY_INVALID_URL', detail };
    case 'FST_HTTP_TOO_LARGE':
    case 'FST_HTTP_REDIRECT_INVALID':
    case 'FST_HTTP_REDIRECT_LIMIT':
      return { code: 'FST_NOTIFY_REJECTED', detail };
    case 'FST_HTTP_TIMEOUT':
      return { code: 'FST_NOTIFY_TIMEOUT', detail };
    default:
      return { code: 'FST_NOTIFY_NETWORK', detail };
  }
}

/**
 * A retryable failure is one whose code is transient, except a cancellation by the
 * caller: that ends the delivery at once.
 */
function retryable(failure: Failure | undefined): AttemptResult<void, Failure> {
  if (failure === undefined) return { ok: true, value: undefined };
  const retry =
    NOTIFY_ERROR_CODES[failure.code].class === 'transient' && failure.code !== 'FST_NOTIFY_ABORTED';
  return {
    ok: false,
    failure,
    retry,
    ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
  };
}

/**
 * The transport's own redaction runs again when the error is built; this strips URLs
 * undici may put in its messages before they are cut to length.
 */
function networkDetail(message: string): string {
  return redact(message).replace(/https?:\/\/\S+/gi, (m) => redactUrl(m, TARGET));
}
