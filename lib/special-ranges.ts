/**
 * The special-purpose address ranges (RFC 6890 and the IANA registries, plus the
 * cloud metadata endpoints), in one table read by both the SSRF guard (which refuses to
 * fetch from any of them) and the feed guardrails (which refuse to block the ones whose
 * blocking would hurt the cluster, or that no real indicator can be).
 *
 * Order matters: the first match names the purpose, so the most specific comes first
 * (metadata before link-local, the documentation and NAT64 prefixes before ::/8).
 */
export type SpecialPurpose =
  | 'cloud-metadata'
  | 'unspecified'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'private'
  | 'shared'
  | 'documentation'
  | 'reserved';

export interface SpecialRange {
  cidr: string;
  purpose: SpecialPurpose;
}

export const SPECIAL_RANGES: readonly SpecialRange[] = [
  { cidr: '169.254.169.254/32', purpose: 'cloud-metadata' }, // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
  { cidr: '169.254.170.2/32', purpose: 'cloud-metadata' }, // AWS ECS task metadata and credentials
  { cidr: '100.100.100.200/32', purpose: 'cloud-metadata' }, // Alibaba Cloud
  { cidr: 'fd00:ec2::254/128', purpose: 'cloud-metadata' }, // AWS over IPv6
  { cidr: 'fd20:ce::254/128', purpose: 'cloud-metadata' }, // GCP over IPv6
  { cidr: '0.0.0.0/8', purpose: 'unspecified' }, // Linux dials 0.0.0.0 as the local host
  { cidr: '::/128', purpose: 'unspecified' },
  { cidr: '127.0.0.0/8', purpose: 'loopback' },
  { cidr: '::1/128', purpose: 'loopback' },
  { cidr: '169.254.0.0/16', purpose: 'link-local' },
  { cidr: 'fe80::/10', purpose: 'link-local' },
  { cidr: '224.0.0.0/4', purpose: 'multicast' },
  { cidr: 'ff00::/8', purpose: 'multicast' },
  { cidr: '255.255.255.255/32', purpose: 'multicast' },
  { cidr: '10.0.0.0/8', purpose: 'private' },
  { cidr: '172.16.0.0/12', purpose: 'private' },
  { cidr: '192.168.0.0/16', purpose: 'private' },
  { cidr: 'fc00::/7', purpose: 'private' }, // unique-local
  { cidr: 'fec0::/10', purpose: 'private' }, // deprecated site-local, still routed by some stacks
  { cidr: '100.64.0.0/10', purpose: 'shared' }, // RFC 6598, often a pod network
  // Documentation (RFC 5737, RFC 3849, RFC 9637): no real host is there in either family.
  { cidr: '192.0.2.0/24', purpose: 'documentation' },
  { cidr: '198.51.100.0/24', purpose: 'documentation' },
  { cidr: '203.0.113.0/24', purpose: 'documentation' },
  { cidr: '2001:db8::/32', purpose: 'documentation' },
  { cidr: '3fff::/20', purpose: 'documentation' },
  { cidr: '192.0.0.0/24', purpose: 'reserved' },
  { cidr: '198.18.0.0/15', purpose: 'reserved' },
  { cidr: '240.0.0.0/4', purpose: 'reserved' },
  { cidr: '::/8', purpose: 'reserved' }, // after ::, ::1; the IPv4-carrying forms are judged as IPv4 first
  { cidr: '64:ff9b:1::/48', purpose: 'reserved' }, // local-use NAT64 (RFC 8215)
  { cidr: '100::/64', purpose: 'reserved' }, // discard-only
  { cidr: '2001::/32', purpose: 'reserved' }, // Teredo: judged through its IPv4 addresses too
];
