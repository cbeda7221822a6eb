/**
 * Reading a feed body: collecting JSON documents, gunzipping compressed downloads, and
 * turning JSON syntax errors into messages that say exactly where the body broke.
 *
 * The controller shows a parser's error message in ThreatFeed status and keeps the
 * last-known-good snapshot, so "body is not JSON: unexpected end of input at byte
 * 123456" (a truncated download) must be told apart from "unexpected '<' at byte 0" (an
 * HTML error page) without anyone reading the body.
 */
import { gunzipIfGzip } from '../../lib/gzip.js';

/**
 * Collects a body into one Buffer. Only for JSON formats, whose bodies the source layer
 * caps (--feed-max-bytes, 8 MiB by default) before they reach a parser: JSON.parse needs the whole document anyway,
 * and one Buffer plus one string is the least that costs.
 */
export async function collectBytes(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    chunks.push(b);
    length += b.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
}

/** "an array", "null", "a string", ... for messages about a JSON value of the wrong kind. */
export function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

function bomLength(buf: Uint8Array): number {
  return buf[0] === UTF8_BOM[0] && buf[1] === UTF8_BOM[1] && buf[2] === UTF8_BOM[2] ? 3 : 0;
}

/**
 * Parses a whole JSON body, or throws `<label>: body is not JSON: <what> at byte <n>`.
 * A leading UTF-8 byte-order mark is skipped (some exporters write one; JSON.parse
 * rejects it). Byte offsets count from the start of the body as received.
 */
export async function readJsonBody(
  body: AsyncIterable<Uint8Array>,
  label: string,
): Promise<unknown> {
  const buf = await collectBytes(body);
  const skip = bomLength(buf);
  if (buf.length - skip === 0 || isAllWhitespace(buf, skip)) {
    throw new Error(`${label}: body is empty`);
  }
  const text = buf.toString('utf8', skip);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${label}: body is not JSON: ${describeJsonError(buf, skip, err)}`);
  }
}

function isAllWhitespace(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) {
    if (!isJsonWhitespace(buf[i]!)) return false;
  }
  return true;
}

/**
 * V8's messages name the problem but locate it inconsistently: some say "at position N"
 * (counting UTF-16 code units, not bytes), others only quote a snippet. We keep V8's
 * wording for what went wrong and locate it ourselves with a byte-level scan, so every
 * message ends in the same "at byte N".
 */
function describeJsonError(buf: Buffer, skip: number, err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const what = raw
    .replace(/ (?:in JSON )?at position \d+.*$/s, '')
    .replace(/, ".*"(?:\.\.\.)? is not valid JSON$/s, '');
  const at = jsonSyntaxErrorOffset(buf, skip);
  return at === undefined ? what : `${what} at byte ${at}`;
}

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

const enum Expect {
  Value,
  ValueOrArrayEnd,
  CommaOrArrayEnd,
  KeyOrObjectEnd,
  Key,
  Colon,
  CommaOrObjectEnd,
  End,
}

/**
 * The byte offset of the first JSON syntax error in buf (from `start`), or undefined if
 * the scan finds none (then V8 failed on something this scan does not check, such as
 * nesting too deep for its stack). The length of the body means "ended too early".
 * Iterative, so a deeply nested body cannot overflow our stack while we explain it.
 */
export function jsonSyntaxErrorOffset(buf: Uint8Array, start = 0): number | undefined {
  const stack: number[] = []; // 0x5b '[' or 0x7b '{'
  let expect = Expect.Value;
  let i = start;
  const n = buf.length;
  const afterValue = (): Expect => {
    const top = stack[stack.length - 1];
    return top === undefined
      ? Expect.End
      : top === 0x5b
        ? Expect.CommaOrArrayEnd
        : Expect.CommaOrObjectEnd;
  };
  while (i < n) {
    const c = buf[i]!;
    if (isJsonWhitespace(c)) {
      i++;
      continue;
    }
    switch (expect) {
      case Expect.End:
        return i;
      case Expect.Colon:
        if (c !== 0x3a) return i;
        expect = Expect.Value;
        i++;
        continue;
      case Expect.CommaOrArrayEnd:
      case Expect.CommaOrObjectEnd: {
        const inArray: boolean = expect === Expect.CommaOrArrayEnd;
        if (c === 0x2c) {
          expect = inArray ? Expect.Value : Expect.Key;
          i++;
          continue;
        }
        if (c === (inArray ? 0x5d : 0x7d)) {
          stack.pop();
          expect = afterValue();
          i++;
          continue;
        }
        return i;
      }
      case Expect.Key:
      case Expect.KeyOrObjectEnd:
        if (c === 0x7d && expect === Expect.KeyOrObjectEnd) {
          stack.pop();
          expect = afterValue();
          i++;
          continue;
        }
        if (c !== 0x22) return i;
        {
          const end = scanString(buf, i);
          if (end < 0) return -end - 1;
          i = end;
        }
        expect = Expect.Colon;
        continue;
      case Expect.Value:
      case Expect.ValueOrArrayEnd: {
        if (c === 0x5d && expect === Expect.ValueOrArrayEnd) {
          stack.pop();
          expect = afterValue();
          i++;
          continue;
        }
        if (c === 0x5b || c === 0x7b) {
          stack.push(c);
          expect = c === 0x5b ? Expect.ValueOrArrayEnd : Expect.KeyOrObjectEnd;
          i++;
          continue;
        }
        const end =
          c === 0x22
            ? scanString(buf, i)
            : c === 0x2d || (c >= 0x30 && c <= 0x39)
              ? scanNumber(buf, i)
              : scanLiteral(buf, i);
        if (end < 0) return -end - 1;
        i = end;
        expect = afterValue();
        continue;
      }
    }
  }
  return expect === Expect.End ? undefined : n;
}

// The scanners return the offset just past the token, or -(offset of the error) - 1.

function scanString(buf: Uint8Array, i: number): number {
  const n = buf.length;
  for (i++; i < n; i++) {
    const c = buf[i]!;
    if (c === 0x22) return i + 1;
    if (c < 0x20) return -i - 1;
    if (c === 0x5c) {
      const e = buf[++i];
      if (e === undefined) break;
      if (e === 0x75) {
        for (let k = 0; k < 4; k++) {
          const h = buf[++i];
          if (h === undefined) return -n - 1;
          if (!isHexDigit(h)) return -i - 1;
        }
      } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
        return -i - 1;
      }
    }
  }
  return -n - 1;
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function scanNumber(buf: Uint8Array, i: number): number {
  const n = buf.length;
  if (buf[i] === 0x2d) i++;
  if (i >= n) return -n - 1;
  if (buf[i] === 0x30) i++;
  else if (isDigit(buf[i])) while (isDigit(buf[i])) i++;
  else return -i - 1;
  if (buf[i] === 0x2e) {
    i++;
    if (i >= n) return -n - 1;
    if (!isDigit(buf[i])) return -i - 1;
    while (isDigit(buf[i])) i++;
  }
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    i++;
    if (buf[i] === 0x2b || buf[i] === 0x2d) i++;
    if (i >= n) return -n - 1;
    if (!isDigit(buf[i])) return -i - 1;
    while (isDigit(buf[i])) i++;
  }
  return i;
}

const LITERALS = ['true', 'false', 'null'].map((s) => Buffer.from(s));

function scanLiteral(buf: Uint8Array, i: number): number {
  const lit = LITERALS.find((l) => l[0] === buf[i]);
  if (!lit) return -i - 1;
  for (let k = 0; k < lit.length; k++) {
    if (i + k >= buf.length) return -buf.length - 1;
    if (buf[i + k] !== lit[k]) return -(i + k) - 1;
  }
  return i + lit.length;
}

/**
 * Most bytes a gzip feed body or file may decompress to on the ingest path. The fetch
 * path caps a body at the feed's own limit (spec.maxBytes) after decompression; this cap
 * is for what reaches a parser without it (a file the CLI reads, a body gzipped twice, a
 * ConfigMap source) and is far above any real feed (ipsum, the largest, is tens of MiB
 * uncompressed): it stops a bomb, not a feed.
 */
export const MAX_GUNZIP_BYTES = 1024 * 1024 * 1024;

/**
 * Passes the body through gunzip when it starts with the gzip magic bytes. FIRST
 * publishes EPSS only as .csv.gz, and a static file server sends that as
 * application/gzip rather than with Content-Encoding, so the HTTP layer leaves it
 * compressed. Decompression streams (lib/gzip), and stops at `maxBytes` with
 * FST_GZIP_TOO_LARGE.
 */
export function gunzipIfCompressed(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number = MAX_GUNZIP_BYTES,
): AsyncGenerator<Uint8Array> {
  return gunzipIfGzip(body, { maxBytes, what: 'The gzip feed body' });
}
