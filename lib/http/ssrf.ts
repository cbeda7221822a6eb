/**
 * The SSRF guard of every outbound request (DESIGN.md, Guardrails: "Feed fetching
 * resists SSRF", and Trust model: "Every outbound call passes one client").
 *
 * A ThreatFeed URL, a policy's forge, identity-provider or notification URL, is
 * written by whoever may create those objects, and the controller calls it from
 * inside the cluster with the controller's network position. Without this guard
 * such a URL could read cloud metadata credentials (169.254.169.254), the API
 * server, or any in-cluster service.
 *
 * How it holds:
 * - Every hop (the first URL and each redirect) is resolved once, and EVERY
 *   address the resolver returns is checked; one bad address refuses the host,
 *   because the connection may be made to any of them.
 * - The connection is then pinned to the checked addresses: the socket's `lookup`
 *   returns them instead of asking DNS again, so a rebinding answer between check
 *   and connect (a TTL-0 record flipping to 127.0.0.1) never gets used.
 * - Literal IP hosts are checked as they are; WHATWG URL parsing has already
 *   turned decimal, octal and hex IPv4 spellings into dotted quads, and IPv6
 *   addresses that carry an IPv4 one (::ffff:a.b.c.d, NAT64, 6to4) are checked as
 *   that IPv4 address too.
 *
 * Limits: the guard sees addresses, not routes. An allowed public address that a
 * proxy or NAT in the network forwards inward is not detected, and neither is a
 * feed server that is itself an open proxy. Through the operator's forward proxy
 * (proxy.ts) the target is still checked here, but the proxy resolves its name again:
 * the pinning ends at the proxy.
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { redactUrl } from '../redact.js';
import { HttpError } from './errors.js';
import { cidrContains, embeddedIpv4, formatIpv4, parseCidrOrIp, parseIp } from '../ip.js';
import type { Cidr, Ip } from '../ip.js';
import { SPECIAL_RANGES, type SpecialPurpose } from '../special-ranges.js';
import type { ProxySettings } from './proxy.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses. Injected by tests and by the offline CLI. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface SsrfPolicy {
  /**
   * The cluster's own ranges (pod, service and node CIDRs). Refused even when
   * they are public ranges. Each entry is a CIDR or a bare address.
   */
  clusterCidrs?: readonly string[];
  /**
   * Exceptions. An entry is a CIDR or bare address (permits any address inside
   * it), a host name (`feeds.corp.example`) or a wildcard (`*.corp.example`)
   * that permits whatever that host resolves to. Cloud-metadata addresses are
   * only ever permitted by an address entry that contains them, never by a host
   * name: a DNS record should not be able to open the credentials endpoint.
   */
  allow?: readonly string[];
  /** Defaults to the system resolver (node:dns lookup with all: true). */
  resolve?: Resolver;
  /**
   * The operator's forward proxy (proxy.ts): not an SSRF rule (the guard judges the
   * target either way), but how the connection leaves. It rides in this object because
   * this is what every client is handed for every request; a separate option would have
   * to be threaded through each caller, and one that forgot it would go direct.
   */
  proxy?: ProxySettings;
}

/** A special-purpose range (lib/special-ranges.ts) or a cluster range. */
export type RefusalReason = SpecialPurpose | 'cluster';

const REASON_TEXT: Record<RefusalReason, string> = {
  'cloud-metadata': 'a cloud metadata endpoint',
  cluster: 'inside a cluster CIDR',
  unspecified: 'an unspecified ("this host") address',
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  multicast: 'a multicast or broadcast address',
  private: 'a private (RFC 1918 / unique-local) address',
  shared: 'a shared carrier-grade NAT address (RFC 6598), often used for pod networks',
  documentation: 'a documentation address',
  reserved: 'a reserved address',
};

/** A parsed range with its text as configured, for messages. */
interface Range {
  cidr: Cidr;
  text: string;
}

interface CompiledPolicy {
  /** The arrays and resolver this was compiled from: a policy object whose fields are replaced is compiled again. */
  from: readonly [SsrfPolicy['clusterCidrs'], SsrfPolicy['allow'], SsrfPolicy['resolve']];
  special: ReadonlyArray<readonly [Range, RefusalReason]>;
  cluster: readonly Range[];
  allowCidrs: readonly Cidr[];
  allowHosts: readonly string[];
  resolve: Resolver;
}

const HOST_PATTERN =
  /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

// The shared table; the first match names the refusal, so its order is kept.
const compiledSpecial = SPECIAL_RANGES.map(({ cidr: text, purpose }) => {
  const cidr = parseCidrOrIp(text);
  if (cidr === undefined) throw new Error(`built-in SSRF range ${text} does not parse`);
  return [{ cidr, text }, purpose] as const;
});

const compiled = new WeakMap<SsrfPolicy, CompiledPolicy>();

/**
 * Checks every entry of the policy and throws an HttpError (FST_HTTP_INVALID_REQUEST)
 * naming the first bad one. Call it when configuration is loaded, so a typo fails
 * at start-up rather than on the first fetch.
 */
export function validateSsrfPolicy(policy: SsrfPolicy): void {
  compile(policy);
}

function compile(policy: SsrfPolicy): CompiledPolicy {
  const cached = compiled.get(policy);
  // Callers hand over a new frozen policy when anything changes (the controller builds one
  // when the cluster's ranges change, controller/threatfeed/protection.ts). A field that
  // is replaced on the same object is still seen, because the fields are compared; an
  // array changed in place is not.
  const [cluster0, allow0, resolve0] = cached?.from ?? [];
  if (
    cached !== undefined &&
    cluster0 === policy.clusterCidrs &&
    allow0 === policy.allow &&
    resolve0 === policy.resolve
  )
    return cached;
  const cluster = (policy.clusterCidrs ?? []).map((text) => {
    const cidr = parseCidrOrIp(text.trim());
    if (cidr === undefined) {
      throw new HttpError(
        'FST_HTTP_INVALID_REQUEST',
        `SSRF policy: cluster CIDR "${text}" is not a CIDR or IP address`,
      );
    }
    return { cidr, text };
  });
  const allowCidrs: Cidr[] = [];
  const allowHosts: string[] = [];
  for (const raw of policy.allow ?? []) {
    const entry = raw.trim().toLowerCase();
    const cidr = parseCidrOrIp(entry);
    if (cidr !== undefined) {
      allowCidrs.push(cidr);
    } else if (HOST_PATTERN.test(normaliseHost(entry))) {
      allowHosts.push(normaliseHost(entry));
    } else {
      throw new HttpError(
        'FST_HTTP_INVALID_REQUEST',
        `SSRF policy: allow entry "${raw}" is neither a CIDR, an IP address nor a host name`,
      );
    }
  }
  const result: CompiledPolicy = {
    from: [policy.clusterCidrs, policy.allow, policy.resolve],
    special: compiledSpecial,
    cluster,
    allowCidrs,
    allowHosts,
    resolve: policy.resolve ?? systemResolver,
  };
  compiled.set(policy, result);
  return result;
}

function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function hostAllowed(policy: CompiledPolicy, hostname: string): boolean {
  const host = normaliseHost(hostname);
  return policy.allowHosts.some((entry) =>
    entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry,
  );
}

export interface Refusal {
  /** The address as resolved or written. */
  address: string;
  reason: RefusalReason;
  /** The range that matched ("169.254.169.254/32", or the configured cluster CIDR). */
  range: string;
  /** "IPv4-mapped 169.254.169.254" when the refusal came from an embedded IPv4 address. */
  via?: string;
}

/**
 * Why `address` may not be fetched from, or undefined when it may. `hostname` is
 * the URL host it came from; a host-name allow entry for it permits everything
 * but cloud metadata.
 */
export function checkAddress(
  address: string,
  policy: SsrfPolicy,
  hostname?: string,
): Refusal | undefined {
  const compiledPolicy = compile(policy);
  const ip = parseIp(address);
  if (ip === undefined) {
    // Not an address at all: refuse rather than let the socket layer interpret it.
    return { address, reason: 'reserved', range: '(not an IP address)' };
  }
  const hostOk = hostname !== undefined && hostAllowed(compiledPolicy, hostname);

  // Every IPv4 address the IPv6 one carries is judged first (lib/ip.ts, EmbeddedForm).
  // A mapped or compatible address IS the IPv4 address; NAT64, 6to4 and Teredo ones
  // are also real IPv6 destinations, so their own form is checked as well.
  const forms: Array<{ ip: Ip; via?: string }> = [];
  const embedded = ip.family === 6 ? embeddedIpv4(ip.value) : [];
  for (const e of embedded)
    forms.push({ ip: { family: 4, value: e.ipv4 }, via: `${e.form} ${formatIpv4(e.ipv4)}` });
  if (!embedded.some((e) => e.form === 'IPv4-mapped' || e.form === 'IPv4-compatible'))
    forms.push({ ip });

  for (const form of forms) {
    const refusal = classify(compiledPolicy, form.ip);
    if (refusal === undefined) continue;
    const allowedByCidr = compiledPolicy.allowCidrs.some((cidr) => cidrContains(cidr, form.ip));
    const allowedByHost = hostOk && refusal.reason !== 'cloud-metadata';
    if (allowedByCidr || allowedByHost) continue;
    return { address, ...refusal, ...(form.via !== undefined ? { via: form.via } : {}) };
  }
  return undefined;
}

function classify(
  policy: CompiledPolicy,
  ip: Ip,
): { reason: RefusalReason; range: string } | undefined {
  // Metadata first: it is the most dangerous and the message should say so even
  // when a cluster CIDR also covers it.
  for (const [range, reason] of policy.special) {
    if (reason === 'cloud-metadata' && cidrContains(range.cidr, ip))
      return { reason, range: range.text };
  }
  for (const range of policy.cluster) {
    if (cidrContains(range.cidr, ip)) return { reason: 'cluster', range: range.text };
  }
  for (const [range, reason] of policy.special) {
    if (cidrContains(range.cidr, ip)) return { reason, range: range.text };
  }
  return undefined;
}

/** "169.254.169.254 is a cloud metadata endpoint (169.254.169.254/32)". */
export function describeRefusal(refusal: Refusal): string {
  return `${refusalSubject(refusal)} ${refusalPredicate(refusal)}`;
}

function refusalSubject(refusal: Refusal): string {
  return refusal.via === undefined ? refusal.address : `${refusal.address} (${refusal.via})`;
}

function refusalPredicate(refusal: Refusal): string {
  const range = refusal.reason === 'cluster' ? refusal.range : `(${refusal.range})`;
  return `is ${REASON_TEXT[refusal.reason]} ${range}`;
}

/** A host checked by the guard, and a `lookup` that dials only what was checked. */
export interface CheckedTarget {
  hostname: string;
  addresses: readonly ResolvedAddress[];
  /** Pass as the socket's `lookup`: it answers from `addresses` and never asks DNS. */
  lookup: LookupFunction;
}

/**
 * Resolves `url`'s host and checks every address. Throws HttpError
 * FST_HTTP_SSRF_BLOCKED (naming the address and why) or FST_HTTP_NETWORK (the name
 * did not resolve).
 */
export async function checkTarget(url: URL, policy: SsrfPolicy): Promise<CheckedTarget> {
  const compiledPolicy = compile(policy);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (hostname === '') {
    throw new HttpError('FST_HTTP_INVALID_REQUEST', `URL ${url.protocol}// has no host`, { url });
  }

  let addresses: readonly ResolvedAddress[];
  const literal = parseIp(hostname);
  if (literal !== undefined) {
    addresses = [{ address: hostname, family: literal.family }];
  } else {
    try {
      addresses = await compiledPolicy.resolve(hostname);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new HttpError('FST_HTTP_NETWORK', `Could not resolve host ${hostname} (${code})`, {
        url,
        errorClass: code === 'ENOTFOUND' ? 'terminal' : 'transient',
        cause: err,
      });
    }
    if (addresses.length === 0) {
      throw new HttpError('FST_HTTP_NETWORK', `Host ${hostname} resolved to no addresses`, { url });
    }
  }

  for (const { address } of addresses) {
    const refusal = checkAddress(address, policy, hostname);
    if (refusal === undefined) continue;
    const why =
      literal !== undefined
        ? describeRefusal(refusal)
        : `host ${hostname} resolved to ${refusalSubject(refusal)}, which ${refusalPredicate(refusal)}`;
    throw new HttpError(
      'FST_HTTP_SSRF_BLOCKED',
      `Refused to fetch ${redactUrl(url)}: ${why}; add it to the SSRF allow-list if this is intended`,
      { url },
    );
  }

  return { hostname, addresses, lookup: pinnedLookup(hostname, addresses) };
}

const NO_EXCEPTIONS: SsrfPolicy = {};

/**
 * Whether plain http may be used to `hostname`, which resolved to `addresses` (all
 * of them already passed checkAddress): yes when every address is loopback (the
 * bytes never leave the host), or when the allow-list names the host or holds every
 * address. Everything else must use https, so that neither a credential nor an
 * answer travels in the clear through the cluster network.
 */
export function plainHttpPermitted(
  hostname: string,
  addresses: readonly ResolvedAddress[],
  policy: SsrfPolicy,
): boolean {
  const compiledPolicy = compile(policy);
  if (hostAllowed(compiledPolicy, hostname)) return true;
  return addresses.every(({ address }) => {
    // Judged by the same classifier as the guard, so mapped forms (::ffff:127.0.0.1) count too.
    if (checkAddress(address, NO_EXCEPTIONS)?.reason === 'loopback') return true;
    const ip = parseIp(address);
    return ip !== undefined && compiledPolicy.allowCidrs.some((cidr) => cidrContains(cidr, ip));
  });
}

function pinnedLookup(hostname: string, addresses: readonly ResolvedAddress[]): LookupFunction {
  return (host, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const candidates = addresses.filter(
      (a) => family === undefined || family === 0 || a.family === family,
    );
    // The socket only ever asks for the host it was given; anything else means a
    // caller reused this lookup for another host, which must not reach DNS either.
    if (normaliseHost(host) !== normaliseHost(hostname) || candidates.length === 0) {
      const err: NodeJS.ErrnoException = new Error(
        `pinned lookup has no ${family === undefined || family === 0 ? '' : `IPv${family} `}address for ${host}`,
      );
      err.code = 'ENOTFOUND';
      process.nextTick(() => callback(err, options.all === true ? [] : ''));
      return;
    }
    process.nextTick(() => {
      if (options.all === true) {
        callback(
          null,
          candidates.map((c): LookupAddress => ({ address: c.address, family: c.family })),
        );
      } else {
        const first = candidates[0] as ResolvedAddress;
        callback(null, first.address, first.family);
      }
    });
  };
}

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err !== null) {
        reject(err);
        return;
      }
      resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });
