/**
 * The `lines` feed format: one IP, CIDR, domain or URL per line, optionally with more
 * columns, one of which may be a numeric score (IPsum writes `ip<TAB>count`).
 *
 * Rules, for both entry points below:
 * - lines end in LF or CRLF; the last line needs no newline; a UTF-8 BOM is ignored;
 * - blank lines, and lines whose first non-blank text starts with the comment prefix
 *   (default "#", "" turns comments off), are skipped; a column that starts with the
 *   prefix ends the line, so "1.2.3.4  # scanner" is the value 1.2.3.4;
 * - columns are split on runs of spaces and tabs by default, or on the exact
 *   `delimiter` (each column then trimmed of spaces and tabs); `valueColumn`
 *   (default 0) holds the value, `scoreColumn` (no default: no score) the score;
 * - a line whose value column is missing, whose score is not a decimal number, or
 *   that is longer than {@link MAX_LINE_BYTES} is rejected, and reading goes on;
 * - with the default splitting on blanks, a line holds the value, the score (when
 *   `scoreColumn` is set) and nothing after them but a comment. Trailing text
 *   ("1.2.3.4 junk", "evil.example/path extra", or IPsum's count read without
 *   `scoreColumn`) rejects the line: the feed does not say what the format says, and
 *   whatever the extra text meant (a second indicator, a hosts-file layout, a score) is
 *   not what would be enforced. With an exact `delimiter` the line is a table row, and
 *   columns after the ones read are data the feed chose not to use; they are ignored.
 *   Text glued to the value ("1.2.3.4;evil.example") is part of the value, which
 *   normalisation then refuses.
 *
 * The body is read chunk by chunk and split on bytes; only one partial line is ever
 * carried between chunks, so memory does not grow with the body.
 */
import type {
  ParsedRecord,
  Parser,
  ParserItem,
  ParserOptions,
  RejectedRecord,
} from '../indicator.js';
import { Ipv4Set } from '../../lib/net.js';
import {
  ipv4Broadcast,
  ipv4Network,
  packedCidrNetwork,
  packedCidrPrefix,
  parseIpv4CidrBytes,
} from '../../lib/ip.js';

/** Longer lines are rejected, so a body without newlines cannot make the carry buffer grow without bound. */
export const MAX_LINE_BYTES = 16 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Called once per physical line, without its line ending. `tooLong` lines come with an empty slice. */
type LineVisitor = (
  bytes: Uint8Array,
  start: number,
  end: number,
  lineNumber: number,
  tooLong: boolean,
) => void;

/**
 * A faster reader for whole lines inside one chunk: reads lines from `from` on and
 * returns where the first line it could not finish (because the chunk ends inside it)
 * starts. It counts the lines it consumes in `splitter.lineNumber`.
 */
type ChunkScanner = (bytes: Uint8Array, from: number, splitter: LineSplitter) => number;

/**
 * Splits a stream of byte chunks into lines. Lines wholly inside a chunk are handed
 * out as slices of that chunk (no copy); only a line split across chunks is copied,
 * into a carry buffer of at most MAX_LINE_BYTES.
 */
class LineSplitter {
  lineNumber = 0;
  private carry = new Uint8Array(256);
  private carryLength = 0;
  private carryTooLong = false;

  get lines(): number {
    return this.lineNumber;
  }

  push(input: Uint8Array, visit: LineVisitor, scan?: ChunkScanner): void {
    // One element kind for every byte source (Buffer, plain Uint8Array, the carry)
    // keeps the per-byte code monomorphic in V8.
    const chunk =
      input.constructor === Uint8Array
        ? input
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    const length = chunk.length;
    let pos = 0;
    if (this.carryLength > 0 || this.carryTooLong) {
      const newline = indexOfNewline(chunk, 0);
      if (newline < 0) {
        this.appendCarry(chunk, 0, length);
        return;
      }
      this.appendCarry(chunk, 0, newline);
      this.emitCarry(visit);
      pos = newline + 1;
    }
    if (scan !== undefined) {
      pos = scan(chunk, pos, this);
    } else {
      for (;;) {
        const newline = indexOfNewline(chunk, pos);
        if (newline < 0) break;
        this.emitLine(chunk, pos, newline, visit);
        pos = newline + 1;
      }
    }
    if (pos < length) this.appendCarry(chunk, pos, length);
  }

  /** Hands `bytes[start, newline)` to `visit` as the next line; for scanners too. */
  emitLine(bytes: Uint8Array, start: number, newline: number, visit: LineVisitor): void {
    const lineNumber = ++this.lineNumber;
    const end = newline > start && bytes[newline - 1] === CR ? newline - 1 : newline;
    if (end - start > MAX_LINE_BYTES) visit(bytes, start, start, lineNumber, true);
    else visit(bytes, start, end, lineNumber, false);
  }

  /** Hands out the last line when the body did not end with a newline. */
  end(visit: LineVisitor): void {
    if (this.carryLength > 0 || this.carryTooLong) this.emitCarry(visit);
  }

  private appendCarry(chunk: Uint8Array, from: number, to: number): void {
    if (this.carryTooLong) return;
    const needed = this.carryLength + (to - from);
    if (needed > MAX_LINE_BYTES + 1) {
      // +1 leaves room for the CR of a CRLF line that is exactly MAX_LINE_BYTES long.
      this.carryTooLong = true;
      this.carryLength = 0;
      return;
    }
    if (needed > this.carry.length) {
      const bigger = new Uint8Array(
        Math.min(MAX_LINE_BYTES + 1, Math.max(needed, this.carry.length * 2)),
      );
      bigger.set(this.carry.subarray(0, this.carryLength));
      this.carry = bigger;
    }
    this.carry.set(chunk.subarray(from, to), this.carryLength);
    this.carryLength = needed;
  }

  private emitCarry(visit: LineVisitor): void {
    const lineNumber = ++this.lineNumber;
    let end = this.carryLength;
    if (end > 0 && this.carry[end - 1] === CR) end--;
    if (this.carryTooLong || end > MAX_LINE_BYTES) visit(this.carry, 0, 0, lineNumber, true);
    else visit(this.carry, 0, end, lineNumber, false);
    this.carryLength = 0;
    this.carryTooLong = false;
  }
}

/** A plain loop: for short lines it beats TypedArray#indexOf, whose per-call cost dominates. */
function indexOfNewline(bytes: Uint8Array, from: number): number {
  const length = bytes.length;
  for (let i = from; i < length; i++) if (bytes[i] === LF) return i;
  return -1;
}

/** Options resolved once per body, with the delimiter and comment prefix as bytes. */
interface ColumnLayout {
  delimiter: Uint8Array | undefined;
  comment: Uint8Array;
  valueColumn: number;
  scoreColumn: number;
}

function layoutOf(options: ParserOptions): ColumnLayout {
  // A tab is an exact delimiter (so TSV keeps its empty columns); other blank or
  // missing delimiters mean "any run of spaces and tabs".
  const given = options.delimiter;
  const delimiter =
    given === undefined || (given.trim() === '' && given !== '\t')
      ? undefined
      : encoder.encode(given);
  const valueColumn = options.valueColumn ?? 0;
  const scoreColumn = options.scoreColumn ?? -1;
  if (!Number.isInteger(valueColumn) || valueColumn < 0)
    throw new RangeError(`valueColumn must be a non-negative integer, got ${valueColumn}`);
  if (!Number.isInteger(scoreColumn) || scoreColumn < -1)
    throw new RangeError(`scoreColumn must be a non-negative integer, got ${scoreColumn}`);
  if (scoreColumn === valueColumn) throw new RangeError('valueColumn and scoreColumn must differ');
  return {
    delimiter,
    comment: encoder.encode(options.commentPrefix ?? '#'),
    valueColumn,
    scoreColumn,
  };
}

function startsWith(bytes: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  const length = prefix.length;
  if (length === 0 || end - start < length) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== prefix[i]) return false;
  return true;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/**
 * Where {@link locateColumns} leaves its answer, so reading a line allocates nothing:
 * [valueStart, valueEnd, scoreStart, scoreEnd, trailingStart, trailingEnd], -1 where
 * the line has no such part. Read it right after the call; the next line overwrites it.
 */
const columnBounds = new Int32Array(6);

/** Finds the value and score columns of one line; false when it is blank or a comment. */
function locateColumns(
  bytes: Uint8Array,
  start: number,
  end: number,
  layout: ColumnLayout,
  lineNumber: number,
): boolean {
  let pos = start;
  if (
    lineNumber === 1 &&
    end - pos >= 3 &&
    bytes[pos] === 0xef &&
    bytes[pos + 1] === 0xbb &&
    bytes[pos + 2] === 0xbf
  )
    pos += 3;
  while (pos < end && isBlank(bytes[pos]!)) pos++;
  if (pos === end || startsWith(bytes, pos, end, layout.comment)) return false;
  columnBounds.fill(-1);
  const wanted = layout.valueColumn > layout.scoreColumn ? layout.valueColumn : layout.scoreColumn;
  const delimiter = layout.delimiter;
  let column = 0;
  let ended = false;
  while (column <= wanted) {
    let fieldStart = pos;
    let fieldEnd: number;
    let next: number;
    if (delimiter === undefined) {
      while (pos < end && !isBlank(bytes[pos]!)) pos++;
      fieldEnd = pos;
      while (pos < end && isBlank(bytes[pos]!)) pos++;
      next = pos;
    } else {
      let at = pos;
      while (at < end && !startsWith(bytes, at, end, delimiter)) at++;
      fieldEnd = at;
      next = at < end ? at + delimiter.length : -1;
      while (fieldStart < fieldEnd && isBlank(bytes[fieldStart]!)) fieldStart++;
      while (fieldEnd > fieldStart && isBlank(bytes[fieldEnd - 1]!)) fieldEnd--;
    }
    // An inline comment ends the record; the columns before it still count.
    if (column > 0 && startsWith(bytes, fieldStart, fieldEnd, layout.comment)) {
      ended = true;
      break;
    }
    if (column === layout.valueColumn) {
      columnBounds[0] = fieldStart;
      columnBounds[1] = fieldEnd;
    } else if (column === layout.scoreColumn) {
      columnBounds[2] = fieldStart;
      columnBounds[3] = fieldEnd;
    }
    column++;
    if (delimiter === undefined ? next >= end : next < 0) {
      ended = true;
      break;
    }
    pos = next;
  }
  // Blank-split lines only (see the header): text after the last column read, unless it is a comment.
  if (!ended && delimiter === undefined && !startsWith(bytes, pos, end, layout.comment)) {
    let trailingEnd = end;
    while (trailingEnd > pos && isBlank(bytes[trailingEnd - 1]!)) trailingEnd--;
    columnBounds[4] = pos;
    columnBounds[5] = trailingEnd;
  }
  return true;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A decimal score, or NaN. Plain digits are read from bytes; anything else is
 * decoded and checked against a strict decimal grammar, refusing the hex and
 * "Infinity" that Number() alone would accept.
 */
function parseScoreBytes(bytes: Uint8Array, start: number, end: number): number {
  let value = 0;
  let i = start;
  for (; i < end; i++) {
    const c = bytes[i]! - 0x30;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  if (i === end && i > start && i - start <= 15) return value;
  const text = decoder.decode(bytes.subarray(start, end));
  if (!DECIMAL.test(text)) return Number.NaN;
  const parsed = Number(text);
  return Number.isFinite(parsed) ? parsed : Number.NaN;
}

/**
 * Reads one non-blank, non-comment line into a record, or a rejection. Shared by the
 * generic parser and the fall-back of {@link readIpLines}, so both read lines alike.
 */
function recordOf(bytes: Uint8Array, layout: ColumnLayout, lineNumber: number): ParserItem {
  const ref = `line ${lineNumber}`;
  const valueStart = columnBounds[0]!;
  if (valueStart < 0 || valueStart === columnBounds[1]) {
    return { kind: 'rejected', ref, reason: `no value in column ${layout.valueColumn}` };
  }
  const value = decoder.decode(bytes.subarray(valueStart, columnBounds[1]!));
  const record: Record<string, unknown> = { value, line: lineNumber };
  const scoreStart = columnBounds[2]!;
  if (scoreStart >= 0 && scoreStart < columnBounds[3]!) {
    const score = parseScoreBytes(bytes, scoreStart, columnBounds[3]!);
    if (Number.isNaN(score)) return scoreRejection(bytes, layout, lineNumber);
    record.score = score;
  }
  if (columnBounds[4]! >= 0) return trailingRejection(bytes, layout, lineNumber);
  return { kind: 'record', value, record, ref };
}

/** The reason a line with trailing text is refused, with a hint when the text looks like an unread score. */
function trailingRejection(
  bytes: Uint8Array,
  layout: ColumnLayout,
  lineNumber: number,
): RejectedRecord {
  const text = decoder.decode(bytes.subarray(columnBounds[4]!, columnBounds[5]!));
  const last = Math.max(layout.valueColumn, layout.scoreColumn);
  const holds =
    layout.scoreColumn >= 0
      ? `value (column ${layout.valueColumn}) and score (column ${layout.scoreColumn})`
      : 'value';
  const comment =
    layout.comment.length > 0
      ? `, then only a comment starting with ${JSON.stringify(decoder.decode(layout.comment))}`
      : '';
  const hint =
    layout.scoreColumn < 0 && DECIMAL.test(text.split(/[ \t]/, 1)[0]!)
      ? `; if it is a score, set scoreColumn ${last + 1}`
      : '';
  return {
    kind: 'rejected',
    ref: `line ${lineNumber}`,
    reason: `trailing text after column ${last}: ${JSON.stringify(text.slice(0, 64))} (a line holds the ${holds}${comment})${hint}`,
  };
}

function scoreRejection(
  bytes: Uint8Array,
  layout: ColumnLayout,
  lineNumber: number,
): RejectedRecord {
  const text = decoder.decode(bytes.subarray(columnBounds[2]!, columnBounds[3]!));
  return {
    kind: 'rejected',
    ref: `line ${lineNumber}`,
    reason: `score in column ${layout.scoreColumn} is not a number: ${JSON.stringify(text.slice(0, 64))}`,
  };
}

function tooLongRejection(lineNumber: number): RejectedRecord {
  return {
    kind: 'rejected',
    ref: `line ${lineNumber}`,
    reason: `line longer than ${MAX_LINE_BYTES} bytes`,
  };
}

/**
 * The generic `lines` parser: one record per value line, as the feed wrote it (type
 * detection and canonical form are feeds/normalise.ts's job). Records are yielded per
 * input chunk, so at most one chunk's worth is held at a time.
 */
export const parseLines: Parser = async function* parseLines(
  body: AsyncIterable<Uint8Array>,
  options: ParserOptions,
): AsyncIterable<ParserItem> {
  const layout = layoutOf(options);
  const splitter = new LineSplitter();
  let batch: ParserItem[] = [];
  const visit: LineVisitor = (bytes, start, end, lineNumber, tooLong) => {
    if (tooLong) {
      batch.push(tooLongRejection(lineNumber));
      return;
    }
    if (!locateColumns(bytes, start, end, layout, lineNumber)) return;
    batch.push(recordOf(bytes, layout, lineNumber));
  };
  for await (const chunk of body) {
    splitter.push(chunk, visit);
    if (batch.length > 0) {
      const ready = batch;
      batch = [];
      yield* ready;
    }
  }
  splitter.end(visit);
  yield* batch;
};

/**
 * Scores from a scored IP feed, one entry per IPv4 line in feed order, in parallel
 * typed arrays (a million lines cost 16 MiB, and no object each).
 */
export class Ipv4Scores {
  private starts = new Uint32Array(1024);
  private ends = new Uint32Array(1024);
  private values = new Float64Array(1024);
  private count = 0;

  get length(): number {
    return this.count;
  }

  add(start: number, end: number, score: number): void {
    if (this.count === this.starts.length) {
      const capacity = this.count * 2;
      const starts = new Uint32Array(capacity);
      const ends = new Uint32Array(capacity);
      const values = new Float64Array(capacity);
      starts.set(this.starts);
      ends.set(this.ends);
      values.set(this.values);
      this.starts = starts;
      this.ends = ends;
      this.values = values;
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.values[this.count++] = score;
  }

  /** Entry `index` as an inclusive range and its score. */
  at(index: number): { start: number; end: number; score: number } | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return { start: this.starts[index]!, end: this.ends[index]!, score: this.values[index]! };
  }

  /** How many entries scored at least `minimum`. */
  countAtLeast(minimum: number): number {
    let count = 0;
    for (let i = 0; i < this.count; i++) if (this.values[i]! >= minimum) count++;
    return count;
  }

  /** The set of addresses from entries scoring at least `minimum` (an IPsum "level N" list). */
  atLeast(minimum: number): Ipv4Set {
    const set = new Ipv4Set(this.count);
    for (let i = 0; i < this.count; i++) {
      if (this.values[i]! < minimum) continue;
      if (this.starts[i] === this.ends[i]) set.addAddress(this.starts[i]!);
      else set.addRange(this.starts[i]!, this.ends[i]!);
    }
    return set;
  }
}

export interface ReadIpLinesOptions extends ParserOptions {
  /**
   * IPv4 CIDRs with a prefix shorter than this are returned in `other` as records
   * instead of going into `v4`, so the guardrails see them one by one (and can refuse
   * an over-broad /4). Default 0: every IPv4 CIDR goes into the set.
   */
  minPrefix?: number;
  /** How many rejections to keep with their reasons (all are counted). Default 100. */
  rejectedSampleSize?: number;
}

export interface IpLinesResult {
  /** Every IPv4 address and CIDR (network form) from the feed. */
  v4: Ipv4Set;
  /** Present when `scoreColumn` is set: the score of each IPv4 line. Lines without a score column are not in it. */
  scores?: Ipv4Scores;
  /** Every other value line (IPv6, domains, URLs, anything not strict IPv4), as the generic parser yields it. */
  other: ParsedRecord[];
  /** IPv4 lines read into `v4`. */
  ipv4Lines: number;
  /** Lines rejected (bad score, missing value, too long). */
  rejected: number;
  /** The first rejections, with reasons. */
  rejectedSamples: RejectedRecord[];
  /** Physical lines read, including comments and blank lines. */
  lines: number;
}

/**
 * The fast path for big IP feeds: strict IPv4 addresses and CIDRs are parsed straight
 * from the body's bytes into an {@link Ipv4Set}, with no string or object per line.
 * Any other line becomes the same record {@link parseLines} would yield, in `other`.
 * Reads the same lines, and rejects the same ones, as {@link parseLines}.
 *
 * `other` is held in memory whole: for feeds that are mostly domains or URLs, stream
 * them through {@link parseLines} instead.
 */
export async function readIpLines(
  body: AsyncIterable<Uint8Array>,
  options: ReadIpLinesOptions = {},
): Promise<IpLinesResult> {
  const layout = layoutOf(options);
  const minPrefix = options.minPrefix ?? 0;
  const sampleSize = options.rejectedSampleSize ?? 100;
  const v4 = new Ipv4Set(64 * 1024);
  const scores = layout.scoreColumn >= 0 ? new Ipv4Scores() : undefined;
  const other: ParsedRecord[] = [];
  const rejectedSamples: RejectedRecord[] = [];
  let rejected = 0;
  let ipv4Lines = 0;
  const reject = (item: RejectedRecord): void => {
    rejected++;
    if (rejectedSamples.length < sampleSize) rejectedSamples.push(item);
  };

  const visit: LineVisitor = (bytes, start, end, lineNumber, tooLong) => {
    if (tooLong) {
      reject(tooLongRejection(lineNumber));
      return;
    }
    if (!locateColumns(bytes, start, end, layout, lineNumber)) return;
    const valueStart = columnBounds[0]!;
    const packed = valueStart >= 0 ? parseIpv4CidrBytes(bytes, valueStart, columnBounds[1]!) : -1;
    const prefix = packed >= 0 ? packedCidrPrefix(packed) : -1;
    if (prefix < minPrefix) {
      const item = recordOf(bytes, layout, lineNumber);
      if (item.kind === 'rejected') reject(item);
      else other.push(item);
      return;
    }
    let score = 0;
    const scoreStart = columnBounds[2]!;
    const hasScore = scoreStart >= 0 && scoreStart < columnBounds[3]!;
    if (hasScore) {
      score = parseScoreBytes(bytes, scoreStart, columnBounds[3]!);
      if (Number.isNaN(score)) {
        reject(scoreRejection(bytes, layout, lineNumber));
        return;
      }
    }
    if (columnBounds[4]! >= 0) {
      reject(trailingRejection(bytes, layout, lineNumber));
      return;
    }
    const network = packedCidrNetwork(packed);
    ipv4Lines++;
    if (prefix === 32) {
      v4.addAddress(network);
      if (hasScore) scores?.add(network, network, score);
    } else {
      const last = network + 2 ** (32 - prefix) - 1;
      v4.addRange(network, last);
      if (hasScore) scores?.add(network, last, score);
    }
  };

  /**
   * The hot loop for the usual shape, "a.b.c.d[/p][<blanks>score-or-anything]" at the
   * very start of the line: parses the address while looking for the line end, so
   * each byte is read once. Any line of another shape is handed, whole, to `visit`,
   * which reads it by the general rules; so this only ever changes speed, not results.
   */
  const scoreColumn = layout.scoreColumn;
  const comment = layout.comment;
  // Addresses and counters are gathered in locals and handed over in bulk: per line,
  // the hot loop then only writes into a typed array it owns.
  const pending = new Uint32Array(64 * 1024);
  const scan: ChunkScanner = (bytes, from, splitter) => {
    const length = bytes.length;
    let pos = from;
    let pendingLength = 0;
    let fastLines = 0;
    // Each pass reads one line. A line the chunk ends inside is left, from its start,
    // for the carry ("break lines" with pos = lineStart).
    lines: while (pos < length) {
      const lineStart = pos;
      let value = 0;
      let octet = 0;
      let digits = 0;
      let dots = 0;
      let shaped = true;
      let i = pos;
      let c = 0;
      for (; i < length; i++) {
        c = bytes[i]!;
        if (c >= 0x30 && c <= 0x39) {
          // A second digit after a leading "0" is a leading zero: refused (ip.ts).
          if (digits === 1 && octet === 0) {
            shaped = false;
            break;
          }
          octet = octet * 10 + (c - 0x30);
          digits++;
          if (octet > 255) {
            shaped = false;
            break;
          }
        } else if (c === 0x2e) {
          if (digits === 0 || dots === 3) {
            shaped = false;
            break;
          }
          value = value * 256 + octet;
          octet = 0;
          digits = 0;
          dots++;
        } else {
          break;
        }
      }
      if (i === length) {
        pos = lineStart;
        break lines;
      }
      if (dots !== 3 || digits === 0) shaped = false;

      let prefix = 32;
      if (shaped && c === 0x2f) {
        prefix = 0;
        let prefixDigits = 0;
        for (i++; i < length; i++) {
          c = bytes[i]!;
          if (c < 0x30 || c > 0x39) break;
          prefix = prefix * 10 + (c - 0x30);
          prefixDigits++;
        }
        if (i === length) {
          pos = lineStart;
          break lines;
        }
        if (
          prefixDigits === 0 ||
          prefixDigits > 2 ||
          prefix > 32 ||
          (prefixDigits === 2 && prefix < 10)
        )
          shaped = false;
      }
      if (prefix < minPrefix) shaped = false;

      let score = 0;
      let hasScore = false;
      if (shaped && scoreColumn === 1 && (c === 0x20 || c === 0x09)) {
        while (i < length && ((c = bytes[i]!) === 0x20 || c === 0x09)) i++;
        let scoreDigits = 0;
        for (; i < length; i++) {
          c = bytes[i]!;
          if (c < 0x30 || c > 0x39) break;
          score = score * 10 + (c - 0x30);
          scoreDigits++;
        }
        if (i === length) {
          pos = lineStart;
          break lines;
        }
        hasScore = scoreDigits > 0;
        // Beyond 15 digits a double loses integers; the general path reads such scores.
        // A sign, fraction or comment stops the digits and is caught by the check below.
        if (scoreDigits > 15) shaped = false;
      }
      // The value (or score) must end at a blank or the line end; "1.2.3.4x" is not an address.
      if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) shaped = false;
      // After the blanks, only the line end or a comment: anything else is trailing text,
      // which the general path rejects. One comparison for the usual "ip<TAB>count<LF>".
      if (shaped && (c === 0x20 || c === 0x09)) {
        let j = i + 1;
        while (j < length && (bytes[j] === 0x20 || bytes[j] === 0x09)) j++;
        if (j === length) {
          pos = lineStart;
          break lines;
        }
        if (bytes[j] !== 0x0a && !startsWith(bytes, j, length, comment)) shaped = false;
      }
      // A CR ends the line only right before the LF, as in the general path.
      if (c === 0x0d) {
        if (i + 1 === length) {
          pos = lineStart;
          break lines;
        }
        if (bytes[i + 1] !== 0x0a) shaped = false;
      }

      // Find the line end; other columns after the value are not needed here.
      let newline = i;
      while (newline < length && bytes[newline] !== 0x0a) newline++;
      if (newline === length) {
        pos = lineStart;
        break lines;
      }
      if (!shaped || newline - lineStart > MAX_LINE_BYTES) {
        // The general path needs the right line number, so the count is settled first.
        splitter.lineNumber += fastLines;
        ipv4Lines += fastLines;
        fastLines = 0;
        splitter.emitLine(bytes, lineStart, newline, visit);
      } else {
        fastLines++;
        const network = value * 256 + octet;
        if (prefix === 32) {
          if (pendingLength === pending.length) {
            v4.addAddresses(pending);
            pendingLength = 0;
          }
          pending[pendingLength++] = network;
          if (hasScore) scores!.add(network, network, score);
        } else {
          const first = ipv4Network(network, prefix);
          const last = ipv4Broadcast(first, prefix);
          v4.addRange(first, last);
          if (hasScore) scores!.add(first, last, score);
        }
      }
      pos = newline + 1;
    }
    splitter.lineNumber += fastLines;
    ipv4Lines += fastLines;
    v4.addAddresses(pending.subarray(0, pendingLength));
    return pos;
  };
  const fast =
    layout.delimiter === undefined &&
    layout.valueColumn === 0 &&
    (scoreColumn < 0 || scoreColumn === 1);

  const splitter = new LineSplitter();
  for await (const chunk of body) splitter.push(chunk, visit, fast ? scan : undefined);
  splitter.end(visit);
  return {
    v4,
    ...(scores ? { scores } : {}),
    other,
    ipv4Lines,
    rejected,
    rejectedSamples,
    lines: splitter.lines,
  };
}
