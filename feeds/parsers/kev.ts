/**
 * The kev format: the CISA Known Exploited Vulnerabilities catalog
 * (https://www.cisa.gov/known-exploited-vulnerabilities-catalog, schema in
 * shared/feeds/kev/kev-schema.json).
 *
 * One 'cve' record per vulnerability. The record exposed to the confidence expression is
 * the catalog entry as published; the facts policies match on are copied into
 * attributes, with knownRansomwareCampaignUse as a real boolean ("Known" → true; the
 * catalog's other value, "Unknown", means CISA lacks confirmation, so false).
 *
 * A catalog without catalogVersion, count and a vulnerabilities array is refused as a
 * whole, and so is one whose count differs from the entries it lists: a catalog that
 * contradicts itself was truncated, spliced or forged, and planning from the entries
 * alone would quietly isolate fewer workloads than CISA lists. Refusing costs at most
 * one sync's delay on a new entry, since the controller keeps the last good catalog in
 * force (Degraded) until a consistent one arrives. Single broken entries are still
 * rejected one by one and the rest kept.
 */
import type { Parser, ParserItem, ParserOptions } from '../indicator.js';
import { describeJsonValue, readJsonBody } from './body.js';

/** The cveID pattern of kev-schema.json. */
const CVE_ID = /^CVE-[0-9]{4}-[0-9]{4,19}$/;

/** Fields kev-schema.json requires of every entry besides cveID. */
const REQUIRED_TEXT = [
  'vendorProject',
  'product',
  'vulnerabilityName',
  'dateAdded',
  'shortDescription',
  'requiredAction',
  'dueDate',
] as const;

export interface KevCatalogHeader {
  catalogVersion: string;
  count: number;
  dateReleased?: string;
}

/** Checks the catalog's top-level shape and its count; returns its header and entries, or throws `kev: ...`. */
export function checkKevCatalog(document: unknown): {
  header: KevCatalogHeader;
  vulnerabilities: unknown[];
} {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new Error(
      `kev: the catalog is ${describeJsonValue(document)}, not an object with catalogVersion, count and vulnerabilities`,
    );
  }
  const doc = document as Record<string, unknown>;
  const missing: string[] = [];
  if (typeof doc.catalogVersion !== 'string') missing.push('catalogVersion (a string)');
  if (typeof doc.count !== 'number' || !Number.isInteger(doc.count) || doc.count < 0)
    missing.push('count (a non-negative integer)');
  if (!Array.isArray(doc.vulnerabilities)) missing.push('vulnerabilities (an array)');
  if (missing.length > 0) throw new Error(`kev: the catalog lacks ${missing.join(', ')}`);
  const listed = (doc.vulnerabilities as unknown[]).length;
  if (doc.count !== listed) {
    throw new Error(
      `kev: catalog ${JSON.stringify(doc.catalogVersion).slice(0, 66)} says count ${doc.count as number} but lists ${listed} ` +
        'vulnerabilities; a catalog that contradicts itself is refused',
    );
  }
  const header: KevCatalogHeader = {
    catalogVersion: doc.catalogVersion as string,
    count: doc.count as number,
  };
  if (typeof doc.dateReleased === 'string') header.dateReleased = doc.dateReleased;
  return { header, vulnerabilities: doc.vulnerabilities as unknown[] };
}

export const parseKev: Parser = async function* parseKev(
  body: AsyncIterable<Uint8Array>,
  _options: ParserOptions,
): AsyncGenerator<ParserItem> {
  const { vulnerabilities } = checkKevCatalog(await readJsonBody(body, 'kev'));
  for (let i = 0; i < vulnerabilities.length; i++) {
    yield toItem(vulnerabilities[i], i);
  }
};

function toItem(entry: unknown, index: number): ParserItem {
  const at = `vulnerabilities[${index}]`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { kind: 'rejected', ref: at, reason: 'the entry is not an object' };
  }
  const v = entry as Record<string, unknown>;
  if (typeof v.cveID !== 'string' || !CVE_ID.test(v.cveID)) {
    return {
      kind: 'rejected',
      ref: at,
      reason: `cveID ${JSON.stringify(v.cveID)} is not a CVE id (CVE-YYYY-NNNN)`,
    };
  }
  const ref = v.cveID;
  const absent = REQUIRED_TEXT.filter((k) => typeof v[k] !== 'string');
  if (absent.length > 0) {
    return { kind: 'rejected', ref, reason: `the entry lacks ${absent.join(', ')}` };
  }
  const ransomware = v.knownRansomwareCampaignUse === 'Known';
  return {
    kind: 'record',
    value: v.cveID,
    typeHint: 'cve',
    record: v,
    ref,
    tags: ransomware ? ['kev', 'ransomware'] : ['kev'],
    attributes: {
      vendor: v.vendorProject as string,
      product: v.product as string,
      vulnerabilityName: v.vulnerabilityName as string,
      dateAdded: v.dateAdded as string,
      dueDate: v.dueDate as string,
      knownRansomwareCampaignUse: ransomware,
      shortDescription: v.shortDescription as string,
      requiredAction: v.requiredAction as string,
    },
  };
}

export interface KevDelta {
  /** CVE ids in `next` but not in `previous`, in the order `next` lists them. */
  added: string[];
  /** CVE ids in `previous` but not in `next`, in the order `previous` lists them. */
  removed: string[];
}

/**
 * What changed between two versions of the catalog. Pure; used to replay successive
 * catalogs (and by anything that reports "new in KEV since the last sync").
 */
export function kevDelta(previous: Iterable<string>, next: Iterable<string>): KevDelta {
  const before = new Set(previous);
  const after = new Set(next);
  return {
    added: [...after].filter((id) => !before.has(id)),
    removed: [...before].filter((id) => !after.has(id)),
  };
}
