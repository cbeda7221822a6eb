/**
 * IP address and CIDR arithmetic for both families: the one library behind the feed
 * parsers, the guardrails, the CEL `ip()`/`cidr()` helpers and the SSRF guard
 * (STYLE.md 10: two copies of a security check drift apart).
 *
 * IPv4 values are uint32 numbers (0..2^32-1, never negative); IPv6 values are bigints
 * (0..2^128-1). {@link Ip} and {@link Cidr} tag either with its family. The parsers are
 * strict on purpose: a value that could be read two ways is refused rather than guessed
 * at. In particular an IPv4 octet with a leading zero ("010.1.1.1") is refused, because
 * inet_aton() and browsers read it as octal (8.1.1.1) while most humans and other tools
 * read it as decimal; blocking either reading could hit the wrong host. Hosts that reach
 * the SSRF guard have been through WHATWG URL parsing, which already turns `2852039166`,
 * `0xA9FEA9FE` and `0251.0376.0251.0376` into `169.254.169.254`.
 *
 * The byte-level IPv4 parsers work on a slice of a Uint8Array and allocate nothing, so
 * big feeds can be read straight from the network buffers (feeds/parsers/lines.ts).
 *
 * IPv4 carried inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo) is read out by
 * {@link embeddedIpv4} and {@link embeddedIpv4Cidrs}, so that every check can judge
 * such a value as the IPv4 address or range it reaches.
 */

export const IPV4_MAX = 0xffffffff;
export const IPV6_MAX = (1n << 128n) - 1n;

const DOT = 0x2e;
const SLASH = 0x2f;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** 2^32 as a number; CIDR results from the byte parser are packed as prefix * 2^32 + network. */
const TWO_POW_32 = 4294967296;

/**
 * Parses a dotted-quad IPv4 address that fills bytes[start, end) exactly.
 * Returns the address as a uint32, or -1 when the slice is not exactly one strict
 * address (wrong octet count, octet > 255, leading zero, any other byte).
 */
export function parseIpv4Bytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let leadingZero = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (leadingZero) return -1;
      if (digits === 0 && c === DIGIT_0) leadingZero = true;
      octet = octet * 10 + (c - DIGIT_0);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === DOT) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      leadingZero = false;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  // Multiplying (not shifting) keeps the result a non-negative number above 2^31.
  return value * 256 + octet;
}

/**
 * Parses "a.b.c.d" or "a.b.c.d/p" filling bytes[start, end) exactly, without
 * allocating. Host bits below the prefix are cleared. A bare address counts as /32.
 *
 * Returns -1 when invalid, otherwise the result packed into one number so that the
 * hot path allocates nothing: `prefix * 2^32 + network`. Unpack it with
 * {@link packedCidrNetwork} and {@link packedCidrPrefix}.
 */
export function parseIpv4CidrBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let slash = -1;
  for (let i = start; i < end; i++) {
    if (bytes[i] === SLASH) {
      slash = i;
      break;
    }
  }
  if (slash < 0) {
    const address = parseIpv4Bytes(bytes, start, end);
    return address < 0 ? -1 : 32 * TWO_POW_32 + address;
  }
  const address = parseIpv4Bytes(bytes, start, slash);
  if (address < 0) return -1;
  const prefix = parsePrefixBytes(bytes, slash + 1, end, 32);
  if (prefix < 0) return -1;
  return prefix * TWO_POW_32 + ipv4Network(address, prefix);
}

/** The network address of a packed result of {@link parseIpv4CidrBytes}. */
export function packedCidrNetwork(packed: number): number {
  return packed % TWO_POW_32;
}

/** The prefix length of a packed result of {@link parseIpv4CidrBytes}. */
export function packedCidrPrefix(packed: number): number {
  return Math.floor(packed / TWO_POW_32);
}

/** A decimal prefix length 0..max, no sign, no leading zero ("/08" is refused like "010"). */
function parsePrefixBytes(bytes: Uint8Array, start: number, end: number, max: number): number {
  const length = end - start;
  if (length < 1 || length > 3) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    value = value * 10 + (c - DIGIT_0);
  }
  if (length > 1 && bytes[start] === DIGIT_0) return -1;
  return value > max ? -1 : value;
}

function parsePrefixText(text: string, max: number): number {
  const length = toScratch(text, 0, text.length);
  return length < 0 ? -1 : parsePrefixBytes(SCRATCH, 0, length, max);
}

/** Parses a strict dotted-quad IPv4 address (same rules as {@link parseIpv4Bytes}). */
export function parseIpv4(text: string): number | undefined {
  const value = parseIpv4Text(text, 0, text.length);
  return value < 0 ? undefined : value;
}

function parseIpv4Text(text: string, start: number, end: number): number {
  const length = toScratch(text, start, end);
  return length < 0 ? -1 : parseIpv4Bytes(SCRATCH, 0, length);
}

/**
 * Text goes through the byte parsers, so there is one set of rules, not a copy for
 * strings that drifts: it is copied into this buffer first, which allocates nothing.
 * 16 bytes hold any valid address (15) or prefix (3); longer or non-ASCII text is no
 * address. The parsers are synchronous, so no two callers share it at once.
 */
const SCRATCH = new Uint8Array(16);

function toScratch(text: string, start: number, end: number): number {
  const length = end - start;
  if (length > SCRATCH.length) return -1;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(start + i);
    if (c > 0x7f) return -1;
    SCRATCH[i] = c;
  }
  return length;
}

/** Each octet's rank when 0-255 are sorted as text ("1" < "10" < "100" < "101" < ... < "2"). */
const OCTET_TEXT_RANK = (() => {
  const rank = new Uint8Array(256);
  const texts = Array.from({ length: 256 }, (_, n) => String(n)).sort();
  texts.forEach((text, position) => (rank[Number(text)] = position));
  return rank;
})();
const OCTET_BY_TEXT_RANK = (() => {
  const octet = new Uint8Array(256);
  OCTET_TEXT_RANK.forEach((position, n) => (octet[position] = n));
  return octet;
})();

function textOrderKey(address: number): number {
  return (
    ((OCTET_TEXT_RANK[address >>> 24]! << 24) |
      (OCTET_TEXT_RANK[(address >>> 16) & 0xff]! << 16) |
      (OCTET_TEXT_RANK[(address >>> 8) & 0xff]! << 8) |
      OCTET_TEXT_RANK[address & 0xff]!) >>>
    0
  );
}

function fromTextOrderKey(key: number): number {
  return (
    ((OCTET_BY_TEXT_RANK[key >>> 24]! << 24) |
      (OCTET_BY_TEXT_RANK[(key >>> 16) & 0xff]! << 16) |
      (OCTET_BY_TEXT_RANK[(key >>> 8) & 0xff]! << 8) |
      OCTET_BY_TEXT_RANK[key & 0xff]!) >>>
    0
  );
}

/**
 * Sorts addresses, in place, in the order of their dotted-quad text: the order a sort of
 * the strings would give, without making a string per address. Dotted quads compare as
 * text octet by octet, since an octet ends at "." (or the end), which sorts before every
 * digit; so ranking each octet's text and sorting the ranks as numbers gives that order.
 */
export function sortIpv4AsText(addresses: Uint32Array): Uint32Array {
  for (let i = 0; i < addresses.length; i++) addresses[i] = textOrderKey(addresses[i]!);
  addresses.sort();
  for (let i = 0; i < addresses.length; i++) addresses[i] = fromTextOrderKey(addresses[i]!);
  return addresses;
}

const FORMAT_SCRATCH = Buffer.alloc(16);

/**
 * The dotted quad of `address`, as one flat string: a template literal would make a
 * rope of its pieces for most addresses (V8 joins strings of 13 characters and more
 * lazily), about 60 bytes each instead of 36, which a million-address snapshot holds.
 */
export function formatIpv4(address: number): string {
  return FORMAT_SCRATCH.toString('latin1', 0, writeIpv4(FORMAT_SCRATCH, 0, address));
}

/**
 * Writes the dotted-quad ASCII of `address` into `out` at `offset` and returns the
 * offset after it (at most 15 bytes are written). Lets big outputs be built without a
 * string per address.
 */
export function writeIpv4(out: Uint8Array, offset: number, address: number): number {
  let o = writeOctet(out, offset, address >>> 24);
  out[o++] = DOT;
  o = writeOctet(out, o, (address >>> 16) & 0xff);
  out[o++] = DOT;
  o = writeOctet(out, o, (address >>> 8) & 0xff);
  out[o++] = DOT;
  return writeOctet(out, o, address & 0xff);
}

function writeOctet(out: Uint8Array, offset: number, value: number): number {
  if (value >= 100) {
    const hundreds = (value / 100) | 0;
    const rest = value - hundreds * 100;
    const tens = (rest / 10) | 0;
    out[offset] = DIGIT_0 + hundreds;
    out[offset + 1] = DIGIT_0 + tens;
    out[offset + 2] = DIGIT_0 + rest - tens * 10;
    return offset + 3;
  }
  if (value >= 10) {
    const tens = (value / 10) | 0;
    out[offset] = DIGIT_0 + tens;
    out[offset + 1] = DIGIT_0 + value - tens * 10;
    return offset + 2;
  }
  out[offset] = DIGIT_0 + value;
  return offset + 1;
}

/** The netmask of an IPv4 prefix length as a uint32 (prefix 0 gives 0). */
export function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `address` with the host bits below `prefix` cleared. */
export function ipv4Network(address: number, prefix: number): number {
  return (address & ipv4Mask(prefix)) >>> 0;
}

/** The last address of the block `network/prefix`. */
export function ipv4Broadcast(network: number, prefix: number): number {
  return (network | ~ipv4Mask(prefix)) >>> 0;
}

// ---------------------------------------------------------------------------------
// IPv6

const COLON = 0x3a;

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Parses any RFC 4291 section 2.2 text form: eight groups of 1-4 hex digits, one "::"
 * standing for one or more zero groups, and a trailing dotted-quad IPv4 address in
 * place of the last two groups ("::ffff:192.0.2.1", "64:ff9b::198.51.100.7").
 *
 * Refused: zone ids ("fe80::1%eth0": a zone only means something on one host, and
 * blocking it would be meaningless cluster-wide), brackets, a prefix, more than one
 * "::", "::" standing for nothing in a full eight-group address, groups of five or
 * more digits, and the embedded IPv4 address's leading zeros (same rule as IPv4).
 */
export function parseIpv6(text: string): bigint | undefined {
  const groups = parseIpv6Groups(text);
  if (groups === undefined) return undefined;
  // 32 bits at a time keeps the bigint work to four shifts.
  let value = 0n;
  for (let i = 0; i < 8; i += 2)
    value = (value << 32n) | BigInt(groups[i]! * 65536 + groups[i + 1]!);
  return value;
}

function parseIpv6Groups(text: string): number[] | undefined {
  const length = text.length;
  if (length < 2 || length > 45) return undefined;
  const groups: number[] = [];
  let gapAt = -1;
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    // A leading colon is only valid as the start of "::".
    if (text.charCodeAt(1) !== COLON) return undefined;
    gapAt = 0;
    i = 2;
    if (i === length) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  while (i < length) {
    // Read one group: hex digits up to ':' or the end, or a dotted-quad tail.
    const groupStart = i;
    let value = 0;
    let digits = 0;
    let sawDot = false;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === COLON) break;
      if (c === DOT) {
        sawDot = true;
        break;
      }
      const h = hexValue(c);
      if (h < 0) return undefined;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (sawDot) {
      // The embedded IPv4 address must be the last thing and take the last two groups.
      if (groups.length > 6) return undefined;
      const v4 = parseIpv4Text(text, groupStart, length);
      if (v4 < 0) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      i = length;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(value);
    if (groups.length > 8) return undefined;
    if (i === length) break;
    // At a colon: either a separator or the start of "::".
    i++;
    if (i < length && text.charCodeAt(i) === COLON) {
      if (gapAt >= 0) return undefined;
      gapAt = groups.length;
      i++;
      if (i === length) break;
    } else if (i === length) {
      return undefined; // a trailing single colon
    }
  }
  if (gapAt < 0) return groups.length === 8 ? groups : undefined;
  // "::" must stand for at least one zero group (RFC 4291: "one or more").
  if (groups.length > 7) return undefined;
  const zeros = 8 - groups.length;
  const result = groups.slice(0, gapAt);
  for (let z = 0; z < zeros; z++) result.push(0);
  for (let g = gapAt; g < groups.length; g++) result.push(groups[g]!);
  return result;
}

/**
 * RFC 5952 canonical text: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups shortened to "::" (the first such run on a tie; a single zero group
 * is never shortened). IPv4-mapped addresses (::ffff:0:0/96) are written in the mixed
 * form "::ffff:192.0.2.1" that RFC 5952 section 5 recommends.
 */
export function formatIpv6(value: bigint): string {
  if (value < 0n || value > IPV6_MAX) throw new RangeError(`not an IPv6 address value: ${value}`);
  const groups = new Array<number>(8);
  let rest = value;
  for (let i = 7; i >= 0; i--) {
    groups[i] = Number(rest & 0xffffn);
    rest >>= 16n;
  }
  if (value >> 32n === 0xffffn) {
    return `::ffff:${formatIpv4(Number(value & 0xffffffffn))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

export function ipv6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (IPV6_MAX << BigInt(128 - prefix)) & IPV6_MAX;
}

export function ipv6Network(address: bigint, prefix: number): bigint {
  return address & ipv6Mask(prefix);
}

export function ipv6Broadcast(network: bigint, prefix: number): bigint {
  return network | (IPV6_MAX ^ ipv6Mask(prefix));
}

// ---------------------------------------------------------------------------------
// CIDR, both families

export type Cidr =
  { family: 4; network: number; prefix: number } | { family: 6; network: bigint; prefix: number };

/**
 * Parses "address/prefix" for either family and returns the network address with the
 * host bits cleared ("10.1.2.3/8" gives 10.0.0.0/8, as iprange and most firewalls
 * read it). The address follows the strict rules above; the prefix is decimal with no
 * sign and no leading zero. A bare address without "/" is refused here: callers that
 * accept either use {@link parseIpv4}/{@link parseIpv6} first.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (addressText.includes(':')) {
    const address = parseIpv6(addressText);
    const prefix = parsePrefixText(prefixText, 128);
    if (address === undefined || prefix < 0) return undefined;
    return { family: 6, network: ipv6Network(address, prefix), prefix };
  }
  const address = parseIpv4Text(addressText, 0, addressText.length);
  const prefix = parsePrefixText(prefixText, 32);
  if (address < 0 || prefix < 0) return undefined;
  return { family: 4, network: ipv4Network(address, prefix), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return cidr.family === 4
    ? `${formatIpv4(cidr.network)}/${cidr.prefix}`
    : `${formatIpv6(cidr.network)}/${cidr.prefix}`;
}

/** A CIDR of one family, when the family is known. */
export type Ipv4Cidr = Extract<Cidr, { family: 4 }>;
export type Ipv6Cidr = Extract<Cidr, { family: 6 }>;

/**
 * "10.0.0.0/8", "fd00::/8", or a bare address taken as its /32 or /128: the form
 * configuration lists (cluster ranges, allow lists) are written in.
 */
export function parseCidrOrIp(text: string): Cidr | undefined {
  if (text.includes('/')) return parseCidr(text);
  const ip = parseIp(text);
  if (ip === undefined) return undefined;
  return ip.family === 4
    ? { family: 4, network: ip.value, prefix: 32 }
    : { family: 6, network: ip.value, prefix: 128 };
}

/** The last address of a CIDR (its first is `network`). */
export function cidrLast(cidr: Cidr): number | bigint {
  return cidr.family === 4
    ? ipv4Broadcast(cidr.network, cidr.prefix)
    : ipv6Broadcast(cidr.network, cidr.prefix);
}

/** True when `ip` is inside `cidr`. Addresses of the other family never match (see embeddedIpv4 for that). */
export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.family === 4)
    return ip.family === 4 && ipv4Network(ip.value, cidr.prefix) === cidr.network;
  return ip.family === 6 && ipv6Network(ip.value, cidr.prefix) === cidr.network;
}

// ---------------------------------------------------------------------------------
// One address of either family

export type Ip = { family: 4; value: number } | { family: 6; value: bigint };

/**
 * An IPv4 or IPv6 address under the strict rules above; IPv6 may come in [brackets],
 * as URL.hostname writes it. Anything else, a zone id included, is not an address.
 */
export function parseIp(text: string): Ip | undefined {
  const bracketed = text.startsWith('[') && text.endsWith(']');
  if (!bracketed) {
    const v4 = parseIpv4Text(text, 0, text.length);
    if (v4 >= 0) return { family: 4, value: v4 };
  }
  const v6 = parseIpv6(bracketed ? text.slice(1, -1) : text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function formatIp(ip: Ip): string {
  return ip.family === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}

// ---------------------------------------------------------------------------------
// IPv4 carried inside IPv6

/**
 * How an IPv6 address carries an IPv4 one. Every form reaches the IPv4 host in the
 * end, so every check judges the IPv4 address too:
 * - IPv4-mapped ::ffff:0:0/96 (RFC 4291 2.5.5.2): a dual-stack socket dials the IPv4
 *   address itself; it IS that address;
 * - IPv4-compatible ::/96 (RFC 4291 2.5.5.1, deprecated), except :: and ::1, which are
 *   the unspecified and loopback addresses;
 * - NAT64: the well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 6052,
 *   RFC 8215). Inside the /48 an operator may use any RFC 6052 format of length 48, 56,
 *   64 or 96, which place the IPv4 bits differently and skip the "u" octet (bits 64-71);
 *   the address does not say which, so every format is read and each reading judged;
 * - 6to4 2002::/16 (RFC 3056): bits 16-47 are the 6to4 router's IPv4 address;
 * - Teredo 2001::/32 (RFC 4380 4): bits 32-63 are the Teredo server, and the last
 *   32 bits, inverted, the client's public IPv4 address.
 */
export type EmbeddedForm =
  'IPv4-mapped' | 'IPv4-compatible' | 'NAT64' | '6to4' | 'Teredo server' | 'Teredo client';

export interface EmbeddedIpv4 {
  form: EmbeddedForm;
  ipv4: number;
}

export interface EmbeddedIpv4Cidr {
  form: EmbeddedForm;
  cidr: Ipv4Cidr;
}

interface Embedding {
  form: EmbeddedForm;
  /** The IPv6 prefix the form lives in. */
  prefix: bigint;
  prefixLength: number;
  /** Where the 32 IPv4 bits sit, most significant first, as [first bit from the left, length]. */
  segments: readonly (readonly [number, number])[];
  /** Teredo stores the client address inverted. */
  inverted?: true;
}

const NAT64_LOCAL = 0x0064ff9b0001n << 80n;

const TEREDO = 0x20010000n << 96n;

/** A form whose IPv4 address is its last 32 bits. */
const lastBits = (form: EmbeddedForm, prefix: bigint, prefixLength: number): Embedding => ({
  form,
  prefix,
  prefixLength,
  segments: [[96, 32]],
});

/** An RFC 6052 2.2 format inside the local-use /48 (the u octet, bits 64-71, is skipped). */
const nat64Local = (...segments: [number, number][]): Embedding => ({
  form: 'NAT64',
  prefix: NAT64_LOCAL,
  prefixLength: 48,
  segments,
});

const EMBEDDINGS: readonly Embedding[] = [
  lastBits('IPv4-mapped', 0xffffn << 32n, 96),
  lastBits('IPv4-compatible', 0n, 96),
  lastBits('NAT64', 0x0064ff9bn << 96n, 96),
  nat64Local([48, 16], [72, 16]),
  nat64Local([56, 8], [72, 24]),
  nat64Local([72, 32]),
  nat64Local([96, 32]),
  { form: '6to4', prefix: 0x2002n << 112n, prefixLength: 16, segments: [[16, 32]] },
  { form: 'Teredo server', prefix: TEREDO, prefixLength: 32, segments: [[32, 32]] },
  { ...lastBits('Teredo client', TEREDO, 32), inverted: true },
];

function extractIpv4(value: bigint, embedding: Embedding): number {
  let v4 = 0;
  for (const [from, length] of embedding.segments) {
    const bits = Number((value >> BigInt(128 - from - length)) & ((1n << BigInt(length)) - 1n));
    v4 = v4 * 2 ** length + bits;
  }
  return embedding.inverted ? (v4 ^ IPV4_MAX) >>> 0 : v4;
}

/**
 * Every IPv4 address `address` carries, one per form and format (see EmbeddedForm);
 * empty when it carries none. A Teredo address gives two (server and client), one in
 * the local-use NAT64 prefix four.
 */
export function embeddedIpv4(address: bigint): EmbeddedIpv4[] {
  const out: EmbeddedIpv4[] = [];
  for (const e of EMBEDDINGS) {
    if (ipv6Network(address, e.prefixLength) !== e.prefix) continue;
    if (e.form === 'IPv4-compatible' && address <= 1n) continue; // :: and ::1 are not IPv4
    out.push({ form: e.form, ipv4: extractIpv4(address, e) });
  }
  return out;
}

/**
 * The IPv4 ranges an IPv6 CIDR reaches through each form: a CIDR inside an embedding
 * prefix maps to the IPv4 CIDR of its IPv4 bits (::ffff:10.0.0.0/104 is 10.0.0.0/8, a
 * 6to4 /64 one IPv4 address), and a CIDR that contains a whole embedding prefix
 * (::/64, 2000::/3) reaches all of IPv4, 0.0.0.0/0. Empty when it reaches no IPv4.
 */
export function embeddedIpv4Cidrs(cidr: Ipv6Cidr): EmbeddedIpv4Cidr[] {
  const out: EmbeddedIpv4Cidr[] = [];
  for (const e of EMBEDDINGS) {
    if (cidr.prefix < e.prefixLength) {
      if (ipv6Network(e.prefix, cidr.prefix) === cidr.network)
        out.push({ form: e.form, cidr: { family: 4, network: 0, prefix: 0 } });
      continue;
    }
    if (ipv6Network(cidr.network, e.prefixLength) !== e.prefix) continue;
    let prefix = 0;
    for (const [from, length] of e.segments)
      prefix += Math.max(0, Math.min(length, cidr.prefix - from));
    out.push({
      form: e.form,
      cidr: { family: 4, network: ipv4Network(extractIpv4(cidr.network, e), prefix), prefix },
    });
  }
  return out;
}

const MAPPED = EMBEDDINGS[0]!;

/**
 * An IPv4-mapped address or CIDR written as the IPv4 one it is (::ffff:5.6.7.8 is
 * 5.6.7.8, ::ffff:0.0.0.0/96 is 0.0.0.0/0); anything else unchanged. Only the mapped
 * form is the same packet on the wire: NAT64, 6to4 and Teredo addresses are real IPv6
 * destinations and stay IPv6 (they are judged as IPv4 by embeddedIpv4 instead).
 */
export function unmapIpv4(cidr: Cidr): Cidr {
  if (cidr.family === 4 || cidr.prefix < 96 || ipv6Network(cidr.network, 96) !== MAPPED.prefix)
    return cidr;
  return { family: 4, network: Number(cidr.network & 0xffffffffn), prefix: cidr.prefix - 96 };
}
