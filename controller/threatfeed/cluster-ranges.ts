import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clusterRangesOf, FeedError } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { statusOf } from '../runtime/errors.js';

/**
 * The cluster's own addresses, which guardrails never let a feed block and the SSRF
 * guard never lets a feed URL reach: service CIDRs (ServiceCIDR objects), pod CIDRs
 * and addresses of Nodes, the API server's endpoints and the cluster DNS Service, read
 * from the API server and judged by the same rules as `forestall plan`'s files
 * (feeds/cluster-ranges.ts clusterRangesOf).
 *
 * Fails closed: when a source cannot be read (no RBAC, an API server error) this throws
 * FeedError FST_FEED_CLUSTER_RANGES naming each source and why, and the sync that needed
 * the guardrails fails with it, so the feed goes Degraded and its last-known-good
 * snapshot stays. Ingesting without the ranges would let a feed block the cluster's own
 * nodes and services. Only absence is not an error: an API server that does not serve
 * ServiceCIDR (before Kubernetes 1.33) and a cluster whose DNS Service is not kube-dns.
 */
export async function readClusterRanges(client: KubeClient, log: Logger): Promise<string[]> {
  const objects: KubernetesObject[] = [];
  const failures: string[] = [];
  /** Lists one source; its items get their kind, which list answers leave out. */
  const read = async (what: string, kind: string, list: () => Promise<KubernetesObject[]>) => {
    try {
      for (const item of await list()) objects.push({ ...item, kind });
    } catch (err) {
      if (what === 'servicecidrs' && statusOf(err) === 404) return; // not served before 1.33
      log.warn({ err, source: what }, 'Could not read cluster ranges');
      const status = statusOf(err);
      failures.push(
        `${what}${status === undefined ? '' : ` (HTTP ${status})`}: ${(err as Error).message}`,
      );
    }
  };
  await read(
    'servicecidrs',
    'ServiceCIDR',
    async () => (await client.list('networking.k8s.io/v1', 'ServiceCIDR')).items,
  );
  await read('nodes', 'Node', async () => (await client.list('v1', 'Node')).items);
  await read(
    'kubernetes endpoints',
    'EndpointSlice',
    async () =>
      (
        await client.list('discovery.k8s.io/v1', 'EndpointSlice', {
          namespace: 'default',
          labelSelector: 'kubernetes.io/service-name=kubernetes',
        })
      ).items,
  );
  // get() answers undefined for a missing Service: a cluster DNS named otherwise is absence, not failure.
  await read('cluster DNS', 'Service', async () => {
    const svc = await client.get('v1', 'Service', 'kube-dns', 'kube-system');
    return svc ? [svc] : [];
  });
  if (failures.length > 0) {
    throw new FeedError(
      'FST_FEED_CLUSTER_RANGES',
      `Could not read the cluster's own ranges, so the guardrails cannot protect them; refusing to ingest until they can be read: ${failures.join('; ')}`,
    );
  }
  return clusterRangesOf(objects);
}
