/**
 * The parsers of every ThreatFeed format, and the one place that maps a format name to
 * its parser. The registry is a frozen literal, filled in explicitly rather than by
 * modules registering themselves on import, so what exists is visible here and a
 * missing format is a compile error (the key type is the CRD's format enum).
 *
 * The misp format's Parser reads one event file; a whole MISP feed (manifest plus
 * event files) needs a file reader, so it is read with parseMispFeed instead.
 */
import type { FEED_FORMATS } from '../../crds/index.js';
import type { Parser } from '../indicator.js';
import { parseCsv } from './csv.js';
import { parseEpss } from './epss.js';
import { parseJson } from './json.js';
import { parseKev } from './kev.js';
import { parseLines } from './lines.js';
import { parseMispEvent } from './misp.js';
import { parseStix } from './stix.js';

/** 'lines' | 'csv' | 'json' | 'stix' | 'kev' | 'epss' | 'misp', as the ThreatFeed CRD enumerates them. */
export type FeedFormat = (typeof FEED_FORMATS)[number];

export const PARSERS: Readonly<Record<FeedFormat, Parser>> = Object.freeze({
  lines: parseLines,
  csv: parseCsv,
  json: parseJson,
  stix: parseStix,
  kev: parseKev,
  epss: parseEpss,
  misp: parseMispEvent,
});

/** The parser for a format name; throws for a name that is not a format (a spec the CRD schema should have refused). */
export function parserFor(format: string): Parser {
  if (!Object.hasOwn(PARSERS, format)) {
    throw new Error(
      `no parser for format ${JSON.stringify(format)}; formats are ${Object.keys(PARSERS).join(', ')}`,
    );
  }
  return PARSERS[format as FeedFormat];
}

export { parseCsv, resolveDelimiter } from './csv.js';
export { csvRows, type CsvRow, type CsvRowOptions } from './csv-rows.js';
export { parseEpss, parseEpssComment } from './epss.js';
export { parseJson, selectJsonPath, VALUE_KEYS } from './json.js';
export {
  checkKevCatalog,
  kevDelta,
  parseKev,
  type KevCatalogHeader,
  type KevDelta,
} from './kev.js';
export { parseLines } from './lines.js';
export {
  DEFAULT_MAX_MISP_EVENTS,
  mispEventItems,
  parseMispEvent,
  parseMispFeed,
  type MispFeedOptions,
  type MispFileReader,
} from './misp.js';
export { parseStix, unwrapStix, type StixParserOptions } from './stix.js';
export {
  readStixPattern,
  type Comparison,
  type PatternReading,
  type PatternValue,
} from './stix-pattern.js';
export { defaultStixSchemaDir, stixValidator, type StixValidator } from './stix-schema.js';
export { ipHint, typeHintFor, type HashAlgorithm, type TypeHint } from './type-hints.js';
export { gunzipIfCompressed, readJsonBody } from './body.js';
