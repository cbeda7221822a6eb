/**
 * What every network connector does first: parse the request's addresses and CIDRs,
 * and aggregate each family into its minimal CIDR cover (feeds/aggregate.ts), so that
 * the objects carry as few entries as the set allows and never more addresses than were
 * listed. Then the shared sharding step: cut a list into chunks that respect an item
 * limit and a byte budget.
 */
import {
  Ipv4Set,
  aggregateIpv6,
  ipv6CidrRange,
  parseCidr,
  parseIpv4,
  parseIpv6,
  type Ipv6Range,
} from '../../lib/net.js';
import { checkRequest } from '../core/checks.js';
import { METADATA_ALLOWANCE } from '../core/define-renderer.js';
import { objectName, type ObjectDraft } from '../core/render.js';
import type { Renderer } from '../core/types.js';
import type { ActionRequest } from '../../crds/index.js';

export interface AggregatedCidrs {
  /** Minimal IPv4 cover, ascending, "a.b.c.d/p". */
  ipv4: string[];
  /** Minimal IPv6 cover, ascending, RFC 5952 "addr/p". */
  ipv6: string[];
  /** Values that are neither an address nor a CIDR, as sentences naming the index. */
  problems: string[];
}

const MAX_LISTED_PROBLEMS = 5;

/** Parses and aggregates `values` (addresses or CIDRs of either family, in any order). */
export function aggregateCidrs(values: readonly string[]): AggregatedCidrs {
  const ipv4 = new Ipv4Set(values.length);
  const ipv6: Ipv6Range[] = [];
  const bad: string[] = [];
  values.forEach((raw, index) => {
    const value = raw.trim();
    if (value.includes('/')) {
      const cidr = parseCidr(value);
      if (cidr === undefined) bad.push(`values[${index}] "${raw}"`);
      else if (cidr.family === 4) ipv4.addCidr(cidr.network, cidr.prefix);
      else ipv6.push(ipv6CidrRange(cidr.network, cidr.prefix));
      return;
    }
    if (value.includes(':')) {
      const address = parseIpv6(value);
      if (address === undefined) bad.push(`values[${index}] "${raw}"`);
      else ipv6.push({ start: address, end: address });
      return;
    }
    const address = parseIpv4(value);
    if (address === undefined) bad.push(`values[${index}] "${raw}"`);
    else ipv4.addAddress(address);
  });
  const problems: string[] = [];
  if (bad.length > 0) {
    const shown = bad.slice(0, MAX_LISTED_PROBLEMS).join(', ');
    const more =
      bad.length > MAX_LISTED_PROBLEMS ? ` and ${bad.length - MAX_LISTED_PROBLEMS} more` : '';
    problems.push(
      `${shown}${more} ${bad.length === 1 ? 'is not an IP address or CIDR' : 'are not IP addresses or CIDRs'}`,
    );
  }
  return { ipv4: ipv4.cidrs(), ipv6: aggregateIpv6(ipv6), problems };
}

/**
 * Problems for covers that block a whole address family (0.0.0.0/0 or ::/0): never a
 * sensible egress deny, nor a sensible sign-in block. `effect` says what would be lost.
 */
export function wholeFamilyProblems(
  cidrs: Pick<AggregatedCidrs, 'ipv4' | 'ipv6'>,
  effect: { verb: string; noun: string } = { verb: 'cut', noun: 'destination' },
): string[] {
  const whole = [
    { family: 'IPv4', cover: '0.0.0.0/0', cidrs: cidrs.ipv4 },
    { family: 'IPv6', cover: '::/0', cidrs: cidrs.ipv6 },
  ];
  return whole
    .filter((w) => w.cidrs.includes(w.cover))
    .map(
      (w) =>
        `values cover all of ${w.cover}, which would ${effect.verb} every ${w.family} ${effect.noun}; refusing`,
    );
}

/** Bytes an item adds to a JSON array of strings: the string, its quotes and a comma. */
export function jsonStringCost(item: string): number {
  return item.length + 3;
}

export interface ChunkLimits<T> {
  maxItems?: number;
  maxBytes?: number;
  cost?: (item: T) => number;
  /**
   * Spread the items evenly over the fewest chunks the limits allow, instead of filling
   * each chunk to the brim and leaving a small last one: shards of similar size keep the
   * same headroom below the limits.
   */
  balanced?: boolean;
}

/**
 * Cuts `items` into consecutive chunks of at most `maxItems` items whose summed cost
 * stays within `maxBytes`. The order is kept, so the same input always gives the same
 * chunks. Throws if a single item is over the budget (cannot happen for CIDRs).
 */
export function chunk<T>(items: readonly T[], limits: ChunkLimits<T>): T[][] {
  const greedy = fill(items, limits);
  if (!limits.balanced || greedy.length < 2) return greedy;
  // As many chunks as filling needs (k), but each closes once the running total passes
  // the next k-th of the whole (by cost, or by count when there is no cost), so they come
  // out nearly equal. The hard limits still apply; should they force an extra chunk, the
  // filled result is kept.
  const k = greedy.length;
  const weight = limits.cost ?? (() => 1);
  let total = 0;
  for (const item of items) total += weight(item);
  const balanced = fill(
    items,
    limits,
    (closed, before) => closed < k - 1 && before >= ((closed + 1) * total) / k,
    weight,
  );
  return balanced.length <= k ? balanced : greedy;
}

function fill<T>(
  items: readonly T[],
  limits: ChunkLimits<T>,
  closeEarly?: (closedChunks: number, weightBefore: number) => boolean,
  weight?: (item: T) => number,
): T[][] {
  const maxItems = limits.maxItems ?? Number.POSITIVE_INFINITY;
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  const cost = limits.cost ?? (() => 0);
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  let before = 0;
  for (const item of items) {
    const c = cost(item);
    if (c > maxBytes)
      throw new Error(`one item alone (${c} bytes) is over the budget of ${maxBytes} bytes`);
    if (
      current.length > 0 &&
      (current.length >= maxItems ||
        bytes + c > maxBytes ||
        closeEarly?.(chunks.length, before) === true)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += c;
    before += weight ? weight(item) : 0;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The checks every network renderer starts with: the request itself, then its values
 * aggregated per family. The values of an action type the renderer does not enforce are
 * not addresses (an Isolate's are CVE IDs), so they are not parsed: the type problem is
 * the one to report.
 */
export function checkCidrRequest(
  renderer: Renderer,
  request: ActionRequest,
  problems: string[] = checkRequest(renderer, request),
): { problems: string[]; cidrs: AggregatedCidrs } {
  if (!renderer.supports.includes(request.type))
    return { problems, cidrs: { ipv4: [], ipv6: [], problems: [] } };
  const cidrs = aggregateCidrs(request.values);
  problems.push(...cidrs.problems, ...wholeFamilyProblems(cidrs));
  return { problems, cidrs };
}

/** The kind of object a sharding connector spreads the CIDRs over, and the spec field holding them. */
export interface CidrSetKind {
  apiVersion: string;
  kind: string;
  /** The spec field of the list, as in `nets`. */
  field: string;
}

/**
 * All `cidrs` spread over as many objects of `set` as the size budget needs, named
 * `<base>-<index>`, in similar sizes; for the connectors that block by referring to sets.
 */
export function cidrSetDrafts(
  cidrs: readonly string[],
  base: string,
  set: CidrSetKind,
  maxObjectBytes: number,
): ObjectDraft[] {
  return chunk(cidrs, {
    maxBytes: maxObjectBytes - METADATA_ALLOWANCE,
    cost: jsonStringCost,
    balanced: true,
  }).map((items, index) => ({
    apiVersion: set.apiVersion,
    kind: set.kind,
    name: objectName(base, String(index)),
    body: { spec: { [set.field]: items } },
  }));
}
