import type { KubernetesObject } from '@kubernetes/client-node';
import { FeedError, type SourceDocument, type SourceReaders } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError, statusOf } from '../runtime/errors.js';
import { readCaBundle, readCredential } from '../runtime/secrets.js';

/**
 * The cluster's side of a feed sync (feeds/sync.ts SourceReaders): which Secrets and
 * ConfigMaps a ThreatFeed author may name, read through the controller's client.
 * `namespace` is the release namespace, where references without one are looked up.
 */
export function clusterSourceReaders(client: KubeClient, namespace: string): SourceReaders {
  return {
    credential: (ref, field, destination) => credential(client, ref, field, destination, namespace),
    caBundle: (ref) => caBundle(client, ref, namespace),
    configMap: async (ref): Promise<SourceDocument> => {
      const { ns, cm } = await feedConfigMap(client, ref, namespace);
      return {
        where: `ConfigMap ${ns}/${ref.name}`,
        text: cm.data?.[ref.key],
        binary: cm.binaryData?.[ref.key],
        version: cm.metadata?.resourceVersion ?? '',
      };
    },
  };
}

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
