/**
 * The one error type (STYLE.md 4; fastify's registry, octokit's RequestError). Every
 * error Forestall raises on purpose is a ForestallError, or a domain's subclass of it:
 * - `code`: a stable string, FST_*, documented in docs/errors.md (a test checks every
 *   domain's table against it);
 * - `errorClass`: what the reconcile loop does with it:
 *     transient: retry with per-key backoff (network errors, 5xx, 429, timeouts);
 *     terminal:  retrying cannot help (invalid spec, forbidden); shown in a condition,
 *                counted, not retried;
 *     conflict:  optimistic-concurrency loss (409); retried at once from fresh state;
 * - optional `status` (HTTP), `retryAfterMs` (when the other side said to come back),
 *   and `cause`;
 * - a message redacted when it is built (lib/redact.ts), with the secrets the caller
 *   passes, so no caller has to remember it before logging or writing a condition.
 *
 * Each domain keeps only its own table of codes (code → class and summary) and, when it
 * has more to say than these fields, a subclass. There is no global registry: a
 * subclass looks its class up in its own table and passes it here.
 */
import { redact } from './redact.js';

export type ErrorClass = 'transient' | 'terminal' | 'conflict';

/** One row of a domain's table of codes. */
export interface ErrorCodeInfo {
  readonly class: ErrorClass;
  /** One line for docs/errors.md and for the conditions that show the code. */
  readonly summary: string;
}

export type ErrorCodeTable = Readonly<Record<string, ErrorCodeInfo>>;

export interface ForestallErrorOptions {
  /** The class of this error; a subclass passes its code's default or a narrower one. */
  errorClass: ErrorClass;
  status?: number;
  /** When the other side said to come back, in ms from now (Retry-After, a rate limit). */
  retryAfterMs?: number;
  /**
   * Kept for debugging, and serialised by loggers: pass only errors whose text is known
   * not to carry secrets or response content (Node network, TLS and zlib errors).
   */
  cause?: unknown;
  /** Literal values to remove from the message, on top of credential-shaped text. */
  secrets?: Iterable<string>;
  /**
   * false only for a message built wholly from the author's own spec (a CEL compile
   * error quoting `Unexpected token: AND`), which reaches no one the spec did not, and
   * which credential-shaped redaction would garble.
   */
  redact?: boolean;
}

export class ForestallError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly errorClass: ErrorClass;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(code: Code, message: string, options: ForestallErrorOptions) {
    super(
      options.redact === false ? message : redact(message, options.secrets),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ForestallError';
    this.code = code;
    this.errorClass = options.errorClass;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function isForestallError(err: unknown): err is ForestallError {
  return err instanceof ForestallError;
}

const STABLE_CODE = /^FST_[A-Z0-9_]+$/;

/**
 * The stable code of any thrown value, for metrics and logs: a ForestallError's code,
 * or an FST_ code another error carries (the CEL compiler's, which is not a subclass),
 * else 'unknown'. A Node error's `code` (ECONNRESET) and a Kubernetes client's numeric
 * `code` are not ours and give 'unknown'.
 */
export function codeOf(err: unknown): string {
  if (err instanceof ForestallError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STABLE_CODE.test(code) ? code : 'unknown';
}

/**
 * Classes any thrown value. An error of ours carries its class; an error from the
 * Kubernetes client is classed by its HTTP status; anything else is transient, so it is
 * retried with backoff.
 */
export function classify(err: unknown): ErrorClass {
  if (err instanceof ForestallError) return err.errorClass;
  const carried = (err as { errorClass?: unknown } | null)?.errorClass;
  if (carried === 'terminal' || carried === 'transient' || carried === 'conflict') return carried;
  return classOfStatus(statusOf(err));
}

/** 409 is a conflict; 400, 403, 404 and 422 are terminal; anything else is transient. */
export function classOfStatus(status: number | undefined): ErrorClass {
  if (status === 409) return 'conflict';
  if (status !== undefined && [400, 403, 404, 422].includes(status)) return 'terminal';
  return 'transient';
}

/** The HTTP status of an error of ours, a client-node ApiException (`code`) or a Watch error (`statusCode`). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ForestallError) return err.status;
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.code === 'number') return e.code;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
