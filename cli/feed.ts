import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { FEED_FORMATS } from '../crds/index.js';
import { defaultGuardrailConfig, Guardrails } from '../feeds/guardrails.js';
import { ConfidenceExpressionError, ingest, summariseIpLines } from '../feeds/ingest.js';
import type { FeedFormat } from '../feeds/parsers/index.js';

export const FEED_USAGE = `Usage: forestall feed parse FILE --format FORMAT [flags]

Parses a feed file with the same parsers and guardrails as the controller and reports
what would be kept. FILE may be gzipped.

Flags:
  --format FORMAT           ${FEED_FORMATS.join(', ')}
  --confidence-expr EXPR    CEL over \`record\` giving 0-100, e.g. "int(record.score) * 12"
  --default-confidence N    confidence when no expression scores a record (default 50)
  --score-column N          zero-based score column (lines, csv)
  --value-column N          zero-based value column (lines, csv; default 0)
  --type-column N           zero-based type column (csv)
  --delimiter C             column delimiter (lines, csv)
  --header                  the first row names the columns (csv)
  --path JSONPATH           records to select (json)
  --allow CIDR|DOMAIN       never block this too (repeatable)
  --json                    print one JSON object instead of a summary
`;

interface Writer {
  write(s: string): unknown;
}

export async function runFeed(argv: string[], out: Writer, err: Writer): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'parse' || rest.includes('--help') || rest.includes('-h')) {
    (sub === 'parse' || sub === '--help' || sub === '-h' ? out : err).write(FEED_USAGE);
    return sub === 'parse' || sub === '--help' || sub === '-h' ? 0 : 2;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest, allowPositionals: true, strict: true,
      options: {
        format: { type: 'string' }, 'confidence-expr': { type: 'string' }, 'default-confidence': { type: 'string' },
        'score-column': { type: 'string' }, 'value-column': { type: 'string' }, 'type-column': { type: 'string' },
        delimiter: { type: 'string' }, header: { type: 'boolean' }, path: { type: 'string' },
        allow: { type: 'string', multiple: true }, json: { type: 'boolean' },
      },
    }));
  } catch (e) {
    err.write(`forestall feed parse: ${(e as Error).message}\n\n${FEED_USAGE}`);
    return 2;
  }
  const file = positionals[0];
  const format = values.format as string | undefined;
  if (!file || positionals.length > 1) {
    err.write(`forestall feed parse: give exactly one FILE\n\n${FEED_USAGE}`);
    return 2;
  }
  if (!format || !(FEED_FORMATS as readonly string[]).includes(format)) {
    err.write(`forestall feed parse: --format must be one of ${FEED_FORMATS.join(', ')}${format ? `, not ${JSON.stringify(format)}` : ''}\n`);
    return 2;
  }
  const int = (k: string) => (values[k] === undefined ? undefined : Number(values[k]));
  const started = performance.now();
  try {
    const options = {
      feed: basename(file),
      format: format as FeedFormat,
      parser: {
        scoreColumn: int('score-column'), valueColumn: int('value-column'), typeColumn: int('type-column'),
        delimiter: values.delimiter as string | undefined, header: values.header as boolean | undefined, path: values.path as string | undefined,
      },
      now: new Date(),
      guardrails: new Guardrails(defaultGuardrailConfig({ allowlist: values.allow as string[] | undefined })),
    };
    const expression = values['confidence-expr'] as string | undefined;
    // Confidence does not change what is kept, but an expression can reject records,
    // so only a lines feed without one takes the fast path for big IP lists.
    const result = format === 'lines' && !expression
      ? await summariseIpLines(createReadStream(file), options)
      : await ingest(createReadStream(file), { ...options, confidence: { default: int('default-confidence'), expression } });
    const durationMs = Math.round(performance.now() - started);
    const summary = {
      file, format,
      indicators: result.kept,
      byType: result.byType,
      records: result.records,
      rejected: result.rejected,
      dropped: result.dropped,
      aggregatedCidrs: result.aggregatedCidrs,
      durationMs,
      rejectedSamples: result.rejectedSamples,
      droppedSamples: result.droppedSamples,
    };
    if (values.json) {
      out.write(JSON.stringify(summary) + '\n');
    } else {
      out.write(`${file} (${format}): ${result.kept} indicators kept from ${result.records} records in ${durationMs} ms\n`);
      out.write(`  by type:  ${Object.entries(result.byType).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}\n`);
      out.write(`  dropped:  ${Object.entries(result.dropped).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}\n`);
      for (const d of result.droppedSamples.slice(0, 10)) out.write(`            ${d.value} (${d.reason})\n`);
      out.write(`  rejected: ${result.rejected}\n`);
      for (const r of result.rejectedSamples.slice(0, 10)) out.write(`            ${r.ref}: ${r.reason}\n`);
      out.write(`  aggregated CIDRs: ${result.aggregatedCidrs}\n`);
    }
    return 0;
  } catch (e) {
    const msg = e instanceof ConfidenceExpressionError ? e.message.replace(/^spec\.confidence\.expression/, '--confidence-expr') : (e as Error).message;
    err.write(`forestall feed parse: ${file}: ${msg}\n`);
    return 1;
  }
}
