/**
 * The epss format: FIRST's Exploit Prediction Scoring System daily file
 * (https://www.first.org/epss/data_stats), as published:
 *
 *   #model_version:v2025.03.14,score_date:2025-07-14T00:00:00+0000
 *   cve,epss,percentile
 *   CVE-2025-47812,0.91234,0.99612
 *
 * One 'cve' record per row, with attributes epss and percentile as numbers in [0, 1].
 * Confidence is left unset: an EPSS score is a probability of exploitation, not
 * confidence that the CVE id is right, so mapping it is the feed's CEL expression's job
 * (record.epss, record.percentile, record.modelVersion, record.scoreDate).
 *
 * FIRST serves the file gzipped (.csv.gz); a gzip body is decompressed as it streams.
 * Columns are found by header name, so their order may change. The body streams row
 * by row; the full file (about 300,000 rows) is never held in memory.
 */
import type { Parser, ParserItem, ParserOptions } from '../indicator.js';
import { gunzipIfCompressed } from './body.js';
import { csvRows, type CsvRow } from './csv-rows.js';

const CVE_ID = /^CVE-\d{4}-\d{4,}$/i;

/** The metadata comment, e.g. "#model_version:v2025.03.14,score_date:2025-07-14T00:00:00+0000". */
export function parseEpssComment(line: string): { modelVersion?: string; scoreDate?: string } {
  const out: { modelVersion?: string; scoreDate?: string } = {};
  for (const pair of line.replace(/^#/, '').split(',')) {
    const colon = pair.indexOf(':');
    if (colon < 0) continue;
    // Split at the first colon only: the date's own colons belong to the value.
    const key = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    if (key === 'model_version') out.modelVersion = value;
    else if (key === 'score_date') out.scoreDate = value;
  }
  return out;
}

interface Columns {
  cve: number;
  epss: number;
  percentile: number | undefined;
}

function headerColumns(row: CsvRow): Columns {
  const names = row.fields.map((f) => f.trim().toLowerCase());
  const cve = names.indexOf('cve');
  const epss = names.indexOf('epss');
  const percentile = names.indexOf('percentile');
  if (cve < 0 || epss < 0) {
    throw new Error(
      `epss: line ${row.line} should be the header "cve,epss,percentile" but is ${JSON.stringify(row.fields.join(','))}`,
    );
  }
  // Files before EPSS v2 (2022) had no percentile column; their rows are still usable.
  return { cve, epss, percentile: percentile < 0 ? undefined : percentile };
}

function probability(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

export const parseEpss: Parser = async function* parseEpss(
  body: AsyncIterable<Uint8Array>,
  _options: ParserOptions,
): AsyncGenerator<ParserItem> {
  const meta: { modelVersion?: string; scoreDate?: string } = {};
  const rows = csvRows(gunzipIfCompressed(body), {
    delimiter: ',',
    commentPrefix: '#',
    label: 'epss',
    onComment: (line) => Object.assign(meta, parseEpssComment(line)),
  });
  let columns: Columns | undefined;
  try {
    for await (const row of rows) {
      if (!columns) {
        columns = headerColumns(row);
        continue;
      }
      yield toItem(row, columns, meta);
    }
  } catch (err) {
    // zlib's errors ("unexpected end of file") say nothing about which feed or why.
    if (
      err instanceof Error &&
      typeof (err as NodeJS.ErrnoException).code === 'string' &&
      (err as NodeJS.ErrnoException).code!.startsWith('Z_')
    ) {
      throw new Error(`epss: the gzip body is unreadable: ${err.message}`);
    }
    throw err;
  }
  if (!columns) throw new Error('epss: the body has no header row "cve,epss,percentile"');
};

function toItem(
  row: CsvRow,
  columns: Columns,
  meta: { modelVersion?: string; scoreDate?: string },
): ParserItem {
  const ref = `line ${row.line}`;
  if (row.malformed) return { kind: 'rejected', ref, reason: row.malformed };
  const cve = (row.fields[columns.cve] ?? '').trim();
  if (!CVE_ID.test(cve))
    return { kind: 'rejected', ref, reason: `${JSON.stringify(cve)} is not a CVE id` };
  const rawEpss = row.fields[columns.epss];
  const epss = probability(rawEpss);
  if (epss === undefined)
    return {
      kind: 'rejected',
      ref,
      reason: `epss ${JSON.stringify(rawEpss ?? '')} is not a number between 0 and 1`,
    };
  let percentile: number | undefined;
  if (columns.percentile !== undefined) {
    const rawPercentile = row.fields[columns.percentile];
    percentile = probability(rawPercentile);
    if (percentile === undefined)
      return {
        kind: 'rejected',
        ref,
        reason: `percentile ${JSON.stringify(rawPercentile ?? '')} is not a number between 0 and 1`,
      };
  }
  const record: Record<string, unknown> = { cve, epss };
  const attributes: Record<string, number> = { epss };
  if (percentile !== undefined) {
    record.percentile = percentile;
    attributes.percentile = percentile;
  }
  if (meta.modelVersion !== undefined) record.modelVersion = meta.modelVersion;
  if (meta.scoreDate !== undefined) record.scoreDate = meta.scoreDate;
  return { kind: 'record', value: cve, typeHint: 'cve', record, ref, attributes };
}
