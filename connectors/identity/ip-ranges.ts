/**
 * IP lists as identity providers hold them, turned into the one form IpZone.ranges
 * uses: canonical CIDRs (host bits cleared, IPv6 in RFC 5952 form, a single address as
 * /32 or /128). The providers store more forms than that (Okta RANGE gateways
 * "a-b", Graph iPv4Range/iPv6Range lower and upper addresses), and a customer may have
 * typed any of them; reading them as their minimal CIDR cover keeps the set of blocked
 * addresses exactly the same, so writing it back (the ledger's prior ranges) restores
 * what was blocked, though not always in the same notation.
 */
import {
  formatCidr,
  formatIpv4,
  formatIpv6,
  ipv6RangeToCidrs,
  parseCidr,
  parseIpv4,
  parseIpv6,
  rangeToCidrs,
} from '../../lib/net.js';

/** The canonical CIDR for an address or CIDR of either family, or undefined when it is neither. */
export function canonicalCidr(value: string): string | undefined {
  const text = value.trim();
  if (text.includes('/')) {
    const cidr = parseCidr(text);
    return cidr === undefined ? undefined : formatCidr(cidr);
  }
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return `${formatIpv4(v4)}/32`;
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : `${formatIpv6(v6)}/128`;
}

/** The minimal CIDR cover of the inclusive range lower..upper (both of one family), or undefined when it is not one. */
export function rangeCidrs(lower: string, upper: string): string[] | undefined {
  const out: string[] = [];
  const low4 = parseIpv4(lower.trim());
  const high4 = parseIpv4(upper.trim());
  if (low4 !== undefined && high4 !== undefined) {
    if (low4 > high4) return undefined;
    rangeToCidrs(low4, high4, (network, prefix) => out.push(`${formatIpv4(network)}/${prefix}`));
    return out;
  }
  const low6 = parseIpv6(lower.trim());
  const high6 = parseIpv6(upper.trim());
  if (low6 === undefined || high6 === undefined || low6 > high6) return undefined;
  ipv6RangeToCidrs(low6, high6, (network, prefix) => out.push(`${formatIpv6(network)}/${prefix}`));
  return out;
}

/**
 * The canonical CIDRs a provider's list of ranges covers, deduplicated: each entry is read
 * as a CIDR (or single address) or as an inclusive address range. `unreadable` builds the
 * error for an entry that is neither.
 */
export function coveredCidrs<T>(
  entries: readonly T[],
  read: (entry: T) => { cidr: string } | { lower: string; upper: string } | undefined,
  unreadable: (entry: T) => Error,
): string[] {
  const out = new Set<string>();
  for (const entry of entries) {
    const range = read(entry);
    const cidrs =
      range === undefined
        ? undefined
        : 'cidr' in range
          ? [canonicalCidr(range.cidr)]
          : rangeCidrs(range.lower, range.upper);
    if (cidrs === undefined || cidrs.some((c) => c === undefined)) throw unreadable(entry);
    for (const cidr of cidrs) out.add(cidr!);
  }
  return [...out];
}

/** Whether a canonical CIDR is IPv6. */
export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(':');
}
