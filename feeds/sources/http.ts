/**
 * The `http` feed source: one conditional GET, streamed.
 *
 * Contract:
 * - 304 Not Modified (after If-None-Match / If-Modified-Since) is `unchanged`;
 *   the caller keeps its last-known-good snapshot.
 * - Anything else that is not 2xx, and every transport failure, is a FeedError;
 *   nothing is returned that a parser could mistake for an empty feed.
 * - `body` yields the decoded feed in chunks and throws mid-stream when the
 *   response turns out truncated, corrupt or too large. A caller must consume it
 *   to the end before trusting what it parsed (fail static).
 * - The total time limit covers the whole fetch including reading the body, so a
 *   caller that stops reading is cut off at `timeoutMs` too; the idle limit only
 *   counts time spent waiting for the server.
 * - Truncation is detected from Content-Length, chunked framing and gzip
 *   framing. A plain body delimited only by the connection closing, with no
 *   length, cannot be told apart from a complete one.
 */
import { decodeBody } from './body.js';
import { redactUrl } from '../../lib/redact.js';
import { FeedError } from './errors.js';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  Deadline,
  checkCaPem,
  checkCredentialHeaders,
  describeStatus,
  openExchange,
  parseFeedUrl,
  classOfAnswer,
} from './outbound.js';
import type { Exchange, FetchLimits } from './outbound.js';

export interface HttpFetchOptions extends FetchLimits {
  url: string;
  /** Request headers from the ThreatFeed's Secret (Authorization, X-Api-Key...). Never logged; dropped on cross-origin redirects. */
  headers?: Record<string, string>;
  /** Validators from the last successful fetch. */
  conditional?: { etag?: string; lastModified?: string };
}

export type HttpFetchResult =
  | { status: 'unchanged' }
  | {
      status: 'ok';
      body: AsyncIterable<Uint8Array>;
      etag?: string;
      lastModified?: string;
      /** The URL that served the body, after redirects, with query values redacted: for display and status, not for fetching. */
      finalUrl: string;
    };

export async function fetchHttp(opts: HttpFetchOptions): Promise<HttpFetchResult> {
  checkLimits(opts.maxBytes, opts.timeoutMs);
  const url = parseFeedUrl(opts.url);
  const credentialHeaders = checkCredentialHeaders(opts.headers);
  checkCaPem(opts.caPem);

  const protocolHeaders: Record<string, string> = {
    'accept-encoding': 'gzip',
    'user-agent': 'forestall-feed-fetcher',
  };
  const conditional = opts.conditional ?? {};
  if (conditional.etag !== undefined && conditional.etag !== '')
    protocolHeaders['if-none-match'] = conditional.etag;
  if (conditional.lastModified !== undefined && conditional.lastModified !== '') {
    protocolHeaders['if-modified-since'] = conditional.lastModified;
  }
  const askedConditional =
    'if-none-match' in protocolHeaders || 'if-modified-since' in protocolHeaders;

  const deadline = new Deadline(opts.timeoutMs, opts.signal);
  let exchange: Exchange | undefined;
  try {
    exchange = await openExchange(url, {
      ssrf: opts.ssrf,
      ...(opts.caPem !== undefined ? { caPem: opts.caPem } : {}),
      ...(opts.serverName !== undefined ? { serverName: opts.serverName } : {}),
      maxRedirects: opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
      credentialHeaders,
      protocolHeaders,
      idleTimeoutMs: opts.idleTimeoutMs ?? Math.min(opts.timeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
      deadline,
    });

    if (exchange.status === 304 && askedConditional) {
      exchange.close();
      deadline.dispose();
      return { status: 'unchanged' };
    }
    checkStatus(exchange, Object.keys(credentialHeaders).length > 0);

    const contentEncoding = exchange.headers['content-encoding'];
    const declared = Number(exchange.headers['content-length'] ?? NaN);
    if (
      (contentEncoding === undefined || contentEncoding === 'identity') &&
      declared > opts.maxBytes
    ) {
      // Refuse before reading a byte; a compressed body is only judged by what it decodes to.
      throw new FeedError(
        'FST_FEED_TOO_LARGE',
        `Feed from ${redactUrl(exchange.url)} announces ${declared} bytes, more than the ${opts.maxBytes}-byte limit`,
        { url: exchange.url },
      );
    }

    const decoded = decodeBody(exchange.rawBody(), {
      url: exchange.url,
      contentEncoding,
      maxBytes: opts.maxBytes,
    });
    const etag = exchange.headers.etag;
    const lastModified = exchange.headers['last-modified'];
    return {
      status: 'ok',
      body: guarded(decoded, exchange, deadline),
      ...(etag !== undefined ? { etag } : {}),
      ...(lastModified !== undefined ? { lastModified } : {}),
      finalUrl: redactUrl(exchange.url),
    };
  } catch (err) {
    exchange?.close();
    deadline.dispose();
    throw err;
  }
}

/** Closes the connection and stops the deadline however the consumer leaves the body. */
async function* guarded(
  body: AsyncIterable<Uint8Array>,
  exchange: Exchange,
  deadline: Deadline,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } finally {
    exchange.close();
    deadline.dispose();
  }
}

export function checkLimits(maxBytes: number, timeoutMs: number): void {
  if (!Number.isFinite(maxBytes) || maxBytes <= 0) {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `maxBytes must be a positive number, got ${maxBytes}`,
    );
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `timeoutMs must be a positive number, got ${timeoutMs}`,
    );
  }
}

/** Throws unless the response is a 2xx. 401/403 are FST_FEED_AUTH, the rest FST_FEED_HTTP_STATUS. */
export function checkStatus(exchange: Exchange, configuredCredentials: boolean): void {
  const { status, url } = exchange;
  if (status >= 200 && status < 300) return;
  exchange.close();
  if (status === 401 || status === 403) {
    const hint = exchange.credentialsSent
      ? 'check the credentials in the referenced Secret'
      : configuredCredentials
        ? 'the credentials were not sent because a redirect left the original origin'
        : 'no credentials are configured';
    throw new FeedError(
      'FST_FEED_AUTH',
      `GET ${redactUrl(url)} returned ${describeStatus(status)}; ${hint}`,
      { url, status },
    );
  }
  throw new FeedError(
    'FST_FEED_HTTP_STATUS',
    `GET ${redactUrl(url)} returned ${describeStatus(status)}`,
    {
      url,
      status,
      errorClass: classOfAnswer(status),
    },
  );
}
