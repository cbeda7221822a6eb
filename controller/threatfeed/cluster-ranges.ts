import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient } from '../runtime/client.js';

/**
 * The cluster's own addresses, which guardrails never let a feed block and the SSRF
 * guard never lets a feed URL reach: service CIDRs (ServiceCIDR objects), pod CIDRs
 * and addresses of Nodes, the API server's endpoints and the cluster DNS Service.
 * Each source is best effort: a missing API or permission leaves it out (and is logged).
 */
export async function readClusterRanges(client: KubeClient, log: Logger): Promise<string[]> {
  const out = new Set<string>();
  const tryRead = async (what: string, read: () => Promise<void>) => {
    try {
      await read();
    } catch (err) {
      log.warn({ err, source: what }, 'Could not read cluster ranges; guardrails go on without them');
    }
  };
  await tryRead('servicecidrs', async () => {
    const list = await client.list<KubernetesObject & { spec?: { cidrs?: string[] } }>('networking.k8s.io/v1', 'ServiceCIDR');
    for (const s of list.items) for (const c of s.spec?.cidrs ?? []) out.add(c);
  });
  await tryRead('nodes', async () => {
    const list = await client.list<KubernetesObject & { spec?: { podCIDRs?: string[] }; status?: { addresses?: { type: string; address: string }[] } }>('v1', 'Node');
    for (const n of list.items) {
      for (const c of n.spec?.podCIDRs ?? []) out.add(c);
      for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP' || a.type === 'ExternalIP') out.add(a.address);
    }
  });
  await tryRead('kubernetes endpoints', async () => {
    const list = await client.list<KubernetesObject & { endpoints?: { addresses?: string[] }[] }>('discovery.k8s.io/v1', 'EndpointSlice', { namespace: 'default', labelSelector: 'kubernetes.io/service-name=kubernetes' });
    for (const s of list.items) for (const e of s.endpoints ?? []) for (const a of e.addresses ?? []) out.add(a);
  });
  await tryRead('cluster DNS', async () => {
    const svc = await client.get<KubernetesObject & { spec?: { clusterIPs?: string[] } }>('v1', 'Service', 'kube-dns', 'kube-system');
    for (const ip of svc?.spec?.clusterIPs ?? []) if (ip !== 'None') out.add(ip);
  });
  return [...out].sort();
}
