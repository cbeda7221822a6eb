/**
 * The error of the outbound HTTP client, with stable codes (a ForestallError,
 * lib/errors.ts). Callers that own user-visible codes (FST_FEED_*, FST_IDENTITY_*,
 * FST_NOTIFY_*, FST_FORGE_*) map these codes onto theirs at their boundary; one that
 * reaches the reconcile loop unmapped is classed and counted by its own code.
 *
 * Contract: a message names the method, the redacted URL, the status, the address
 * that was refused or the limit that was hit. It never carries a header value, a
 * query-string value, user info, or ANY part of a response body: a server (or a
 * metadata endpoint behind a redirect) must not be able to write into our
 * conditions, Events or logs. Redaction happens here, when the error is built.
 */

import { ForestallError, type ErrorClass, type ErrorCodeInfo } from '../errors.js';
import { redactUrl } from '../redact.js';

export { redactUrl };

export type HttpErrorCodeInfo = ErrorCodeInfo;

/** Every code the outbound client throws. docs/errors.md documents each one. */
export const HTTP_ERROR_CODES = {
  FST_HTTP_INVALID_REQUEST: {
    class: 'terminal',
    summary:
      'The URL or request is unusable: not absolute, not http(s), credentials in the URL, a header that may not be set, or an allow-list entry that does not parse.',
  },
  FST_HTTP_SSRF_BLOCKED: {
    class: 'terminal',
    summary:
      'The host, or a redirect target, resolved to a loopback, link-local, cloud-metadata, private, multicast, reserved or cluster-internal address that --outbound-allow does not permit.',
  },
  FST_HTTP_INSECURE: {
    class: 'terminal',
    summary:
      'Plain http (the URL, a redirect target, or a git remote) to a host that is neither loopback nor in --outbound-allow; use https.',
  },
  FST_HTTP_NETWORK: {
    class: 'transient',
    summary:
      'The host name did not resolve, the connection was refused or reset before a response arrived, or the forward proxy could not be reached or refused the tunnel (407 and 403 are terminal).',
  },
  FST_HTTP_TLS: {
    class: 'terminal',
    summary:
      'TLS verification failed: unknown CA, expired certificate, or a certificate not valid for the host.',
  },
  FST_HTTP_TIMEOUT: {
    class: 'transient',
    summary:
      'The request exceeded its total time limit, or the server sent nothing for longer than the idle limit.',
  },
  FST_HTTP_ABORTED: {
    class: 'transient',
    summary:
      'The request was cancelled by its caller (for example on shutdown or leadership loss).',
  },
  FST_HTTP_REDIRECT_LIMIT: {
    class: 'terminal',
    summary: 'The server redirected more times than allowed.',
  },
  FST_HTTP_REDIRECT_INVALID: {
    class: 'terminal',
    summary:
      'A redirect had no usable Location, pointed at a non-http(s) URL or one with credentials, or the client does not follow redirects.',
  },
  FST_HTTP_TOO_LARGE: {
    class: 'terminal',
    summary:
      'The response body is larger than the byte cap of the client that asked; the message names the cap.',
  },
  FST_HTTP_TRUNCATED: {
    class: 'transient',
    summary:
      'The response ended early: fewer bytes than Content-Length, or a connection closed mid-body.',
  },
} as const satisfies Record<string, HttpErrorCodeInfo>;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** What an error about one URL carries. */
export interface UrlErrorOptions {
  /** Overrides the code's class (a 404 is terminal, a name that did not resolve may be too). */
  errorClass?: ErrorClass;
  /** The HTTP status, when the error is about one. */
  status?: number;
  /** The URL concerned. It is redacted here; pass the raw URL. */
  url?: string | URL;
  /**
   * The underlying error, kept for debugging. Only pass errors whose text is known
   * not to carry secrets or response content (Node network, TLS and zlib errors).
   */
  cause?: unknown;
}

export type HttpErrorOptions = UrlErrorOptions;

/** A ForestallError about one URL, which it keeps redacted; its class defaults to the code's. */
export class UrlError<Code extends string> extends ForestallError<Code> {
  /** The URL concerned, with credentials and query values redacted. */
  readonly url: string | undefined;

  constructor(code: Code, message: string, codeClass: ErrorClass, options: UrlErrorOptions) {
    const { url, ...rest } = options;
    super(code, message, { ...rest, errorClass: rest.errorClass ?? codeClass });
    this.url = url === undefined ? undefined : redactUrl(url);
  }
}

export class HttpError extends UrlError<HttpErrorCode> {
  constructor(code: HttpErrorCode, message: string, options: HttpErrorOptions = {}) {
    super(code, message, HTTP_ERROR_CODES[code].class, options);
    this.name = 'HttpError';
  }
}

export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}

/** What a structured error code from a server may look like: no spaces, no prose, short. */
const ANSWER_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The one piece of an error answer that may be shown: a structured code from a JSON
 * body (Okta `errorCode` E0000011, Microsoft Graph `error.code`
 * Authorization_RequestDenied, SCIM `scimType`, OAuth `error` invalid_client, a
 * GitHub `errors[].code`). `body` is the text as received, or a value already
 * parsed from it (octokit's response.data). Anything that is not JSON, or whose
 * code is not a short token, gives undefined: free text from the server is never
 * echoed.
 */
export function answerCode(body: unknown): string | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  const nested =
    o.error !== null && typeof o.error === 'object'
      ? (o.error as Record<string, unknown>).code
      : undefined;
  const first: unknown = Array.isArray(o.errors) ? o.errors[0] : undefined;
  const firstCode =
    first !== null && typeof first === 'object'
      ? (first as Record<string, unknown>).code
      : undefined;
  for (const candidate of [o.errorCode, nested, o.scimType, o.error, o.code, firstCode]) {
    if (typeof candidate === 'string' && ANSWER_CODE.test(candidate)) return candidate;
  }
  return undefined;
}

/** " (code E0000011)" for a message, or "" when the answer carries no usable code. */
export function answerCodeSuffix(body: unknown): string {
  const code = answerCode(body);
  return code === undefined ? '' : ` (code ${code})`;
}
