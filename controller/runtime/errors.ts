/**
 * The controller's own codes (FST_KUBE_*, FST_INVALID_SPEC, ...) and the Kubernetes
 * client's errors mapped onto them. The error type, its classes and its redaction are
 * the kernel's (lib/errors.ts); docs/errors.md documents every code of every domain,
 * and controller/runtime/errors.test.ts fails when one is missing.
 *
 * `ForestallError` here is ControllerError, the name controller code has always
 * constructed (`new ForestallError('FST_INVALID_SPEC', message)`); `instanceof` on it
 * matches the controller's codes only, as before. lib's base class is ForestallError in
 * lib/errors.ts, which every domain's error extends.
 */
import {
  classOfStatus,
  ForestallError as KernelError,
  statusOf,
  type ErrorClass,
  type ErrorCodeTable,
} from '../../lib/errors.js';
import { redact } from '../../lib/redact.js';

export { classify, codeOf, statusOf } from '../../lib/errors.js';
export type { ErrorClass } from '../../lib/errors.js';
export { redact } from '../../lib/redact.js';

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
} as const satisfies ErrorCodeTable;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ControllerError extends KernelError<ErrorCode> {
  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(code, message, { ...options, errorClass: ERROR_CODES[code].class });
    this.name = 'ForestallError';
  }
}

export { ControllerError as ForestallError };

/** A reconcile error that must not be retried (controller-runtime's TerminalError). */
export function terminal(code: ErrorCode, message: string, cause?: unknown): ControllerError {
  const err = new ControllerError(code, message, { cause });
  if (err.errorClass !== 'terminal') throw new Error(`${code} is not a terminal code`);
  return err;
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

/** Wraps an error from the Kubernetes client in a ControllerError with a stable code. */
export function fromKube(err: unknown, what: string): ControllerError {
  if (err instanceof ControllerError) return err;
  const status = statusOf(err);
  const byClass: Record<ErrorClass, ErrorCode> = {
    conflict: 'FST_KUBE_CONFLICT',
    terminal: status === 404 ? 'FST_KUBE_NOT_FOUND' : 'FST_KUBE_REJECTED',
    transient: 'FST_KUBE_TRANSIENT',
  };
  return new ControllerError(byClass[classOfStatus(status)], `${what}: ${messageOf(err)}`, {
    cause: err,
    status,
  });
}
