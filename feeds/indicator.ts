import type { ThreatFeedSpec } from '../crds/generated/types.js';

/**
 * The one Indicator model every feed format is normalised into, and the records
 * parsers produce on the way. Pure data: no I/O here.
 */

/**
 * Indicator types. IPs and CIDRs are canonical (RFC 5952 for IPv6, network address for
 * CIDRs). `account` is a login at an identity provider (a user name, an email address
 * or a UPN); a value only becomes one when the feed says so (a type column, a STIX
 * user-account or email-addr pattern, a MISP target-user, target-email or email-src
 * attribute), never by its looks (feeds/normalise.ts).
 */
export const INDICATOR_TYPES = [
  'ipv4',
  'ipv6',
  'cidr',
  'domain',
  'url',
  'cve',
  'hash',
  'account',
] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];

export interface Indicator {
  type: IndicatorType;
  /** Canonical value: "192.0.2.1", "2001:db8::1", "10.0.0.0/8", "example.org" (lower-case, IDNA A-label), "CVE-2024-1234", "sha256:<hex>", "alice@example.com" (account, lower-case). */
  value: string;
  /** 0-100. */
  confidence: number;
  /** ThreatFeed names this indicator came from (more than one after a cross-feed merge). */
  sources: string[];
  /** RFC 3339 times. */
  firstSeen?: string;
  lastSeen?: string;
  validUntil?: string;
  tags: string[];
  /** MITRE ATT&CK technique ids (T1071, T1071.001) where the feed gives them. */
  techniques?: string[];
  /** Where in the raw feed it came from: "line 12", a STIX id, a MISP attribute uuid. */
  ref?: string;
  /** Type-specific facts: KEV vendor/product/dateAdded/dueDate/knownRansomwareCampaignUse, epss, hash algorithm, ... */
  attributes?: Record<string, string | number | boolean>;
}

/** What a parser yields for one raw record, before normalisation, confidence and guardrails. */
export interface ParsedRecord {
  kind: 'record';
  /** The raw indicator text, to be normalised (may carry a /prefix, a scheme, upper case, ...). */
  value: string;
  /** Set when the format itself says what the value is (a STIX pattern, a KEV entry, a csv type column). */
  typeHint?: IndicatorType;
  /** Exposed as `record` to the feed's confidence CEL expression, e.g. { value, score } for lines. */
  record: Record<string, unknown>;
  ref: string;
  /** Confidence the format carries itself (STIX confidence), 0-100. */
  confidence?: number;
  tags?: string[];
  techniques?: string[];
  validFrom?: string;
  validUntil?: string;
  attributes?: Record<string, string | number | boolean>;
}

/** A raw record that could not be read; counted in status as `rejected`. */
export interface RejectedRecord {
  kind: 'rejected';
  ref: string;
  reason: string;
}

export type ParserItem = ParsedRecord | RejectedRecord;

/** Parser options: ThreatFeed spec.parser, typed from the CRD schema (the single source). */
export type ParserOptions = NonNullable<ThreatFeedSpec['parser']>;

/**
 * A parser reads the feed body as a stream of byte chunks (never one big string) and
 * yields records. It throws only when the body as a whole is unusable (not JSON at
 * all, a truncated document, a STIX bundle failing its schema); single bad records
 * are yielded as RejectedRecord.
 */
export type Parser = (
  body: AsyncIterable<Uint8Array>,
  options: ParserOptions,
) => AsyncIterable<ParserItem>;

/** Identity of an indicator across feeds: type and canonical value. */
export function indicatorKey(i: Pick<Indicator, 'type' | 'value'>): string {
  return `${i.type}:${i.value}`;
}
