import type { KubernetesObject } from '@kubernetes/client-node';
import type { ThreatFeed } from '../../crds/index.js';
import { FeedError, fetchHttp, fetchTaxii, type SsrfPolicy } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError, statusOf } from '../runtime/errors.js';
import { readCaBundle, readCredential } from '../runtime/secrets.js';

/** Limits and policy for fetching, from the controller's configuration. */
export interface FetchPolicy {
  ssrf: SsrfPolicy;
  maxBytes: number;
  timeoutMs: number;
  /** Where Secrets and ConfigMaps without a namespace are looked up. */
  namespace: string;
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

interface ConfigMapLike extends KubernetesObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/**
 * A feed credential (headersSecretRef, authSecretRef), read only when the Secret admits
 * `destination` (controller/runtime/secrets.ts); a missing Secret is FST_FEED_AUTH naming it.
 * Redirects are the HTTP client's: it drops credentials on a cross-origin redirect.
 */
async function credential(
  client: KubeClient,
  ref: { name: string; namespace?: string },
  field: string,
  destination: string,
  namespace: string,
): Promise<Record<string, string>> {
  const data = await readCredential(client, ref, {
    defaultNamespace: namespace,
    field,
    destinations: [destination],
  }).catch((err: unknown) => {
    // A FeedError, so the feed shows FetchFailed; the message leads with the stable code.
    if (err instanceof ForestallError && err.code === 'FST_SECRET_NOT_ALLOWED')
      throw new FeedError('FST_FEED_AUTH', `${err.code}: ${err.message}`);
    throw err;
  });
  if (!data)
    throw new FeedError(
      'FST_FEED_AUTH',
      `Secret ${ref.namespace ?? namespace}/${ref.name} (${field}) does not exist`,
    );
  return data;
}

/** tls.caSecretRef: a CA bundle is public and never sent, so it needs no opt-in (secrets.ts readCaBundle). */
async function caBundle(
  client: KubeClient,
  ref: { name: string; namespace?: string; key?: string },
  namespace: string,
): Promise<string> {
  const pem = await readCaBundle(client, ref, namespace, 'ca.crt');
  if (!pem)
    throw new FeedError(
      'FST_FEED_AUTH',
      `Secret ${ref.namespace ?? namespace}/${ref.name} (spec.source.http.tls.caSecretRef) does not exist or has no key ${ref.key ?? 'ca.crt'}`,
    );
  return pem;
}

export const LABEL_FEED_SOURCE = 'forestall.io/feed-source';

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
 * spec.source.configMapRef: a ConfigMap of the release namespace, or of another namespace
 * when that ConfigMap opts in with the label forestall.io/feed-source=true (a feed author
 * may not read kube-system's ConfigMaps through Forestall). Reading another namespace also
 * needs RBAC there: the chart's feeds.configMapNamespaces adds a Role per namespace.
 */
async function feedConfigMap(
  client: KubeClient,
  ref: { name: string; namespace?: string },
  releaseNamespace: string,
): Promise<{ ns: string; cm: ConfigMapLike }> {
  const ns = ref.namespace ?? releaseNamespace;
  const what = `ConfigMap ${ns}/${ref.name} (spec.source.configMapRef)`;
  let cm: ConfigMapLike | undefined;
  try {
    cm = await client.get<ConfigMapLike>('v1', 'ConfigMap', ref.name, ns);
  } catch (err) {
    if (statusOf(err) !== 403) throw err;
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `${what} cannot be read: the controller has no access to ConfigMaps in ${ns}; ` +
        'add the namespace to the chart value feeds.configMapNamespaces and label the ConfigMap ' +
        `${LABEL_FEED_SOURCE}=true, or keep the feed's ConfigMap in ${releaseNamespace}`,
    );
  }
  if (!cm) throw new FeedError('FST_FEED_HTTP_STATUS', `${what} does not exist`);
  if (ns !== releaseNamespace && cm.metadata?.labels?.[LABEL_FEED_SOURCE] !== 'true') {
    throw new FeedError(
      'FST_FEED_INVALID_REQUEST',
      `${what} is outside ${releaseNamespace} and does not opt in as a feed source; ` +
        `label it ${LABEL_FEED_SOURCE}=true if it is meant to be one`,
    );
  }
  return { ns, cm };
}

/**
 * Fetches a ThreatFeed's body from whichever source its spec names. `previous` holds
 * the validators (ETag, Last-Modified) or TAXII cursor of the last good sync.
 */
export async function fetchFeed(
  feed: ThreatFeed,
  previous: Record<string, string> | undefined,
  client: KubeClient,
  policy: FetchPolicy,
  signal?: AbortSignal,
): Promise<FetchOutcome> {
  const { source } = feed.spec;
  if (source.http) {
    const { headersSecretRef, tls } = source.http;
    const headers = headersSecretRef
      ? await credential(
          client,
          headersSecretRef,
          'spec.source.http.headersSecretRef',
          source.http.url,
          policy.namespace,
        )
      : undefined;
    const ca = tls?.caSecretRef
      ? await caBundle(client, tls.caSecretRef, policy.namespace)
      : undefined;
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
      ? await credential(
          client,
          authSecretRef,
          'spec.source.taxii.authSecretRef',
          source.taxii.apiRoot,
          policy.namespace,
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
  const { ns, cm } = await feedConfigMap(client, ref, policy.namespace);
  const text = cm.data?.[ref.key];
  const binary = cm.binaryData?.[ref.key];
  if (text === undefined && binary === undefined)
    throw new FeedError(
      'FST_FEED_HTTP_STATUS',
      `ConfigMap ${ns}/${ref.name} has no key ${ref.key}`,
    );
  const version = cm.metadata?.resourceVersion ?? '';
  if (previous?.configMapResourceVersion === version) return { status: 'unchanged' };
  const bytes = text !== undefined ? Buffer.from(text, 'utf8') : Buffer.from(binary!, 'base64');
  return {
    status: 'ok',
    body: (async function* () {
      yield bytes;
    })(),
    sourceState: { configMapResourceVersion: version },
    origin: `ConfigMap ${ns}/${ref.name} key ${ref.key}`,
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
