/**
 * The csv format: one indicator per record, from configurable value, score and type
 * columns of a delimited file (RFC 4180 quoting; see csv-rows.ts for the streaming
 * contract).
 *
 * Each record is exposed to the confidence expression as
 *   { <header names...>, value, score?, type?, columns }
 * where `columns` is every field in order and, with `header: true`, each named column is
 * a key too (value, score, type and columns win over a header name that collides).
 */
import type { ParsedRecord, Parser, ParserItem, ParserOptions } from '../indicator.js';
import { csvRows, type CsvRow } from './csv-rows.js';
import { KNOWN_TYPE_NAMES, typeHintFor } from './type-hints.js';

/** The CRD's default (crds/schema/threatfeed.ts), applied here too for direct callers like the CLI. */
const DEFAULT_COMMENT_PREFIX = '#';

/**
 * A tab is awkward to write in YAML (it needs a double-quoted "\t"), and a single-quoted
 * '\t' arrives as backslash-t; both mean tab.
 */
export function resolveDelimiter(delimiter: string | undefined, fallback: string): string {
  if (delimiter === undefined || delimiter === '') return fallback;
  return delimiter === '\\t' ? '\t' : delimiter;
}

function checkColumn(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new Error(`csv: ${name} must be a non-negative integer, got ${value}`);
  }
}

export const parseCsv: Parser = async function* parseCsv(
  body: AsyncIterable<Uint8Array>,
  options: ParserOptions,
): AsyncGenerator<ParserItem> {
  const valueColumn = options.valueColumn ?? 0;
  const { scoreColumn, typeColumn } = options;
  checkColumn('valueColumn', valueColumn);
  checkColumn('scoreColumn', scoreColumn);
  checkColumn('typeColumn', typeColumn);
  const rows = csvRows(body, {
    delimiter: resolveDelimiter(options.delimiter, ','),
    commentPrefix: options.commentPrefix ?? DEFAULT_COMMENT_PREFIX,
    label: 'csv',
  });
  let names: string[] | undefined;
  for await (const row of rows) {
    if (options.header && names === undefined) {
      names = row.fields.map((f) => f.trim());
      continue;
    }
    yield toItem(row, names, valueColumn, scoreColumn, typeColumn);
  }
};

function toItem(
  row: CsvRow,
  names: string[] | undefined,
  valueColumn: number,
  scoreColumn: number | undefined,
  typeColumn: number | undefined,
): ParserItem {
  const ref = `line ${row.line}`;
  const { fields } = row;
  if (row.malformed) return { kind: 'rejected', ref, reason: row.malformed };
  const rawValue = fields[valueColumn];
  if (rawValue === undefined) {
    return {
      kind: 'rejected',
      ref,
      reason: `the row has ${fields.length} columns, so value column ${valueColumn} is missing`,
    };
  }
  // Surrounding spaces are CSV layout ("a, b"), not part of the value.
  const value = rawValue.trim();
  if (value === '')
    return { kind: 'rejected', ref, reason: `value column ${valueColumn} is empty` };

  let score: number | undefined;
  if (scoreColumn !== undefined) {
    const rawScore = (fields[scoreColumn] ?? '').trim();
    // An absent score is left for the confidence expression to handle (has(record.score));
    // one that is there but not a number means the columns are not what the spec says.
    if (rawScore !== '') {
      score = Number(rawScore);
      if (!Number.isFinite(score))
        return {
          kind: 'rejected',
          ref,
          reason: `score ${JSON.stringify(rawScore)} in column ${scoreColumn} is not a number`,
        };
    }
  }

  let typeName: string | undefined;
  let hint: ReturnType<typeof typeHintFor>;
  if (typeColumn !== undefined) {
    typeName = (fields[typeColumn] ?? '').trim();
    if (typeName !== '') {
      hint = typeHintFor(typeName, value);
      // A type we cannot map is usually one we cannot enforce (filename, mutex); guessing
      // from the value could turn, say, a mail server's address into a network block.
      if (!hint) {
        return {
          kind: 'rejected',
          ref,
          reason: `type ${JSON.stringify(typeName)} in column ${typeColumn} is not one of ${KNOWN_TYPE_NAMES.join(', ')}`,
        };
      }
    }
  }

  const record: Record<string, unknown> = {};
  if (names) {
    names.forEach((name, i) => {
      // __proto__ would be taken as the object's prototype, not as a key.
      if (name !== '' && name !== '__proto__' && !Object.hasOwn(record, name))
        record[name] = fields[i] ?? '';
    });
  }
  record.value = value;
  if (score !== undefined) record.score = score;
  if (typeName !== undefined) record.type = typeName;
  record.columns = fields;

  const item: ParsedRecord = { kind: 'record', value, record, ref };
  if (hint) {
    item.typeHint = hint.typeHint;
    if (hint.hashAlgorithm) item.attributes = { hashAlgorithm: hint.hashAlgorithm };
  }
  return item;
}
