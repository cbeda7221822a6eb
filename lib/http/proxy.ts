/**
 * The operator's forward proxy (issue 16): the standard environment variables read once
 * at start, which target goes through which proxy (NO_PROXY), and the CONNECT tunnel an
 * https target is reached through. openExchange (transport.ts) is the only user, so every
 * client built on it (feeds, TAXII, MISP, forges, identity providers, notifications)
 * takes the same route.
 *
 * What the proxy changes, and what it does not:
 * - The SSRF guard still judges the TARGET: its host is resolved here and every address
 *   checked before anything is sent to the proxy, and the CONNECT (or the absolute-form
 *   request of plain http) names the host that was checked. The proxy resolves that name
 *   again itself, so the pinning of transport.ts ends at the proxy: what the proxy's own
 *   resolver answers, and where the proxy lets a tunnel go, are the proxy's business.
 * - The proxy's own address is NOT judged by the guard. It comes from the controller's
 *   environment, which only the operator sets (the chart's `proxy` values), never from a
 *   ThreatFeed or a policy: it is trusted configuration, like --outbound-allow. A proxy
 *   inside the cluster, on a private address, therefore works without an exception.
 * - TLS is still ours end to end: the tunnel carries the TLS session to the target, with
 *   the target's name verified against our trust (the public roots, NODE_EXTRA_CA_CERTS
 *   and a feed's own CA). An intercepting proxy that presents its own certificate fails
 *   verification unless its CA is in the extra bundle.
 * - Credentials in the proxy URL (`http://user:pass@proxy:3128`) become a
 *   Proxy-Authorization header sent to the proxy only. The URL itself is never kept:
 *   messages name the proxy as host:port, and the header value is a non-enumerable
 *   property, so it is not in a log line or JSON of the settings either.
 *
 * Semantics of the variables (those of curl, which git uses, where the usual
 * implementations differ):
 * - `https_proxy`/`HTTPS_PROXY` for https targets, `http_proxy`/`HTTP_PROXY` for plain
 *   http ones; lower case wins, and both spellings set to different values is a
 *   configuration error rather than a silent choice. Note that curl (so git) ignores
 *   upper-case HTTP_PROXY: set both spellings, as the chart does.
 * - A proxy URL is `http://[user:pass@]host:port` (or `host:port`). The port is
 *   required: curl defaults it to 1080 and Node clients to 80, and a proxy that git and
 *   the controller reach on different ports is a trap. https:// and socks proxies are
 *   refused: the connection to the proxy is plain TCP.
 * - `no_proxy`/`NO_PROXY`: comma-separated entries, matched against the URL's host as
 *   written (no DNS): `*` (everything), `example.com` and `.example.com` (that domain
 *   and every name under it; `*.example.com` is read the same way), an IPv4 or IPv6
 *   address or CIDR (matches a URL whose host is such a literal address), each
 *   optionally with `:port` (`[::1]:8443` for IPv6) to match that port only. Loopback
 *   is not exempt by itself: list `localhost,127.0.0.1,::1` (the chart does).
 */
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { cidrContains, parseCidrOrIp, parseIp } from '../ip.js';
import type { Cidr } from '../ip.js';
import { HttpError } from './errors.js';

/** A proxy to connect to: where, and how to authenticate; never the URL it was written as. */
export interface ProxyEndpoint {
  /** Host name or address (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** `proxy.corp:3128`: how a message names the proxy. */
  readonly label: string;
  /**
   * `Basic …` when the URL carried credentials. Non-enumerable: left out of JSON and of
   * log lines that print the settings.
   */
  readonly authorization?: string;
}

/** One NO_PROXY entry, parsed. */
export type NoProxyEntry =
  | { readonly kind: 'all' }
  | { readonly kind: 'domain'; readonly domain: string; readonly port?: number }
  | { readonly kind: 'address'; readonly cidr: Cidr; readonly port?: number };

/** The route outbound connections take; undefined (no settings) means direct. */
export interface ProxySettings {
  /** For https targets: https_proxy / HTTPS_PROXY. */
  readonly https?: ProxyEndpoint;
  /** For plain http targets: http_proxy / HTTP_PROXY. */
  readonly http?: ProxyEndpoint;
  /** The targets reached directly: no_proxy / NO_PROXY. */
  readonly noProxy: readonly NoProxyEntry[];
}

/** The variables read; main.ts passes them from process.env (STYLE.md 5). */
export interface ProxyEnvironment {
  HTTPS_PROXY?: string | undefined;
  https_proxy?: string | undefined;
  HTTP_PROXY?: string | undefined;
  http_proxy?: string | undefined;
  NO_PROXY?: string | undefined;
  no_proxy?: string | undefined;
}

const invalid = (message: string): HttpError => new HttpError('FST_HTTP_INVALID_REQUEST', message);

/** The value of a variable in either spelling (lower case first, as curl reads it); '' is unset. */
function either(env: ProxyEnvironment, upper: keyof ProxyEnvironment): string | undefined {
  const lowerName = upper.toLowerCase() as keyof ProxyEnvironment;
  const lower = env[lowerName]?.trim() || undefined;
  const upperValue = env[upper]?.trim() || undefined;
  if (lower !== undefined && upperValue !== undefined && lower !== upperValue) {
    throw invalid(
      `${lowerName} and ${upper} are both set, to different values; set one, or both to the same value`,
    );
  }
  return lower ?? upperValue;
}

/**
 * The proxy settings of an environment, or undefined when no proxy is set (NO_PROXY
 * alone changes nothing). Throws HttpError FST_HTTP_INVALID_REQUEST naming the variable
 * and the problem, never a password: call it at start-up so a typo stops the controller.
 */
export function proxySettingsFromEnv(env: ProxyEnvironment): ProxySettings | undefined {
  const https = either(env, 'HTTPS_PROXY');
  const http = either(env, 'HTTP_PROXY');
  const noProxy = either(env, 'NO_PROXY');
  if (https === undefined && http === undefined) return undefined;
  return Object.freeze({
    ...(https !== undefined ? { https: parseProxyUrl(https, 'HTTPS_PROXY') } : {}),
    ...(http !== undefined ? { http: parseProxyUrl(http, 'HTTP_PROXY') } : {}),
    noProxy: parseNoProxy(noProxy ?? ''),
  });
}

/** `http://[user:pass@]host:port[/]` or `host:port`, as an endpoint. `variable` names it in errors. */
export function parseProxyUrl(text: string, variable: string): ProxyEndpoint {
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The text may hold a password: say what is wrong, not what was written.
    throw invalid(`${variable} is not a valid URL (expected http://[user:password@]host:port)`);
  }
  if (url.protocol !== 'http:') {
    throw invalid(
      `${variable} uses ${url.protocol}//; only http:// proxies are supported (the tunnel to an https target is still TLS end to end)`,
    );
  }
  const label = url.host;
  // URL parsing drops a port equal to the scheme's default (:80), so look at the text.
  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(raw)?.[1];
  if (port === undefined)
    throw invalid(
      `${variable} (${label}) has no port; give it explicitly (git and Node default it differently)`,
    );
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    throw invalid(`${variable} (${label}) must be scheme://host:port, without a path or query`);
  const endpoint: ProxyEndpoint = {
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(port),
    label: url.port === '' ? `${label}:${port}` : label,
  };
  if (url.username !== '' || url.password !== '') {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      throw invalid(`${variable} (${label}) has user info that is not valid percent-encoding`);
    }
    Object.defineProperty(endpoint, 'authorization', {
      value: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
      enumerable: false,
    });
  }
  return Object.freeze(endpoint);
}

const HOST_LABELS = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Parses a NO_PROXY value; throws HttpError FST_HTTP_INVALID_REQUEST naming the bad entry. */
export function parseNoProxy(text: string): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      entries.push({ kind: 'all' });
      continue;
    }
    const bare = parseCidrOrIp(entry);
    if (bare !== undefined) {
      entries.push({ kind: 'address', cidr: bare });
      continue;
    }
    let host = entry;
    let port: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const withPort = /^([^:]+):(\d+)$/.exec(entry);
    if (bracketed !== null) {
      host = bracketed[1]!;
      port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
    } else if (withPort !== null) {
      host = withPort[1]!;
      port = Number(withPort[2]);
    }
    if (port !== undefined && !(port >= 1 && port <= 65535))
      throw invalid(`NO_PROXY entry "${raw.trim()}" has a port outside 1-65535`);
    const cidr = parseCidrOrIp(host);
    if (cidr !== undefined) {
      entries.push({ kind: 'address', cidr, ...(port !== undefined ? { port } : {}) });
      continue;
    }
    const domain = host.replace(/^\*?\./, '').replace(/\.$/, '');
    if (bracketed !== null || !HOST_LABELS.test(domain))
      throw invalid(
        `NO_PROXY entry "${raw.trim()}" is neither *, a domain, an IP address nor a CIDR`,
      );
    entries.push({ kind: 'domain', domain, ...(port !== undefined ? { port } : {}) });
  }
  return entries;
}

function defaultPort(url: URL): number {
  return url.protocol === 'https:' ? 443 : 80;
}

/** Whether NO_PROXY sends `url` directly: its host as written (no DNS) and its port. */
export function bypassesProxy(url: URL, noProxy: readonly NoProxyEntry[]): boolean {
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  const port = url.port === '' ? defaultPort(url) : Number(url.port);
  const ip = parseIp(host);
  return noProxy.some((entry) => {
    if (entry.kind === 'all') return true;
    if (entry.port !== undefined && entry.port !== port) return false;
    if (entry.kind === 'address') return ip !== undefined && cidrContains(entry.cidr, ip);
    return host === entry.domain || host.endsWith(`.${entry.domain}`);
  });
}

/** The proxy `url` goes through, or undefined to connect directly. */
export function proxyFor(url: URL, settings: ProxySettings | undefined): ProxyEndpoint | undefined {
  if (settings === undefined) return undefined;
  const proxy = url.protocol === 'https:' ? settings.https : settings.http;
  if (proxy === undefined || bypassesProxy(url, settings.noProxy)) return undefined;
  return proxy;
}

/** `host:port` as a CONNECT request and a Host header write it (IPv6 in brackets). */
export function authority(hostname: string, port: number): string {
  return hostname.includes(':') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

export interface TunnelOptions {
  /** Ends the attempt (the request's deadline or the caller's cancellation). */
  signal: AbortSignal;
  /** Longest wait for the proxy to accept and answer the CONNECT. */
  idleTimeoutMs: number;
  /** Set when the idle limit, not the proxy, ended the attempt. */
  idle: { fired: boolean };
  /** The target's URL, for the error when the proxy refuses. */
  url: URL;
}

/**
 * Opens a CONNECT tunnel through `proxy` to `target` (`host:port`, the host the SSRF
 * guard checked). Resolves with the socket once the proxy answered 2xx; the caller
 * starts TLS on it. A non-2xx answer rejects with FST_HTTP_NETWORK naming the proxy and
 * the status (407 and 403 terminal: the proxy's credentials or its rules must change;
 * the rest transient); a socket failure rejects with Node's error, for the caller to
 * describe.
 */
export function openTunnel(
  proxy: ProxyEndpoint,
  target: string,
  options: TunnelOptions,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const headers: Record<string, string> = { host: target };
    if (proxy.authorization !== undefined) headers['proxy-authorization'] = proxy.authorization;
    const req = httpRequest({
      host: proxy.hostname,
      port: proxy.port,
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
      timeout: options.idleTimeoutMs,
    });
    const onAbort = (): void => {
      req.destroy();
    };
    const done = (): void => options.signal.removeEventListener('abort', onAbort);
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    req.on('timeout', () => {
      options.idle.fired = true;
      req.destroy();
    });
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('connect', (res, socket, head) => {
      done();
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        socket.destroy();
        reject(tunnelRefused(proxy, target, status, options.url));
        return;
      }
      socket.setTimeout(0);
      // Bytes after the proxy's answer belong to the target's stream (a proxy should
      // send none before our ClientHello, but nothing is dropped if it does).
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.end();
  });
}

function tunnelRefused(proxy: ProxyEndpoint, target: string, status: number, url: URL): HttpError {
  const hint =
    status === 407
      ? proxy.authorization === undefined
        ? '; the proxy wants credentials: put them in the proxy URL (http://user:password@host:port)'
        : '; the proxy did not accept the credentials in the proxy URL'
      : status === 403
        ? '; the proxy does not allow this destination'
        : '';
  return new HttpError(
    'FST_HTTP_NETWORK',
    `The proxy ${proxy.label} refused the tunnel to ${target}: it answered CONNECT with HTTP ${status}${hint}`,
    // No `status`: that field is the target's answer, and the target never answered.
    { url, errorClass: status === 407 || status === 403 ? 'terminal' : 'transient' },
  );
}
