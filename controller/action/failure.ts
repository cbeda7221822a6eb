import type { Logger } from 'pino';
import type { Result } from '../runtime/controller.js';
import { classify, messageOf } from '../runtime/errors.js';
import type { Outcome } from './decide.js';
import { describeDeliveryError } from './git-delivery.js';
import { codeOf, type ActionMetrics } from './metrics.js';

/**
 * How a failure is retried once status says what went wrong:
 * - `backoff`: transient failures are thrown (the controller's per-key backoff);
 *   terminal ones (a missing Secret, refused credentials, a CRD not installed) are
 *   looked at again at the poll interval, so the fix is picked up without a restart;
 * - `forge`: as `backoff`, but a rate limit is retried at the time the forge named;
 * - `record`: transient failures are thrown, terminal ones wait for the next reconcile
 *   (recording never holds back enforcement).
 */
export type RetryPolicy = 'backoff' | 'forge' | 'record';

export interface FailureContext {
  log: Logger;
  metrics: Pick<ActionMetrics, 'gitDeliveryFailures'>;
  pollMs: number;
}

export interface FailureKind {
  /** The log line ("Connector apply failed"). */
  what: string;
  /** A Git or forge failure: described for people and counted in forestall_git_delivery_failures_total. */
  git: boolean;
  retry: RetryPolicy;
}

/** The one error path: the condition text, the requeue or rethrow, the log line and the metric. */
export function failure<T extends object = Outcome>(
  err: unknown,
  ctx: FailureContext,
  kind: FailureKind,
  build: (detail: string, transient: boolean) => T,
): T & { after?: Result; rethrow?: unknown } {
  ctx.log.warn({ err }, kind.what);
  if (kind.git) ctx.metrics.gitDeliveryFailures.inc({ code: codeOf(err) });
  const transient = classify(err) !== 'terminal';
  const detail = kind.git ? describeDeliveryError(err) : withCode(err);
  return { ...build(detail, transient), ...retry(err, transient, kind.retry, ctx.pollMs) };
}

function retry(
  err: unknown,
  transient: boolean,
  policy: RetryPolicy,
  pollMs: number,
): { after?: Result; rethrow?: unknown } {
  const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
  if (policy === 'forge' && retryAfterMs !== undefined && retryAfterMs > 0)
    return { after: { requeueAfter: retryAfterMs } };
  if (transient) return { rethrow: err };
  return policy === 'record' ? {} : { after: { requeueAfter: pollMs } };
}

/** An error for a condition message: its FST_ code first, when it has one the message does not already name. */
function withCode(err: unknown): string {
  const message = messageOf(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('FST_') && !message.includes(code)
    ? `${code}: ${message}`
    : message;
}
