/**
 * The one error type feed sources throw, with stable codes.
 *
 * Contract: a FeedError's message names the problem for a human (the status code,
 * the URL, the byte limit, the address that was refused) and never carries a
 * header value, a token, a password or a query-string value. Redaction happens
 * here, when the error is built, so no caller has to remember to do it before
 * logging or writing `status.lastError` (STYLE.md, octokit anchor).
 */
import type { ErrorCodeTable } from '../../lib/errors.js';
import { HttpError, UrlError, type UrlErrorOptions } from '../../lib/http/errors.js';
import type { HttpErrorCode } from '../../lib/http/errors.js';

/**
 * Every code a feed source can throw, with its class by default: an error may be
 * narrower (FST_FEED_HTTP_STATUS is transient for 5xx, 408 and 429 only). docs/errors.md
 * documents each one. The
 * transport codes mirror lib/http's FST_HTTP_* one for one (feedErrorFrom); the
 * feed names stay because conditions, alerts and docs already use them.
 */
export const FEED_ERROR_CODES = {
  FST_FEED_INVALID_REQUEST: {
    class: 'terminal',
    summary:
      'The feed URL or request settings are unusable: not http(s), credentials in the URL, or a header that may not be set.',
  },
  FST_FEED_SSRF_BLOCKED: {
    class: 'terminal',
    summary:
      'The feed host, or a redirect target, resolved to a loopback, link-local, cloud-metadata, private, multicast, reserved or cluster-internal address that the allow-list does not permit.',
  },
  FST_FEED_INSECURE: {
    class: 'terminal',
    summary:
      'The feed URL, or a redirect target, is plain http to a host that is neither loopback nor in --outbound-allow; use https.',
  },
  FST_FEED_NETWORK: {
    class: 'transient',
    summary:
      'The host name did not resolve, or the connection was refused or reset before a response arrived.',
  },
  FST_FEED_TLS: {
    class: 'terminal',
    summary:
      'TLS verification failed: unknown CA, expired certificate, or a certificate not valid for the host (or tls.serverName).',
  },
  FST_FEED_TIMEOUT: {
    class: 'transient',
    summary:
      'The fetch exceeded its total time limit, or the server sent nothing for longer than the idle limit.',
  },
  FST_FEED_HTTP_STATUS: {
    class: 'transient',
    summary:
      'The server answered with an unexpected HTTP status. Transient for 5xx, 408 and 429; other statuses need a change on one side.',
  },
  FST_FEED_AUTH: {
    class: 'terminal',
    summary:
      'The server refused the credentials (HTTP 401 or 403, or a TAXII collection that cannot be read with them).',
  },
  FST_FEED_REDIRECT_LIMIT: {
    class: 'terminal',
    summary: 'The server redirected more times than allowed.',
  },
  FST_FEED_REDIRECT_INVALID: {
    class: 'terminal',
    summary:
      'A redirect had no usable Location, pointed at a non-http(s) URL, or went from https to plain http.',
  },
  FST_FEED_TOO_LARGE: {
    class: 'terminal',
    summary: 'The feed, after decompression, is larger than the byte limit.',
  },
  FST_FEED_TRUNCATED: {
    class: 'transient',
    summary:
      'The response ended early: fewer bytes than Content-Length, a connection closed mid-body, or a gzip stream that stops before its end.',
  },
  FST_FEED_DECODE: {
    class: 'terminal',
    summary:
      'The body could not be decoded: corrupt gzip, or a Content-Encoding this client does not support.',
  },
  FST_FEED_TAXII: {
    class: 'terminal',
    summary:
      'The TAXII server broke the TAXII 2.1 protocol (wrong media type, malformed envelope, a repeated page) or the collection does not exist.',
  },
  FST_FEED_CLUSTER_RANGES: {
    class: 'transient',
    summary:
      "The cluster's own ranges (Nodes, the API server's endpoints, ServiceCIDRs, cluster DNS), or the ExposurePolicies whose hosts the guardrails protect, could not be read, so the guardrails could not protect them; the sync fails and the last-known-good snapshot stays until they can be read (check the controller's RBAC).",
  },
  FST_FEED_ABORTED: {
    class: 'transient',
    summary: 'The fetch was cancelled by its caller (for example on shutdown or leadership loss).',
  },
  FST_FEED_CAP_EXCEEDED: {
    class: 'terminal',
    summary:
      'The feed passed a per-sync cap: records, distinct indicators or MISP events (the message names the cap and its value).',
  },
  FST_FEED_WORKER_MEMORY: {
    class: 'terminal',
    summary:
      'Ingesting the feed needed more heap than the ingestion worker may use (--feed-worker-heap); the worker was stopped.',
  },
  FST_FEED_DEADLINE: {
    class: 'transient',
    summary:
      'The sync (fetching and ingesting, every MISP event file included) did not finish within --feed-sync-deadline; the worker was stopped.',
  },
  FST_FEED_WORKER_FAILED: {
    class: 'transient',
    summary: 'The ingestion worker could not start or stopped unexpectedly.',
  },
} as const satisfies ErrorCodeTable;

export type FeedErrorCode = keyof typeof FEED_ERROR_CODES;

export type FeedErrorOptions = UrlErrorOptions;

export class FeedError extends UrlError<FeedErrorCode> {
  constructor(code: FeedErrorCode, message: string, options: FeedErrorOptions = {}) {
    super(code, message, FEED_ERROR_CODES[code].class, options);
    this.name = 'FeedError';
  }

  /** Whether retrying soon can help: the class, as the feed status and its tests read it. */
  get transient(): boolean {
    return this.errorClass === 'transient';
  }
}

export function isFeedError(err: unknown): err is FeedError {
  return err instanceof FeedError;
}

/** Every outbound-client code, and the feed code it is reported as (the feed codes are user-visible and stable). */
const FROM_HTTP: Record<HttpErrorCode, FeedErrorCode> = {
  FST_HTTP_INVALID_REQUEST: 'FST_FEED_INVALID_REQUEST',
  FST_HTTP_SSRF_BLOCKED: 'FST_FEED_SSRF_BLOCKED',
  FST_HTTP_INSECURE: 'FST_FEED_INSECURE',
  FST_HTTP_NETWORK: 'FST_FEED_NETWORK',
  FST_HTTP_TLS: 'FST_FEED_TLS',
  FST_HTTP_TIMEOUT: 'FST_FEED_TIMEOUT',
  FST_HTTP_ABORTED: 'FST_FEED_ABORTED',
  FST_HTTP_REDIRECT_LIMIT: 'FST_FEED_REDIRECT_LIMIT',
  FST_HTTP_REDIRECT_INVALID: 'FST_FEED_REDIRECT_INVALID',
  FST_HTTP_TOO_LARGE: 'FST_FEED_TOO_LARGE',
  FST_HTTP_TRUNCATED: 'FST_FEED_TRUNCATED',
};

/**
 * The FeedError an outbound-client failure is reported as: same message (already
 * redacted, never holding response content), same URL and status, the feed code
 * that matches. Anything else passes through unchanged.
 */
export function feedErrorFrom(err: unknown): unknown {
  if (!(err instanceof HttpError)) return err;
  return new FeedError(FROM_HTTP[err.code], err.message, {
    errorClass: err.errorClass,
    ...(err.status === undefined ? {} : { status: err.status }),
    ...(err.url === undefined ? {} : { url: err.url }),
    ...(err.cause === undefined ? {} : { cause: err.cause }),
  });
}
