/**
 * Errors a notifier raises. notify/ cannot import the controller's ForestallError, so,
 * like connectors/errors.ts and delivery/forge/errors.ts, these carry the two facts the
 * controller maps: a stable code and a class. The controller's classify() honours
 * `errorClass`.
 *
 * The target URL is a credential (a Slack incoming-webhook URL is its own secret), so it
 * never appears in a message: errors name the target as scheme://host/… only, and the
 * URL's path, query and long path segments are removed from any text (a response body
 * that echoes them) when the error is built. Errors carry no `cause`: fetch and URL
 * errors keep the request URL in properties that loggers serialise.
 */
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
} as const satisfies Record<string, { class: 'terminal' | 'transient'; summary: string }>;

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

export class NotifyError extends Error {
  readonly errorClass: 'terminal' | 'transient';
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly attempts?: number;
  readonly target?: string;

  constructor(
    readonly code: NotifyErrorCode,
    message: string,
    options: NotifyErrorOptions = {},
  ) {
    super(redactText(message, options.secrets ?? []));
    this.name = 'NotifyError';
    this.errorClass = NOTIFY_ERROR_CODES[code].class;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.attempts !== undefined) this.attempts = options.attempts;
    if (options.target !== undefined) this.target = options.target;
  }
}

/**
 * scheme://host/… : what may be shown of a target URL. The host (and port) stays so an
 * operator can tell targets apart; the path and query, where webhook services keep
 * their secret, go. Unparsable input gives a placeholder, never the input.
 */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return '[invalid URL]';
  }
}

/**
 * The strings of a URL that must not appear in any text: the URL as given and as
 * normalised, its path and query, and path segments and query values long enough to be
 * tokens (Slack's token is 24 characters). Shorter ones go only as part of the path: a
 * segment like "services" must not vanish from every message.
 */
export function urlSecrets(raw: string): string[] {
  const secrets = [raw];
  try {
    const url = new URL(raw);
    secrets.push(url.href);
    if (url.pathname.length > 1) secrets.push(url.pathname);
    if (url.search.length > 1) secrets.push(url.search, url.search.slice(1));
    for (const segment of url.pathname.split('/'))
      if (segment.length >= 16) secrets.push(segment, decodeURIComponentSafe(segment));
    for (const value of url.searchParams.values()) if (value.length >= 8) secrets.push(value);
  } catch {
    // not a URL: the raw string is all there is to remove
  }
  return secrets;
}

/**
 * Removes the known secrets (longest first, so a URL goes before its path) and anything
 * shaped like an HTTP credential: `Bearer …`/`token …` values and user info in URLs.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out
    .replace(/\b(token|Bearer|Basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{16,}/gi, '$1 [REDACTED]')
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1[REDACTED]@');
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
