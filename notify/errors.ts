/**
 * The codes of errors a notifier raises; the error type is the kernel's (lib/errors.ts).
 *
 * The target URL is a credential (a Slack incoming-webhook URL is its own secret), so it
 * never appears in a message: errors name the target as scheme://host/… only, and the
 * URL's path, query and long path segments are removed from any text (a response body
 * that echoes them) when the error is built (lib/redact.ts urlSecrets). Errors carry no
 * `cause`: fetch and URL errors keep the request URL in properties that loggers serialise.
 */
import { ForestallError, type ErrorCodeTable } from '../lib/errors.js';

export const NOTIFY_ERROR_CODES = {
  FST_NOTIFY_INVALID_URL: {
    class: 'terminal',
    summary:
      'The notification target URL is unusable: not an absolute URL, not http(s), with user info in it, refused by the SSRF guard, or plain http to a host that is neither loopback nor in --outbound-allow.',
  },
  FST_NOTIFY_INVALID_CONFIG: {
    class: 'terminal',
    summary:
      'The notifier options are unusable: an unknown notifier type, an empty signing secret, a signing secret for a notifier that does not sign, or a timeout or retry setting out of range.',
  },
  FST_NOTIFY_HTTP: {
    class: 'transient',
    summary:
      'The receiver answered 5xx, 408 or 429 on every attempt, or asked (Retry-After) for a longer wait than the client sleeps through.',
  },
  FST_NOTIFY_REJECTED: {
    class: 'terminal',
    summary:
      'The receiver rejected the notification (another 4xx, for example 400 invalid_payload, 403, 404 or 410 from Slack) or redirected it; not retried.',
  },
  FST_NOTIFY_TIMEOUT: {
    class: 'transient',
    summary: 'The receiver did not answer within the per-attempt timeout, on every attempt.',
  },
  FST_NOTIFY_NETWORK: {
    class: 'transient',
    summary:
      'The receiver could not be reached: name resolution failed, the connection was refused or reset, or TLS failed, on every attempt.',
  },
  FST_NOTIFY_ABORTED: {
    class: 'transient',
    summary:
      'The delivery was cancelled by its caller (for example on shutdown or leadership loss).',
  },
} as const satisfies ErrorCodeTable;

export type NotifyErrorCode = keyof typeof NOTIFY_ERROR_CODES;

export interface NotifyErrorOptions {
  /** HTTP status of the last answer, when there was one. */
  status?: number;
  /** For 429/503 with a Retry-After longer than the client waits: the receiver's wait. */
  retryAfterMs?: number;
  /** How many requests were sent. */
  attempts?: number;
  /** The redacted target (scheme://host/…). */
  target?: string;
  /** Strings to remove from the message: the URL and its parts, a signing secret. */
  secrets?: readonly string[];
}

export class NotifyError extends ForestallError<NotifyErrorCode> {
  readonly attempts?: number;
  readonly target?: string;

  constructor(code: NotifyErrorCode, message: string, options: NotifyErrorOptions = {}) {
    const { attempts, target, ...rest } = options;
    super(code, message, { ...rest, errorClass: NOTIFY_ERROR_CODES[code].class });
    this.name = 'NotifyError';
    if (attempts !== undefined) this.attempts = attempts;
    if (target !== undefined) this.target = target;
  }
}
