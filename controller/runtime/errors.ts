/**
 * Errors with stable codes (fastify's registry). Every error is classed:
 *   transient: retry with per-key backoff (network errors, 5xx, 429, timeouts);
 *   terminal:  retrying cannot help (invalid spec, forbidden); shown in a condition, counted, not retried;
 *   conflict:  optimistic-concurrency loss (409); retried at once from fresh state.
 * Messages are built with secrets already redacted. docs/errors.md documents every
 * code, and controller/runtime/errors.test.ts fails when one is missing.
 */
export type ErrorClass = 'transient' | 'terminal' | 'conflict';

export const ERROR_CODES = {
  FST_KUBE_CONFLICT: {
    class: 'conflict',
    summary:
      'The object changed since it was read (HTTP 409); the reconcile is retried from fresh state.',
  },
  FST_KUBE_TRANSIENT: {
    class: 'transient',
    summary: 'The API server was unreachable or answered 429/5xx; retried with backoff.',
  },
  FST_KUBE_REJECTED: {
    class: 'terminal',
    summary: 'The API server rejected a request as invalid or forbidden (HTTP 400/403/422).',
  },
  FST_KUBE_NOT_FOUND: {
    class: 'terminal',
    summary: 'A referenced object does not exist (HTTP 404).',
  },
  FST_INVALID_SPEC: {
    class: 'terminal',
    summary: "The object's spec fails validation; the Ready condition names the field.",
  },
  FST_CONFIG_INVALID: {
    class: 'terminal',
    summary: "The controller's configuration (flags) is invalid; the process exits at start-up.",
  },
  FST_LEADER_LOST: {
    class: 'terminal',
    summary:
      'The process lost its leader lease; it stops reconciling and exits so a fresh start rejoins the election.',
  },
  FST_SNAPSHOT_DAMAGED: {
    class: 'transient',
    summary:
      'A stored indicator snapshot is incomplete or fails its checksum; the feed is refetched and the snapshot rewritten.',
  },
  FST_SECRET_NOT_ALLOWED: {
    class: 'terminal',
    summary:
      'A Secret was named as a credential for a destination it does not list: it lacks the label forestall.io/credential=true, or its annotation forestall.io/allowed-destinations does not admit the host; looked at again at the poll interval.',
  },
  FST_INTERNAL: {
    class: 'transient',
    summary:
      'An unexpected error inside the controller; retried with backoff and logged with its stack.',
  },
} as const satisfies Record<string, { class: ErrorClass; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

// Applied in order: schemes with a credential after them, credentials inside URLs,
// then `key: value` / `key=value` pairs whose key names a secret.
const REDACTIONS: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+:[^/@\s]+@/gi, '$1[REDACTED]@'],
  [
    /\b(authorization|token|access[_-]?token|password|passwd|secret|api[_-]?key|client[_-]?secret)(["']?\s*[:=]\s*["']?)(?!\[REDACTED\]|Bearer |Basic )[^\s"',}&]+/gi,
    '$1$2[REDACTED]',
  ],
];

/** Removes credentials from text that may end up in an error, log, condition or Event. */
export function redact(text: string): string {
  return REDACTIONS.reduce((t, [re, replacement]) => t.replace(re, replacement), text);
}

export class ForestallError extends Error {
  readonly code: ErrorCode;
  readonly errorClass: ErrorClass;
  readonly status?: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(redact(message), { cause: options.cause });
    this.name = 'ForestallError';
    this.code = code;
    this.errorClass = ERROR_CODES[code].class;
    this.status = options.status;
  }
}

/** A reconcile error that must not be retried (controller-runtime's TerminalError). */
export function terminal(code: ErrorCode, message: string, cause?: unknown): ForestallError {
  const err = new ForestallError(code, message, { cause });
  if (err.errorClass !== 'terminal') throw new Error(`${code} is not a terminal code`);
  return err;
}

/** Classes any thrown value; unknown errors are transient so they are retried. */
export function classify(err: unknown): ErrorClass {
  if (err instanceof ForestallError) return err.errorClass;
  // Engine-side errors (connectors/ cannot import ForestallError) carry their own class.
  if (
    err instanceof Error &&
    'errorClass' in err &&
    (err.errorClass === 'terminal' || err.errorClass === 'transient')
  )
    return err.errorClass;
  const status = statusOf(err);
  if (status === 409) return 'conflict';
  if (status !== undefined && [400, 403, 404, 422].includes(status)) return 'terminal';
  return 'transient';
}

/** The HTTP status of a client-node ApiException (`code`) or a Watch error (`statusCode`). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ForestallError) return err.status;
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.code === 'number') return e.code;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** The message the API server put in its Status body, else the error's own message. */
export function messageOf(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return redact(parsed.message);
    } catch {
      // not JSON: fall through to the error message
    }
  } else if (
    body &&
    typeof body === 'object' &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    return redact((body as { message: string }).message);
  }
  return redact(err instanceof Error ? err.message : String(err));
}

/** Wraps an error from the Kubernetes client in a ForestallError with a stable code. */
export function fromKube(err: unknown, what: string): ForestallError {
  if (err instanceof ForestallError) return err;
  const status = statusOf(err);
  const code: ErrorCode =
    status === 409
      ? 'FST_KUBE_CONFLICT'
      : status === 404
        ? 'FST_KUBE_NOT_FOUND'
        : status !== undefined && [400, 403, 422].includes(status)
          ? 'FST_KUBE_REJECTED'
          : 'FST_KUBE_TRANSIENT';
  return new ForestallError(code, `${what}: ${messageOf(err)}`, { cause: err, status });
}
