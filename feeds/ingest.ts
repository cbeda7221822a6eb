import { compileCel } from '../cel/compile.js';
// The duration parser and the spec type only: crds/index.js would load the ajv validators into every ingestion worker.
import { parseDuration } from '../crds/duration.js';
import type { ThreatFeedSpec } from '../crds/generated/types.js';
import { CelCompileError } from '../cel/errors.js';
import { ASSUMED_INPUT_BOUNDS } from '../cel/limits.js';
import { aggregateIpv6, Ipv4Set } from '../lib/net.js';
import type { Guardrails } from './guardrails.js';
import {
  indicatorKey,
  type Indicator,
  type IndicatorType,
  type ParserItem,
  type ParserOptions,
} from './indicator.js';
import { formatIpv4, parseCidr, parseIpv4, parseIpv6, sortIpv4AsText } from '../lib/ip.js';
import { normalise } from './normalise.js';
import { gunzipIfCompressed } from './parsers/body.js';
import { parserFor, type FeedFormat } from './parsers/index.js';
import { readIpLines } from './parsers/lines.js';
import { FeedCapError } from './caps.js';

/**
 * One feed body in, the kept indicators and an account of everything else out:
 * parse → normalise → confidence → expiry → guardrails → dedupe. The controller and
 * `forestall feed parse` both run exactly this.
 */
export interface IngestOptions {
  feed: string;
  format: FeedFormat;
  parser?: ParserOptions;
  confidence?: { default?: number; expression?: string };
  /** Lifetime of indicators the feed gives no expiry for. */
  ttlMs?: number;
  now: Date;
  guardrails: Guardrails;
  /** How many rejected and dropped examples to keep (all are counted). Default 20. */
  sampleSize?: number;
  /** Per-feed caps; each defaults to DEFAULT_INGEST_CAPS. */
  caps?: Partial<IngestCaps>;
}

/**
 * What a ThreatFeed's spec says about ingesting it: format, parser, confidence and the
 * lifetime of indicators the feed gives none. One reading of the spec for every caller
 * (the controller's sync and `forestall plan`), which add the time, the guardrails and
 * their limits.
 */
export function ingestSpecOf(
  name: string,
  spec: Pick<ThreatFeedSpec, 'format' | 'parser' | 'confidence' | 'ttl'>,
): Pick<IngestOptions, 'feed' | 'format' | 'parser' | 'confidence' | 'ttlMs'> {
  return {
    feed: name,
    format: spec.format,
    parser: spec.parser,
    confidence: spec.confidence,
    ttlMs: parseDuration(spec.ttl ?? '168h'),
  };
}

/**
 * What one sync of one feed may hold. Records and indicators bound the work and the
 * memory of a sync: passing either fails the sync (FeedCapError, FST_FEED_CAP_EXCEEDED)
 * and the last-known-good snapshot stays, because a truncated feed would look as if
 * the rest had been withdrawn. Tags are bounded per indicator, at the numbers the CEL
 * cost estimate assumes (policies/cel/limits.ts ASSUMED_INPUT_BOUNDS: listLength tags,
 * listItemLength characters each): longer tags and tags past the count are dropped
 * from the indicator, counted in IngestResult.capped, and the sync is kept.
 *
 * 250,000 indicators is about twice the largest feed we ship a copy of (IPsum, 120k).
 * In the ingestion worker that is about 130 MB of heap (feeds/sandbox.ts has the
 * measurements), and the result, held by the controller as the feed's snapshot, about
 * 75 MB. 1,000,000 records is what an 8 MiB byte cap holds of the shortest lines.
 */
export interface IngestCaps {
  maxRecords: number;
  maxIndicators: number;
  maxTagsPerIndicator: number;
  maxTagLength: number;
}

export const DEFAULT_INGEST_CAPS: Readonly<IngestCaps> = Object.freeze({
  maxRecords: 1_000_000,
  maxIndicators: 250_000,
  maxTagsPerIndicator: ASSUMED_INPUT_BOUNDS.listLength,
  maxTagLength: ASSUMED_INPUT_BOUNDS.listItemLength,
});

/** Indicators whose tags were cut to the caps, and the largest count and length seen. */
export interface CappedTags {
  indicators: number;
  maxTagsSeen: number;
  longestTagSeen: number;
}

export interface IngestResult {
  /** Kept indicators, one per type and value, sorted by type then value (empty from summariseIpLines). */
  indicators: Indicator[];
  /** How many indicators were kept. */
  kept: number;
  byType: Partial<Record<IndicatorType, number>>;
  /** Records the parser produced (kept, dropped and rejected together). */
  records: number;
  /** Malformed records. */
  rejected: number;
  rejectedSamples: { ref: string; reason: string }[];
  /** Distinct indicators refused by guardrails or already expired, by reason. */
  dropped: Record<string, number>;
  droppedSamples: { value: string; reason: string }[];
  /** Minimal CIDRs covering every kept IPv4/IPv6 address and CIDR. */
  aggregatedCidrs: number;
  /** Set when some indicator's tags passed maxTagsPerIndicator or maxTagLength. */
  capped?: CappedTags;
}

function recordsCap(limit: number): FeedCapError {
  return new FeedCapError(
    'records',
    limit,
    `the feed has more than ${limit} records (the records cap)`,
  );
}

function indicatorsCap(limit: number): FeedCapError {
  return new FeedCapError(
    'indicators',
    limit,
    `the feed has more than ${limit} distinct indicators (the indicators cap)`,
  );
}

export class ConfidenceExpressionError extends Error {
  override readonly name = 'ConfidenceExpressionError';
}

type Evaluate = (ctx: Record<string, unknown>) => unknown;

const CONFIDENCE_FIELD = 'spec.confidence.expression';

/**
 * Compiles the feed's confidence expression once, under the policy CEL limits
 * (policies/cel/limits.ts): source length, parser limits, the worst-case cost estimate
 * and safe regex literals, so `matches('^(a+)+$')` is refused here, with the field
 * path, instead of backtracking for seconds per record. A typo is reported the same way.
 */
export function compileConfidence(expression: string | undefined): Evaluate | undefined {
  if (!expression) return undefined;
  try {
    return compileCel(expression, CONFIDENCE_FIELD, 'confidence').evaluate;
  } catch (err) {
    if (err instanceof CelCompileError) throw new ConfidenceExpressionError(err.message);
    throw err;
  }
}

/**
 * Why `record` is outside the sizes the confidence expression's cost estimate assumes
 * (policies/cel/analysis.ts RECORD_SHAPE), or undefined when it is within them: every
 * string at most valueLength characters, every list or map at most valueLength entries.
 * Such a record is rejected rather than scored, so no record makes an expression cost
 * more than its estimate. Iterative, so a deeply nested record cannot overflow the stack.
 */
export function recordBoundsProblem(record: unknown): string | undefined {
  const limit = ASSUMED_INPUT_BOUNDS.valueLength;
  const stack: unknown[] = [record];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.length > limit) return `a string of ${v.length} characters (at most ${limit})`;
    } else if (Array.isArray(v)) {
      if (v.length > limit) return `a list of ${v.length} entries (at most ${limit})`;
      for (const x of v) stack.push(x);
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      if (entries.length > limit) return `a map of ${entries.length} entries (at most ${limit})`;
      for (const [k, x] of entries) stack.push(k, x);
    }
  }
  return undefined;
}

/** Sorted, without tags longer than maxTagLength, at most maxTagsPerIndicator; undefined when nothing had to go. */
function boundTags(tags: readonly string[], caps: IngestCaps): string[] | undefined {
  if (tags.length <= caps.maxTagsPerIndicator && tags.every((t) => t.length <= caps.maxTagLength))
    return undefined;
  return tags
    .filter((t) => t.length <= caps.maxTagLength)
    .sort()
    .slice(0, caps.maxTagsPerIndicator);
}

function clampConfidence(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) ? Math.max(0, Math.min(100, Math.round(n))) : undefined;
}

/** Folds `b` into `a`: highest confidence wins, tags and sources are united, the earliest firstSeen and latest validUntil kept. */
export function mergeIndicator(a: Indicator, b: Indicator): Indicator {
  const union = (x: string[] | undefined, y: string[] | undefined) =>
    [...new Set([...(x ?? []), ...(y ?? [])])].sort();
  const min = (x?: string, y?: string) => (x && y ? (x < y ? x : y) : (x ?? y));
  const max = (x?: string, y?: string) => (x && y ? (x > y ? x : y) : (x ?? y));
  const winner = b.confidence > a.confidence ? b : a;
  const merged: Indicator = {
    ...winner,
    sources: union(a.sources, b.sources),
    tags: union(a.tags, b.tags),
    attributes:
      a.attributes || b.attributes
        ? { ...a.attributes, ...b.attributes, ...winner.attributes }
        : undefined,
  };
  const techniques = union(a.techniques, b.techniques);
  if (techniques.length) merged.techniques = techniques;
  const firstSeen = min(a.firstSeen, b.firstSeen);
  const lastSeen = max(a.lastSeen, b.lastSeen);
  const validUntil = max(a.validUntil, b.validUntil);
  if (firstSeen) merged.firstSeen = firstSeen;
  if (lastSeen) merged.lastSeen = lastSeen;
  if (validUntil) merged.validUntil = validUntil;
  if (!merged.attributes) delete merged.attributes;
  return merged;
}

/** Parses one body with the format's parser, then ingests the records. */
export function ingest(
  body: AsyncIterable<Uint8Array>,
  opts: IngestOptions,
): Promise<IngestResult> {
  if (linesFastPath(opts)) return ingestLines(body, opts);
  return ingestItems(parserFor(opts.format)(gunzipIfCompressed(body), opts.parser ?? {}), opts);
}

/** Ingests records from any parser, including ones that read several files (a MISP feed). */
export async function ingestItems(
  items: AsyncIterable<ParserItem>,
  opts: IngestOptions,
): Promise<IngestResult> {
  const evaluate = compileConfidence(opts.confidence?.expression);
  const caps: IngestCaps = { ...DEFAULT_INGEST_CAPS, ...opts.caps };
  const defaultConfidence = opts.confidence?.default ?? 50;
  const sampleSize = opts.sampleSize ?? 20;
  const nowIso = opts.now.toISOString();
  const ttlUntil = opts.ttlMs ? new Date(opts.now.getTime() + opts.ttlMs).toISOString() : undefined;
  const kept = new Map<string, Indicator>();
  const result: IngestResult = {
    indicators: [],
    kept: 0,
    byType: {},
    records: 0,
    rejected: 0,
    rejectedSamples: [],
    dropped: {},
    droppedSamples: [],
    aggregatedCidrs: 0,
  };
  const reject = (ref: string, reason: string) => {
    result.rejected++;
    if (result.rejectedSamples.length < sampleSize) result.rejectedSamples.push({ ref, reason });
  };
  // Each refused indicator counts once, however many lines repeat it.
  const refused = new Set<string>();
  const capped = new Set<string>();
  const drop = (value: string, reason: string) => {
    if (refused.has(value)) return;
    refused.add(value);
    result.dropped[reason] = (result.dropped[reason] ?? 0) + 1;
    if (result.droppedSamples.length < sampleSize) result.droppedSamples.push({ value, reason });
  };

  for await (const item of items) {
    if (++result.records > caps.maxRecords) {
      throw recordsCap(caps.maxRecords);
    }
    if (item.kind === 'rejected') {
      reject(item.ref, item.reason);
      continue;
    }
    const n = normalise(item.value, item.attributes?.hashAlgorithm ? 'hash' : item.typeHint);
    if ('error' in n) {
      reject(item.ref, n.error);
      continue;
    }
    let confidence = item.confidence ?? defaultConfidence;
    if (evaluate) {
      const tooLarge = recordBoundsProblem(item.record);
      if (tooLarge) {
        reject(
          item.ref,
          `the record holds ${tooLarge}, more than the confidence expression may be given`,
        );
        continue;
      }
      let out: unknown;
      try {
        out = evaluate({ record: item.record });
      } catch (err) {
        reject(item.ref, `confidence expression: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      const c = clampConfidence(out);
      if (c === undefined) {
        reject(item.ref, `confidence expression returned ${typeof out}, not a number`);
        continue;
      }
      confidence = c;
    }
    const validUntil = item.validUntil ?? ttlUntil;
    if (validUntil && validUntil <= nowIso) {
      drop(n.value, 'expired');
      continue;
    }
    const reason = opts.guardrails.check(n);
    if (reason) {
      drop(n.value, reason);
      continue;
    }
    const indicator: Indicator = {
      type: n.type,
      value: n.value,
      confidence,
      sources: [opts.feed],
      tags: item.tags ?? [],
      ref: item.ref,
    };
    if (item.techniques?.length) indicator.techniques = item.techniques;
    if (item.validFrom) indicator.firstSeen = item.validFrom;
    if (validUntil) indicator.validUntil = validUntil;
    if (item.attributes) indicator.attributes = item.attributes;
    const key = indicatorKey(indicator);
    const prior = kept.get(key);
    if (!prior && kept.size >= caps.maxIndicators) {
      throw indicatorsCap(caps.maxIndicators);
    }
    const merged = prior ? mergeIndicator(prior, indicator) : indicator;
    // Bounded as they arrive, so a record with a million tags never sits in memory whole.
    const bounded = boundTags(merged.tags, caps);
    if (bounded) {
      capped.add(key);
      result.capped ??= { indicators: 0, maxTagsSeen: 0, longestTagSeen: 0 };
      result.capped.maxTagsSeen = Math.max(result.capped.maxTagsSeen, merged.tags.length);
      result.capped.longestTagSeen = merged.tags.reduce(
        (m, t) => Math.max(m, t.length),
        result.capped.longestTagSeen,
      );
      merged.tags = bounded;
    }
    kept.set(key, merged);
  }
  if (result.capped) result.capped.indicators = capped.size;

  result.indicators = [...kept.values()].sort((a, b) =>
    a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  );
  for (const i of result.indicators) result.byType[i.type] = (result.byType[i.type] ?? 0) + 1;
  result.kept = result.indicators.length;
  result.aggregatedCidrs = countAggregatedCidrs(result.indicators);
  return result;
}

/**
 * A `lines` feed with no confidence expression, read by the fast path: IPv4 addresses
 * go from the body's bytes into a typed-array set (readIpLines), guardrails are applied
 * to the set by merging sorted ranges, and every other line (CIDRs, IPv6, domains, URLs)
 * takes the ordinary per-record path. No Map, key string or object per line; each
 * distinct kept address becomes one Indicator only at the end (ingestLines), or none at
 * all (summariseIpLines). Kept, dropped and rejected counts are what ingest() reports;
 * what differs: the addresses carry no `ref` (line number), and the dropped samples
 * list refused addresses by guardrail, before the other values, not in line order.
 */
async function readLinesFast(
  body: AsyncIterable<Uint8Array>,
  opts: Omit<IngestOptions, 'confidence'>,
): Promise<{ rest: IngestResult; addresses: Ipv4Set; partial: Omit<IngestResult, 'indicators'> }> {
  const caps: IngestCaps = { ...DEFAULT_INGEST_CAPS, ...opts.caps };
  const lines = await readIpLines(gunzipIfCompressed(body), {
    ...opts.parser,
    minPrefix: 32,
    rejectedSampleSize: opts.sampleSize ?? 20,
  });
  const restCaps = {
    ...caps,
    maxRecords: Math.max(0, caps.maxRecords - lines.ipv4Lines - lines.rejected),
  };
  if (lines.ipv4Lines + lines.rejected > caps.maxRecords) throw recordsCap(caps.maxRecords);
  const rest = await ingestItems(
    (async function* () {
      yield* lines.other;
    })(),
    { ...opts, caps: restCaps },
  );
  // IPv4 values that took the slow path (IPv4-mapped ones, ::ffff:5.6.7.8) join the set,
  // so they count once with the same address written as IPv4, as ingest() counts them.
  const restIpv4 = rest.indicators.filter((i) => i.type === 'ipv4');
  for (const i of restIpv4) lines.v4.addAddress(parseIpv4(i.value)!);
  rest.indicators = rest.indicators.filter((i) => i.type !== 'ipv4');
  const dropped: Record<string, number> = { ...rest.dropped };
  const sampleSize = opts.sampleSize ?? 20;
  const droppedSamples: { value: string; reason: string }[] = [];
  const addresses = opts.guardrails.filterIpv4Addresses(
    lines.v4,
    dropped,
    droppedSamples,
    sampleSize,
  );
  const ipv4 = addresses.addressCount();
  const kept = ipv4 + rest.indicators.length;
  if (kept > caps.maxIndicators) throw indicatorsCap(caps.maxIndicators);
  return {
    rest,
    addresses,
    partial: {
      kept,
      byType: { ...rest.byType, ...(ipv4 ? { ipv4 } : {}) },
      records: lines.ipv4Lines + lines.rejected + rest.records,
      rejected: lines.rejected + rest.rejected,
      rejectedSamples: [
        ...lines.rejectedSamples.map((r) => ({ ref: r.ref, reason: r.reason })),
        ...rest.rejectedSamples,
      ].slice(0, opts.sampleSize ?? 20),
      dropped,
      droppedSamples: [...droppedSamples, ...rest.droppedSamples].slice(0, sampleSize),
      aggregatedCidrs: countAggregatedCidrs(rest.indicators, addresses),
    },
  };
}

/**
 * Whether a feed's ingestion may take the fast path for `lines` (readLinesFast): no
 * confidence expression to run per record, and a lifetime that does not expire
 * everything on arrival.
 */
export function linesFastPath(
  opts: Pick<IngestOptions, 'format' | 'confidence' | 'ttlMs'>,
): boolean {
  return opts.format === 'lines' && !opts.confidence?.expression && (opts.ttlMs ?? 0) >= 0;
}

/**
 * The IPv4 addresses a lines feed keeps, as one block instead of an object each: in the
 * order of their text (the snapshot order), with the facts they all share. The worker
 * hands it to the main thread as one transferred buffer.
 */
export interface Ipv4Block {
  addresses: Uint32Array;
  confidence: number;
  validUntil?: string;
}

/**
 * What ingest() returns for a `lines` feed with no confidence expression, by the fast
 * path (readLinesFast), with the kept IPv4 addresses as a block: `result.indicators`
 * holds the other indicators only. ipv4Indicators and withIpv4 make the one list.
 */
export async function ingestLinesCompact(
  body: AsyncIterable<Uint8Array>,
  opts: IngestOptions,
): Promise<{ result: IngestResult; ipv4: Ipv4Block }> {
  const { rest, addresses, partial } = await readLinesFast(body, opts);
  const ttlUntil = opts.ttlMs ? new Date(opts.now.getTime() + opts.ttlMs).toISOString() : undefined;
  const list = new Uint32Array(addresses.addressCount());
  const { starts, ends } = addresses.ranges();
  let n = 0;
  for (let r = 0; r < starts.length; r++)
    for (let a = starts[r]!; a <= ends[r]!; a++) list[n++] = a;
  return {
    result: { ...partial, indicators: rest.indicators },
    ipv4: {
      addresses: sortIpv4AsText(list),
      confidence: opts.confidence?.default ?? 50,
      ...(ttlUntil ? { validUntil: ttlUntil } : {}),
    },
  };
}

/** Indicators `from` to `to` of a block, sharing one sources list and one empty tag list. */
export function ipv4Indicators(
  block: Ipv4Block,
  sources: string[],
  from = 0,
  to = block.addresses.length,
): Indicator[] {
  const tags: string[] = Object.freeze([]) as unknown as string[];
  const out: Indicator[] = new Array<Indicator>(Math.max(0, to - from));
  const { confidence, validUntil } = block;
  // Every property in the literal: an object that gains one later keeps it out of line, which costs a million times over.
  for (let n = from; n < to; n++) {
    const value = formatIpv4(block.addresses[n]!);
    out[n - from] = validUntil
      ? { type: 'ipv4', value, confidence, sources, tags, validUntil }
      : { type: 'ipv4', value, confidence, sources, tags };
  }
  return out;
}

/** The other indicators (sorted by type, then value) with the IPv4 ones in their place. */
export function withIpv4(rest: readonly Indicator[], ipv4: readonly Indicator[]): Indicator[] {
  let at = 0;
  while (at < rest.length && rest[at]!.type < 'ipv4') at++;
  return [...rest.slice(0, at), ...ipv4, ...rest.slice(at)];
}

/**
 * What ingest() returns for a `lines` feed with no confidence expression, by the fast
 * path: `forestall feed parse --list`, `plan`, and the tests.
 */
export async function ingestLines(
  body: AsyncIterable<Uint8Array>,
  opts: IngestOptions,
): Promise<IngestResult> {
  const { result, ipv4 } = await ingestLinesCompact(body, opts);
  const sources = Object.freeze([opts.feed]) as unknown as string[];
  return { ...result, indicators: withIpv4(result.indicators, ipv4Indicators(ipv4, sources)) };
}

/**
 * The counts ingest() would report for a `lines` feed, without an object per indicator
 * (readLinesFast): `forestall feed parse` and the benchmark on feeds of millions of lines.
 */
export async function summariseIpLines(
  body: AsyncIterable<Uint8Array>,
  opts: Omit<IngestOptions, 'confidence'>,
): Promise<IngestResult> {
  const { partial } = await readLinesFast(body, opts);
  return { ...partial, indicators: [] };
}

/**
 * How many CIDRs the kept addresses and networks aggregate into (what enforcement
 * would carry), together with any IPv4 addresses already held in `base`.
 */
export function countAggregatedCidrs(indicators: readonly Indicator[], base?: Ipv4Set): number {
  const v4 = new Ipv4Set((base?.size ?? 0) + 1);
  if (base) v4.addAll(base);
  const v6: { start: bigint; end: bigint }[] = [];
  for (const i of indicators) {
    if (i.type === 'ipv4') v4.addAddress(parseIpv4(i.value)!);
    else if (i.type === 'ipv6') {
      const a = parseIpv6(i.value)!;
      v6.push({ start: a, end: a });
    } else if (i.type === 'cidr') {
      const c = parseCidr(i.value)!;
      if (c.family === 4) v4.addCidr(c.network, c.prefix);
      else v6.push({ start: c.network, end: c.network + (1n << BigInt(128 - c.prefix)) - 1n });
    }
  }
  return v4.cidrCount() + aggregateIpv6(v6).length;
}
