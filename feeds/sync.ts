import type { ThreatFeed } from '../crds/index.js';
import { FeedError } from './sources/errors.js';
import { fetchHttp, fetchTaxii, type SsrfPolicy } from './sources/index.js';

/**
 * One feed sync's fetch, shared by every caller: a ThreatFeed's spec.source opened
 * through injected readers, as connectors reach the cluster through ClusterAccess. The
 * readers decide what an author may name (which Secrets, which ConfigMaps); this module
 * decides how each source is fetched, within one byte budget and one deadline.
 */

/** Limits and policy for fetching, from the caller's configuration. */
export interface FetchPolicy {
  ssrf: SsrfPolicy;
  maxBytes: number;
  timeoutMs: number;
}

/** A ConfigMap key's content, as a reader found it. */
export interface SourceDocument {
  /** Where it was found, for messages (`ConfigMap ns/name`). */
  where: string;
  text?: string;
  /** Base64, as a ConfigMap's binaryData holds it. */
  binary?: string;
  /** Changes whenever the content may have: a resourceVersion. */
  version: string;
}

/**
 * What a source needs from outside the feed: credentials, CA bundles, ConfigMaps. Each
 * reader refuses what the author may not use with a FeedError naming the field; the
 * controller's readers enforce the Secret binding and the ConfigMap namespace rules.
 */
export interface SourceReaders {
  /** A credential Secret's data, admitted for `destination`; `field` names the spec field. */
  credential(
    ref: { name: string; namespace?: string },
    field: string,
    destination: string,
  ): Promise<Record<string, string>>;
  /** A PEM CA bundle (public, never sent anywhere). */
  caBundle(ref: { name: string; namespace?: string; key?: string }): Promise<string>;
  /** spec.source.configMapRef. */
  configMap(ref: { name: string; namespace?: string; key: string }): Promise<SourceDocument>;
}

export type FetchOutcome =
  | { status: 'unchanged' }
  | {
      status: 'ok';
      body: AsyncIterable<Uint8Array>;
      sourceState: Record<string, string>;
      origin: string;
    }
  /**
   * A feed of several files (MISP: manifest.json plus one file per event), read by name
   * as the parser (in the ingestion worker) reaches them.
   */
  | {
      status: 'ok';
      files: (name: string) => Promise<Uint8Array>;
      sourceState: Record<string, string>;
      origin: string;
    };

/** Longest sync error kept in a feed's status. */
const MAX_SOURCE_ERROR = 512;

/**
 * A sync error fit for status and Events: the parsers quote the value they refused
 * (JSON-quoted, up to 200 characters), and a source may hold anything — a ConfigMap
 * that is not really a feed (a password in an app's config), or the answer of an
 * internal service an allow-listed URL reaches — so every quoted string is replaced by
 * "…", control characters are dropped and the text is capped. What stays names the
 * problem and where (line numbers, columns, counts), never the content.
 */
export function sourceErrorForStatus(message: string): string {
  const neutral = message
    .replace(/"(?:[^"\\\n]|\\.)*"?/g, '"…"')
    // Control characters are exactly what this removes.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return neutral.length > MAX_SOURCE_ERROR ? `${neutral.slice(0, MAX_SOURCE_ERROR - 1)}…` : neutral;
}

/**
 * Fetches a ThreatFeed's body from whichever source its spec names. `previous` holds
 * the validators (ETag, Last-Modified) or TAXII cursor of the last good sync.
 */
export async function fetchFeed(
  feed: ThreatFeed,
  previous: Record<string, string> | undefined,
  readers: SourceReaders,
  policy: FetchPolicy,
  signal?: AbortSignal,
): Promise<FetchOutcome> {
  const { source } = feed.spec;
  if (source.http) {
    const { headersSecretRef, tls } = source.http;
    const headers = headersSecretRef
      ? await readers.credential(
          headersSecretRef,
          'spec.source.http.headersSecretRef',
          source.http.url,
        )
      : undefined;
    const ca = tls?.caSecretRef ? await readers.caBundle(tls.caSecretRef) : undefined;
    if (feed.spec.format === 'misp') {
      return fetchMispFeed(
        source.http.url,
        { headers, caPem: ca, serverName: source.http.tls?.serverName },
        previous,
        policy,
        signal,
      );
    }
    const result = await fetchHttp({
      url: source.http.url,
      headers,
      caPem: ca,
      serverName: source.http.tls?.serverName,
      conditional: previous
        ? { etag: previous.etag, lastModified: previous.lastModified }
        : undefined,
      maxBytes: policy.maxBytes,
      timeoutMs: policy.timeoutMs,
      ssrf: policy.ssrf,
      signal,
    });
    if (result.status === 'unchanged') return result;
    const sourceState: Record<string, string> = {};
    if (result.etag) sourceState.etag = result.etag;
    if (result.lastModified) sourceState.lastModified = result.lastModified;
    return { status: 'ok', body: result.body, sourceState, origin: result.finalUrl };
  }
  if (source.taxii) {
    const { authSecretRef } = source.taxii;
    const secret = authSecretRef
      ? await readers.credential(
          authSecretRef,
          'spec.source.taxii.authSecretRef',
          source.taxii.apiRoot,
        )
      : undefined;
    const auth = secret?.token
      ? { token: secret.token }
      : secret?.username
        ? { username: secret.username, password: secret.password ?? '' }
        : undefined;
    // A full fetch each time: the snapshot must hold the whole collection, and an
    // incremental page would look like every older indicator was withdrawn.
    const result = await fetchTaxii({
      apiRoot: source.taxii.apiRoot,
      collection: source.taxii.collection,
      auth,
      addedAfter: source.taxii.addedAfter,
      pageSize: source.taxii.pageSize,
      maxBytes: policy.maxBytes,
      timeoutMs: policy.timeoutMs,
      ssrf: policy.ssrf,
      signal,
    });
    return {
      status: 'ok',
      body: result.objects,
      sourceState: {},
      origin: `${source.taxii.apiRoot} collection ${source.taxii.collection}`,
    };
  }
  const ref = source.configMapRef!;
  const doc = await readers.configMap(ref);
  if (doc.text === undefined && doc.binary === undefined)
    throw new FeedError('FST_FEED_HTTP_STATUS', `${doc.where} has no key ${ref.key}`);
  if (previous?.configMapResourceVersion === doc.version) return { status: 'unchanged' };
  const bytes =
    doc.text !== undefined ? Buffer.from(doc.text, 'utf8') : Buffer.from(doc.binary!, 'base64');
  return {
    status: 'ok',
    body: (async function* () {
      yield bytes;
    })(),
    sourceState: { configMapResourceVersion: doc.version },
    origin: `${doc.where} key ${ref.key}`,
  };
}

/**
 * A MISP feed over HTTP: `url` is the feed's directory. manifest.json is fetched
 * conditionally (an unchanged manifest means an unchanged feed); each event file is
 * then fetched with the same SSRF guard and credentials when the parser asks for it.
 * Any event that cannot be fetched or parsed fails the whole sync, so its indicators
 * never look withdrawn.
 *
 * One byte budget and one deadline per sync: the manifest and all event files together
 * may hold at most `policy.maxBytes` (each request is given what is left), and every
 * request shares `signal`, which the reconciler aborts at the sync's deadline. So a
 * manifest of many events multiplies neither; parseMispFeed also caps the number of
 * events (DEFAULT_MAX_MISP_EVENTS). Bodies are collected whole, each into the budget.
 */
async function fetchMispFeed(
  url: string,
  tls: { headers?: Record<string, string>; caPem?: string; serverName?: string },
  previous: Record<string, string> | undefined,
  policy: FetchPolicy,
  signal?: AbortSignal,
): Promise<FetchOutcome> {
  const base = url.endsWith('/') ? url : `${url}/`;
  let remaining = policy.maxBytes;
  const overBudget = (name: string) =>
    new FeedError(
      'FST_FEED_TOO_LARGE',
      `the MISP feed at ${base} holds more than ${policy.maxBytes} bytes across manifest.json and its event files (one byte cap per sync), at ${name}`,
    );
  // Each request's own cap is what is left of the budget: its refusal names the budget.
  const budgeted = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw (err as FeedError).code === 'FST_FEED_TOO_LARGE' ? overBudget(name) : err;
    }
  };
  const collect = (body: AsyncIterable<Uint8Array>, name: string): Promise<Uint8Array> =>
    budgeted(name, async () => {
      const chunks: Uint8Array[] = [];
      let length = 0;
      for await (const chunk of body) {
        remaining -= chunk.byteLength;
        if (remaining < 0) throw overBudget(name);
        chunks.push(chunk);
        length += chunk.byteLength;
      }
      return Buffer.concat(chunks, length);
    });
  const common = { ...tls, timeoutMs: policy.timeoutMs, ssrf: policy.ssrf, signal };
  const manifest = await fetchHttp({
    ...common,
    maxBytes: remaining,
    url: `${base}manifest.json`,
    conditional: previous
      ? { etag: previous.etag, lastModified: previous.lastModified }
      : undefined,
  });
  if (manifest.status === 'unchanged') return manifest;
  const sourceState: Record<string, string> = {};
  if (manifest.etag) sourceState.etag = manifest.etag;
  if (manifest.lastModified) sourceState.lastModified = manifest.lastModified;
  const manifestBytes = await collect(manifest.body, 'manifest.json');
  const files = async (name: string): Promise<Uint8Array> => {
    if (name === 'manifest.json') return manifestBytes;
    if (remaining <= 0) throw overBudget(name);
    const event = await budgeted(name, () =>
      fetchHttp({ ...common, maxBytes: remaining, url: `${base}${encodeURIComponent(name)}` }),
    );
    if (event.status !== 'ok')
      throw new FeedError(
        'FST_FEED_HTTP_STATUS',
        `MISP event file ${name} answered "not modified" to an unconditional request`,
      );
    return collect(event.body, name);
  };
  return {
    status: 'ok',
    files,
    sourceState,
    origin: `MISP feed ${manifest.finalUrl.replace(/manifest\.json$/, '')}`,
  };
}
