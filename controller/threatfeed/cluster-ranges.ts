import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { FeedError } from '../../feeds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { statusOf } from '../runtime/errors.js';

/**
 * The cluster's own addresses, which guardrails never let a feed block and the SSRF
 * guard never lets a feed URL reach: service CIDRs (ServiceCIDR objects), pod CIDRs
 * and addresses of Nodes, the API server's endpoints and the cluster DNS Service.
 *
 * Fails closed: when a source cannot be read (no RBAC, an API server error) this throws
 * FeedError FST_FEED_CLUSTER_RANGES naming each source and why, and the sync that needed
 * the guardrails fails with it, so the feed goes Degraded and its last-known-good
 * snapshot stays. Ingesting without the ranges would let a feed block the cluster's own
 * nodes and services. Only absence is not an error: an API server that does not serve
 * ServiceCIDR (before Kubernetes 1.33) and a cluster whose DNS Service is not kube-dns.
 */
export async function readClusterRanges(client: KubeClient, log: Logger): Promise<string[]> {
  const out = new Set<string>();
  const failures: string[] = [];
  const tryRead = async (what: string, read: () => Promise<void>, absentWhenNotServed = false) => {
    try {
      await read();
    } catch (err) {
      if (absentWhenNotServed && statusOf(err) === 404) return;
      log.warn({ err, source: what }, 'Could not read cluster ranges');
      const status = statusOf(err);
      failures.push(
        `${what}${status === undefined ? '' : ` (HTTP ${status})`}: ${(err as Error).message}`,
      );
    }
  };
  await tryRead(
    'servicecidrs',
    async () => {
      const list = await client.list<KubernetesObject & { spec?: { cidrs?: string[] } }>(
        'networking.k8s.io/v1',
        'ServiceCIDR',
      );
      for (const s of list.items) for (const c of s.spec?.cidrs ?? []) out.add(c);
    },
    true,
  );
  await tryRead('nodes', async () => {
    const list = await client.list<
      KubernetesObject & {
        spec?: { podCIDRs?: string[] };
        status?: { addresses?: { type: string; address: string }[] };
      }
    >('v1', 'Node');
    for (const n of list.items) {
      for (const c of n.spec?.podCIDRs ?? []) out.add(c);
      for (const a of n.status?.addresses ?? [])
        if (a.type === 'InternalIP' || a.type === 'ExternalIP') out.add(a.address);
    }
  });
  await tryRead('kubernetes endpoints', async () => {
    const list = await client.list<KubernetesObject & { endpoints?: { addresses?: string[] }[] }>(
      'discovery.k8s.io/v1',
      'EndpointSlice',
      { namespace: 'default', labelSelector: 'kubernetes.io/service-name=kubernetes' },
    );
    for (const s of list.items)
      for (const e of s.endpoints ?? []) for (const a of e.addresses ?? []) out.add(a);
  });
  await tryRead('cluster DNS', async () => {
    // get() answers undefined for a missing Service: a cluster DNS named otherwise is absence, not failure.
    const svc = await client.get<KubernetesObject & { spec?: { clusterIPs?: string[] } }>(
      'v1',
      'Service',
      'kube-dns',
      'kube-system',
    );
    for (const ip of svc?.spec?.clusterIPs ?? []) if (ip !== 'None') out.add(ip);
  });
  if (failures.length > 0) {
    throw new FeedError(
      'FST_FEED_CLUSTER_RANGES',
      `Could not read the cluster's own ranges, so the guardrails cannot protect them; refusing to ingest until they can be read: ${failures.join('; ')}`,
    );
  }
  return [...out].sort();
}
