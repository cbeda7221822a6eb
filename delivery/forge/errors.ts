/**
 * The codes of errors a forge client raises; the error type is the kernel's
 * (lib/errors.ts). A rate-limited error carries `retryAfterMs`, the forge's own word on
 * when to come back.
 *
 * Messages are redacted when the error is built: the client passes its token, and any
 * occurrence of it (and any `token …` / `Bearer …` credential) is removed. They never
 * carry the forge's answer: the status, and at most a structured code from a JSON answer
 * (lib/http answerCode). The forge's own words are read to classify (a secondary rate
 * limit, a pull request that already exists) and then dropped.
 */
import { ForestallError, type ErrorCodeTable } from '../../lib/errors.js';
import { answerCodeSuffix, isHttpError, parseRetryAfter } from '../../lib/http/index.js';

export const FORGE_ERROR_CODES = {
  FST_FORGE_AUTH: {
    class: 'terminal',
    summary:
      'The forge refused the credentials (HTTP 401, or 403 without rate-limit headers): the token is invalid, expired or lacks permission on the repository.',
  },
  FST_FORGE_RATE_LIMITED: {
    class: 'transient',
    summary:
      'The forge rate-limited the client (HTTP 403 or 429 with Retry-After or x-ratelimit-remaining: 0, or a secondary rate limit); retried after the time the forge gave.',
  },
  FST_FORGE_UNAVAILABLE: {
    class: 'transient',
    summary:
      'The forge answered 5xx or 408, timed out, or could not be reached; retried with backoff.',
  },
  FST_FORGE_REJECTED: {
    class: 'terminal',
    summary:
      'The forge rejected the request as invalid (HTTP 400, 409, 422 and other 4xx), for example a base branch that does not exist.',
  },
  FST_FORGE_NOT_FOUND: {
    class: 'terminal',
    summary:
      'The repository or pull request does not exist, or the token cannot see it (HTTP 404).',
  },
  FST_FORGE_INVALID_CONFIG: {
    class: 'terminal',
    summary:
      'spec.git cannot be used: the repository URL does not name an owner and repository, the forge API URL is not http(s), or the outbound client refused it (SSRF guard, plain http to a host that is neither loopback nor in --outbound-allow, a redirect it does not follow).',
  },
} as const satisfies ErrorCodeTable;

export type ForgeErrorCode = keyof typeof FORGE_ERROR_CODES;

export interface ForgeErrorOptions {
  /** HTTP status, when the forge answered. */
  status?: number;
  /** For FST_FORGE_RATE_LIMITED: how long the forge asked us to wait, when it said. */
  retryAfterMs?: number;
  cause?: unknown;
  /** Strings to remove from the message (the token). */
  secrets?: readonly string[];
  /** The forge said the thing to create already exists (409/422 on a second POST /pulls). */
  alreadyExists?: boolean;
}

export class ForgeError extends ForestallError<ForgeErrorCode> {
  readonly alreadyExists?: boolean;

  constructor(code: ForgeErrorCode, message: string, options: ForgeErrorOptions = {}) {
    const { alreadyExists, ...rest } = options;
    super(code, message, { ...rest, errorClass: FORGE_ERROR_CODES[code].class });
    this.name = 'ForgeError';
    if (alreadyExists === true) this.alreadyExists = true;
  }
}

/** Response headers, lower-cased names (octokit and fetch both give them so). */
export type HeaderBag = Readonly<Record<string, string | number | undefined>>;

export interface Classification {
  code: ForgeErrorCode;
  retryAfterMs?: number;
}

/** Secondary rate limits arrive as 403 with this in the message (GitHub's wording). */
const SECONDARY_LIMIT = /\bsecondary rate limit|abuse detection/i;
/** GitHub's documented fallback when a secondary limit gives no Retry-After: wait at least a minute. */
export const SECONDARY_LIMIT_FALLBACK_MS = 60_000;

/**
 * Maps an HTTP failure to a code. A missing status means the forge never answered (a
 * network error, a timeout). `now` is injected so retry times from x-ratelimit-reset are
 * testable.
 */
export function classifyHttp(
  status: number | undefined,
  headers: HeaderBag = {},
  message = '',
  now: number = Date.now(),
): Classification {
  if (status === undefined || status === 0) return { code: 'FST_FORGE_UNAVAILABLE' };
  if (status === 403 || status === 429) {
    const retryAfterMs = retryAfterFromHeaders(headers, now);
    const exhausted = String(headers['x-ratelimit-remaining'] ?? '') === '0';
    if (retryAfterMs !== undefined || exhausted) {
      return {
        code: 'FST_FORGE_RATE_LIMITED',
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    if (SECONDARY_LIMIT.test(message))
      return { code: 'FST_FORGE_RATE_LIMITED', retryAfterMs: SECONDARY_LIMIT_FALLBACK_MS };
    // 429 is rate limiting by definition, even without a hint of when it ends.
    if (status === 429) return { code: 'FST_FORGE_RATE_LIMITED' };
    return { code: 'FST_FORGE_AUTH' };
  }
  if (status === 401) return { code: 'FST_FORGE_AUTH' };
  if (status === 404) return { code: 'FST_FORGE_NOT_FOUND' };
  if (status === 408 || status >= 500) return { code: 'FST_FORGE_UNAVAILABLE' };
  return { code: 'FST_FORGE_REJECTED' };
}

/**
 * How long the forge asked us to wait: Retry-After (seconds or an HTTP date), else, when
 * the quota is spent, x-ratelimit-reset (epoch seconds) minus now. undefined when neither
 * says.
 */
export function retryAfterFromHeaders(headers: HeaderBag, now: number): number | undefined {
  const retryAfter = headers['retry-after'];
  const asked = parseRetryAfter(retryAfter === undefined ? undefined : String(retryAfter), now);
  if (asked !== undefined) return asked;
  if (String(headers['x-ratelimit-remaining'] ?? '') === '0') {
    const reset = Number(headers['x-ratelimit-reset']);
    // One second past the reset, as GitHub's documentation advises.
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now + 1000);
  }
  return undefined;
}

/** What the forge answered to a failed call: read to classify it, never shown as text. */
export interface ForgeAnswer {
  status: number;
  headers: HeaderBag;
  /** The body as text, or as octokit parsed it. */
  body: unknown;
}

/** The forge's own words, from {"message": …} and {"errors": [{"message": …}]}; for classification only. */
function serverWords(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return '';
    }
  }
  if (parsed === null || typeof parsed !== 'object') return '';
  const o = parsed as { message?: unknown; errors?: unknown };
  const errors = Array.isArray(o.errors)
    ? o.errors.map((e) => (e as { message?: unknown } | null)?.message)
    : [];
  return [o.message, ...errors].filter((m): m is string => typeof m === 'string').join(' ');
}

/** A ForgeError from an answer: the status, a structured code at most, and the classification. */
export function forgeAnswerError(
  what: string,
  answer: ForgeAnswer,
  options: { now?: number; secrets?: readonly string[] } = {},
): ForgeError {
  const words = serverWords(answer.body);
  const { code, retryAfterMs } = classifyHttp(
    answer.status,
    answer.headers,
    words,
    options.now ?? Date.now(),
  );
  const wait = retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)}s`;
  const alreadyExists =
    (answer.status === 409 || answer.status === 422) && /already exists/i.test(words);
  return new ForgeError(
    code,
    `${what}: HTTP ${answer.status}${answerCodeSuffix(answer.body)}${wait}`,
    {
      status: answer.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(alreadyExists ? { alreadyExists } : {}),
      secrets: options.secrets ?? [],
    },
  );
}

/**
 * A ForgeError for a call that got no answer. `detail` is our own text (a timeout, a
 * Node network code); a refusal by the outbound client is terminal, since retrying
 * cannot change the SSRF guard's or the https rule's mind.
 */
export function forgeNoAnswerError(
  what: string,
  detail: string,
  options: { secrets?: readonly string[]; cause?: unknown } = {},
): ForgeError {
  const refused = isHttpError(options.cause) && options.cause.errorClass !== 'transient';
  const code: ForgeErrorCode = refused ? 'FST_FORGE_INVALID_CONFIG' : 'FST_FORGE_UNAVAILABLE';
  return new ForgeError(code, `${what}: no response: ${detail}`, {
    cause: options.cause,
    secrets: options.secrets ?? [],
  });
}
