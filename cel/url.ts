import { EvaluationError, type Environment } from '@marcbachmann/cel-js';

/**
 * The Kubernetes URL library, for `url` indicators:
 *
 *   url(s) / isURL(s)   an absolute URI ("https://host:8443/p?q=1") or an absolute path ("/p")
 *   u.getScheme()  u.getHost()  u.getHostname()  u.getPort()  u.getEscapedPath()  u.getQuery()
 *
 * Validation and the path and query come from the WHATWG URL parser; host and port are
 * read from the text as written, as Go's net/url does, so `getPort()` of
 * "https://h:443/" is "443" and `getHost()` keeps the case the feed used (canonical
 * indicator URLs are already normalised). getHostname() drops IPv6 brackets. The WHATWG
 * parser is stricter than Go's in places (it refuses spaces in a host, for example);
 * such text is not a URL here.
 */

export class CelUrl {
  constructor(
    readonly scheme: string,
    readonly host: string,
    readonly hostname: string,
    readonly port: string,
    readonly escapedPath: string,
    readonly search: string,
  ) {
    Object.freeze(this);
  }
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const PLACEHOLDER_BASE = 'http://path.invalid';

/** Parses a URL, or returns what is wrong with it as a phrase about "it", without the text (see net.ts parseCelIp). */
export function parseUrl(text: string): CelUrl | string {
  if (text.startsWith('/') && !text.startsWith('//')) {
    const parsed = URL.canParse(text, PLACEHOLDER_BASE)
      ? new URL(text, PLACEHOLDER_BASE)
      : undefined;
    if (!parsed) return 'is not a URL';
    return new CelUrl('', '', '', '', parsed.pathname, parsed.search);
  }
  const scheme = SCHEME.exec(text);
  if (!scheme || !URL.canParse(text)) return 'is not an absolute URL or an absolute path';
  const parsed = new URL(text);
  const rest = text.slice(scheme[0].length);
  let host = '';
  if (rest.startsWith('//')) {
    const authority = rest.slice(2).split(/[/?#]/, 1)[0]!;
    host = authority.slice(authority.lastIndexOf('@') + 1);
  }
  const { hostname, port } = splitHost(host);
  return new CelUrl(scheme[1]!.toLowerCase(), host, hostname, port, parsed.pathname, parsed.search);
}

function splitHost(host: string): { hostname: string; port: string } {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return { hostname: host.slice(1, close), port: host.slice(close + 1).replace(/^:/, '') };
  }
  const colon = host.lastIndexOf(':');
  return colon < 0
    ? { hostname: host, port: '' }
    : { hostname: host.slice(0, colon), port: host.slice(colon + 1) };
}

function urlOrThrow(text: string): CelUrl {
  const url = parseUrl(text);
  if (typeof url === 'string')
    throw new EvaluationError({ code: 'invalid_url', message: `url(): the argument ${url}` });
  return url;
}

function query(url: CelUrl): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  // No prototype: a query key such as "__proto__" or "constructor" stays an ordinary key.
  for (const [key, value] of new URLSearchParams(url.search)) (out[key] ??= []).push(value);
  return out;
}

const sync = { async: false } as const;

export function urlLibrary(env: Environment): Environment {
  return env
    .registerType('URL', { ctor: CelUrl, fields: {} })
    .registerFunction('url(string): URL', urlOrThrow, sync)
    .registerFunction('isURL(string): bool', (s: string) => typeof parseUrl(s) !== 'string', sync)
    .registerFunction('URL.getScheme(): string', (u: CelUrl) => u.scheme, sync)
    .registerFunction('URL.getHost(): string', (u: CelUrl) => u.host, sync)
    .registerFunction('URL.getHostname(): string', (u: CelUrl) => u.hostname, sync)
    .registerFunction('URL.getPort(): string', (u: CelUrl) => u.port, sync)
    .registerFunction('URL.getEscapedPath(): string', (u: CelUrl) => u.escapedPath, sync)
    .registerFunction('URL.getQuery(): map<string, list<string>>', query, sync);
}

export const URL_LITERAL_CHECKS: Readonly<Record<string, (text: string) => string | undefined>> = {
  url: (text) => {
    const url = parseUrl(text);
    return typeof url === 'string' ? `${JSON.stringify(text)} ${url}` : undefined;
  },
};
