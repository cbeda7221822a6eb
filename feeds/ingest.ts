import { parse as parseCel } from '@marcbachmann/cel-js';
import { aggregateIpv6, Ipv4Set } from './aggregate.js';
import type { Guardrails } from './guardrails.js';
import { indicatorKey, type Indicator, type IndicatorType, type ParserItem, type ParserOptions } from './indicator.js';
import { parseCidr, parseIpv4, parseIpv6 } from '../lib/ip.js';
import { normalise } from './normalise.js';
import { gunzipIfCompressed } from './parsers/body.js';
import { parserFor, type FeedFormat } from './parsers/index.js';
import { readIpLines } from './parsers/lines.js';

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
}

export class ConfidenceExpressionError extends Error {}

type Evaluate = (ctx: Record<string, unknown>) => unknown;

/** Compiles the feed's confidence expression once; a typo is reported with the field path. */
export function compileConfidence(expression: string | undefined): Evaluate | undefined {
  if (!expression) return undefined;
  try {
    return parseCel(expression) as Evaluate;
  } catch (err) {
    throw new ConfidenceExpressionError(`spec.confidence.expression: ${(err as Error).message.split('\n')[0]}`);
  }
}

function clampConfidence(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) ? Math.max(0, Math.min(100, Math.round(n))) : undefined;
}

/** Folds `b` into `a`: highest confidence wins, tags and sources are united, the earliest firstSeen and latest validUntil kept. */
export function mergeIndicator(a: Indicator, b: Indicator): Indicator {
  const union = (x: string[] | undefined, y: string[] | undefined) => [...new Set([...(x ?? []), ...(y ?? [])])].sort();
  const min = (x?: string, y?: string) => (x && y ? (x < y ? x : y) : x ?? y);
  const max = (x?: string, y?: string) => (x && y ? (x > y ? x : y) : x ?? y);
  const winner = b.confidence > a.confidence ? b : a;
  const merged: Indicator = {
    ...winner,
    sources: union(a.sources, b.sources),
    tags: union(a.tags, b.tags),
    attributes: a.attributes || b.attributes ? { ...a.attributes, ...b.attributes, ...winner.attributes } : undefined,
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
export function ingest(body: AsyncIterable<Uint8Array>, opts: IngestOptions): Promise<IngestResult> {
  return ingestItems(parserFor(opts.format)(gunzipIfCompressed(body), opts.parser ?? {}), opts);
}

/** Ingests records from any parser, including ones that read several files (a MISP feed). */
export async function ingestItems(items: AsyncIterable<ParserItem>, opts: IngestOptions): Promise<IngestResult> {
  const evaluate = compileConfidence(opts.confidence?.expression);
  const defaultConfidence = opts.confidence?.default ?? 50;
  const sampleSize = opts.sampleSize ?? 20;
  const nowIso = opts.now.toISOString();
  const ttlUntil = opts.ttlMs ? new Date(opts.now.getTime() + opts.ttlMs).toISOString() : undefined;
  const kept = new Map<string, Indicator>();
  const result: IngestResult = { indicators: [], kept: 0, byType: {}, records: 0, rejected: 0, rejectedSamples: [], dropped: {}, droppedSamples: [], aggregatedCidrs: 0 };
  const reject = (ref: string, reason: string) => {
    result.rejected++;
    if (result.rejectedSamples.length < sampleSize) result.rejectedSamples.push({ ref, reason });
  };
  // Each refused indicator counts once, however many lines repeat it.
  const refused = new Set<string>();
  const drop = (value: string, reason: string) => {
    if (refused.has(value)) return;
    refused.add(value);
    result.dropped[reason] = (result.dropped[reason] ?? 0) + 1;
    if (result.droppedSamples.length < sampleSize) result.droppedSamples.push({ value, reason });
  };

  for await (const item of items) {
    result.records++;
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
    const indicator: Indicator = { type: n.type, value: n.value, confidence, sources: [opts.feed], tags: item.tags ?? [], ref: item.ref };
    if (item.techniques?.length) indicator.techniques = item.techniques;
    if (item.validFrom) indicator.firstSeen = item.validFrom;
    if (validUntil) indicator.validUntil = validUntil;
    if (item.attributes) indicator.attributes = item.attributes;
    const key = indicatorKey(indicator);
    const prior = kept.get(key);
    kept.set(key, prior ? mergeIndicator(prior, indicator) : indicator);
  }

  result.indicators = [...kept.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  for (const i of result.indicators) result.byType[i.type] = (result.byType[i.type] ?? 0) + 1;
  result.kept = result.indicators.length;
  result.aggregatedCidrs = countAggregatedCidrs(result.indicators);
  return result;
}

/**
 * The counts ingest() would report for a `lines` feed, without an object per
 * indicator: IPv4 addresses go from the body's bytes into a typed-array set
 * (readIpLines), guardrails are applied to it by merging sorted ranges, and every
 * other line (CIDRs, IPv6, domains, URLs) takes the ordinary per-record path. It
 * has no confidence expression to evaluate, so it serves `forestall feed parse` and
 * the benchmark on feeds of millions of lines; the controller keeps ingest(), which
 * returns the indicators themselves.
 */
export async function summariseIpLines(body: AsyncIterable<Uint8Array>, opts: Omit<IngestOptions, 'confidence'>): Promise<IngestResult> {
  const lines = await readIpLines(gunzipIfCompressed(body), { ...opts.parser, minPrefix: 32, rejectedSampleSize: opts.sampleSize ?? 20 });
  const rest = await ingestItems((async function* () { yield* lines.other; })(), opts);
  // IPv4 values that took the slow path (IPv4-mapped ones, ::ffff:5.6.7.8) join the set,
  // so they count once with the same address written as IPv4, as ingest() counts them.
  const restIpv4 = rest.indicators.filter((i) => i.type === 'ipv4');
  for (const i of restIpv4) lines.v4.addAddress(parseIpv4(i.value)!);
  const dropped: Record<string, number> = { ...rest.dropped };
  const addresses = opts.guardrails.filterIpv4Addresses(lines.v4, dropped);
  const ipv4 = addresses.addressCount();
  return {
    indicators: [],
    kept: ipv4 + rest.kept - restIpv4.length,
    byType: { ...rest.byType, ...(ipv4 ? { ipv4 } : {}) },
    records: lines.ipv4Lines + lines.rejected + rest.records,
    rejected: lines.rejected + rest.rejected,
    rejectedSamples: [...lines.rejectedSamples.map((r) => ({ ref: r.ref, reason: r.reason })), ...rest.rejectedSamples].slice(0, opts.sampleSize ?? 20),
    dropped,
    droppedSamples: rest.droppedSamples,
    aggregatedCidrs: countAggregatedCidrs(rest.indicators, addresses),
  };
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
