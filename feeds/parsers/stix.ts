/**
 * The stix format: STIX 2.1 content, as a bundle ({"type": "bundle", "objects": [...]}),
 * as a bare array of STIX objects, or as a TAXII 2.1 envelope ({"more", "next",
 * "objects"}), which is what a TAXII collection's objects endpoint returns.
 *
 * Every object is first validated against the official STIX 2.1 JSON Schemas
 * (stix-schema.ts). One object failing its schema refuses the whole body, because a
 * producer that emits invalid STIX cannot be trusted on the rest of that document and
 * the controller then keeps its last good snapshot.
 *
 * Indicators with pattern_type "stix" become records, one per value the pattern ORs
 * together (stix-pattern.ts), for these comparisons with "=":
 *   ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value,
 *   file:hashes.MD5 / 'SHA-1' / 'SHA-256' / 'SHA-512',
 *   user-account:account_login, user-account:user_id, email-addr:value (accounts)
 * Anything else (AND, FOLLOWEDBY, qualifiers, other operators or objects, other pattern
 * types, revoked indicators) is a RejectedRecord that says why: valid STIX that we do
 * not enforce, not an error. Other objects (observables, malware, infrastructure, ...)
 * are context only and yield nothing.
 *
 * What each record carries from its indicator:
 * - validFrom/validUntil from valid_from/valid_until, confidence from confidence;
 * - tags: labels, then the phase names of MITRE ATT&CK kill chains (kill_chain_phases);
 * - techniques: ATT&CK ids (T1071, T1071.001) from the indicator's own
 *   external_references and from attack-patterns it "indicates" through relationship
 *   objects in the same body;
 * - record: the indicator object as published.
 * When one body holds several versions of an indicator (TAXII may return them), the
 * one with the latest `modified` is used.
 */
import type {
  IndicatorType,
  ParsedRecord,
  Parser,
  ParserItem,
  ParserOptions,
} from '../indicator.js';
import { describeJsonValue, readJsonBody } from './body.js';
import { readStixPattern, type Comparison } from './stix-pattern.js';
import { stixValidator } from './stix-schema.js';
import { ipHint, type HashAlgorithm } from './type-hints.js';

export interface StixParserOptions extends ParserOptions {
  /** Directory of the official STIX 2.1 JSON Schemas; defaults to shared/feeds/stix/schemas beside the repository. */
  stixSchemaDir?: string;
}

type StixObject = Record<string, unknown>;

const BUNDLE_ID =
  /^bundle--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;
const TECHNIQUE_ID = /^T\d{4}(?:\.\d{3})?$/;
/** ATT&CK's source and kill-chain names: mitre-attack, and the mobile/ics/pre-attack variants. */
const ATTACK_NAME = /^mitre-(?:[a-z]+-)?attack$/;

const HASHES: Record<string, HashAlgorithm> = {
  MD5: 'md5',
  SHA1: 'sha1',
  SHA256: 'sha256',
  SHA512: 'sha512',
};
const SUPPORTED =
  "ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value, file:hashes.MD5/'SHA-1'/'SHA-256'/'SHA-512', user-account:account_login, user-account:user_id, email-addr:value";

interface Unwrapped {
  objects: unknown[];
  /** How messages name the document: "bundle--…", or "the object array". */
  label: string;
}

/** Finds the objects in a bundle, TAXII envelope or bare array; throws `stix: ...` for anything else. */
export function unwrapStix(document: unknown): Unwrapped {
  if (Array.isArray(document)) return { objects: document, label: 'the object array' };
  if (typeof document !== 'object' || document === null) {
    throw new Error(
      `stix: the body is ${describeJsonValue(document)}, not a STIX bundle, a TAXII envelope or an array of STIX objects`,
    );
  }
  const doc = document as Record<string, unknown>;
  if (doc.type === 'bundle') {
    if (typeof doc.id !== 'string' || !BUNDLE_ID.test(doc.id)) {
      throw new Error(
        `stix: the bundle's id ${JSON.stringify(doc.id)} is not a bundle identifier (bundle--<uuid>)`,
      );
    }
    if (doc.objects === undefined) return { objects: [], label: doc.id };
    if (!Array.isArray(doc.objects))
      throw new Error(
        `stix: ${doc.id} has objects that are ${describeJsonValue(doc.objects)}, not an array`,
      );
    // bundle.json: objects, when present, has at least one item.
    if (doc.objects.length === 0)
      throw new Error(
        `stix: ${doc.id} has an empty objects array, which the STIX 2.1 schema forbids`,
      );
    return { objects: doc.objects, label: doc.id };
  }
  if (doc.type === undefined && Array.isArray(doc.objects))
    return { objects: doc.objects, label: 'the TAXII envelope' };
  throw new Error(
    `stix: the body is an object of type ${JSON.stringify(doc.type)}, not a STIX bundle, a TAXII envelope or an array of STIX objects`,
  );
}

export const parseStix: Parser = async function* parseStix(
  body: AsyncIterable<Uint8Array>,
  options: ParserOptions,
): AsyncGenerator<ParserItem> {
  const validator = await stixValidator((options as StixParserOptions).stixSchemaDir);
  const { objects, label } = unwrapStix(await readJsonBody(body, 'stix'));

  objects.forEach((object, i) => {
    if (typeof object !== 'object' || object === null || Array.isArray(object)) {
      throw new Error(
        `stix: ${label} object ${i} is ${describeJsonValue(object)}, not a STIX object`,
      );
    }
    const problem = validator.validate(object as StixObject);
    if (problem) {
      const o = object as StixObject;
      const name = typeof o.id === 'string' ? o.id : typeof o.type === 'string' ? o.type : 'no id';
      throw new Error(`stix: ${label} object ${i} (${name}) fails the STIX 2.1 schema: ${problem}`);
    }
  });

  const all = objects as StixObject[];
  const techniquesOf = techniqueIndex(all);
  for (const indicator of latestIndicators(all)) {
    yield* indicatorItems(indicator, techniquesOf);
  }
};

/** Indicators in order of first appearance, each at its latest version. */
function latestIndicators(objects: StixObject[]): StixObject[] {
  const byId = new Map<string, StixObject>();
  for (const o of objects) {
    if (o.type !== 'indicator') continue;
    const id = o.id as string;
    const seen = byId.get(id);
    // Timestamps differ in their fractional digits, so compare instants, not strings.
    if (!seen || Date.parse(o.modified as string) > Date.parse(seen.modified as string))
      byId.set(id, o);
  }
  return [...byId.values()];
}

function attackTechniques(object: StixObject): string[] {
  const refs = Array.isArray(object.external_references)
    ? (object.external_references as StixObject[])
    : [];
  return refs
    .filter(
      (r) =>
        typeof r.source_name === 'string' &&
        ATTACK_NAME.test(r.source_name) &&
        typeof r.external_id === 'string' &&
        TECHNIQUE_ID.test(r.external_id),
    )
    .map((r) => r.external_id as string);
}

/** Maps an indicator id to the ATT&CK techniques of the attack-patterns it "indicates". */
function techniqueIndex(objects: StixObject[]): (indicatorId: string) => string[] {
  const patternTechniques = new Map<string, string[]>();
  for (const o of objects) {
    if (o.type === 'attack-pattern') patternTechniques.set(o.id as string, attackTechniques(o));
  }
  const byIndicator = new Map<string, string[]>();
  for (const o of objects) {
    if (o.type !== 'relationship' || o.relationship_type !== 'indicates' || o.revoked === true)
      continue;
    const found = patternTechniques.get(o.target_ref as string);
    if (!found?.length) continue;
    const source = o.source_ref as string;
    byIndicator.set(source, [...(byIndicator.get(source) ?? []), ...found]);
  }
  return (id) => byIndicator.get(id) ?? [];
}

function* indicatorItems(
  indicator: StixObject,
  techniquesOf: (id: string) => string[],
): Generator<ParserItem> {
  const id = indicator.id as string;
  if (indicator.revoked === true) {
    yield { kind: 'rejected', ref: id, reason: 'the indicator is revoked' };
    return;
  }
  if (indicator.pattern_type !== 'stix') {
    yield {
      kind: 'rejected',
      ref: id,
      reason: `pattern_type ${JSON.stringify(indicator.pattern_type)} is not supported; only "stix" patterns are read`,
    };
    return;
  }
  const reading = readStixPattern(indicator.pattern as string);
  if (!reading.ok) {
    yield { kind: 'rejected', ref: id, reason: reading.reason };
    return;
  }
  const shared = sharedFields(indicator, techniquesOf(id));
  const many = reading.comparisons.length > 1;
  for (const [n, comparison] of reading.comparisons.entries()) {
    const ref = many ? `${id}#${n + 1}` : id;
    const target = enforceable(comparison);
    if ('reason' in target) {
      yield { kind: 'rejected', ref, reason: target.reason };
      continue;
    }
    const record: ParsedRecord = {
      kind: 'record',
      value: target.value,
      typeHint: target.typeHint,
      record: indicator,
      ref,
      ...shared,
    };
    if (target.hashAlgorithm) record.attributes = { hashAlgorithm: target.hashAlgorithm };
    yield record;
  }
}

function sharedFields(indicator: StixObject, relatedTechniques: string[]): Partial<ParsedRecord> {
  const out: Partial<ParsedRecord> = {};
  if (typeof indicator.valid_from === 'string') out.validFrom = indicator.valid_from;
  if (typeof indicator.valid_until === 'string') out.validUntil = indicator.valid_until;
  if (typeof indicator.confidence === 'number') out.confidence = indicator.confidence;
  const tags = new Set<string>(
    Array.isArray(indicator.labels) ? (indicator.labels as string[]) : [],
  );
  if (Array.isArray(indicator.kill_chain_phases)) {
    for (const phase of indicator.kill_chain_phases as StixObject[]) {
      if (typeof phase.kill_chain_name === 'string' && ATTACK_NAME.test(phase.kill_chain_name))
        tags.add(phase.phase_name as string);
    }
  }
  if (tags.size > 0) out.tags = [...tags];
  const techniques = new Set([...attackTechniques(indicator), ...relatedTechniques]);
  if (techniques.size > 0) out.techniques = [...techniques];
  return out;
}

function enforceable(
  c: Comparison,
): { value: string; typeHint: IndicatorType; hashAlgorithm?: HashAlgorithm } | { reason: string } {
  // The object path decides first: for an object we never enforce, the operator is moot.
  const kind = targetOf(c);
  if (!kind)
    return { reason: `${c.pathText} is not an enforceable object path (supported: ${SUPPORTED})` };
  if (c.operator !== '=' || c.negated) {
    return {
      reason: `${c.pathText} ${c.negated ? 'NOT ' : ''}${c.operator} is not supported: only "=" names a value to enforce`,
    };
  }
  if (c.value?.kind !== 'string')
    return {
      reason: `${c.pathText} is compared with a ${c.value?.kind ?? 'missing'} value, not a string`,
    };
  const value = c.value.value;
  switch (kind.type) {
    case 'ipv4':
    case 'ipv6':
      return { value, typeHint: ipHint(value, kind.type) };
    case 'hash':
      return { value, typeHint: 'hash', hashAlgorithm: kind.hashAlgorithm };
    default:
      return { value, typeHint: kind.type };
  }
}

type Target =
  | { type: 'ipv4' | 'ipv6' | 'domain' | 'url' | 'account' }
  | { type: 'hash'; hashAlgorithm: HashAlgorithm };

function targetOf(c: Comparison): Target | undefined {
  const property = c.path.join('.');
  switch (c.objectType) {
    case 'ipv4-addr':
      return property === 'value' ? { type: 'ipv4' } : undefined;
    case 'ipv6-addr':
      return property === 'value' ? { type: 'ipv6' } : undefined;
    case 'domain-name':
      return property === 'value' ? { type: 'domain' } : undefined;
    case 'url':
      return property === 'value' ? { type: 'url' } : undefined;
    case 'user-account':
      // account_login is what the user signs in with. user_id is "the identifier of the
      // account" in its system (STIX 2.1 section 6.16): as often an account name or email
      // address as a number or GUID. Both are taken as the login; one that is no login
      // finds no user at the provider. Other properties (display_name, ...) name no one.
      return property === 'account_login' || property === 'user_id'
        ? { type: 'account' }
        : undefined;
    case 'email-addr':
      return property === 'value' ? { type: 'account' } : undefined;
    case 'file': {
      // STIX writes hash names quoted ('SHA-256'); producers also write SHA256 or sha256.
      const algorithm =
        c.path.length === 2 && c.path[0] === 'hashes'
          ? HASHES[c.path[1]!.toUpperCase().replace(/-/g, '')]
          : undefined;
      return algorithm ? { type: 'hash', hashAlgorithm: algorithm } : undefined;
    }
    default:
      return undefined;
  }
}
