/**
 * Turns one raw indicator string from any feed into its type and canonical value
 * (the `type`/`value` of feeds/indicator.ts), so the same thing written two ways by
 * two feeds deduplicates to one indicator. Pure; no I/O, no DNS.
 *
 * Canonical forms:
 * - ipv4: strict dotted quad ("010.1.1.1" is refused as ambiguous, see ip.ts);
 * - ipv6: RFC 5952 ("2001:db8::1");
 * - cidr: the network address and prefix ("10.0.0.0/8"); a /32 or /128 is not a
 *   range but one address, and becomes the ipv4/ipv6 indicator;
 * - an IPv4-mapped address or CIDR is the IPv4 one (::ffff:5.6.7.8 is 5.6.7.8,
 *   ::ffff:0.0.0.0/96 is 0.0.0.0/0): a dual-stack socket sends the same packet, so the
 *   two must deduplicate and be judged alike. NAT64, 6to4 and Teredo values stay IPv6:
 *   they are other packets, though the guardrails judge them by their IPv4 too;
 * - domain: lower-case IDNA A-label, no trailing dot;
 * - url: WHATWG URL serialisation (scheme and host lower-cased, host as A-label,
 *   default port dropped), fragment removed;
 * - hash: "<md5|sha1|sha256|sha512>:<lower-case hex>", the algorithm from the length;
 * - cve: "CVE-YYYY-NNNN" upper-case;
 * - account: lower-case, Unicode NFC (see normaliseAccount). Only a type hint makes a
 *   value an account: without one, "alice@example.com" is no IP, domain or URL and is
 *   rejected as today, so a mail address in a blocklist never silently turns into a
 *   user to suspend.
 *
 * Defanged text, as analysts write it so nobody clicks it ("hxxp://", "example[.]com",
 * "1.2.3[.]4"), is refanged first.
 */
import { domainToASCII } from 'node:url';
import type { IndicatorType } from './indicator.js';
import {
  formatCidr,
  formatIpv4,
  formatIpv6,
  parseCidr,
  parseIpv4,
  parseIpv6,
  unmapIpv4,
  type Cidr,
} from '../lib/ip.js';

export type NormaliseResult = { type: IndicatorType; value: string } | { error: string };

const HASH_ALGORITHM_BY_LENGTH: Readonly<Record<number, string>> = {
  32: 'md5',
  40: 'sha1',
  64: 'sha256',
  128: 'sha512',
};
const HASH_LENGTH_BY_ALGORITHM: Readonly<Record<string, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};

/** Schemes whose URLs WHATWG parses with a real host (lower-cased, IDNA); others keep an opaque host we could not canonicalise. */
const URL_SCHEMES = new Set(['http:', 'https:', 'ftp:', 'ws:', 'wss:']);

const MAX_INPUT_LENGTH = 8192;

export function normalise(raw: string, typeHint?: IndicatorType): NormaliseResult {
  const text = refang(raw.trim());
  if (text === '') return { error: 'empty value' };
  if (text.length > MAX_INPUT_LENGTH)
    return { error: `value longer than ${MAX_INPUT_LENGTH} characters` };
  switch (typeHint) {
    case undefined:
      return detect(text);
    case 'ipv4':
    case 'ipv6':
    case 'cidr': {
      const ip = normaliseIp(text);
      if (ip === undefined)
        return {
          error: `not an ${typeHint === 'cidr' ? 'IP address or CIDR' : typeHint === 'ipv4' ? 'IPv4 address' : 'IPv6 address'}: ${quote(text)}`,
        };
      // A csv "cidr" column may hold a bare address or a /32; that is still the address.
      // An IPv4-mapped address in an ipv6 column is still the IPv6 value written there.
      const mapped = typeHint === 'ipv6' && ip.type === 'ipv4' && text.includes(':');
      if (typeHint !== 'cidr' && ip.type !== typeHint && !mapped)
        return { error: `not an ${typeHint === 'ipv4' ? 'IPv4' : 'IPv6'} address: ${quote(text)}` };
      return ip;
    }
    case 'domain':
      return normaliseDomain(text);
    case 'url':
      return normaliseUrl(text.includes('://') ? text : `http://${text}`);
    case 'hash':
      return (
        normaliseHash(text) ?? {
          error: `not an md5, sha1, sha256 or sha512 hex digest: ${quote(text)}`,
        }
      );
    case 'cve':
      return normaliseCve(text) ?? { error: `not a CVE id (CVE-YYYY-NNNN): ${quote(text)}` };
    case 'account':
      return normaliseAccount(text);
  }
}

function detect(text: string): NormaliseResult {
  const ip = normaliseIp(text);
  if (ip !== undefined) return ip;
  const cve = normaliseCve(text);
  if (cve !== undefined) return cve;
  const hash = normaliseHash(text);
  if (hash !== undefined) return hash;
  if (text.includes('://')) return normaliseUrl(text);
  // "host/path" without a scheme is how many URL lists write URLs; a CIDR was ruled out above.
  const slash = text.indexOf('/');
  if (slash > 0) {
    const host = text.slice(0, slash);
    // "10.0.0.0/33" or "1.2.3.4/08" is a broken CIDR, not a URL path.
    if (/^[0-9a-f.:]+\/[0-9]*$/i.test(text)) return { error: `not a valid CIDR: ${quote(text)}` };
    if (isUrlHost(host)) return normaliseUrl(`http://${text}`);
    return { error: `not an IP, CIDR, domain, URL, hash or CVE: ${quote(text)}` };
  }
  const domain = normaliseDomain(text);
  if ('error' in domain)
    return { error: `not an IP, CIDR, domain, URL, hash or CVE: ${quote(text)} (${domain.error})` };
  return domain;
}

/** "host" or "host:port" where host is an IPv4 address or a valid domain. */
function isUrlHost(hostAndPort: string): boolean {
  const host = hostAndPort.replace(/:\d{1,5}$/, '');
  return parseIpv4(host) !== undefined || !('error' in normaliseDomain(host));
}

/** An IPv4/IPv6 address or a CIDR of either family; undefined when it is none of them. */
function normaliseIp(text: string): { type: IndicatorType; value: string } | undefined {
  let parsed: Cidr | undefined;
  if (text.includes('/')) {
    parsed = parseCidr(text);
  } else {
    const v4 = parseIpv4(text);
    if (v4 !== undefined) return { type: 'ipv4', value: formatIpv4(v4) };
    const v6 = text.includes(':') ? parseIpv6(text) : undefined;
    if (v6 !== undefined) parsed = { family: 6, network: v6, prefix: 128 };
  }
  if (parsed === undefined) return undefined;
  const cidr = unmapIpv4(parsed);
  if (cidr.family === 4 && cidr.prefix === 32)
    return { type: 'ipv4', value: formatIpv4(cidr.network) };
  if (cidr.family === 6 && cidr.prefix === 128)
    return { type: 'ipv6', value: formatIpv6(cidr.network) };
  return { type: 'cidr', value: formatCidr(cidr) };
}

function normaliseCve(text: string): { type: 'cve'; value: string } | undefined {
  // CVE-YYYY-NNNN with four or more digits in the sequence part (the 2014 syntax change).
  if (!/^cve-\d{4}-\d{4,19}$/i.test(text)) return undefined;
  return { type: 'cve', value: text.toUpperCase() };
}

/** Longest account accepted, in characters: room for any email address (at most 254, RFC 5321) and for the user names providers allow. */
const MAX_ACCOUNT_LENGTH = 256;

/**
 * Characters an account may not hold, with the name used in the rejection:
 * - whitespace (any Unicode space) and control or format characters (\p{C}: C0/C1
 *   controls, zero-width and bidi marks, unassigned code points): a login never
 *   has them, and invisible ones would make two different values look the same;
 * - ',' and quotes: the identity connectors put the login into filters (SCIM
 *   `userName eq "x"`, Okta `profile.login eq "x"`, Graph OData `userPrincipalName eq 'x'`)
 *   and into comma-separated lists, where these end the value early;
 * - '\': the escape character of those same filter strings. A down-level
 *   `DOMAIN\user` name is not a login at Okta, Entra ID, Keycloak or SCIM, which
 *   all sign in with a user name, email or UPN.
 */
const ACCOUNT_FORBIDDEN: readonly [RegExp, string][] = [
  [/[\s\p{Z}]/u, 'whitespace'],
  [/\p{C}/u, 'a control or invisible character'],
  [/,/, 'a comma'],
  [/["'`]/, 'a quote'],
  [/\\/, 'a backslash'],
];

/**
 * An account: a login as an identity provider knows it (a user name, an email address
 * or a UPN). Canonical form is lower-case (String.prototype.toLowerCase, locale
 * independent) in Unicode NFC, so the same person written twice deduplicates.
 *
 * Lower-casing is safe because logins are matched case-insensitively where the
 * identity connectors look them up: Okta logins, Entra ID userPrincipalName and mail,
 * Keycloak usernames and emails (stored lower-case) and SCIM userName (caseExact false
 * in RFC 7643's User schema) all ignore case in practice. A provider configured with
 * case-sensitive user names would need the original spelling, which this loses.
 *
 * The syntax is not checked beyond the characters above: an account need not be an
 * email address, and whether it exists is for the provider to say.
 */
function normaliseAccount(text: string): { type: 'account'; value: string } | { error: string } {
  const value = text.normalize('NFC').toLowerCase();
  for (const [pattern, what] of ACCOUNT_FORBIDDEN) {
    const found = pattern.exec(value)?.[0];
    if (found === undefined) continue;
    // Named by code point too: an invisible character cannot be seen in the quoted value.
    const codePoint = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return {
      error: `not an account (a user name, email address or UPN): ${quote(text)} contains ${what} (${codePoint})`,
    };
  }
  // Code points, not UTF-16 units; counted after lower-casing, which can lengthen a value.
  const length = [...value].length;
  if (length > MAX_ACCOUNT_LENGTH)
    return {
      error: `account longer than ${MAX_ACCOUNT_LENGTH} characters (${length}): ${quote(text)}`,
    };
  return { type: 'account', value };
}

function normaliseHash(text: string): { type: 'hash'; value: string } | undefined {
  const colon = text.indexOf(':');
  let algorithm: string | undefined;
  let hex = text;
  if (colon > 0) {
    algorithm = text.slice(0, colon).toLowerCase().replace('-', '');
    hex = text.slice(colon + 1);
    if (HASH_LENGTH_BY_ALGORITHM[algorithm] === undefined) return undefined;
  }
  if (!/^[0-9a-f]+$/i.test(hex)) return undefined;
  const byLength = HASH_ALGORITHM_BY_LENGTH[hex.length];
  if (byLength === undefined) return undefined;
  if (algorithm !== undefined && algorithm !== byLength) return undefined;
  return { type: 'hash', value: `${byLength}:${hex.toLowerCase()}` };
}

/**
 * Letters, digits, hyphen and underscore; no hyphen at either end of a label.
 * Underscore is outside the hostname rule (RFC 952/1123) but real DNS names used by
 * malware carry it, and refusing them would let such names through a block list.
 */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function normaliseDomain(text: string): { type: 'domain'; value: string } | { error: string } {
  let name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name === '') return { error: 'empty domain' };
  if (parseIpv4(name) !== undefined || name.includes(':'))
    return { error: `an IP address is not a domain: ${quote(text)}` };
  // domainToASCII applies UTS #46 (lower-casing, IDNA A-labels) and returns '' when the name is invalid.
  const ascii = domainToASCII(name);
  if (ascii === '') return { error: `not a valid domain name: ${quote(text)}` };
  name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  if (name.length > 253) return { error: `domain longer than 253 characters: ${quote(text)}` };
  const labels = name.split('.');
  if (labels.length < 2) return { error: `a domain needs at least two labels: ${quote(text)}` };
  for (const label of labels) {
    if (label.length === 0 || label.length > 63)
      return { error: `domain label must be 1-63 characters: ${quote(text)}` };
    if (!LABEL.test(label))
      return { error: `invalid domain label ${quote(label)}: ${quote(text)}` };
  }
  // An all-numeric last label is an IP address in disguise (WHATWG reads "0x7f.1" as 127.0.0.1).
  if (
    /^[0-9]+$/.test(labels[labels.length - 1]!) ||
    /^0x[0-9a-f]*$/.test(labels[labels.length - 1]!)
  ) {
    return { error: `numeric top-level label, not a domain: ${quote(text)}` };
  }
  return { type: 'domain', value: name };
}

function normaliseUrl(text: string): { type: 'url'; value: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: `not a valid URL: ${quote(text)}` };
  }
  if (!URL_SCHEMES.has(url.protocol))
    return { error: `unsupported URL scheme ${quote(url.protocol.slice(0, -1))}: ${quote(text)}` };
  if (url.hostname === '') return { error: `URL without a host: ${quote(text)}` };
  url.hash = '';
  return { type: 'url', value: url.href };
}

/**
 * Undoes the usual defanging. Only bracketed forms and the "hxxp" schemes are
 * rewritten: a plain " dot " is too likely to be real text to be touched.
 */
export function refang(text: string): string {
  return text
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}/gi, '.')
    .replace(/\[:\]|\(:\)/g, ':')
    .replace(/\[\/\]/g, '/')
    .replace(/\[:\/\/\]/g, '://')
    .replace(/^h[x*]{2}p(s?):\/\//i, 'http$1://')
    .replace(/^fxp:\/\//i, 'ftp://');
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
