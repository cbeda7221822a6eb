import type { KubernetesObject } from '@kubernetes/client-node';
import type { ThreatFeed } from '../../crds/index.js';
import { FeedError, fetchHttp, fetchTaxii, parseMispFeed, type ParserItem, type SsrfPolicy } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';

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
  | { status: 'ok'; body: AsyncIterable<Uint8Array>; sourceState: Record<string, string>; origin: string }
  /** A feed of several files (MISP: manifest.json plus one file per event), already parsed. */
  | { status: 'ok'; items: AsyncIterable<ParserItem>; sourceState: Record<string, string>; origin: string };

interface SecretLike extends KubernetesObject {
  data?: Record<string, string>;
}
interface ConfigMapLike extends KubernetesObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Reads a Secret's keys, decoded; a missing Secret is an error that names it. */
async function secretData(client: KubeClient, ref: { name: string; namespace?: string }, fallbackNs: string): Promise<Record<string, string>> {
  const ns = ref.namespace ?? fallbackNs;
  const secret = await client.get<SecretLike>('v1', 'Secret', ref.name, ns);
  if (!secret) throw new FeedError('FST_FEED_AUTH', `Secret ${ns}/${ref.name} does not exist`);
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/**
 * Fetches a ThreatFeed's body from whichever source its spec names. `previous` holds
 * the validators (ETag, Last-Modified) or TAXII cursor of the last good sync.
 */
export async function fetchFeed(feed: ThreatFeed, previous: Record<string, string> | undefined, client: KubeClient, policy: FetchPolicy, signal?: AbortSignal): Promise<FetchOutcome> {
  const { source } = feed.spec;
  if (source.http) {
    const headers = source.http.headersSecretRef ? await secretData(client, source.http.headersSecretRef, policy.namespace) : undefined;
    const ca = source.http.tls?.caSecretRef
      ? (await secretData(client, source.http.tls.caSecretRef, policy.namespace))[source.http.tls.caSecretRef.key ?? 'ca.crt']
      : undefined;
    if (feed.spec.format === 'misp') {
      return fetchMispFeed(source.http.url, { headers, caPem: ca, serverName: source.http.tls?.serverName }, previous, policy, signal);
    }
    const result = await fetchHttp({
      url: source.http.url, headers, caPem: ca, serverName: source.http.tls?.serverName,
      conditional: previous ? { etag: previous.etag, lastModified: previous.lastModified } : undefined,
      maxBytes: policy.maxBytes, timeoutMs: policy.timeoutMs, ssrf: policy.ssrf, signal,
    });
    if (result.status === 'unchanged') return result;
    const sourceState: Record<string, string> = {};
    if (result.etag) sourceState.etag = result.etag;
    if (result.lastModified) sourceState.lastModified = result.lastModified;
    return { status: 'ok', body: result.body, sourceState, origin: result.finalUrl };
  }
  if (source.taxii) {
    const secret = source.taxii.authSecretRef ? await secretData(client, source.taxii.authSecretRef, policy.namespace) : undefined;
    const auth = secret?.token ? { token: secret.token } : secret?.username ? { username: secret.username, password: secret.password ?? '' } : undefined;
    // A full fetch each time: the snapshot must hold the whole collection, and an
    // incremental page would look like every older indicator was withdrawn.
    const result = await fetchTaxii({
      apiRoot: source.taxii.apiRoot, collection: source.taxii.collection, auth, addedAfter: source.taxii.addedAfter,
      pageSize: source.taxii.pageSize, maxBytes: policy.maxBytes, timeoutMs: policy.timeoutMs, ssrf: policy.ssrf, signal,
    });
    return { status: 'ok', body: result.objects, sourceState: {}, origin: `${source.taxii.apiRoot} collection ${source.taxii.collection}` };
  }
  const ref = source.configMapRef!;
  const ns = ref.namespace ?? policy.namespace;
  const cm = await client.get<ConfigMapLike>('v1', 'ConfigMap', ref.name, ns);
  if (!cm) throw new FeedError('FST_FEED_HTTP_STATUS', `ConfigMap ${ns}/${ref.name} does not exist`);
  const text = cm.data?.[ref.key];
  const binary = cm.binaryData?.[ref.key];
  if (text === undefined && binary === undefined) throw new FeedError('FST_FEED_HTTP_STATUS', `ConfigMap ${ns}/${ref.name} has no key ${ref.key}`);
  const version = cm.metadata?.resourceVersion ?? '';
  if (previous?.configMapResourceVersion === version) return { status: 'unchanged' };
  const bytes = text !== undefined ? Buffer.from(text, 'utf8') : Buffer.from(binary!, 'base64');
  return { status: 'ok', body: (async function* () { yield bytes; })(), sourceState: { configMapResourceVersion: version }, origin: `ConfigMap ${ns}/${ref.name} key ${ref.key}` };
}

/**
 * A MISP feed over HTTP: `url` is the feed's directory. manifest.json is fetched
 * conditionally (an unchanged manifest means an unchanged feed); each event file is
 * then fetched with the same SSRF guard, caps and credentials. Any event that cannot
 * be fetched or parsed fails the whole sync, so its indicators never look withdrawn.
 */
async function fetchMispFeed(url: string, tls: { headers?: Record<string, string>; caPem?: string; serverName?: string }, previous: Record<string, string> | undefined, policy: FetchPolicy, signal?: AbortSignal): Promise<FetchOutcome> {
  const base = url.endsWith('/') ? url : `${url}/`;
  const common = { ...tls, maxBytes: policy.maxBytes, timeoutMs: policy.timeoutMs, ssrf: policy.ssrf, signal };
  const manifest = await fetchHttp({ ...common, url: `${base}manifest.json`, conditional: previous ? { etag: previous.etag, lastModified: previous.lastModified } : undefined });
  if (manifest.status === 'unchanged') return manifest;
  const sourceState: Record<string, string> = {};
  if (manifest.etag) sourceState.etag = manifest.etag;
  if (manifest.lastModified) sourceState.lastModified = manifest.lastModified;
  const readFile = async (name: string): Promise<AsyncIterable<Uint8Array>> => {
    if (name === 'manifest.json') return manifest.body;
    const event = await fetchHttp({ ...common, url: `${base}${encodeURIComponent(name)}` });
    if (event.status !== 'ok') throw new FeedError('FST_FEED_HTTP_STATUS', `MISP event file ${name} answered "not modified" to an unconditional request`);
    return event.body;
  };
  return { status: 'ok', items: parseMispFeed(readFile, {}), sourceState, origin: `MISP feed ${manifest.finalUrl.replace(/manifest\.json$/, '')}` };
}
