/**
 * The `taxii` feed source: a TAXII 2.1 client for one collection's objects.
 *
 * Contract:
 * - `fetchTaxii` sends the first page request before it returns, so bad
 *   credentials, a missing collection or a refused address fail the call itself;
 *   later pages are fetched while `objects` is read.
 * - `objects` is ONE JSON array of STIX objects across all pages
 *   (`[{...},{...}]`), so the STIX parser reads a TAXII collection exactly like a
 *   bundle's `objects`.
 * - `stats.cursor` is the newest X-TAXII-Date-Added-Last the server reported (or
 *   the `addedAfter` given, when nothing newer came). Store it as the next sync's
 *   `addedAfter` only once `stats.complete` is true: a sync that failed half way
 *   must be repeated from the old cursor, or the objects it missed are lost.
 * - Limits are those of the http source and cover the whole sync: `maxBytes` is
 *   the sum of all decoded pages, `timeoutMs` the time for all of them. One page
 *   is held in memory at a time (TAXII envelopes are single JSON documents), so
 *   memory follows `pageSize`, not the collection size.
 * - Pagination follows `next` while `more` is true, repeating the same filters
 *   as the spec requires. A server that says `more` without `next` is paged by
 *   `added_after` = the page's X-TAXII-Date-Added-Last (the TAXII 2.0 way); objects
 *   that share that exact timestamp across the page boundary can then be missed,
 *   which is the server's limitation.
 */
import { TextDecoder } from 'node:util';
import { decodeBody } from './body.js';
import { redactUrl } from '../../lib/redact.js';
import { FeedError } from './errors.js';
import { checkLimits } from './http.js';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  Deadline,
  checkCaPem,
  describeStatus,
  openExchange,
  parseFeedUrl,
  classOfAnswer,
} from './outbound.js';
import type { Exchange, FetchLimits, TransportOptions } from './outbound.js';

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';
export const DEFAULT_PAGE_SIZE = 1000;
/** Consecutive pages with `more: true` and no objects before the sync is abandoned as a loop. */
const MAX_EMPTY_PAGES = 3;

export type TaxiiAuth = { username: string; password: string } | { token: string };

interface TaxiiTransportOptions extends FetchLimits {
  /** Basic (username/password) or bearer (token) credentials. Never logged; dropped on cross-origin redirects. */
  auth?: TaxiiAuth;
}

export interface TaxiiFetchOptions extends TaxiiTransportOptions {
  /** The API root URL, e.g. https://taxii.example.org/api1/. */
  apiRoot: string;
  /** The collection id. */
  collection: string;
  /** Only objects added after this RFC 3339 time (exclusive); the last sync's cursor. */
  addedAfter?: string;
  /** Objects requested per page (`limit`); servers may return fewer. Defaults to 1000. */
  pageSize?: number;
}

export interface TaxiiSyncStats {
  /** True once every page has been read and the closing `]` emitted. */
  complete: boolean;
  /** The newest date_added seen (X-TAXII-Date-Added-Last), else the addedAfter given. */
  cursor: string | undefined;
  pages: number;
  objects: number;
  /** Decoded response bytes so far, counted against maxBytes. */
  bytes: number;
}

export interface TaxiiFetchResult {
  /** One JSON array of STIX objects, streamed. */
  objects: AsyncIterable<Uint8Array>;
  /** Filled in while `objects` is read; final when `complete` is true. */
  stats: Readonly<TaxiiSyncStats>;
}

interface Page {
  url: URL;
  objects: unknown[];
  more: boolean;
  next: string | undefined;
  dateAddedLast: string | undefined;
}

/** Common plumbing of one sync: the deadline, the byte budget and the request settings. */
class Session {
  readonly deadline: Deadline;
  bytes = 0;
  private readonly transport: Omit<TransportOptions, 'deadline' | 'protocolHeaders'>;

  constructor(private readonly opts: TaxiiTransportOptions) {
    checkLimits(opts.maxBytes, opts.timeoutMs);
    checkCaPem(opts.caPem);
    this.transport = {
      ssrf: opts.ssrf,
      ...(opts.caPem !== undefined ? { caPem: opts.caPem } : {}),
      ...(opts.serverName !== undefined ? { serverName: opts.serverName } : {}),
      maxRedirects: opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
      credentialHeaders: authHeaders(opts.auth),
      idleTimeoutMs: opts.idleTimeoutMs ?? Math.min(opts.timeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
    };
    this.deadline = new Deadline(opts.timeoutMs, opts.signal);
  }

  /** GETs a TAXII resource and returns its parsed JSON, counting its bytes against the budget. */
  async getJson(url: URL, what: string): Promise<{ exchange: Exchange; json: unknown }> {
    const exchange = await openExchange(url, {
      ...this.transport,
      protocolHeaders: {
        accept: TAXII_MEDIA_TYPE,
        'accept-encoding': 'gzip',
        'user-agent': 'forestall-feed-fetcher',
      },
      deadline: this.deadline,
    });
    try {
      this.checkResponse(exchange, what);
      const chunks: Uint8Array[] = [];
      const body = decodeBody(exchange.rawBody(), {
        url: exchange.url,
        contentEncoding: exchange.headers['content-encoding'],
        maxBytes: this.opts.maxBytes - this.bytes,
        limitLabel: `the ${this.opts.maxBytes}-byte limit for the whole TAXII sync`,
      });
      for await (const chunk of body) {
        chunks.push(chunk);
        this.bytes += chunk.length;
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        throw new FeedError(
          'FST_FEED_TAXII',
          `${what} from ${redactUrl(exchange.url)} is not valid UTF-8 JSON`,
          { url: exchange.url },
        );
      }
      return { exchange, json };
    } finally {
      exchange.close();
    }
  }

  private checkResponse(exchange: Exchange, what: string): void {
    const { status, url } = exchange;
    if (status === 401 || status === 403) {
      const hint = exchange.credentialsSent
        ? 'check the username/password or token in authSecretRef'
        : this.opts.auth === undefined
          ? 'no credentials are configured (authSecretRef)'
          : 'the credentials were not sent because a redirect left the original origin';
      throw new FeedError(
        'FST_FEED_AUTH',
        `TAXII server refused ${what} at ${redactUrl(url)} with ${describeStatus(status)}; ${hint}`,
        { url, status },
      );
    }
    if (status === 404) {
      throw new FeedError(
        'FST_FEED_TAXII',
        `TAXII server has no ${what} at ${redactUrl(url)} (${describeStatus(status)}); check apiRoot and collection`,
        { url, status },
      );
    }
    if (status === 406 || status === 415) {
      throw new FeedError(
        'FST_FEED_TAXII',
        `Server at ${redactUrl(url)} does not accept ${TAXII_MEDIA_TYPE} (${describeStatus(status)}); is it a TAXII 2.1 server?`,
        { url, status },
      );
    }
    if (status < 200 || status >= 300) {
      throw new FeedError(
        'FST_FEED_HTTP_STATUS',
        `GET ${redactUrl(url)} (${what}) returned ${describeStatus(status)}`,
        {
          url,
          status,
          errorClass: classOfAnswer(status),
        },
      );
    }
    const type = (exchange.headers['content-type'] ?? '').toLowerCase();
    // The spec requires application/taxii+json; plain JSON is tolerated because
    // some servers label it so. Anything else (a login page, a proxy error) is not TAXII.
    if (!type.startsWith('application/taxii+json') && !type.startsWith('application/json')) {
      // A header is the server's text too: shown only when it looks like a media type.
      const shown = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(
        type.split(';')[0]?.trim() ?? '',
      )
        ? type.split(';')[0]?.trim()
        : '(not shown)';
      throw new FeedError(
        'FST_FEED_TAXII',
        `${what} from ${redactUrl(url)} has Content-Type ${shown}, not ${TAXII_MEDIA_TYPE}`,
        { url },
      );
    }
  }
}

function authHeaders(auth: TaxiiAuth | undefined): Record<string, string> {
  if (auth === undefined) return {};
  if ('token' in auth) {
    if (auth.token === '' || /[\r\n]/.test(auth.token)) {
      throw new FeedError(
        'FST_FEED_INVALID_REQUEST',
        'The TAXII bearer token is empty or contains a line break (value not shown)',
      );
    }
    return { authorization: `Bearer ${auth.token}` };
  }
  if (auth.username.includes(':') || /[\r\n]/.test(auth.username + auth.password)) {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      'The TAXII username contains ":" or a credential contains a line break (values not shown)',
    );
  }
  return {
    authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`,
  };
}

/** The API root URL with exactly one trailing slash, so relative paths resolve under it. */
function apiRootUrl(apiRoot: string): URL {
  const url = parseFeedUrl(apiRoot);
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  url.search = '';
  url.hash = '';
  return url;
}

export async function fetchTaxii(opts: TaxiiFetchOptions): Promise<TaxiiFetchResult> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `pageSize must be a positive integer, got ${pageSize}`,
    );
  }
  if (opts.collection === '') {
    throw new FeedError('FST_FEED_INVALID_REQUEST', 'The TAXII collection id is empty');
  }
  if (opts.addedAfter !== undefined && timestampKey(opts.addedAfter) === undefined) {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `addedAfter "${opts.addedAfter.slice(0, 64)}" is not an RFC 3339 UTC timestamp`,
    );
  }
  const objectsUrl = new URL(
    `collections/${encodeURIComponent(opts.collection)}/objects/`,
    apiRootUrl(opts.apiRoot),
  );
  const session = new Session(opts);
  const stats: TaxiiSyncStats = {
    complete: false,
    cursor: opts.addedAfter,
    pages: 0,
    objects: 0,
    bytes: 0,
  };
  const what = `collection ${opts.collection}`;

  const fetchPage = async (params: Record<string, string>): Promise<Page> => {
    const url = new URL(objectsUrl);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    const { exchange, json } = await session.getJson(url, what);
    const page = parseEnvelope(json, exchange);
    stats.pages += 1;
    stats.bytes = session.bytes;
    if (page.dateAddedLast !== undefined && isNewer(page.dateAddedLast, stats.cursor)) {
      stats.cursor = page.dateAddedLast;
    }
    return page;
  };

  const base: Record<string, string> = { limit: String(pageSize) };
  if (opts.addedAfter !== undefined) base['added_after'] = opts.addedAfter;

  let first: Page;
  try {
    first = await fetchPage(base);
  } catch (err) {
    session.deadline.dispose();
    throw err;
  }

  async function* stream(): AsyncGenerator<Uint8Array> {
    try {
      yield Buffer.from('[');
      let addedAfter = opts.addedAfter;
      let emptyPages = 0;
      for (let page: Page | undefined = first; page !== undefined;) {
        for (const object of page.objects) {
          const text = JSON.stringify(object);
          yield Buffer.from(stats.objects === 0 ? text : `,${text}`);
          stats.objects += 1;
        }
        if (!page.more) break;
        // `next` may legitimately stay the same token (medallion keeps one server-side
        // cursor per query), so progress is judged by objects, not by the token.
        emptyPages = page.objects.length === 0 ? emptyPages + 1 : 0;
        if (emptyPages >= MAX_EMPTY_PAGES) {
          throw new FeedError(
            'FST_FEED_TAXII',
            `TAXII server kept saying more objects follow for ${what} at ${redactUrl(page.url)} but sent none in ${MAX_EMPTY_PAGES} pages; stopping to avoid a loop`,
            { url: page.url },
          );
        }

        let params: Record<string, string>;
        if (page.next !== undefined) {
          params = { ...base, next: page.next };
        } else if (page.dateAddedLast !== undefined && isNewer(page.dateAddedLast, addedAfter)) {
          addedAfter = page.dateAddedLast;
          params = { ...base, added_after: addedAfter };
        } else {
          throw new FeedError(
            'FST_FEED_TAXII',
            `TAXII server said more objects follow for ${what} at ${redactUrl(page.url)} but gave neither "next" nor a newer X-TAXII-Date-Added-Last`,
            { url: page.url },
          );
        }
        page = await fetchPage(params);
      }
      yield Buffer.from(']');
      stats.complete = true;
    } finally {
      session.deadline.dispose();
    }
  }

  return { objects: stream(), stats };
}

function parseEnvelope(json: unknown, exchange: Exchange): Page {
  const { url } = exchange;
  const bad = (why: string): FeedError =>
    new FeedError('FST_FEED_TAXII', `TAXII envelope from ${redactUrl(url)} is malformed: ${why}`, {
      url,
    });
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw bad('not a JSON object');
  const envelope = json as Record<string, unknown>;
  // An empty result is `{}`: no objects, no more.
  const objects = envelope['objects'] ?? [];
  if (!Array.isArray(objects)) throw bad('"objects" is not an array');
  objects.forEach((object: unknown, i) => {
    if (typeof object !== 'object' || object === null || Array.isArray(object))
      throw bad(`objects[${i}] is not an object`);
    const o = object as Record<string, unknown>;
    if (typeof o['type'] !== 'string' || typeof o['id'] !== 'string')
      throw bad(`objects[${i}] has no string "type" and "id"`);
  });
  const more = envelope['more'] ?? false;
  if (typeof more !== 'boolean') throw bad('"more" is not a boolean');
  const next = envelope['next'];
  if (next !== undefined && (typeof next !== 'string' || next === ''))
    throw bad('"next" is not a non-empty string');
  const lastHeader = exchange.headers['x-taxii-date-added-last'];
  const last = Array.isArray(lastHeader) ? lastHeader[0] : lastHeader;
  return {
    url,
    objects,
    more,
    next: typeof next === 'string' ? next : undefined,
    // A header that is not a timestamp is ignored rather than stored as a cursor.
    dateAddedLast: last !== undefined && timestampKey(last) !== undefined ? last : undefined,
  };
}

const RFC3339_UTC = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

/**
 * A string that sorts like the instant, keeping the sub-millisecond digits TAXII
 * servers use (Date would round `.123456Z` to milliseconds, and a cursor rounded
 * down re-fetches, rounded up skips).
 */
function timestampKey(ts: string): string | undefined {
  const match = RFC3339_UTC.exec(ts);
  if (match === null) return undefined;
  return `${match[1]}.${(match[2] ?? '').padEnd(9, '0')}`;
}

function isNewer(candidate: string, current: string | undefined): boolean {
  const a = timestampKey(candidate);
  if (a === undefined) return false;
  const b = current === undefined ? undefined : timestampKey(current);
  return b === undefined || a > b;
}

export interface TaxiiDiscoveryOptions extends TaxiiTransportOptions {
  /** The discovery URL, usually https://host/taxii2/. */
  url: string;
}

export interface TaxiiDiscovery {
  title: string;
  description?: string;
  default?: string;
  /** API root URLs as the server lists them. */
  apiRoots: string[];
}

/** GET the server's discovery resource (optional: a ThreatFeed names its API root directly). */
export async function discoverTaxii(opts: TaxiiDiscoveryOptions): Promise<TaxiiDiscovery> {
  const url = parseFeedUrl(opts.url);
  const session = new Session(opts);
  try {
    const { exchange, json } = await session.getJson(url, 'discovery resource');
    const bad = (why: string): FeedError =>
      new FeedError(
        'FST_FEED_TAXII',
        `TAXII discovery resource from ${redactUrl(exchange.url)} is malformed: ${why}`,
        { url: exchange.url },
      );
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw bad('not a JSON object');
    const d = json as Record<string, unknown>;
    if (typeof d['title'] !== 'string') throw bad('"title" is missing');
    const roots = d['api_roots'] ?? [];
    if (!Array.isArray(roots) || !roots.every((r) => typeof r === 'string'))
      throw bad('"api_roots" is not a list of strings');
    return {
      title: d['title'],
      ...(typeof d['description'] === 'string' ? { description: d['description'] } : {}),
      ...(typeof d['default'] === 'string' ? { default: d['default'] } : {}),
      apiRoots: roots as string[],
    };
  } finally {
    session.deadline.dispose();
  }
}
