import type { KubernetesObject } from '@kubernetes/client-node';
import type { ClusterAccess, Manifest } from '../../connectors/index.js';
import type { KubeClient, ListResult } from '../runtime/client.js';
import { ForestallError, fromKube } from '../runtime/errors.js';
import type { ObjectRef } from '../../crds/index.js';

/** Objects per list page: big enough for few round trips, small enough that a page of 1 MiB shards stays a few MiB. */
const LIST_PAGE_SIZE = 100;

export interface ClusterAccessOptions {
  /**
   * The one namespace connectors may touch ConfigMaps in (--dns-namespace): the DNS
   * connectors' block lists. The chart grants ConfigMap writes only there, through a
   * Role, so a ConfigMap elsewhere is refused here, before any request, with a message
   * that names the namespace and the setting instead of a bare 403. Lists of ConfigMaps
   * stay in that namespace too (no cluster-wide list permission is needed).
   */
  configMapNamespace?: string;
}

/**
 * The connectors' view of the cluster (connectors/core/types.ts ClusterAccess), over the
 * controller's KubeClient: reads, lists across every namespace (paged), server-side
 * apply with the `forestall` field manager, and deletes, each honouring dryRun as a
 * server-side dry run. Errors keep the KubeClient's classes (ForestallError codes).
 */
export function kubeClusterAccess(
  client: KubeClient,
  options: ClusterAccessOptions = {},
): ClusterAccess {
  const allowed = options.configMapNamespace;
  const guard = (ref: {
    apiVersion: string;
    kind: string;
    name?: string;
    namespace?: string;
  }): void => {
    if (
      allowed === undefined ||
      ref.apiVersion !== 'v1' ||
      ref.kind !== 'ConfigMap' ||
      ref.namespace === allowed
    )
      return;
    throw new ForestallError(
      'FST_INVALID_SPEC',
      `params.namespace: ConfigMap ${ref.namespace ?? '(no namespace)'}/${ref.name ?? ''} ` +
        `is outside ${allowed}, the only namespace Forestall writes DNS block lists in (controller flag --dns-namespace, ` +
        `chart value dns.namespace); set the action's params.namespace to ${allowed}`,
    );
  };
  return {
    async get(ref: ObjectRef): Promise<Manifest | undefined> {
      guard(ref);
      const object = await client.get<KubernetesObject>(
        ref.apiVersion,
        ref.kind,
        ref.name,
        ref.namespace,
      );
      return object === undefined ? undefined : withType(object, ref.apiVersion, ref.kind);
    },

    async list(apiVersion: string, kind: string, labelSelector: string): Promise<Manifest[]> {
      const path =
        allowed !== undefined && apiVersion === 'v1' && kind === 'ConfigMap'
          ? `/api/v1/namespaces/${allowed}/configmaps`
          : await allNamespacesPath(client, apiVersion, kind);
      const items: Manifest[] = [];
      let continueToken: string | undefined;
      do {
        const query: Record<string, string> = {
          labelSelector,
          limit: String(LIST_PAGE_SIZE),
          ...(continueToken ? { continue: continueToken } : {}),
        };
        const page = await client
          .call<ListResult<KubernetesObject>>('GET', path, { query })
          .catch((err: unknown) => {
            throw fromKube(err, `list ${kind}`);
          });
        // Items of a list response carry no apiVersion/kind for built-in kinds; the caller needs both.
        for (const item of page.items) items.push(withType(item, apiVersion, kind));
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken !== undefined);
      return items;
    },

    async apply(object: Manifest, options = {}): Promise<Manifest> {
      guard({
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata.name,
        namespace: object.metadata.namespace,
      });
      return client.apply(object as KubernetesObject, {
        dryRun: options.dryRun === true,
      }) as Promise<Manifest>;
    },

    async delete(ref: ObjectRef, options = {}): Promise<void> {
      guard(ref);
      await client.delete(
        {
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace },
        },
        { dryRun: options.dryRun === true },
      );
    },

    async served(apiVersion: string, kind: string): Promise<boolean> {
      try {
        await client.path(apiVersion, kind);
        return true;
      } catch (err) {
        // path() raises FST_KUBE_NOT_FOUND only when discovery does not know the group
        // version or the kind; anything else (an unavailable aggregated API) is a real error.
        if (err instanceof ForestallError && err.code === 'FST_KUBE_NOT_FOUND') return false;
        throw err;
      }
    },
  };
}

/**
 * The collection path of a kind across all namespaces. KubeClient.path() resolves the
 * plural through discovery but always puts a namespace segment in front of namespaced
 * kinds, so the plural is taken from its last segment.
 */
async function allNamespacesPath(
  client: KubeClient,
  apiVersion: string,
  kind: string,
): Promise<string> {
  const resolved = await client.path(apiVersion, kind);
  const plural = resolved.slice(resolved.lastIndexOf('/') + 1);
  return `${apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`}/${plural}`;
}

function withType(object: KubernetesObject, apiVersion: string, kind: string): Manifest {
  return { ...object, apiVersion, kind } as Manifest;
}
