/**
 * Minimal IP address and CIDR handling for the SSRF guard: parse to bytes, match
 * prefixes, and find an IPv4 address embedded in an IPv6 one.
 *
 * Only canonical text forms are accepted (dotted-quad decimal IPv4, RFC 4291
 * IPv6). That is deliberate: hosts reach this code after WHATWG URL parsing, which
 * already turns `2852039166`, `0xA9FEA9FE` and `0251.0376.0251.0376` into
 * `169.254.169.254`, and resolved addresses come from the resolver in canonical
 * form. Anything else is "not an IP" and goes to the resolver, whose answers are
 * checked in turn.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  /** 4 or 16 bytes, host bits cleared. */
  bytes: Uint8Array;
  prefix: number;
  /** As written in configuration, for messages. */
  text: string;
}

export function parseIpv4(text: string): Uint8Array | undefined {
  if (!isIPv4(text)) return undefined;
  return Uint8Array.from(text.split('.').map(Number));
}

export function parseIpv6(input: string): Uint8Array | undefined {
  // A zone id (fe80::1%eth0) says which interface, not which address.
  const zone = input.indexOf('%');
  const text = zone >= 0 ? input.slice(0, zone) : input;
  if (!isIPv6(text)) return undefined;

  let head = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }

  const halves = head.split('::');
  const groups = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const missing = 8 - left.length - right.length - tail.length;
  const all = [...left, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right, ...tail];
  if (all.length !== 8) return undefined;

  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** IPv4 or IPv6 text (IPv6 possibly in [brackets], as URL.hostname gives it) to bytes. */
export function parseIp(text: string): Uint8Array | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return parseIpv4(bare) ?? parseIpv6(bare);
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: compress the longest run of two or more zero groups (the first on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const bits = address.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const raw = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(raw)) return undefined;
    prefix = Number(raw);
    if (prefix > bits) return undefined;
  }
  return { bytes: maskTo(address, prefix), prefix, text };
}

function maskTo(address: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(address);
  for (let i = 0; i < out.length; i += 1) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** True when `address` is inside `cidr`. Addresses of the other family never match. */
export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  if (cidr.bytes.length !== address.length) return false;
  const masked = maskTo(address, cidr.prefix);
  return masked.every((byte, i) => byte === cidr.bytes[i]);
}

export interface EmbeddedIpv4 {
  ipv4: Uint8Array;
  /** How the IPv4 address is carried, for messages. */
  form: 'IPv4-mapped' | 'IPv4-compatible' | 'NAT64' | '6to4';
}

/**
 * The IPv4 address an IPv6 address stands for, when it has one the kernel or a
 * gateway would reach: `::ffff:a.b.c.d` is dialled as a.b.c.d by a dual-stack
 * socket, and NAT64 / 6to4 gateways forward to the embedded address. Checking
 * only the IPv6 form would let `[::ffff:169.254.169.254]` through.
 */
export function embeddedIpv4(address: Uint8Array): EmbeddedIpv4 | undefined {
  if (address.length !== 16) return undefined;
  const zeros = (from: number, to: number): boolean => address.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && address[10] === 0xff && address[11] === 0xff) {
    return { ipv4: address.slice(12, 16), form: 'IPv4-mapped' };
  }
  // ::a.b.c.d (deprecated), but not :: and ::1, which have their own meaning.
  if (zeros(0, 12) && !zeros(12, 15)) {
    return { ipv4: address.slice(12, 16), form: 'IPv4-compatible' };
  }
  // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052).
  if (address[0] === 0x00 && address[1] === 0x64 && address[2] === 0xff && address[3] === 0x9b && zeros(4, 12)) {
    return { ipv4: address.slice(12, 16), form: 'NAT64' };
  }
  // 2002:aabb:ccdd::/48 carries aa.bb.cc.dd (RFC 3056).
  if (address[0] === 0x20 && address[1] === 0x02) {
    return { ipv4: address.slice(2, 6), form: '6to4' };
  }
  return undefined;
}
