/**
 * One request, with everything an outbound call needs around it: the SSRF guard on
 * every hop, connections pinned to the checked addresses, https unless the target
 * is loopback or allow-listed, TLS verification that cannot be turned off,
 * redirects followed by hand (credentials dropped when one leaves the origin), a
 * total deadline and an idle limit. The feeds' streaming GET and the
 * fetch-compatible client (fetch.ts) are both built on openExchange.
 *
 * node:http / node:https are used directly (not fetch/undici) because only they
 * let us hand the socket a `lookup` per request, which is what makes the pinning
 * work, and they take a `ca` and `servername` per request without a global agent.
 */
import { STATUS_CODES, request as httpRequest } from 'node:http';
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { redactUrl } from '../redact.js';
import { HttpError } from './errors.js';
import { authority, openTunnel, proxyFor } from './proxy.js';
import type { ProxyEndpoint } from './proxy.js';
import { checkTarget, plainHttpPermitted } from './ssrf.js';
import type { CheckedTarget, SsrfPolicy } from './ssrf.js';

export const DEFAULT_MAX_REDIRECTS = 5;
/** Idle limit when the caller gives none: long enough for a slow mirror, short enough to notice a dead one. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * The total time budget of one fetch (all redirects and, for TAXII, all pages),
 * joined with the caller's cancellation signal.
 */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private ended: 'timeout' | 'aborted' | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = (): void => this.end('aborted');

  constructor(
    readonly timeoutMs: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => this.end('timeout'), timeoutMs);
    // A body the caller never reads must not keep the process alive on its own;
    // the open socket does that, and the timer still fires to close it.
    this.timer.unref();
    if (callerSignal?.aborted === true) this.end('aborted');
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  private end(cause: 'timeout' | 'aborted'): void {
    if (this.ended !== undefined) return;
    this.ended = cause;
    this.controller.abort();
  }

  /** The error to report for `url` if the deadline has passed or the caller cancelled. */
  error(url: URL): HttpError | undefined {
    if (this.ended === 'timeout') {
      return new HttpError(
        'FST_HTTP_TIMEOUT',
        `Fetching ${redactUrl(url)} did not finish within the ${this.timeoutMs} ms time limit`,
        { url },
      );
    }
    if (this.ended === 'aborted') {
      return new HttpError('FST_HTTP_ABORTED', `Fetching ${redactUrl(url)} was cancelled`, { url });
    }
    return undefined;
  }

  throwIfEnded(url: URL): void {
    const err = this.error(url);
    if (err !== undefined) throw err;
  }

  /** Settles with `promise`, or rejects as soon as the deadline ends. */
  race<T>(promise: Promise<T>, url: URL): Promise<T> {
    this.throwIfEnded(url);
    return new Promise<T>((resolve, reject) => {
      const onEnd = (): void => reject(this.error(url));
      this.signal.addEventListener('abort', onEnd, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener('abort', onEnd);
          resolve(value);
        },
        (err: unknown) => {
          this.signal.removeEventListener('abort', onEnd);
          reject(err);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}

/** What every fetch is given, whatever its protocol: trust, limits and the SSRF policy. */
export interface FetchLimits {
  /** Extra PEM CA certificates to trust besides the public roots. Verification is always on. */
  caPem?: string;
  /** Name to verify the certificate against (and send as SNI) instead of the URL host. */
  serverName?: string;
  /** Limit on decoded (decompressed) response bytes: one body for HTTP, all pages of a TAXII sync. */
  maxBytes: number;
  /** Limit on the whole fetch (HTTP) or sync (TAXII), bodies included. */
  timeoutMs: number;
  /** Limit on waiting for the server to send anything; defaults to min(timeoutMs, 30 s). */
  idleTimeoutMs?: number;
  /** Defaults to 5. */
  maxRedirects?: number;
  ssrf: SsrfPolicy;
  signal?: AbortSignal;
}

export interface TransportOptions {
  ssrf: SsrfPolicy;
  /** Extra PEM CA certificates, trusted in addition to the public roots. */
  caPem?: string;
  /** Name verified (and sent as SNI) instead of the URL host; applies to the configured host only. */
  serverName?: string;
  maxRedirects: number;
  /**
   * 'follow' (by hand, each hop checked), 'manual' (the 3xx is the answer) or
   * 'error' (a 3xx is FST_HTTP_REDIRECT_INVALID). Default 'follow'.
   */
  redirect?: 'follow' | 'manual' | 'error';
  /** Default GET. */
  method?: string;
  /** Request body; dropped when a 301/302/303 turns the request into a GET. */
  body?: Uint8Array;
  /**
   * Headers carrying credentials (Authorization, Cookie, a ThreatFeed Secret's
   * headers, TAXII auth). They are dropped as soon as a redirect leaves the
   * original origin, so a host cannot bounce our token to a host it chooses.
   */
  credentialHeaders: Readonly<Record<string, string>>;
  /** Headers of the protocol itself (Accept, conditional GET); kept across redirects. */
  protocolHeaders: Readonly<Record<string, string>>;
  idleTimeoutMs: number;
  deadline: Deadline;
}

/** A response whose status line and headers have arrived; the body is still on the wire. */
export interface Exchange {
  /** The URL that answered, after redirects. */
  url: URL;
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as sent (still content-encoded), with the idle limit and truncation checks. */
  rawBody(): AsyncIterable<Uint8Array>;
  /** Whether the credential headers were still sent on the final hop (a cross-origin redirect drops them). */
  credentialsSent: boolean;
  /** Whether a redirect was followed to get here. */
  redirected: boolean;
  /** Closes the connection; safe to call more than once. */
  close(): void;
}

/** Header names a Secret may not set: they belong to the transport or the protocol. */
const RESERVED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'te',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'accept-encoding',
  'if-none-match',
  'if-modified-since',
  'expect',
]);

/**
 * Checks user-supplied headers and returns them with lower-case names. Only names
 * appear in errors, never values.
 */
export function checkCredentialHeaders(
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
      throw new HttpError(
        'FST_HTTP_INVALID_REQUEST',
        `Header name "${name.slice(0, 64)}" is not a valid HTTP header name`,
      );
    }
    if (RESERVED_HEADERS.has(lower)) {
      throw new HttpError(
        'FST_HTTP_INVALID_REQUEST',
        `Header ${name} is set by the client itself and may not come from the Secret`,
      );
    }
    if (/[\r\n\0]/.test(value)) {
      throw new HttpError(
        'FST_HTTP_INVALID_REQUEST',
        `Header ${name} has a value with a line break or NUL character (value not shown)`,
      );
    }
    out[lower] = value;
  }
  return out;
}

export function checkCaPem(caPem: string | undefined): void {
  if (caPem === undefined) return;
  try {
    new X509Certificate(caPem);
  } catch (err) {
    throw new HttpError(
      'FST_HTTP_TLS',
      'The configured CA bundle (tls.caSecretRef) does not hold a PEM certificate',
      { cause: err },
    );
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

let defaultRoots: readonly string[] | undefined;

/**
 * What a request trusts when nobody adds a CA: Node's default store, that is its bundled
 * roots plus the operator's NODE_EXTRA_CA_CERTS bundle (the chart's `caBundle`), as
 * loaded at start. A request that passes `ca` replaces the default store, so a feed's
 * own CA is added to THIS list; `tls.rootCertificates` (the bundled roots only) would
 * drop the operator's bundle for exactly those feeds. getCACertificates is in Node 22.15
 * and later (package.json asks for 24), typed here because @types/node 20 lacks it.
 */
export function defaultCaCertificates(): readonly string[] {
  if (defaultRoots === undefined) {
    const get = (tls as { getCACertificates?: (type?: 'default') => string[] }).getCACertificates;
    defaultRoots = Object.freeze(get === undefined ? [...tls.rootCertificates] : get('default'));
  }
  return defaultRoots;
}

/** The certificates Node loaded from NODE_EXTRA_CA_CERTS at start (none when unset, missing or not PEM). */
export function extraCaCertificates(): readonly string[] {
  const get = (tls as { getCACertificates?: (type?: 'extra') => string[] }).getCACertificates;
  return get === undefined ? [] : get('extra');
}

/**
 * Sends `start`, following redirects by hand (unless told not to) so each hop
 * passes the SSRF guard and the https rule. Resolves once the final response's
 * headers have arrived.
 */
export async function openExchange(start: URL, options: TransportOptions): Promise<Exchange> {
  let url = start;
  let credentials = options.credentialHeaders;
  let method = (options.method ?? 'GET').toUpperCase();
  let body = options.body;
  let previous: URL | undefined;
  for (let redirects = 0; ; redirects += 1) {
    const target = await options.deadline
      .race(checkTarget(url, options.ssrf), url)
      .catch((err: unknown) => {
        // Say that a redirect led here: the configured URL itself was fine.
        if (
          err instanceof HttpError &&
          err.code === 'FST_HTTP_SSRF_BLOCKED' &&
          previous !== undefined
        ) {
          throw new HttpError(
            err.code,
            `Redirect from ${redactUrl(previous)} refused. ${err.message}`,
            { url },
          );
        }
        throw err;
      });
    if (
      url.protocol === 'http:' &&
      !plainHttpPermitted(target.hostname, target.addresses, options.ssrf)
    ) {
      const via = previous === undefined ? '' : ` (a redirect from ${redactUrl(previous)})`;
      throw new HttpError(
        'FST_HTTP_INSECURE',
        `Refused plain http to ${redactUrl(url)}${via}: ${target.hostname} is neither loopback nor in the outbound allow-list; use https`,
        { url },
      );
    }
    const serverName = url.hostname === start.hostname ? options.serverName : undefined;
    const hop = await sendHop(
      url,
      { method, headers: { ...credentials, ...options.protocolHeaders }, body },
      target,
      serverName,
      options,
    );
    const status = hop.res.statusCode ?? 0;
    const location = hop.res.headers.location;
    const mode = options.redirect ?? 'follow';
    if (!REDIRECT_STATUSES.has(status) || location === undefined || mode === 'manual') {
      return exchangeFrom(url, hop, options, {
        credentialsSent: Object.keys(credentials).length > 0,
        redirected: previous !== undefined,
      });
    }
    hop.close();
    if (mode === 'error') {
      throw new HttpError(
        'FST_HTTP_REDIRECT_INVALID',
        `${method} ${redactUrl(url)} answered HTTP ${status}, a redirect, which this client does not follow; configure the final URL`,
        { url, status },
      );
    }

    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new HttpError(
        'FST_HTTP_REDIRECT_INVALID',
        `${redactUrl(url)} redirected to an invalid Location`,
        { url },
      );
    }
    if (redirects >= options.maxRedirects) {
      throw new HttpError(
        'FST_HTTP_REDIRECT_LIMIT',
        `Gave up after ${options.maxRedirects} redirects starting at ${redactUrl(start)}; the last one went from ${redactUrl(url)} to ${redactUrl(next)}`,
        { url: start },
      );
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new HttpError(
        'FST_HTTP_REDIRECT_INVALID',
        `${redactUrl(url)} redirected to a ${next.protocol} URL; only http and https are followed`,
        { url },
      );
    }
    if (url.protocol === 'https:' && next.protocol === 'http:') {
      throw new HttpError(
        'FST_HTTP_REDIRECT_INVALID',
        `${redactUrl(url)} redirected from https to plain http (${redactUrl(next)}); refusing to drop TLS`,
        { url },
      );
    }
    if (next.username !== '' || next.password !== '') {
      throw new HttpError(
        'FST_HTTP_REDIRECT_INVALID',
        `${redactUrl(url)} redirected to a URL with credentials in it`,
        { url },
      );
    }
    if (next.origin !== url.origin) credentials = {};
    // As fetch does: 303 always, and 301/302 after a POST, become a GET without a body.
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
    }
    previous = url;
    url = next;
  }
}

interface Hop {
  req: ClientRequest;
  res: IncomingMessage;
  /** Set when the idle timer, not the peer, ended the connection. */
  idle: { fired: boolean };
  close(): void;
}

interface Outgoing {
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

/**
 * One hop, directly or through the operator's proxy (proxy.ts): an https target through
 * a CONNECT tunnel to the checked host, with our TLS on top; a plain http one as an
 * absolute-form request to the proxy.
 */
async function sendHop(
  url: URL,
  outgoing: Outgoing,
  target: CheckedTarget,
  serverName: string | undefined,
  options: TransportOptions,
): Promise<Hop> {
  const proxy = proxyFor(url, options.ssrf.proxy);
  if (proxy === undefined || url.protocol !== 'https:')
    return sendOnce(url, outgoing, target, serverName, options, { proxy });
  const idle = { fired: false };
  const port = url.port === '' ? 443 : Number(url.port);
  let tunnel: Socket;
  try {
    tunnel = await openTunnel(proxy, authority(target.hostname, port), {
      signal: options.deadline.signal,
      idleTimeoutMs: options.idleTimeoutMs,
      idle,
      url,
    });
  } catch (err) {
    throw connectionError(err, url, target, { idle, options, phase: 'response', proxy });
  }
  return sendOnce(url, outgoing, target, serverName, options, { proxy, tunnel });
}

function sendOnce(
  url: URL,
  outgoing: Outgoing,
  target: CheckedTarget,
  serverName: string | undefined,
  options: TransportOptions,
  route: { proxy: ProxyEndpoint | undefined; tunnel?: Socket },
): Promise<Hop> {
  const { deadline, idleTimeoutMs } = options;
  const { proxy, tunnel } = route;
  return new Promise<Hop>((resolve, reject) => {
    const idle = { fired: false };
    const headers = { ...outgoing.headers };
    if (outgoing.body !== undefined) headers['content-length'] = String(outgoing.body.byteLength);
    const common: RequestOptions = {
      method: outgoing.method,
      protocol: url.protocol,
      hostname: target.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers,
      lookup: target.lookup,
      // A fresh connection per request: a pooled socket would bypass the pinned
      // lookup of this hop, and feeds are fetched too rarely to gain from reuse.
      agent: false,
      // Socket inactivity while connecting and waiting for the response headers;
      // the body has its own idle timer (see rawBody).
      timeout: idleTimeoutMs,
    };

    let req: ClientRequest;
    try {
      if (url.protocol === 'https:') {
        const tlsOptions: tls.ConnectionOptions = {
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          // Node verifies the certificate against `servername` when given, else the host.
          servername: serverName ?? (isIP(target.hostname) === 0 ? target.hostname : undefined),
          ...(options.caPem !== undefined
            ? { ca: [...defaultCaCertificates(), options.caPem] }
            : {}),
        };
        const httpsOptions: HttpsRequestOptions = { ...common, ...tlsOptions };
        if (tunnel !== undefined) {
          // TLS to the target over the proxy's tunnel. With createConnection and no
          // agent, the request uses exactly the socket returned.
          httpsOptions.agent = undefined;
          httpsOptions.defaultPort = 443;
          httpsOptions.lookup = undefined;
          httpsOptions.createConnection = () =>
            tls.connect({ ...tlsOptions, socket: tunnel, host: target.hostname });
        }
        req = httpsRequest(httpsOptions);
      } else if (proxy !== undefined) {
        // Plain http through the proxy: the absolute URL as the request target, the
        // proxy's own credentials (never a caller's) in Proxy-Authorization.
        const viaProxy: Record<string, string> = {
          ...headers,
          host: authority(target.hostname, url.port === '' ? 80 : Number(url.port)),
        };
        delete viaProxy['proxy-authorization'];
        if (proxy.authorization !== undefined)
          viaProxy['proxy-authorization'] = proxy.authorization;
        const absolute = new URL(url.href);
        absolute.hash = '';
        req = httpRequest({
          ...common,
          hostname: proxy.hostname,
          port: proxy.port,
          path: absolute.href,
          headers: viaProxy,
          // The proxy is trusted configuration: resolved by the system, not pinned.
          lookup: undefined,
        });
      } else {
        req = httpRequest(common);
      }
    } catch (err) {
      reject(
        new HttpError(
          'FST_HTTP_INVALID_REQUEST',
          `Could not build the request for ${redactUrl(url)}: ${(err as Error).message}`,
          { url, cause: err },
        ),
      );
      return;
    }

    const onDeadline = (): void => {
      req.destroy();
      tunnel?.destroy();
    };
    deadline.signal.addEventListener('abort', onDeadline, { once: true });
    const close = (): void => {
      deadline.signal.removeEventListener('abort', onDeadline);
      req.destroy();
      tunnel?.destroy();
    };

    req.on('timeout', () => {
      idle.fired = true;
      req.destroy();
    });
    req.on('error', (err) => {
      deadline.signal.removeEventListener('abort', onDeadline);
      tunnel?.destroy();
      reject(connectionError(err, url, target, { idle, options, phase: 'response', proxy }));
    });
    req.on('response', (res) => {
      // From here on the body's own idle timer applies, counting only the time
      // spent waiting for the server, not time the consumer spends processing.
      req.setTimeout(0);
      resolve({ req, res, idle, close });
    });
    req.end(outgoing.body === undefined ? undefined : Buffer.from(outgoing.body));
  });
}

function exchangeFrom(
  url: URL,
  hop: Hop,
  options: TransportOptions,
  how: { credentialsSent: boolean; redirected: boolean },
): Exchange {
  const { res, req, idle } = hop;
  const declared = res.headers['content-length'];
  const expected =
    declared !== undefined && res.headers['transfer-encoding'] === undefined
      ? Number(declared)
      : undefined;
  return {
    url,
    status: res.statusCode ?? 0,
    headers: res.headers,
    ...how,
    close: hop.close,
    rawBody: async function* rawBody(): AsyncGenerator<Uint8Array> {
      let received = 0;
      const iterator = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      try {
        for (;;) {
          const timer = setTimeout(() => {
            idle.fired = true;
            req.destroy();
          }, options.idleTimeoutMs);
          let step: IteratorResult<Buffer>;
          try {
            step = await iterator.next();
          } catch (err) {
            throw bodyError(err, url, { idle, options, received, expected });
          } finally {
            clearTimeout(timer);
          }
          if (step.done === true) break;
          received += step.value.length;
          yield step.value;
        }
        // Destroying the request mid-body can end the stream without an error, so
        // the reasons are checked again here before trusting the end.
        const ended = options.deadline.error(url);
        if (ended !== undefined) throw ended;
        if (idle.fired) throw idleError(url, options.idleTimeoutMs, 'body');
        if (!res.complete || (expected !== undefined && received !== expected)) {
          throw truncated(
            url,
            received,
            expected,
            'the connection closed before the response was complete',
          );
        }
      } finally {
        // Also on success: it detaches the deadline listener; the socket is done anyway.
        hop.close();
      }
    },
  };
}

interface ErrorContext {
  idle: { fired: boolean };
  options: TransportOptions;
}

function idleError(url: URL, idleTimeoutMs: number, phase: 'response' | 'body'): HttpError {
  const waiting =
    phase === 'response'
      ? 'while connecting or waiting for the response'
      : 'in the middle of the body';
  return new HttpError(
    'FST_HTTP_TIMEOUT',
    `${redactUrl(url)} sent nothing for ${idleTimeoutMs} ms ${waiting} (idle time limit)`,
    { url },
  );
}

function truncated(
  url: URL,
  received: number,
  expected: number | undefined,
  why: string,
): HttpError {
  const of = expected === undefined ? '' : ` of the ${expected} announced by Content-Length`;
  return new HttpError(
    'FST_HTTP_TRUNCATED',
    `Response from ${redactUrl(url)} was cut short after ${received} bytes${of}: ${why}`,
    { url },
  );
}

function bodyError(
  err: unknown,
  url: URL,
  ctx: ErrorContext & { received: number; expected: number | undefined },
): HttpError {
  if (err instanceof HttpError) return err;
  const ended = ctx.options.deadline.error(url);
  if (ended !== undefined) return ended;
  if (ctx.idle.fired) return idleError(url, ctx.options.idleTimeoutMs, 'body');
  const code = (err as NodeJS.ErrnoException).code;
  return truncated(
    url,
    ctx.received,
    ctx.expected,
    `connection ${code === 'ECONNRESET' ? 'reset or closed' : `failed (${code ?? (err as Error).message})`}`,
  );
}

const TLS_ERROR =
  /^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED|ISSUER|LEAF_SIGNATURE|^EPROTO$|HOSTNAME_MISMATCH/;

function connectionError(
  err: unknown,
  url: URL,
  target: CheckedTarget,
  ctx: ErrorContext & { phase: 'response'; proxy: ProxyEndpoint | undefined },
): HttpError {
  if (err instanceof HttpError) return err;
  const ended = ctx.options.deadline.error(url);
  if (ended !== undefined) return ended;
  if (ctx.idle.fired) return idleError(url, ctx.options.idleTimeoutMs, ctx.phase);
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? 'error';
  const direct = `${target.hostname}:${url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port}`;
  // Through a proxy, a socket failure is about the connection to the proxy (or the
  // tunnel through it); TLS failures are still about the target.
  const where = ctx.proxy === undefined ? direct : `the proxy ${ctx.proxy.label} (for ${direct})`;
  if (TLS_ERROR.test(code)) {
    // Node's TLS messages name the certificate problem and the names involved,
    // never request data, so they are kept.
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? '; if the certificate is issued for another name, set tls.serverName'
        : '';
    return new HttpError(
      'FST_HTTP_TLS',
      `TLS verification of ${direct} failed (${code}): ${e.message}${hint}`,
      { url, cause: err },
    );
  }
  return new HttpError(
    'FST_HTTP_NETWORK',
    `Could not fetch ${redactUrl(url)}: connection to ${where} failed (${code})`,
    { url, cause: err },
  );
}

/** "HTTP 503 Service Unavailable"; the reason phrase is ours, not the server's. */
export function describeStatus(status: number): string {
  const phrase = STATUS_CODES[status];
  return phrase === undefined ? `HTTP ${status}` : `HTTP ${status} ${phrase}`;
}

/** Only these failures go away by themselves; a 404 or 410 waits for someone to act. */
export function statusIsTransient(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The class of an unexpected answer: transient for 5xx, 408 and 429, else terminal. */
export function classOfAnswer(status: number): 'transient' | 'terminal' {
  return statusIsTransient(status) ? 'transient' : 'terminal';
}
