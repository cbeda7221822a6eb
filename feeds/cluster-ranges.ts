/**
 * The cluster's own addresses, from its objects: Service cluster IPs, ServiceCIDRs, Node
 * pod ranges and InternalIP/ExternalIP addresses, and the endpoints of the `kubernetes`
 * Service (the API server). One rule set for both readers: `forestall plan` hands it the
 * objects in its files, the controller the objects it lists from the API server
 * (controller/threatfeed/cluster-ranges.ts). The guardrails never let a feed block these
 * and the SSRF guard never lets a request reach them. Items must carry their `kind`.
 */
export function clusterRangesOf(objects: readonly unknown[]): string[] {
  const out = new Set<string>();
  for (const raw of objects) {
    const o = raw as {
      kind?: string;
      metadata?: { labels?: Record<string, string> };
      spec?: {
        clusterIP?: string;
        clusterIPs?: string[];
        cidrs?: string[];
        podCIDR?: string;
        podCIDRs?: string[];
      };
      status?: { addresses?: { type?: string; address?: string }[] };
      endpoints?: { addresses?: string[] }[];
    } | null;
    if (!o || typeof o !== 'object') continue;
    const add = (v: string | undefined) => {
      if (v && v !== 'None') out.add(v);
    };
    switch (o.kind) {
      case 'Service':
        for (const ip of o.spec?.clusterIPs ?? [o.spec?.clusterIP]) add(ip);
        break;
      case 'ServiceCIDR':
        for (const c of o.spec?.cidrs ?? []) add(c);
        break;
      case 'Node':
        for (const c of o.spec?.podCIDRs ?? [o.spec?.podCIDR]) add(c);
        for (const a of o.status?.addresses ?? [])
          if (a.type === 'InternalIP' || a.type === 'ExternalIP') add(a.address);
        break;
      case 'EndpointSlice':
        if (o.metadata?.labels?.['kubernetes.io/service-name'] === 'kubernetes')
          for (const e of o.endpoints ?? []) for (const a of e.addresses ?? []) add(a);
        break;
    }
  }
  return [...out].sort();
}
