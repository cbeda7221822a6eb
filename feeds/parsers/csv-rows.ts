/**
 * A streaming RFC 4180 row reader, shared by the csv and epss formats.
 *
 * Contract:
 * - Reads the body chunk by chunk; holds at most one unfinished record in memory, so a
 *   multi-megabyte feed never becomes one string. Chunks may split anywhere, including
 *   inside a multi-byte UTF-8 character, a CRLF pair or a quoted field.
 * - Quoted fields may contain the delimiter, doubled quotes ("") and line breaks; a
 *   CRLF inside a quoted field comes out as LF.
 * - Lines starting with the comment prefix are skipped, but only where a record could
 *   start: a quoted field that spans lines may contain one.
 * - Blank lines are skipped. A leading UTF-8 byte-order mark is dropped.
 * - A row that breaks quoting locally (text after a closing quote) still comes out, with
 *   `malformed` saying why, so the parser can reject that one record.
 * - A quote left open at the end of the body, or a record longer than maxRecordChars,
 *   throws: from that point on every record boundary is in doubt, so the body as a whole
 *   is unusable, and the controller should keep its last good snapshot.
 */

export interface CsvRowOptions {
  /** One or more characters; never a quote or a line break. */
  delimiter: string;
  /** Lines starting with this are comments. Empty or undefined: no comments. */
  commentPrefix?: string;
  /** Cap on one record's length in characters; default 1 MiB. */
  maxRecordChars?: number;
  /** Prefix of thrown error messages, e.g. "csv" or "epss". */
  label: string;
  /** Called with each comment line (prefix included): epss reads its model version from one. */
  onComment?: (line: string, lineNo: number) => void;
}

export interface CsvRow {
  /** 1-based physical line on which the record starts. */
  line: number;
  fields: string[];
  /** Set when the row broke RFC 4180 quoting; the fields are then a best effort. */
  malformed?: string;
}

export const DEFAULT_MAX_RECORD_CHARS = 1 << 20;

/** Validates a delimiter before any byte is read, so a bad spec fails with a clear message. */
export function checkDelimiter(delimiter: string, label: string): void {
  if (delimiter.length === 0) throw new Error(`${label}: the delimiter is empty`);
  if (/["\r\n]/.test(delimiter))
    throw new Error(
      `${label}: the delimiter ${JSON.stringify(delimiter)} may not contain a quote or a line break`,
    );
}

class RowAssembler {
  private fields: string[] = [];
  private field = '';
  private length = 0;
  inQuotes = false;
  startLine = 0;
  private malformed: string | undefined;

  constructor(
    private readonly delimiter: string,
    private readonly maxChars: number,
    private readonly label: string,
  ) {}

  /** Feeds one physical line (without its line break); returns the row once complete. */
  push(line: string, lineNo: number): CsvRow | undefined {
    const d = this.delimiter;
    let i = 0;
    // A field is "at its start" until a character of it is consumed: only there does a
    // quote open a quoted field. Elsewhere a quote is literal text, as most writers mean it.
    let atFieldStart: boolean;
    if (this.inQuotes) {
      this.field += '\n';
      atFieldStart = false;
    } else {
      this.fields = [];
      this.field = '';
      this.length = 0;
      this.malformed = undefined;
      this.startLine = lineNo;
      atFieldStart = true;
    }
    this.length += line.length + 1;
    if (this.length > this.maxChars) {
      throw new Error(
        `${this.label}: the record starting on line ${this.startLine} is longer than ${this.maxChars} characters (an unbalanced quote?)`,
      );
    }
    const n = line.length;
    for (;;) {
      if (this.inQuotes) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          this.field += line.slice(i);
          return undefined; // the quoted field goes on on the next line
        }
        this.field += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 0x22) {
          this.field += '"';
          i = q + 2;
          continue;
        }
        this.inQuotes = false;
        i = q + 1;
        if (i < n && !line.startsWith(d, i)) {
          this.malformed ??= `text after the closing quote of field ${this.fields.length + 1}`;
        }
        continue;
      }
      if (atFieldStart && line.charCodeAt(i) === 0x22) {
        this.inQuotes = true;
        atFieldStart = false;
        i++;
        continue;
      }
      const at = line.indexOf(d, i);
      if (at < 0) {
        this.field += line.slice(i);
        this.fields.push(this.field);
        this.field = '';
        const row: CsvRow = { line: this.startLine, fields: this.fields };
        if (this.malformed) row.malformed = this.malformed;
        return row;
      }
      this.field += line.slice(i, at);
      this.fields.push(this.field);
      this.field = '';
      i = at + d.length;
      atFieldStart = true;
    }
  }
}

/** Yields the records of a delimited body, streaming; see the module comment for the contract. */
export async function* csvRows(
  body: AsyncIterable<Uint8Array>,
  options: CsvRowOptions,
): AsyncGenerator<CsvRow> {
  const { delimiter, label } = options;
  checkDelimiter(delimiter, label);
  const comment = options.commentPrefix ?? '';
  const maxChars = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  const assembler = new RowAssembler(delimiter, maxChars, label);
  // TextDecoder in stream mode keeps a split multi-byte character for the next chunk,
  // and drops a leading byte-order mark.
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let lineNo = 0;

  const take = (line: string): CsvRow | undefined => {
    lineNo++;
    if (!assembler.inQuotes) {
      if (comment !== '' && line.startsWith(comment)) {
        options.onComment?.(line, lineNo);
        return undefined;
      }
      if (line.trim() === '') return undefined;
    }
    return assembler.push(line, lineNo);
  };

  const splitLines = function* (text: string, final: boolean): Generator<CsvRow> {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
      const row = take(text.slice(start, end));
      if (row) yield row;
      start = nl + 1;
    }
    carry = text.slice(start);
    if (final && carry !== '') {
      const last = carry.endsWith('\r') ? carry.slice(0, -1) : carry;
      carry = '';
      const row = take(last);
      if (row) yield row;
    }
    if (carry.length > maxChars) {
      throw new Error(`${label}: line ${lineNo + 1} is longer than ${maxChars} characters`);
    }
  };

  for await (const chunk of body) {
    yield* splitLines(carry + decoder.decode(chunk, { stream: true }), false);
  }
  yield* splitLines(carry + decoder.decode(), true);
  if (assembler.inQuotes) {
    throw new Error(
      `${label}: the quoted field opened on line ${assembler.startLine} is never closed`,
    );
  }
}
