/**
 * One attempt of a client call, the part the notification, identity and forge clients
 * share: a per-attempt timeout joined to the caller's cancellation, no redirect
 * followed (a 3xx comes back as an answer: following it would carry credentials or a
 * signed body somewhere the operator did not configure), the answer read inside the
 * same timeout, and a failure told apart by what happened, so each client names it in
 * its own codes. Retrying is lib/http/retry.ts's; this is one request.
 */
import { isHttpError, type HttpError } from './errors.js';
import { networkMessage } from './retry.js';

export type FetchOutcome<T> =
  /** An answer, any status, as `read` made of it. */
  | { kind: 'answer'; value: T }
  /** The caller's signal ended it. */
  | { kind: 'cancelled'; detail: 'cancelled' }
  /** No answer (or no whole answer) within the per-attempt timeout. */
  | { kind: 'timeout'; detail: string }
  /** The outbound client's own refusal or failure (SSRF guard, plain http, byte cap, DNS). */
  | { kind: 'outbound'; error: HttpError; detail: string }
  /** Anything else fetch threw: the reason, from its cause. */
  | { kind: 'network'; detail: string };

export interface FetchOnceOptions<T> {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Reads the answer within the timeout: its body, or as little of it as the caller needs. */
  read: (response: Response) => Promise<T>;
}

export async function fetchOnce<T>(
  fetch: typeof globalThis.fetch,
  url: string,
  init: Omit<RequestInit, 'signal' | 'redirect'>,
  options: FetchOnceOptions<T>,
): Promise<FetchOutcome<T>> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const response = await fetch(url, { ...init, signal, redirect: 'manual' });
    return { kind: 'answer', value: await options.read(response) };
  } catch (err) {
    if (options.signal?.aborted) return { kind: 'cancelled', detail: 'cancelled' };
    if (timeout.aborted)
      return { kind: 'timeout', detail: `no answer within ${options.timeoutMs} ms` };
    if (isHttpError(err))
      return { kind: 'outbound', error: err, detail: `${err.code}: ${err.message}` };
    return { kind: 'network', detail: networkMessage(err) };
  }
}
