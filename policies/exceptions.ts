import { BROAD_LIMITS, type LabelSelector, type ThreatExceptionSpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import { cidrLast, parseCidrOrIp, unmapIpv4, type Cidr } from '../lib/net.js';
import { matchesSelector } from './selector.js';
import type { WorkloadView } from './types.js';

/**
 * ThreatExceptions as the engine reads them: compiled once from their spec, then asked
 * of each matched indicator. Pure, so the controller, `forestall plan` and
 * `forestall test` leave out exactly the same indicators.
 *
 * - `values` match exactly (case-insensitively); an address among them is also a range.
 * - `cidrs` match every address or CIDR indicator that overlaps them. A feed CIDR that
 *   contains an excepted address is left out whole: the false positive must stop being
 *   blocked, and a block with a hole punched in it is not what the feed said.
 *   IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
 * - `domains` match the domain and every name under it; `*` every domain.
 * - `feeds` narrows it to what those feeds say: an indicator another feed also lists
 *   stays. `policies` narrows the policies that honour it.
 * - `namespaces` and `workloadSelector` narrow it to actions that touch nothing outside
 *   them (coversScope).
 */
export interface CompiledException {
  name: string;
  values: ReadonlySet<string>;
  ranges: readonly Cidr[];
  domains: readonly string[];
  everyDomain: boolean;
  feeds?: ReadonlySet<string>;
  policies?: ReadonlySet<string>;
  namespaces?: ReadonlySet<string>;
  workloadSelector?: LabelSelector;
  /** Narrowed to namespaces or workloads: applied per action, never to the whole feed. */
  narrowed: boolean;
  /** ms since the epoch; undefined: no expiry. */
  expiresAt?: number;
  broad: boolean;
}

/** An exception compiled, or the problems that keep it from being honoured. */
export interface ExceptionVerdict {
  exception?: CompiledException;
  /** Why nothing of it is honoured: an unreadable range, or a broad one without spec.broad. */
  problems: string[];
  /** It covers a broad range, every domain or a top-level domain. */
  broad: string[];
}

/** What one exception left out of one action. */
export interface ExceptionUse {
  name: string;
  indicators: number;
}

export function compileException(name: string, spec: ThreatExceptionSpec): ExceptionVerdict {
  const problems: string[] = [];
  const broad: string[] = [];
  const ranges: Cidr[] = [];
  const values = new Set<string>();
  const addRange = (text: string, field: string) => {
    const parsed = parseCidrOrIp(text.trim());
    if (!parsed) {
      problems.push(`${field}: ${JSON.stringify(text)} is not an address or CIDR`);
      return;
    }
    const cidr = unmapIpv4(parsed);
    const limit = cidr.family === 4 ? BROAD_LIMITS.ipv4Prefix : BROAD_LIMITS.ipv6Prefix;
    if (cidr.prefix < limit)
      broad.push(`${field}: ${text} is wider than /${limit} (IPv${cidr.family})`);
    ranges.push(cidr);
  };
  (spec.values ?? []).forEach((v, i) => {
    const value = v.trim().toLowerCase();
    values.add(value);
    if (parseCidrOrIp(value) !== undefined) addRange(value, `spec.values[${i}]`);
  });
  (spec.cidrs ?? []).forEach((c, i) => addRange(c, `spec.cidrs[${i}]`));
  const domains: string[] = [];
  let everyDomain = false;
  (spec.domains ?? []).forEach((d, i) => {
    const domain = d.trim().toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
    if (domain === '*') {
      everyDomain = true;
      broad.push(`spec.domains[${i}]: * is every domain`);
    } else if (!domain.includes('.')) {
      broad.push(`spec.domains[${i}]: ${d} is a whole top-level domain`);
      domains.push(domain);
    } else {
      domains.push(domain);
    }
  });
  const named =
    (spec.values?.length ?? 0) + (spec.cidrs?.length ?? 0) + (spec.domains?.length ?? 0);
  if (named === 0) problems.push('spec: name at least one of values, cidrs or domains');
  if (broad.length && !spec.broad)
    problems.push(`${broad.join('; ')}: set spec.broad to true to allow an exception this wide`);
  if (problems.length) return { problems, broad };
  const set = (list: readonly string[] | undefined) => (list?.length ? new Set(list) : undefined);
  const feeds = set(spec.feeds);
  const policies = set(spec.policies);
  const namespaces = set(spec.namespaces);
  const expiresAt = spec.expiresAt ? Date.parse(spec.expiresAt) : undefined;
  return {
    problems,
    broad,
    exception: {
      name,
      values,
      ranges,
      domains,
      everyDomain,
      ...(feeds ? { feeds } : {}),
      ...(policies ? { policies } : {}),
      ...(namespaces ? { namespaces } : {}),
      ...(spec.workloadSelector ? { workloadSelector: spec.workloadSelector } : {}),
      narrowed: namespaces !== undefined || spec.workloadSelector !== undefined,
      ...(expiresAt !== undefined && !Number.isNaN(expiresAt) ? { expiresAt } : {}),
      broad: broad.length > 0,
    },
  };
}

/** Whether the exception is in force at `now` and honoured by `policy`. */
export function exceptionApplies(e: CompiledException, policy: string, now: Date): boolean {
  return (
    (e.expiresAt === undefined || e.expiresAt > now.getTime()) &&
    (e.policies === undefined || e.policies.has(policy))
  );
}

/** Whether the exception names this indicator, from every feed that lists it. */
export function exceptsIndicator(e: CompiledException, indicator: Indicator): boolean {
  if (e.feeds && !indicator.sources.every((s) => e.feeds!.has(s))) return false;
  return exceptsValue(e, indicator.type, indicator.value);
}

function exceptsValue(e: CompiledException, type: Indicator['type'], value: string): boolean {
  const lower = value.toLowerCase();
  if (e.values.has(lower)) return true;
  if (type === 'domain')
    return e.everyDomain || e.domains.some((d) => lower === d || lower.endsWith(`.${d}`));
  if ((type === 'ipv4' || type === 'ipv6' || type === 'cidr') && e.ranges.length) {
    const parsed = parseCidrOrIp(value);
    if (!parsed) return false;
    const cidr = unmapIpv4(parsed);
    return e.ranges.some((r) => overlaps(r, cidr));
  }
  return false;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.network <= cidrLast(b) && b.network <= cidrLast(a);
}

/**
 * Whether a narrowed exception covers an action that touches these namespaces and
 * workloads: all of them inside its namespaces and matching its workload selector. An
 * action that touches no namespace (a DNS block, an identity action) is never covered.
 */
export function coversScope(
  e: CompiledException,
  namespaces: readonly string[],
  workloads: readonly Pick<WorkloadView, 'namespace' | 'podLabels'>[],
): boolean {
  if (!e.narrowed) return true;
  if (namespaces.length === 0) return false;
  if (e.namespaces && !namespaces.every((ns) => e.namespaces!.has(ns))) return false;
  if (e.workloadSelector) {
    if (workloads.length === 0) return false;
    return workloads.every((w) => matchesSelector(e.workloadSelector, w.podLabels));
  }
  return true;
}

/**
 * Counts what exceptions left out, per action and per exception: an indicator left out
 * by two exceptions counts for both.
 */
export class ExceptionTally {
  private readonly byAction = new Map<string, Map<string, number>>();
  /** Actions that had indicators and were left with none. */
  readonly emptied = new Set<string>();

  add(action: string, exceptions: readonly CompiledException[], times = 1): void {
    let counts = this.byAction.get(action);
    if (!counts) this.byAction.set(action, (counts = new Map()));
    for (const e of exceptions) counts.set(e.name, (counts.get(e.name) ?? 0) + times);
  }

  uses(action: string): ExceptionUse[] {
    return [...(this.byAction.get(action) ?? [])]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, indicators]) => ({ name, indicators }));
  }

  /** Per exception: the indicators it left out in all, and the actions. Sorted by name. */
  summary(): { name: string; indicators: number; actions: string[] }[] {
    const out = new Map<string, { name: string; indicators: number; actions: string[] }>();
    for (const [action, counts] of this.byAction)
      for (const [name, n] of counts) {
        const entry = out.get(name) ?? { name, indicators: 0, actions: [] };
        entry.indicators += n;
        entry.actions.push(action);
        out.set(name, entry);
      }
    return [...out.values()]
      .map((e) => ({ ...e, actions: e.actions.sort() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
