/**
 * The misp format: a MISP feed, as MISP's "feed" export and any MISP instance's feed
 * settings lay it out: manifest.json maps each event UUID to a summary (info, Orgc,
 * date, threat_level_id, Tag), and <uuid>.json holds the event itself, with its
 * attributes in Event.Attribute[] and inside objects in Event.Object[].Attribute[].
 *
 * Only attributes with to_ids set become records: MISP's own meaning of to_ids is
 * "fit for automated detection", and the rest are context (filenames, notes, benign
 * references) that must not become blocks. Deleted attributes are skipped too.
 *
 * Attribute types:
 *   ip-src, ip-dst                 ipv4 / ipv6 / cidr, by the value
 *   ip-src|port, ip-dst|port       the address, port stripped
 *   domain, hostname               domain
 *   domain|ip                      two records: the domain and the address
 *   url                            url
 *   md5, sha1, sha256, sha512      hash, with attributes.hashAlgorithm
 *   target-user, target-email,     account (through type-hints.ts, as a csv type
 *   email-src                      column of the same name would be)
 * Any other type with to_ids set is rejected with its type, so status shows what the
 * feed holds that we do not enforce.
 *
 * Each record's `record` (for the confidence expression) is the attribute as published
 * plus `event` (uuid, info, date, threat_level_id, analysis, Orgc) and, for object
 * attributes, `object` (name, uuid, meta-category). Tags are the event's (manifest and
 * event file) and the attribute's; ATT&CK technique ids are read from MISP galaxy tags
 * such as misp-galaxy:mitre-attack-pattern="Phishing - T1566". Confidence is left to
 * the feed's expression (MISP attributes carry none).
 */
import { FeedCapError } from '../caps.js';
import type { ParsedRecord, Parser, ParserItem, ParserOptions } from '../indicator.js';
import { describeJsonValue, readJsonBody } from './body.js';
import { ipHint, typeHintFor, type HashAlgorithm } from './type-hints.js';

type Json = Record<string, unknown>;

/** Reads one file of the feed by name ("manifest.json", "<uuid>.json") as a body. */
export type MispFileReader = (name: string) => Promise<AsyncIterable<Uint8Array>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GALAXY_TECHNIQUE =
  /^misp-galaxy:mitre-(?:[a-z]+-)*attack-pattern="[^"]*\s-\s(T\d{4}(?:\.\d{3})?)"$/;
const HASH_TYPES: Record<string, HashAlgorithm> = {
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
};

/** What every attribute of one event shares. */
interface EventContext {
  uuid: string;
  meta: Json;
  tags: string[];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** MISP has written its booleans both as JSON booleans and as "1"/"0" over the years. */
function flag(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 'true';
}

function tagNames(tags: unknown): string[] {
  if (!Array.isArray(tags)) return [];
  return tags.flatMap((t) => (isObject(t) && typeof t.name === 'string' ? [t.name] : []));
}

function eventMeta(source: Json): Json {
  const meta: Json = {};
  for (const key of ['uuid', 'info', 'date', 'threat_level_id', 'analysis', 'Orgc']) {
    if (source[key] !== undefined) meta[key] = source[key];
  }
  return meta;
}

/**
 * Yields the items of one MISP event document ({"Event": {...}}). `summary` is the
 * event's manifest entry when read as part of a feed: its tags add to the event's own,
 * and it fills in what the event file leaves out.
 */
export function* mispEventItems(
  document: unknown,
  label: string,
  summary?: Json,
): Generator<ParserItem> {
  if (!isObject(document) || !isObject(document.Event)) {
    throw new Error(
      `${label}: the body is ${describeJsonValue(document)} without an "Event" object, not a MISP event`,
    );
  }
  const event = document.Event;
  for (const key of ['Attribute', 'Object'] as const) {
    if (event[key] !== undefined && !Array.isArray(event[key]))
      throw new Error(`${label}: Event.${key} is ${describeJsonValue(event[key])}, not an array`);
  }
  const meta = { ...eventMeta(summary ?? {}), ...eventMeta(event) };
  const uuid = typeof meta.uuid === 'string' ? meta.uuid : label;
  const context: EventContext = {
    uuid,
    meta,
    tags: [...new Set([...tagNames(summary?.Tag), ...tagNames(event.Tag)])],
  };

  const attributes = (event.Attribute ?? []) as unknown[];
  for (const [i, attribute] of attributes.entries()) {
    yield* attributeItems(attribute, `${uuid} Attribute[${i}]`, context, undefined);
  }
  const objects = (event.Object ?? []) as unknown[];
  for (const [j, object] of objects.entries()) {
    const where = `${uuid} Object[${j}]`;
    if (!isObject(object)) {
      yield { kind: 'rejected', ref: where, reason: `the object is ${describeJsonValue(object)}` };
      continue;
    }
    if (flag(object.deleted)) continue;
    if (object.Attribute !== undefined && !Array.isArray(object.Attribute)) {
      yield {
        kind: 'rejected',
        ref: where,
        reason: `its Attribute is ${describeJsonValue(object.Attribute)}, not an array`,
      };
      continue;
    }
    const objectMeta: Json = {};
    for (const key of ['name', 'uuid', 'meta-category'])
      if (object[key] !== undefined) objectMeta[key] = object[key];
    for (const [i, attribute] of ((object.Attribute ?? []) as unknown[]).entries()) {
      yield* attributeItems(attribute, `${where}.Attribute[${i}]`, context, objectMeta);
    }
  }
}

function* attributeItems(
  attribute: unknown,
  where: string,
  event: EventContext,
  object: Json | undefined,
): Generator<ParserItem> {
  if (!isObject(attribute)) {
    yield {
      kind: 'rejected',
      ref: where,
      reason: `the attribute is ${describeJsonValue(attribute)}`,
    };
    return;
  }
  if (!flag(attribute.to_ids) || flag(attribute.deleted)) return;
  const ref = typeof attribute.uuid === 'string' ? attribute.uuid : where;
  const type = attribute.type;
  const raw = typeof attribute.value === 'string' ? attribute.value.trim() : '';
  if (typeof type !== 'string') {
    yield { kind: 'rejected', ref, reason: 'the attribute has no type' };
    return;
  }
  if (raw === '') {
    yield { kind: 'rejected', ref, reason: `the ${type} attribute has no value` };
    return;
  }

  const tags = [...new Set([...event.tags, ...tagNames(attribute.Tag)])];
  const techniques = [...new Set(tags.flatMap((t) => GALAXY_TECHNIQUE.exec(t)?.[1] ?? []))];
  const record: Json = { ...attribute, event: event.meta };
  if (object) record.object = object;
  const attributes: Record<string, string | number | boolean> = {
    mispType: type,
    eventUuid: event.uuid,
  };
  if (typeof attribute.category === 'string') attributes.category = attribute.category;
  if (typeof event.meta.info === 'string') attributes.eventInfo = event.meta.info;
  const org =
    isObject(event.meta.Orgc) && typeof event.meta.Orgc.name === 'string'
      ? event.meta.Orgc.name
      : undefined;
  if (org) attributes.org = org;
  const threatLevel = Number(event.meta.threat_level_id);
  if (Number.isInteger(threatLevel)) attributes.threatLevel = threatLevel;
  if (object && typeof object.name === 'string') attributes.mispObject = object.name;

  const make = (
    value: string,
    typeHint: ParsedRecord['typeHint'],
    itemRef: string,
    hashAlgorithm?: HashAlgorithm,
  ): ParsedRecord => {
    const item: ParsedRecord = {
      kind: 'record',
      value,
      typeHint,
      record,
      ref: itemRef,
      attributes: hashAlgorithm ? { ...attributes, hashAlgorithm } : attributes,
    };
    if (tags.length > 0) item.tags = tags;
    if (techniques.length > 0) item.techniques = techniques;
    return item;
  };

  switch (type) {
    case 'ip-src':
    case 'ip-dst':
      yield make(raw, ipHint(raw), ref);
      return;
    case 'ip-src|port':
    case 'ip-dst|port': {
      // The port follows the last "|"; an IPv6 address has colons but never a "|".
      const bar = raw.lastIndexOf('|');
      const address = (bar < 0 ? raw : raw.slice(0, bar)).trim();
      if (address === '') {
        yield {
          kind: 'rejected',
          ref,
          reason: `the ${type} value ${JSON.stringify(raw)} has no address`,
        };
        return;
      }
      yield make(address, ipHint(address), ref);
      return;
    }
    case 'domain':
    case 'hostname':
      yield make(raw, 'domain', ref);
      return;
    case 'url':
      yield make(raw, 'url', ref);
      return;
    case 'target-user':
    case 'target-email':
    case 'email-src':
      // Who was targeted, or who sent the mail: people, never network indicators. The
      // attribute's mispType stays in attributes, so a policy can tell them apart.
      yield make(raw, typeHintFor(type, raw)!.typeHint, ref);
      return;
    case 'domain|ip': {
      const [domain, address, ...rest] = raw.split('|').map((s) => s.trim());
      if (!domain || !address || rest.length > 0) {
        yield {
          kind: 'rejected',
          ref,
          reason: `the domain|ip value ${JSON.stringify(raw)} is not "<domain>|<ip>"`,
        };
        return;
      }
      yield make(domain, 'domain', `${ref}#domain`);
      yield make(address, ipHint(address), `${ref}#ip`);
      return;
    }
    default: {
      const algorithm = HASH_TYPES[type];
      if (algorithm) {
        yield make(raw, 'hash', ref, algorithm);
        return;
      }
      yield {
        kind: 'rejected',
        ref,
        reason: `MISP attribute type ${JSON.stringify(type)} is not supported`,
      };
    }
  }
}

/** One MISP event file as a Parser, for a source that holds a single event (a configMapRef, say). */
export const parseMispEvent: Parser = async function* parseMispEvent(
  body: AsyncIterable<Uint8Array>,
  _options: ParserOptions,
): AsyncGenerator<ParserItem> {
  yield* mispEventItems(await readJsonBody(body, 'misp'), 'misp');
};

async function readJsonFile(readFile: MispFileReader, name: string): Promise<unknown> {
  const label = `misp: ${name}`;
  try {
    return await readJsonBody(await readFile(name), label);
  } catch (err) {
    // readJsonBody's own errors already say what is wrong with the body; anything else
    // (a 404, a missing file, a reset connection) happened while fetching it.
    if (err instanceof Error && err.message.startsWith(`${label}: `)) throw err;
    // The cause keeps the fetch error's code (a byte cap, a deadline) for the caller.
    throw new Error(
      `misp: cannot read ${name}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * How many events one MISP feed may list. Each event is one more request and one more
 * file within the sync's byte budget and deadline (feeds/sync.ts);
 * the cap stops a manifest of a million tiny events from turning one sync into a
 * million requests. Public MISP feeds (CIRCL OSINT) list about 2,000.
 */
export const DEFAULT_MAX_MISP_EVENTS = 10_000;

export interface MispFeedOptions {
  /** Default DEFAULT_MAX_MISP_EVENTS. */
  maxEvents?: number;
}

/**
 * A whole MISP feed: the manifest, then each event it lists, in manifest order. Event
 * files are read one at a time, so memory holds one event, not the feed. A manifest
 * listing more than `maxEvents` events fails the sync (FeedCapError, cap mispEvents)
 * before any event file is requested.
 *
 * Any file that cannot be read or parsed refuses the whole feed: yielding the other
 * events would look like that event's indicators had been withdrawn, and the
 * controller would lift their blocks. A manifest key that is not a UUID is rejected
 * and its file never requested, since the name goes into a URL or a path.
 */
export async function* parseMispFeed(
  readFile: MispFileReader,
  options: MispFeedOptions = {},
): AsyncGenerator<ParserItem> {
  const manifest = await readJsonFile(readFile, 'manifest.json');
  if (!isObject(manifest)) {
    throw new Error(
      `misp: manifest.json is ${describeJsonValue(manifest)}, not an object mapping event UUIDs to event summaries`,
    );
  }
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_MISP_EVENTS;
  const events = Object.keys(manifest).length;
  if (events > maxEvents) {
    throw new FeedCapError(
      'mispEvents',
      maxEvents,
      `misp: manifest.json lists ${events} events; at most ${maxEvents} are read per sync (the MISP events cap)`,
    );
  }
  for (const [key, summary] of Object.entries(manifest)) {
    if (!UUID.test(key)) {
      yield {
        kind: 'rejected',
        ref: `manifest.json ${JSON.stringify(key)}`,
        reason: 'the key is not an event UUID, so its event file is not read',
      };
      continue;
    }
    const name = `${key}.json`;
    yield* mispEventItems(
      await readJsonFile(readFile, name),
      `misp: ${name}`,
      isObject(summary) ? summary : undefined,
    );
  }
}
