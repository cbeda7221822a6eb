import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Indicator } from './indicator.js';
import { Ipv4Set } from './aggregate.js';
import { parseCidr, parseIpv4, parseIpv6 } from './ip.js';
import { packageRoot } from './package-root.js';

/**
 * Guardrails: indicators that must never be enforced, whatever a feed says, because
 * blocking them would hurt the cluster Forestall protects (DESIGN.md, Guardrails).
 *
 * Checked in this order, and the first match names the drop reason:
 *   too-broad        CIDRs shorter than /8 (IPv4) or /32 (IPv6)
 *   cloud-metadata   169.254.169.254, fd00:ec2::254 and the other metadata addresses
 *   loopback, link-local, unspecified
 *   cluster          the cluster's own API server, pod, service and node ranges and DNS
 *   allowlist        ranges, domains or hashes the operator configured
 *   never-block:<l>  the MISP warninglists shipped in feeds/warninglists
 * A CIDR is dropped when it overlaps any of the first four kinds of range (it would
 * cut the cluster off) or lies wholly inside any other list.
 *
 * Accounts pass through unchanged: these lists protect network infrastructure, and the
 * people who must never be suspended (break-glass administrators) are named where
 * accounts are enforced, in the identity connectors' never-touch list.
 */
export interface NamedRanges {
  reason: string;
  cidrs: string[];
  /** Any overlap drops a CIDR, not only containment. */
  critical?: boolean;
}

export interface GuardrailConfig {
  ranges: NamedRanges[];
  domains: { reason: string; names: string[] }[];
  hashes: { reason: string; values: string[] }[];
  minPrefixV4: number;
  minPrefixV6: number;
}

const BUILT_IN: NamedRanges[] = [
  { reason: 'cloud-metadata', critical: true, cidrs: ['169.254.169.254/32', '169.254.170.2/32', '100.100.100.200/32', 'fd00:ec2::254/128', 'fd20:ce::254/128'] },
  { reason: 'loopback', critical: true, cidrs: ['127.0.0.0/8', '::1/128'] },
  { reason: 'link-local', critical: true, cidrs: ['169.254.0.0/16', 'fe80::/10'] },
  { reason: 'unspecified', critical: true, cidrs: ['0.0.0.0/32', '::/128'] },
];

export const DEFAULT_WARNINGLISTS = ['public-dns-v4', 'public-dns-v6', 'rfc1918', 'rfc5735', 'rfc6598', 'multicast', 'ipv6-linklocal', 'tranco10k', 'common-ioc-false-positive'];

interface Warninglist {
  name: string;
  type: 'cidr' | 'hostname' | 'string' | 'substring';
  list: string[];
}

/** The default configuration: built-in ranges plus the shipped MISP warninglists. */
export function defaultGuardrailConfig(extra: { clusterCidrs?: string[]; allowlist?: string[]; warninglistDir?: string } = {}): GuardrailConfig {
  const dir = extra.warninglistDir ?? join(packageRoot(), 'feeds', 'warninglists');
  const config: GuardrailConfig = { ranges: [...BUILT_IN], domains: [], hashes: [], minPrefixV4: 8, minPrefixV6: 32 };
  if (extra.clusterCidrs?.length) config.ranges.push({ reason: 'cluster', critical: true, cidrs: extra.clusterCidrs });
  if (extra.allowlist?.length) {
    const cidrs = extra.allowlist.filter((a) => parseCidr(a) || parseIpv4(a) !== undefined || parseIpv6(a) !== undefined);
    config.ranges.push({ reason: 'allowlist', cidrs });
    config.domains.push({ reason: 'allowlist', names: extra.allowlist.filter((a) => !cidrs.includes(a)).map((d) => d.toLowerCase()) });
  }
  for (const name of DEFAULT_WARNINGLISTS) {
    const wl = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Warninglist;
    const reason = `never-block:${name}`;
    if (wl.type === 'cidr') config.ranges.push({ reason, cidrs: wl.list });
    else if (wl.type === 'hostname') config.domains.push({ reason, names: wl.list.map((d) => d.toLowerCase()) });
    else config.hashes.push({ reason, values: wl.list.map((h) => h.toLowerCase()) });
  }
  return config;
}

/** Sorted, merged inclusive ranges of one family, searched by binary search. */
class RangeList<N extends number | bigint> {
  constructor(private readonly starts: N[], private readonly ends: N[]) {}

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

  covers(s: N, e: N): boolean {
    const i = this.floor(s);
    return i >= 0 && this.ends[i]! >= e;
  }

  overlaps(s: N, e: N): boolean {
    const i = this.floor(e);
    return i >= 0 && this.ends[i]! >= s;
  }
}

interface CompiledRanges {
  reason: string;
  critical: boolean;
  v4: RangeList<number>;
  v6: RangeList<bigint>;
}

export class Guardrails {
  private readonly ranges: CompiledRanges[];
  private readonly domains: Map<string, string>;
  private readonly hashes: Map<string, string>;

  constructor(private readonly config: GuardrailConfig) {
    this.ranges = config.ranges.map((r) => {
      const v4: [number, number][] = [];
      const v6: [bigint, bigint][] = [];
      for (const text of r.cidrs) {
        const c = parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
        if (!c) continue;
        if (c.family === 4) v4.push([c.network, c.network + 2 ** (32 - c.prefix) - 1]);
        else v6.push([c.network, c.network + (1n << BigInt(128 - c.prefix)) - 1n]);
      }
      return { reason: r.reason, critical: r.critical ?? false, v4: RangeList.build(v4, (x) => x + 1), v6: RangeList.build(v6, (x) => x + 1n) };
    });
    this.domains = new Map();
    for (const d of [...config.domains].reverse()) for (const n of d.names) this.domains.set(n, d.reason);
    this.hashes = new Map();
    for (const h of [...config.hashes].reverse()) for (const v of h.values) this.hashes.set(v, h.reason);
  }

  /** Why the indicator must not be enforced, or undefined when it may be. */
  check(indicator: Pick<Indicator, 'type' | 'value'>): string | undefined {
    switch (indicator.type) {
      case 'ipv4': {
        const a = parseIpv4(indicator.value)!;
        return this.checkRange(4, a, a, false);
      }
      case 'ipv6': {
        const a = parseIpv6(indicator.value)!;
        return this.checkRange(6, a, a, false);
      }
      case 'cidr': {
        const c = parseCidr(indicator.value)!;
        if (c.family === 4) {
          if (c.prefix < this.config.minPrefixV4) return 'too-broad';
          return this.checkRange(4, c.network, c.network + 2 ** (32 - c.prefix) - 1, true);
        }
        if (c.prefix < this.config.minPrefixV6) return 'too-broad';
        return this.checkRange(6, c.network, c.network + (1n << BigInt(128 - c.prefix)) - 1n, true);
      }
      case 'domain':
        return this.domains.get(indicator.value);
      case 'hash':
        return this.hashes.get(indicator.value.slice(indicator.value.indexOf(':') + 1));
      case 'account':
        // The identity connectors' never-touch list guards accounts (see above).
        return undefined;
      default:
        return undefined;
    }
  }

  /**
   * Removes from `set` (single IPv4 addresses only) every address a guardrail refuses,
   * in the same order as check(), and counts them by reason. Both sides are sorted
   * ranges, so this is a linear merge however large the feed.
   */
  filterIpv4Addresses(set: Ipv4Set, dropped: Record<string, number>): Ipv4Set {
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

  private checkRange(family: 4 | 6, s: number | bigint, e: number | bigint, isCidr: boolean): string | undefined {
    for (const r of this.ranges) {
      const list = (family === 4 ? r.v4 : r.v6) as RangeList<number | bigint>;
      if (list.covers(s, e) || (isCidr && r.critical && list.overlaps(s, e))) return r.reason;
    }
    return undefined;
  }
}
