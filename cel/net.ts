import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import {
  formatIpv4,
  formatIpv6,
  ipv4Mask,
  ipv6Mask,
  parseCidr,
  parseIpv4,
  parseIpv6,
} from '../lib/ip.js';

/**
 * The Kubernetes CEL IP and CIDR libraries (kubernetes.io/docs/reference/using-api/cel,
 * "IP address library" and "CIDR library"), on the strict parsers of lib/ip.ts.
 *
 * `net.IP` and `net.CIDR` are proper cel-js custom types backed by the immutable classes
 * below; they have no fields (`ip('1.2.3.4').family` without parentheses is a compile
 * error), compare with `==`, and convert with `string()`.
 *
 * Accepted text follows Kubernetes: strict dotted quads (no leading zeros), any RFC 4291
 * IPv6 form, no zones, and IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) refused, because
 * the same host would then have two spellings that CIDR containment treats differently.
 * A CIDR keeps the address as written (`cidr('10.1.2.3/8').ip()` is 10.1.2.3); use
 * `masked()` for the network. A prefix must be plain decimal ("/08" and "/+8" are
 * refused), which is stricter than Go's netip but refuses nothing a person writes.
 */

const IPV4_MAPPED_PREFIX = 0xffffn;

export class CelIp {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The address: a uint32 for IPv4, a 128-bit bigint for IPv6. */
  readonly value: number | bigint;

  constructor(family: 4, value: number);
  constructor(family: 6, value: bigint);
  constructor(family: 4 | 6, value: number | bigint) {
    this.family = family;
    this.value = value;
    Object.freeze(this);
  }

  equals(other: CelIp): boolean {
    return this.family === other.family && this.value === other.value;
  }

  toString(): string {
    return this.family === 4 ? formatIpv4(this.value as number) : formatIpv6(this.value as bigint);
  }
}

export class CelCidr {
  readonly family: 4 | 6;
  /** The address as written, host bits included. */
  readonly address: number | bigint;
  /** The address with the host bits cleared. */
  readonly network: number | bigint;
  readonly prefix: number;

  constructor(family: 4 | 6, address: number | bigint, network: number | bigint, prefix: number) {
    this.family = family;
    this.address = address;
    this.network = network;
    this.prefix = prefix;
    Object.freeze(this);
  }

  /** netip.Prefix.Contains: same family and the address inside the masked network. */
  containsIp(ip: CelIp): boolean {
    if (ip.family !== this.family) return false;
    if (this.family === 4)
      return ((ip.value as number) & ipv4Mask(this.prefix)) >>> 0 === this.network;
    return ((ip.value as bigint) & ipv6Mask(this.prefix)) === this.network;
  }

  /** Kubernetes containsCIDR: the other block is as long or longer and lies inside this network. */
  containsCidr(other: CelCidr): boolean {
    if (other.family !== this.family || other.prefix < this.prefix) return false;
    if (this.family === 4)
      return ((other.address as number) & ipv4Mask(this.prefix)) >>> 0 === this.network;
    return ((other.address as bigint) & ipv6Mask(this.prefix)) === this.network;
  }

  ip(): CelIp {
    return this.family === 4
      ? new CelIp(4, this.address as number)
      : new CelIp(6, this.address as bigint);
  }

  masked(): CelCidr {
    return this.network === this.address
      ? this
      : new CelCidr(this.family, this.network, this.network, this.prefix);
  }

  equals(other: CelCidr): boolean {
    return (
      this.family === other.family && this.prefix === other.prefix && this.address === other.address
    );
  }

  toString(): string {
    return `${this.ip().toString()}/${this.prefix}`;
  }
}

/**
 * Parses an address, or returns what is wrong with it as a phrase about "it" ("is not
 * an IP address"). The phrase leaves the text out, so a run-time message is the same
 * for every indicator and the engine can count it once; compile-time checks put the
 * literal in front.
 */
export function parseCelIp(text: string): CelIp | string {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return new CelIp(4, v4);
  if (text.includes('%')) return 'has a zone, which is not allowed';
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  if (v6 === undefined) return 'is not an IP address';
  if (v6 >> 32n === IPV4_MAPPED_PREFIX)
    return 'is an IPv4-mapped IPv6 address, which is not allowed';
  return new CelIp(6, v6);
}

/** Parses "address/prefix", keeping the address as written, or returns what is wrong (as {@link parseCelIp}). */
export function parseCidrKeepingAddress(text: string): CelCidr | string {
  const block = parseCidr(text);
  if (block === undefined) return 'is not a CIDR';
  // parseCidr has validated the whole text; read the address part again, unmasked.
  const address = parseCelIp(text.slice(0, text.indexOf('/')));
  if (typeof address === 'string') return `is not a CIDR: its address ${address}`;
  return new CelCidr(block.family, address.value, block.network, block.prefix);
}

function celError(code: string, message: string): EvaluationError {
  return new EvaluationError({ code, message });
}

function ipOrThrow(text: string, fn = 'ip'): CelIp {
  const ip = parseCelIp(text);
  if (typeof ip === 'string') throw celError('invalid_ip', `${fn}(): the argument ${ip}`);
  return ip;
}

/**
 * `cidr('10.0.0.0/8')` with a literal is evaluated once per indicator, so parsed blocks
 * are kept by their text. The cache is bounded: when full it starts over, which costs
 * one parse per distinct text and never grows without limit.
 */
const CIDR_CACHE_LIMIT = 1024;
const cidrCache = new Map<string, CelCidr>();

function cidrOrThrow(text: string): CelCidr {
  const cached = cidrCache.get(text);
  if (cached !== undefined) return cached;
  const block = parseCidrKeepingAddress(text);
  if (typeof block === 'string') throw celError('invalid_cidr', `cidr(): the argument ${block}`);
  if (cidrCache.size >= CIDR_CACHE_LIMIT) cidrCache.clear();
  cidrCache.set(text, block);
  return block;
}

/** `cidr.containsIP(string)` on the hot path: IPv4 text is checked without building a CelIp. */
function cidrContainsIpText(block: CelCidr, text: string): boolean {
  if (block.family === 4) {
    const v4 = parseIpv4(text);
    if (v4 !== undefined) return (v4 & ipv4Mask(block.prefix)) >>> 0 === block.network;
  }
  return block.containsIp(ipOrThrow(text, 'containsIP'));
}

const isUnspecified = (ip: CelIp): boolean => (ip.family === 4 ? ip.value === 0 : ip.value === 0n);
const isLoopback = (ip: CelIp): boolean =>
  ip.family === 4 ? (ip.value as number) >>> 24 === 127 : ip.value === 1n;
const isMulticast = (ip: CelIp): boolean =>
  ip.family === 4 ? (ip.value as number) >>> 28 === 0xe : (ip.value as bigint) >> 120n === 0xffn;
/** 224.0.0.0/24; ff02::/16 with any flag bits (the ffX2 pattern Go's netip uses). */
const isLinkLocalMulticast = (ip: CelIp): boolean =>
  ip.family === 4
    ? (ip.value as number) >>> 8 === 0xe00000
    : (Number((ip.value as bigint) >> 112n) & 0xff0f) === 0xff02;
/** 169.254.0.0/16; fe80::/10. */
const isLinkLocalUnicast = (ip: CelIp): boolean =>
  ip.family === 4
    ? (ip.value as number) >>> 16 === 0xa9fe
    : (ip.value as bigint) >> 118n === 0x3fan;
/** Go's netip rule, which Kubernetes follows: private and ULA space counts as global unicast. */
const isGlobalUnicast = (ip: CelIp): boolean =>
  !isUnspecified(ip) &&
  !(ip.family === 4 && ip.value === 0xffffffff) &&
  !isLoopback(ip) &&
  !isMulticast(ip) &&
  !isLinkLocalUnicast(ip);

/** The `ip` namespace value, so that `ip.isCanonical(s)` resolves the way `cel.bind` does in cel-js. */
class IpNamespace {}

const sync = { async: false } as const;

/** Adds net.IP, net.CIDR and their functions to `env`. */
export function netLibrary(env: Environment): Environment {
  return env
    .registerType('net.IP', { ctor: CelIp, fields: {} })
    .registerType('net.CIDR', { ctor: CelCidr, fields: {} })
    .registerType('IpNamespace', { ctor: IpNamespace, fields: {} })
    .registerConstant('ip', 'IpNamespace', new IpNamespace())
    .registerFunction('ip(string): net.IP', (s: string) => ipOrThrow(s), {
      ...sync,
      description: 'Parses an IPv4 or IPv6 address.',
    })
    .registerFunction('isIP(string): bool', (s: string) => typeof parseCelIp(s) !== 'string', sync)
    .registerFunction(
      'IpNamespace.isCanonical(string): bool',
      (_ns: IpNamespace, s: string) => ipOrThrow(s, 'ip.isCanonical').toString() === s,
      sync,
    )
    .registerFunction('string(net.IP): string', (ip: CelIp) => ip.toString(), sync)
    .registerFunction('net.IP.family(): int', (ip: CelIp) => BigInt(ip.family), sync)
    .registerFunction('net.IP.isUnspecified(): bool', isUnspecified, sync)
    .registerFunction('net.IP.isLoopback(): bool', isLoopback, sync)
    .registerFunction('net.IP.isLinkLocalMulticast(): bool', isLinkLocalMulticast, sync)
    .registerFunction('net.IP.isLinkLocalUnicast(): bool', isLinkLocalUnicast, sync)
    .registerFunction('net.IP.isGlobalUnicast(): bool', isGlobalUnicast, sync)
    .registerOperator('net.IP == net.IP', (a: CelIp, b: CelIp) => a.equals(b))
    .registerFunction('cidr(string): net.CIDR', cidrOrThrow, {
      ...sync,
      description: 'Parses address/prefix, keeping the address as written.',
    })
    .registerFunction(
      'isCIDR(string): bool',
      (s: string) => typeof parseCidrKeepingAddress(s) !== 'string',
      sync,
    )
    .registerFunction('string(net.CIDR): string', (c: CelCidr) => c.toString(), sync)
    .registerFunction('net.CIDR.containsIP(string): bool', cidrContainsIpText, sync)
    .registerFunction(
      'net.CIDR.containsIP(net.IP): bool',
      (c: CelCidr, ip: CelIp) => c.containsIp(ip),
      sync,
    )
    .registerFunction(
      'net.CIDR.containsCIDR(string): bool',
      (c: CelCidr, s: string) => c.containsCidr(cidrOrThrow(s)),
      sync,
    )
    .registerFunction(
      'net.CIDR.containsCIDR(net.CIDR): bool',
      (c: CelCidr, o: CelCidr) => c.containsCidr(o),
      sync,
    )
    .registerFunction('net.CIDR.ip(): net.IP', (c: CelCidr) => c.ip(), sync)
    .registerFunction('net.CIDR.masked(): net.CIDR', (c: CelCidr) => c.masked(), sync)
    .registerFunction('net.CIDR.prefixLength(): int', (c: CelCidr) => BigInt(c.prefix), sync)
    .registerOperator('net.CIDR == net.CIDR', (a: CelCidr, b: CelCidr) => a.equals(b));
}

/** Compile-time checks of literal arguments: `ip('10.0.0.300')` is refused before it runs. */
export const NET_LITERAL_CHECKS: Readonly<Record<string, (text: string) => string | undefined>> = {
  ip: (text) => literalProblem(text, parseCelIp(text)),
  cidr: (text) => literalProblem(text, parseCidrKeepingAddress(text)),
};

function literalProblem(text: string, parsed: object | string): string | undefined {
  return typeof parsed === 'string' ? `${JSON.stringify(text)} ${parsed}` : undefined;
}
