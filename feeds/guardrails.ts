import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { getPublicSuffix } from 'tldts';
import type { Indicator } from './indicator.js';
import { Ipv4Set } from '../lib/net.js';
import {
  cidrLast,
  embeddedIpv4Cidrs,
  formatIpv4,
  parseCidr,
  parseCidrOrIp,
  parseIp,
  parseIpv4,
  parseIpv6,
  type Cidr,
} from '../lib/ip.js';
import { SPECIAL_RANGES, type SpecialPurpose } from '../lib/special-ranges.js';
import { packageRoot } from './package-root.js';

/**
 * Guardrails: indicators that must never be enforced, whatever a feed says, because
 * blocking them would hurt the cluster Forestall protects (DESIGN.md, Guardrails).
 *
 * Addresses and CIDRs, checked in this order; the first match names the drop reason:
 *   too-broad        CIDRs shorter than /8 (IPv4) or /32 (IPv6), and IPv6 CIDRs whose
 *                    embedded IPv4 range is shorter than /8 (64:ff9b::/96 is all of IPv4)
 *   cloud-metadata   169.254.169.254, fd00:ec2::254 and the other metadata addresses
 *   loopback, link-local, unspecified
 *   cluster          the cluster's own API server, pod, service and node ranges and DNS
 *   infrastructure   IP hosts of feed, forge and identity-provider URLs
 *   allowlist        ranges, domains or hashes the operator configured
 *   documentation    192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20
 *   never-block:<l>  the MISP warninglists shipped in feeds/warninglists
 * The special-purpose ranges come from lib/special-ranges.ts, the table the SSRF guard
 * reads too.
 *
 * Containment: an address or CIDR is dropped when it OVERLAPS any protected range, from
 * whichever list. A CIDR strictly containing a protected range (8.0.0.0/8 holds the
 * resolver 8.8.8.8, 172.0.0.0/8 holds 172.16.0.0/12) is dropped whole, not split around
 * the range: a split turns one indicator into up to 32 ranges nobody wrote, and a feed
 * that lists a range covering a resolver is more likely wrong than precise. The cost is
 * that the rest of such a range goes unblocked; the drop is counted under its reason.
 *
 * IPv4 inside IPv6 is judged as IPv4 (lib/ip.ts, EmbeddedForm): normalise() has already
 * turned IPv4-mapped values into IPv4 ones; a NAT64, 6to4, Teredo or IPv4-compatible
 * address or range stays IPv6 (it is another packet on the wire) but is dropped when
 * any IPv4 address or range it carries would be.
 *
 * Domains (and URL hosts), with the scope each kind protects:
 *   public-suffix    a domain that IS a public suffix (com, co.uk, github.io; tldts, ICANN
 *                    and private sections): blocking it blocks every registrant under it.
 *                    Its children stay blockable: evil.github.io is one site.
 *   cluster          the cluster domain (cluster.local): the name, its parents and its
 *                    children. A block of a parent blocks it (a DNS block covers
 *                    subdomains), and every child is a Service or Pod of the cluster.
 *   infrastructure   hosts of every ThreatFeed source and every ExposurePolicy git,
 *                    forge and identity URL (infrastructureHosts()): the name, its parents
 *                    and its children, for the same reasons; children of such a host are
 *                    run by the same operator (api., uploads., login.). Limit: whoever may
 *                    create a ThreatFeed or ExposurePolicy can thereby keep a host and its
 *                    subtree out of DNS blocks, by naming it in a URL.
 *   allowlist        the operator's --never-block domains: name, parents and children, as
 *                    infrastructure (the operator names what must keep working).
 *   never-block:<l>  warninglist hostnames (tranco10k): the name and its parents only. A
 *                    popular site's own name keeps working, but a child (a user's site on
 *                    a hosting platform the list ranks, a lookalike subdomain) is a real
 *                    indicator and stays blockable: blocking it does not block the parent.
 *
 * Accounts pass through unchanged: these lists protect network infrastructure, and the
 * people who must never be suspended (break-glass administrators) are named where
 * accounts are enforced, in the identity connectors' never-touch list.
 */
export interface NamedRanges {
  reason: string;
  /** CIDRs or bare addresses. */
  cidrs: string[];
}

/** What of a protected domain is protected besides the name itself (see above). */
export type DomainScope = 'parents-and-children' | 'parents';

export interface NamedDomains {
  reason: string;
  names: string[];
  scope: DomainScope;
}

export interface GuardrailConfig {
  ranges: NamedRanges[];
  domains: NamedDomains[];
  /** Refuse a domain that is itself a public suffix. */
  publicSuffixes: boolean;
  hashes: { reason: string; values: string[] }[];
  minPrefixV4: number;
  minPrefixV6: number;
}

/** The special-purpose ranges whose blocking would cut the cluster off from itself or its cloud. */
const CRITICAL_PURPOSES: readonly SpecialPurpose[] = [
  'cloud-metadata',
  'loopback',
  'link-local',
  'unspecified',
];

function specialRanges(purposes: readonly SpecialPurpose[]): NamedRanges[] {
  return purposes.map((reason) => ({
    reason,
    cidrs: SPECIAL_RANGES.filter((r) => r.purpose === reason).map((r) => r.cidr),
  }));
}

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

export const DEFAULT_WARNINGLISTS = [
  'public-dns-v4',
  'public-dns-v6',
  'rfc1918',
  'rfc5735',
  'rfc6598',
  'multicast',
  'ipv6-linklocal',
  'tranco10k',
  'common-ioc-false-positive',
];

interface Warninglist {
  name: string;
  type: 'cidr' | 'hostname' | 'string' | 'substring';
  list: string[];
}

export interface GuardrailOptions {
  /** The cluster's own ranges (controller/threatfeed/cluster-ranges.ts). */
  clusterCidrs?: string[];
  /** The cluster DNS domain; default cluster.local. */
  clusterDomain?: string;
  /** Hosts (names or IP addresses) the controller depends on: infrastructureHosts(). */
  infrastructureHosts?: string[];
  /** The operator's never-block CIDRs, addresses and domains. */
  allowlist?: string[];
  warninglistDir?: string;
}

/** The default configuration: built-in ranges plus the shipped MISP warninglists. */
export function defaultGuardrailConfig(extra: GuardrailOptions = {}): GuardrailConfig {
  const dir = extra.warninglistDir ?? join(packageRoot(), 'feeds', 'warninglists');
  const config: GuardrailConfig = {
    ranges: specialRanges(CRITICAL_PURPOSES),
    domains: [],
    publicSuffixes: true,
    hashes: [],
    minPrefixV4: 8,
    minPrefixV6: 32,
  };
  if (extra.clusterCidrs?.length)
    config.ranges.push({ reason: 'cluster', cidrs: extra.clusterCidrs });
  config.domains.push({
    reason: 'cluster',
    names: [extra.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN],
    scope: 'parents-and-children',
  });
  const [infraIps, infraNames] = splitAddresses(extra.infrastructureHosts ?? []);
  config.ranges.push({ reason: 'infrastructure', cidrs: infraIps });
  config.domains.push({
    reason: 'infrastructure',
    names: infraNames,
    scope: 'parents-and-children',
  });
  const [allowIps, allowNames] = splitAddresses(extra.allowlist ?? []);
  config.ranges.push({ reason: 'allowlist', cidrs: allowIps });
  config.domains.push({ reason: 'allowlist', names: allowNames, scope: 'parents-and-children' });
  config.ranges.push(...specialRanges(['documentation']));
  for (const name of DEFAULT_WARNINGLISTS) {
    const wl = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Warninglist;
    const reason = `never-block:${name}`;
    if (wl.type === 'cidr') config.ranges.push({ reason, cidrs: wl.list });
    else if (wl.type === 'hostname')
      config.domains.push({ reason, names: wl.list, scope: 'parents' });
    else config.hashes.push({ reason, values: wl.list.map((h) => h.toLowerCase()) });
  }
  return config;
}

/** Splits a mixed list into [addresses and CIDRs, the rest (domains)]. */
function splitAddresses(entries: readonly string[]): [string[], string[]] {
  const ips = entries.filter((e) => parseCidrOrIp(e) !== undefined);
  return [ips, entries.filter((e) => !ips.includes(e))];
}

/** Lower-case A-label without a trailing dot, as normalise() writes domains; '' when it is no domain. */
function canonicalDomain(name: string): string {
  // Most list entries already are; UTS #46 is only needed for the rest.
  if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(name)) return name;
  const ascii = domainToASCII(name.trim().replace(/\.$/, ''));
  return ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
}

/** The name is already a canonical host name: tldts need not parse or validate it again. */
const PSL_OPTIONS = {
  allowPrivateDomains: true,
  extractHostname: false,
  validateHostname: false,
  detectIp: false,
} as const;

/** "a.b.example.com" → ["b.example.com", "example.com", "com"]. */
function parentsOf(name: string): string[] {
  const out: string[] = [];
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1))
    out.push(name.slice(dot + 1));
  return out;
}

/** Sorted, merged inclusive ranges of one family, searched by binary search. */
class RangeList<N extends number | bigint> {
  constructor(
    private readonly starts: N[],
    private readonly ends: N[],
  ) {}

  /** `plusOne` is x + 1 in the family's number type, so adjacent ranges merge too. */
  static build<N extends number | bigint>(pairs: [N, N][], plusOne: (x: N) => N): RangeList<N> {
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const starts: N[] = [];
    const ends: N[] = [];
    for (const [s, e] of pairs) {
      const last = ends.length - 1;
      if (last >= 0 && s <= plusOne(ends[last]!)) {
        if (e > ends[last]!) ends[last] = e;
      } else {
        starts.push(s);
        ends.push(e);
      }
    }
    return new RangeList(starts, ends);
  }

  /** The merged ranges, ascending. */
  all(): { starts: readonly N[]; ends: readonly N[] } {
    return { starts: this.starts, ends: this.ends };
  }

  /** Index of the last range starting at or before x, or -1. */
  private floor(x: N): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= x) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  overlaps(s: N, e: N): boolean {
    const i = this.floor(e);
    return i >= 0 && this.ends[i]! >= s;
  }
}

interface CompiledRanges {
  reason: string;
  v4: RangeList<number>;
  v6: RangeList<bigint>;
}

/** A protected domain's reason, and its rank (earlier lists name the drop). */
interface DomainGuard {
  rank: number;
  reason: string;
}

export class Guardrails {
  private readonly ranges: CompiledRanges[];
  /** Protected names and, for every scope, their parents. */
  private readonly names = new Map<string, DomainGuard>();
  /** Names whose children are protected too. */
  private readonly subtrees = new Map<string, DomainGuard>();
  private readonly hashes: Map<string, string>;

  constructor(private readonly config: GuardrailConfig) {
    this.ranges = config.ranges.map((r) => {
      const v4: [number, number][] = [];
      const v6: [bigint, bigint][] = [];
      for (const text of r.cidrs) {
        const c = parseCidrOrIp(text.trim());
        if (!c) continue;
        if (c.family === 4) v4.push([c.network, cidrLast(c) as number]);
        else v6.push([c.network, cidrLast(c) as bigint]);
      }
      return {
        reason: r.reason,
        v4: RangeList.build(v4, (x) => x + 1),
        v6: RangeList.build(v6, (x) => x + 1n),
      };
    });
    const keep = (map: Map<string, DomainGuard>, name: string, guard: DomainGuard) => {
      if (!map.has(name)) map.set(name, guard);
    };
    config.domains.forEach((d, rank) => {
      for (const raw of d.names) {
        const name = canonicalDomain(raw);
        if (name === '') continue;
        const guard = { rank, reason: d.reason };
        keep(this.names, name, guard);
        for (const parent of parentsOf(name)) keep(this.names, parent, guard);
        if (d.scope === 'parents-and-children') keep(this.subtrees, name, guard);
      }
    });
    this.hashes = new Map();
    for (const h of [...config.hashes].reverse())
      for (const v of h.values) this.hashes.set(v, h.reason);
  }

  /** Why the indicator must not be enforced, or undefined when it may be. */
  check(indicator: Pick<Indicator, 'type' | 'value'>): string | undefined {
    switch (indicator.type) {
      case 'ipv4': {
        const a = parseIpv4(indicator.value)!;
        return this.checkRange(4, a, a);
      }
      case 'ipv6':
        return this.checkCidr({ family: 6, network: parseIpv6(indicator.value)!, prefix: 128 });
      case 'cidr':
        return this.checkCidr(parseCidr(indicator.value)!);
      case 'domain':
        return this.checkDomain(indicator.value);
      case 'url':
        return this.checkUrl(indicator.value);
      case 'hash':
        return this.hashes.get(indicator.value.slice(indicator.value.indexOf(':') + 1));
      case 'account':
        // The identity connectors' never-touch list guards accounts (see above).
        return undefined;
      default:
        return undefined;
    }
  }

  private checkCidr(c: Cidr): string | undefined {
    if (c.family === 4) {
      if (c.prefix < this.config.minPrefixV4) return 'too-broad';
      return this.checkRange(4, c.network, cidrLast(c));
    }
    if (c.prefix < this.config.minPrefixV6) return 'too-broad';
    const images = embeddedIpv4Cidrs(c);
    if (images.some((i) => i.cidr.prefix < this.config.minPrefixV4)) return 'too-broad';
    const own = this.checkRange(6, c.network, cidrLast(c));
    if (own) return own;
    for (const { cidr } of images) {
      const reason = this.checkRange(4, cidr.network, cidrLast(cidr));
      if (reason) return reason;
    }
    return undefined;
  }

  /**
   * A domain (canonical, as normalise() writes it): refused when it is a public suffix,
   * a protected name or a parent of one, or a child of a name protected with its children.
   */
  private checkDomain(name: string): string | undefined {
    if (this.config.publicSuffixes && getPublicSuffix(name, PSL_OPTIONS) === name)
      return 'public-suffix';
    let best = this.names.get(name);
    for (const parent of parentsOf(name)) {
      const guard = this.subtrees.get(parent);
      if (guard && (!best || guard.rank < best.rank)) best = guard;
    }
    return best?.reason;
  }

  /** A URL is blocked by its host, so it is judged as that host. */
  private checkUrl(value: string): string | undefined {
    let host: string;
    try {
      host = new URL(value).hostname;
    } catch {
      return undefined;
    }
    const ip = parseIp(host);
    if (ip?.family === 4) return this.checkRange(4, ip.value, ip.value);
    if (ip?.family === 6) return this.checkCidr({ family: 6, network: ip.value, prefix: 128 });
    return this.checkDomain(canonicalDomain(host));
  }

  /**
   * Removes from `set` (single IPv4 addresses only) every address a guardrail refuses,
   * in the same order as check(), and counts them by reason. Both sides are sorted
   * ranges, so this is a linear merge however large the feed. `samples`, when given,
   * receives up to `sampleSize` of the refused addresses with their reasons.
   */
  filterIpv4Addresses(
    set: Ipv4Set,
    dropped: Record<string, number>,
    samples?: { value: string; reason: string }[],
    sampleSize = 0,
  ): Ipv4Set {
    let { starts, ends } = set.ranges();
    let length = starts.length;
    for (const r of this.ranges) {
      const g = r.v4.all();
      if (g.starts.length === 0) continue;
      // A guard range can split one kept range in two, so this bounds the output.
      const keptStarts = new Uint32Array(length + g.starts.length + 1);
      const keptEnds = new Uint32Array(length + g.starts.length + 1);
      let out = 0;
      let removed = 0;
      let j = 0;
      for (let i = 0; i < length; i++) {
        let s = starts[i]!;
        const e = ends[i]!;
        while (j < g.starts.length && g.ends[j]! < s) j++;
        let k = j;
        while (s <= e) {
          if (k >= g.starts.length || g.starts[k]! > e) {
            keptStarts[out] = s;
            keptEnds[out++] = e;
            break;
          }
          const gs = g.starts[k]!;
          const ge = g.ends[k]!;
          if (gs > s) {
            keptStarts[out] = s;
            keptEnds[out++] = gs - 1;
          }
          const cutEnd = Math.min(e, ge);
          removed += cutEnd - Math.max(s, gs) + 1;
          for (let a = Math.max(s, gs); samples && samples.length < sampleSize && a <= cutEnd; a++)
            samples.push({ value: formatIpv4(a), reason: r.reason });
          s = cutEnd + 1;
          k++;
        }
      }
      if (removed > 0) {
        dropped[r.reason] = (dropped[r.reason] ?? 0) + removed;
        starts = keptStarts;
        ends = keptEnds;
        length = out;
      }
    }
    const result = new Ipv4Set(length + 1);
    for (let i = 0; i < length; i++) result.addRange(starts[i]!, ends[i]!);
    return result;
  }

  /** The first list whose ranges overlap [s, e], or undefined. */
  private checkRange(family: 4 | 6, s: number | bigint, e: number | bigint): string | undefined {
    for (const r of this.ranges) {
      const list = (family === 4 ? r.v4 : r.v6) as RangeList<number | bigint>;
      if (list.overlaps(s, e)) return r.reason;
    }
    return undefined;
  }
}
