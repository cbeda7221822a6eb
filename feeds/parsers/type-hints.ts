/**
 * Maps the type names feeds write (a csv type column, a JSON object's key, a MISP
 * attribute type) onto IndicatorType hints. This only reads what the format states; it
 * never checks or canonicalises the value, which the shared normalisation step does.
 */
import type { IndicatorType } from '../indicator.js';

export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512';

export interface TypeHint {
  typeHint: IndicatorType;
  /** For hashes whose algorithm the name states: carried as attributes.hashAlgorithm. */
  hashAlgorithm?: HashAlgorithm;
}

/**
 * The hint for an IP-like value. Feeds put networks under the same type names as single
 * addresses (STIX ipv4-addr:value '198.51.100.0/24', MISP ip-dst 203.0.113.0/24), so a
 * '/' makes it a cidr; a bare "ip" says nothing about the family, so a ':' makes it v6.
 * `family` is the family the name stated, if any.
 */
export function ipHint(value: string, family?: 'ipv4' | 'ipv6'): IndicatorType {
  if (value.includes('/')) return 'cidr';
  return family ?? (value.includes(':') ? 'ipv6' : 'ipv4');
}

type Rule =
  | { kind: 'ip'; family?: 'ipv4' | 'ipv6' }
  | { kind: 'fixed'; type: IndicatorType; hashAlgorithm?: HashAlgorithm };

const ip = (family?: 'ipv4' | 'ipv6'): Rule => (family ? { kind: 'ip', family } : { kind: 'ip' });
const fixed = (type: IndicatorType, hashAlgorithm?: HashAlgorithm): Rule =>
  hashAlgorithm ? { kind: 'fixed', type, hashAlgorithm } : { kind: 'fixed', type };

/** Lower-case type names as feeds spell them. */
const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ['ip', ip()],
  ['ip-src', ip()],
  ['ip-dst', ip()],
  ['ip-addr', ip()],
  ['ipaddress', ip()],
  ['ip_address', ip()],
  ['ipv4', ip('ipv4')],
  ['ipv4-addr', ip('ipv4')],
  ['ip4', ip('ipv4')],
  ['ipv6', ip('ipv6')],
  ['ipv6-addr', ip('ipv6')],
  ['ip6', ip('ipv6')],
  ['cidr', fixed('cidr')],
  ['netblock', fixed('cidr')],
  ['subnet', fixed('cidr')],
  ['domain', fixed('domain')],
  ['domain-name', fixed('domain')],
  ['hostname', fixed('domain')],
  ['fqdn', fixed('domain')],
  ['url', fixed('url')],
  ['uri', fixed('url')],
  ['md5', fixed('hash', 'md5')],
  ['sha1', fixed('hash', 'sha1')],
  ['sha-1', fixed('hash', 'sha1')],
  ['sha256', fixed('hash', 'sha256')],
  ['sha-256', fixed('hash', 'sha256')],
  ['sha512', fixed('hash', 'sha512')],
  ['sha-512', fixed('hash', 'sha512')],
  ['hash', fixed('hash')],
  ['cve', fixed('cve')],
  ['cve-id', fixed('cve')],
  ['vulnerability', fixed('cve')],
  // Logins. Stating the type is the only way a value becomes an account: normalise()
  // never infers one from how a value looks.
  ['account', fixed('account')],
  ['user', fixed('account')],
  ['username', fixed('account')],
  ['user-name', fixed('account')],
  ['login', fixed('account')],
  ['user-account', fixed('account')],
  ['upn', fixed('account')],
  ['email', fixed('account')],
  ['email-addr', fixed('account')],
  // MISP attribute types (misp.ts reads them through typeHintFor too).
  ['email-src', fixed('account')],
  ['target-user', fixed('account')],
  ['target-email', fixed('account')],
]);

/** The hint for a type name and its value, or undefined when the name is not one we know. */
export function typeHintFor(typeName: string, value: string): TypeHint | undefined {
  const rule = RULES.get(typeName.trim().toLowerCase());
  if (!rule) return undefined;
  if (rule.kind === 'ip') return { typeHint: ipHint(value, rule.family) };
  return rule.hashAlgorithm
    ? { typeHint: rule.type, hashAlgorithm: rule.hashAlgorithm }
    : { typeHint: rule.type };
}

/** Names typeHintFor knows, for error messages. */
export const KNOWN_TYPE_NAMES: readonly string[] = [...RULES.keys()];
