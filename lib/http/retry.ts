/**
 * The one retry rule of the outbound clients (notifications, identity providers, Gitea),
 * as a wrapper around one attempt, in the manner of octokit's retry hook:
 *
 * - an attempt that says `retry: false` ends the call with the caller's error;
 * - a retryable one is retried up to `retries` times after the first attempt, waiting
 *   the server's Retry-After when it gave one, else an exponential backoff with jitter
 *   (each wait between half and all of backoffMs·2^retry, capped at maxBackoffMs);
 * - a Retry-After longer than maxRetryAfterMs ends the call at once, so the caller
 *   (a reconcile) requeues at that time instead of sleeping through it;
 * - cancellation (`signal`) is checked before each attempt and ends a wait.
 *
 * What counts as retryable (5xx, 408, 429, network errors, timeouts) is the caller's
 * call, from its own codes' classes: the wrapper only counts and waits.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** One attempt's result: a value, or a failure the caller describes. */
export type AttemptResult<T, F> =
  { ok: true; value: T } | { ok: false; failure: F; retry: boolean; retryAfterMs?: number };

/** Why the wrapper stopped retrying a failure. */
export type GiveUpReason =
  /** The attempt said not to retry. */
  | 'final'
  /** The retries are used up. */
  | 'exhausted'
  /** The server asked for a wait longer than maxRetryAfterMs. */
  | 'retry-after-too-long';

export interface BackoffPolicy {
  /** First backoff, doubled per retry. */
  backoffMs: number;
  /** Longest backoff. */
  maxBackoffMs: number;
  /** Default Math.random; for jitter. */
  random?: () => number;
}

export interface RetryPolicy<F> extends BackoffPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Longest Retry-After slept through in-process. */
  maxRetryAfterMs: number;
  /** Default an abortable timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** The error thrown for a failure that is not retried (again). */
  giveUp(failure: F, reason: GiveUpReason, attempts: number): unknown;
  /** The error thrown when `signal` ends the call; default its reason. */
  cancelled?(attempts: number, whileWaiting: boolean): unknown;
  /** Before each wait, for a log line. */
  onRetry?(failure: F, attempt: number, waitMs: number): void;
}

/** The numbers and hooks of a retry policy as a client's options give them, each optional. */
export interface RetryOptions {
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  maxRetryAfterMs?: number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What a client keeps of its retry options and spreads into every withRetry() call. */
export type RetrySettings = Required<Omit<RetryOptions, 'random' | 'sleep'>> &
  Pick<RetryOptions, 'random' | 'sleep'>;

/** Retries beyond this are a configuration mistake, not resilience. */
export const MAX_RETRIES = 10;

/**
 * `options` over the client's `defaults`. Throws `invalidRetries(rule)` for a retry count
 * that is not an integer from 0 to MAX_RETRIES; the rule is a sentence the caller words
 * its own error around.
 */
export function retrySettings(
  options: RetryOptions,
  defaults: Required<Omit<RetryOptions, 'random' | 'sleep'>>,
  invalidRetries: (rule: string) => Error,
): RetrySettings {
  const retries = options.retries ?? defaults.retries;
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES)
    throw invalidRetries(`retries must be an integer from 0 to ${MAX_RETRIES}`);
  return {
    retries,
    backoffMs: options.backoffMs ?? defaults.backoffMs,
    maxBackoffMs: options.maxBackoffMs ?? defaults.maxBackoffMs,
    maxRetryAfterMs: options.maxRetryAfterMs ?? defaults.maxRetryAfterMs,
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  };
}

/** What an error message adds for a call tried more than once: " (3 attempts)", else nothing. */
export function attemptsNote(attempts: number): string {
  return attempts > 1 ? ` (${attempts} attempts)` : '';
}

/** Runs `attempt` (given its number, from 1) until a value, or throws the policy's error. */
export async function withRetry<T, F>(
  attempt: (n: number) => Promise<AttemptResult<T, F>>,
  policy: RetryPolicy<F>,
): Promise<T> {
  const sleep = policy.sleep ?? abortableSleep;
  const cancelled = (attempts: number, whileWaiting: boolean): unknown =>
    policy.cancelled?.(attempts, whileWaiting) ?? policy.signal?.reason;
  for (let n = 1; ; n++) {
    if (policy.signal?.aborted) throw cancelled(n - 1, false);
    const result = await attempt(n);
    if (result.ok) return result.value;
    const { failure, retryAfterMs } = result;
    if (!result.retry) throw policy.giveUp(failure, 'final', n);
    if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs)
      throw policy.giveUp(failure, 'retry-after-too-long', n);
    if (n > policy.retries) throw policy.giveUp(failure, 'exhausted', n);
    const waitMs = retryAfterMs ?? backoffDelay(n - 1, policy);
    policy.onRetry?.(failure, n, waitMs);
    try {
      await sleep(waitMs, policy.signal);
    } catch {
      throw cancelled(n, true);
    }
  }
}

/** The wait before retry number `retry` (from 0): half to all of backoffMs·2^retry, capped. */
export function backoffDelay(retry: number, policy: BackoffPolicy): number {
  const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** retry);
  return Math.round(base / 2 + (base / 2) * (policy.random ?? Math.random)());
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : {});
}

/**
 * Retry-After in ms: delta-seconds, or an HTTP-date relative to `now` (a date in the
 * past means now: 0). undefined when absent or unparsable, so the backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP-dates name the weekday and say GMT; Date.parse alone would accept "5s" or "1.5".
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The first `maxBytes` of a response body, for an error's structured code; the rest is
 * never read, and the body is cancelled. A body cut short gives what arrived.
 */
export async function readBodyStart(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } catch {
    // a body cut short (timeout, reset): show what arrived
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/**
 * A redirect is an answer, not something to follow: it would carry the credentials or
 * a signed body somewhere the operator did not configure. Callers of fetch pass
 * `redirect: 'manual'` and treat a 3xx as a refusal; this names the rule once.
 */
export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause. */
export function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (!(cause instanceof Error)) return err.message;
  // Several addresses tried (happy eyeballs) give an AggregateError with no message.
  const code = (cause as { code?: unknown }).code;
  return `${err.message}: ${cause.message || (typeof code === 'string' ? code : cause.name)}`;
}
