/**
 * The outbound client as a WHATWG-fetch-compatible function, for the clients that
 * take `fetch` injected (identity providers, forges through octokit's
 * `request.fetch`, notifications). Built on openExchange (node:http/https), which
 * is what makes the pinned, SSRF-checked resolution possible; undici's fetch has
 * no per-request lookup.
 *
 * On every request it enforces:
 * - the SSRF guard, on the first URL and on every redirect hop, with the
 *   connection pinned to the checked addresses;
 * - https, with plain http only to loopback or to what the allow-list names;
 * - redirects followed by hand ('follow', the default), returned ('manual') or
 *   refused ('error'); a cross-origin hop drops Authorization, Cookie,
 *   Proxy-Authorization and every header the caller marks as a credential;
 * - a byte cap on the body, read in full before the Response is returned (so the
 *   caller's .text() and .json() can never exceed it), and a total deadline;
 * - errors (HttpError) built from the method, the redacted URL and the status,
 *   never from the answer.
 *
 * Limits: the body is buffered, so this is for API calls, not for feeds (those use
 * the streaming openExchange with their own, larger cap). Content-Encoding is not
 * requested; a gzip/deflate/br answer sent anyway is decoded within the cap.
 * Request bodies given as a stream are read into memory first.
 */
import { STATUS_CODES } from 'node:http';
import { brotliDecompressSync, inflateSync } from 'node:zlib';
import { gunzipBounded, isGzipError } from '../gzip.js';
import { redactUrl } from '../redact.js';
import { HttpError } from './errors.js';
import type { SsrfPolicy } from './ssrf.js';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  Deadline,
  checkCaPem,
  openExchange,
} from './transport.js';
import { parseHttpUrl } from './configured-url.js';

/** Default byte cap: API answers are small; a listing of 100 pull requests is well under 1 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Default limit on one request, redirects and body included. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Headers that always carry credentials, whoever the caller is. */
const ALWAYS_CREDENTIALS = ['authorization', 'cookie', 'proxy-authorization'];
/** Headers the transport owns; a caller's value is dropped. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'accept-encoding',
]);

export interface OutboundFetchOptions {
  /**
   * The SSRF policy: --outbound-allow (exceptions, and where plain http may go)
   * and the cluster ranges. A function is asked on every request, so ranges read
   * later (and refreshed) apply without rebuilding every client.
   */
  ssrf: SsrfPolicy | (() => SsrfPolicy | Promise<SsrfPolicy>);
  /** Byte cap on one response body, after decoding. Default 8 MiB. */
  maxBytes?: number;
  /** Total time of one request, redirects and body included. Default 30 s. */
  timeoutMs?: number;
  /** Longest silence from the server. Default min(timeoutMs, 30 s). */
  idleTimeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Header names (any case) this client always treats as credentials, besides Authorization and Cookie. */
  credentialHeaders?: readonly string[];
  /** Extra PEM CA certificates, trusted besides the public roots. */
  caPem?: string;
  /** Default user-agent when the caller sets none. */
  userAgent?: string;
}

/** RequestInit, plus the header names this one request marks as credentials. */
export interface OutboundInit extends RequestInit {
  credentialHeaders?: readonly string[];
}

export type OutboundFetch = (
  input: string | URL | Request,
  init?: OutboundInit,
) => Promise<Response>;

export function createOutboundFetch(options: OutboundFetchOptions): OutboundFetch {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(Number.isFinite(maxBytes) && maxBytes > 0)) {
    throw new HttpError(
      'FST_HTTP_INVALID_REQUEST',
      `Outbound client: maxBytes must be a positive number, got ${maxBytes}`,
    );
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new HttpError(
      'FST_HTTP_INVALID_REQUEST',
      `Outbound client: timeoutMs must be a positive number, got ${timeoutMs}`,
    );
  }
  checkCaPem(options.caPem);
  const policy =
    typeof options.ssrf === 'function' ? options.ssrf : () => options.ssrf as SsrfPolicy;
  const marked = new Set([
    ...ALWAYS_CREDENTIALS,
    ...(options.credentialHeaders ?? []).map((h) => h.toLowerCase()),
  ]);

  return async (input, init = {}) => {
    const request = input instanceof Request ? input : undefined;
    const url = parseHttpUrl(request?.url ?? String(input));
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
    const credentialNames = new Set([
      ...marked,
      ...(init.credentialHeaders ?? []).map((h) => h.toLowerCase()),
    ]);
    const credentials: Record<string, string> = {};
    const protocol: Record<string, string> = {};
    for (const [name, value] of new Headers(init.headers ?? request?.headers)) {
      if (TRANSPORT_HEADERS.has(name)) continue;
      (credentialNames.has(name) ? credentials : protocol)[name] = value;
    }
    protocol['user-agent'] ??= options.userAgent ?? 'forestall';
    const body = await requestBody(
      init.body ?? (request?.body === null ? undefined : request),
      protocol,
    );

    const deadline = new Deadline(timeoutMs, init.signal ?? request?.signal ?? undefined);
    try {
      const exchange = await openExchange(url, {
        ssrf: await policy(),
        ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
        maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
        redirect: init.redirect ?? 'follow',
        method,
        ...(body === undefined ? {} : { body }),
        credentialHeaders: credentials,
        protocolHeaders: protocol,
        idleTimeoutMs: options.idleTimeoutMs ?? Math.min(timeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
        deadline,
      });
      const what = `${method} ${redactUrl(exchange.url)}`;
      const declared = Number(exchange.headers['content-length'] ?? NaN);
      if (declared > maxBytes) {
        exchange.close();
        throw tooLarge(what, exchange.url, maxBytes, `announces ${declared} bytes`);
      }
      const chunks: Uint8Array[] = [];
      let received = 0;
      for await (const chunk of exchange.rawBody()) {
        received += chunk.length;
        if (received > maxBytes) {
          exchange.close();
          throw tooLarge(what, exchange.url, maxBytes, 'sent more');
        }
        chunks.push(chunk);
      }
      const encoding = String(exchange.headers['content-encoding'] ?? 'identity')
        .trim()
        .toLowerCase();
      const bytes = decode(Buffer.concat(chunks), encoding, maxBytes, what, exchange.url);
      return toResponse(
        exchange.status,
        exchange.headers,
        bytes,
        encoding !== 'identity',
        exchange.url,
        exchange.redirected,
      );
    } finally {
      deadline.dispose();
    }
  };
}

/**
 * The outbound client with no SSRF exceptions at all (no --outbound-allow, no cluster
 * ranges), as a fetch: what every client that makes calls uses when it is not handed
 * the controller's own. One default, so no client is left with a weaker one.
 */
export function defaultOutboundFetch(): typeof globalThis.fetch {
  return createOutboundFetch({ ssrf: {} }) as typeof globalThis.fetch;
}

function tooLarge(what: string, url: URL, maxBytes: number, detail: string): HttpError {
  return new HttpError(
    'FST_HTTP_TOO_LARGE',
    `${what}: the response ${detail} than the ${maxBytes}-byte cap of this client; stopped reading`,
    { url },
  );
}

function decode(raw: Buffer, encoding: string, maxBytes: number, what: string, url: URL): Buffer {
  if (encoding === 'identity' || encoding === '' || raw.length === 0) return raw;
  const opts = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipBounded(raw, { maxBytes });
    if (encoding === 'deflate') return inflateSync(raw, opts);
    if (encoding === 'br') return brotliDecompressSync(raw, opts);
  } catch (err) {
    if (isGzipError(err) || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(what, url, maxBytes, 'decompresses to more');
    throw new HttpError(
      'FST_HTTP_TRUNCATED',
      `${what}: the ${encoding} body could not be decoded`,
      { url, errorClass: 'terminal' },
    );
  }
  throw new HttpError(
    'FST_HTTP_INVALID_REQUEST',
    `${what}: the answer uses Content-Encoding "${encoding.slice(0, 32)}", which this client does not read`,
    { url },
  );
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function toResponse(
  status: number,
  incoming: Record<string, string | string[] | undefined>,
  bytes: Buffer,
  decoded: boolean,
  url: URL,
  redirected: boolean,
): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    // The body handed over is decoded and complete: these would describe other bytes.
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const response = new Response(NULL_BODY_STATUSES.has(status) ? null : bytes, {
    status,
    statusText: STATUS_CODES[status] ?? '',
    headers,
  });
  // A constructed Response has url '' and redirected false; callers (octokit) read both.
  Object.defineProperty(response, 'url', { value: url.href });
  Object.defineProperty(response, 'redirected', { value: redirected });
  return response;
}

/** The request body as bytes; a content-type is set for the kinds fetch would label. */
async function requestBody(
  body: RequestInit['body'] | Request | undefined,
  headers: Record<string, string>,
): Promise<Uint8Array | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
    return Buffer.from(body, 'utf8');
  }
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return Buffer.from(body.toString(), 'utf8');
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body))
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  // Blob, FormData, ReadableStream, Request: let a Response read them as fetch would.
  const wrapped = new Response(
    body instanceof Request ? body.body : (body as NonNullable<RequestInit['body']>),
  );
  const type = wrapped.headers.get('content-type');
  if (type !== null) headers['content-type'] ??= type;
  return new Uint8Array(await wrapped.arrayBuffer());
}
