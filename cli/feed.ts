import { badUsage, parseCommandLine, UsageError, type Writer } from './usage.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FEED_FORMATS } from '../crds/index.js';
import { defaultGuardrailConfig, Guardrails } from '../feeds/guardrails.js';
import {
  ConfidenceExpressionError,
  ingest,
  ingestItems,
  summariseIpLines,
  type IngestOptions,
  type IngestResult,
} from '../feeds/ingest.js';
import { gunzipIfCompressed, parserFor, type FeedFormat } from '../feeds/parsers/index.js';
import type { ParserItem } from '../feeds/indicator.js';
import { printable } from './printable.js';

/** How much of an untrusted input or reason one --list line shows. */
const LIST_TEXT_MAX = 200;
/** Rejections kept for the summary's count by reason; past this the rest are counted as "other". */
const SUMMARY_SAMPLES = 100_000;
/** Samples the summary and --json show. */
const SHOWN_SAMPLES = 20;

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
  --list                    instead of the summary, write each kept indicator to standard
                            output, one normalised value per line, and each refused
                            input to standard error, one per line as
                            "REF<TAB>INPUT<TAB>REASON" (REF is "line 12" or the record's
                            id; INPUT is the value as the feed wrote it, empty when the
                            parser refused the record without a value and the line is
                            not known; control characters are escaped as \\xNN, and
                            INPUT and REASON are cut at ${LIST_TEXT_MAX} characters)

Exit status: 0 when the file was read and at least one indicator is kept, or the file
holds no records at all (an empty feed: a warning says so; the controller accepts it
on a first sync and refuses it only as a change that would empty a feed it holds);
1 when it was read and every record was refused (malformed, or dropped by the
guardrails), or it could not be parsed at all; 2 for bad usage: an unknown flag, a
missing or unknown --format, a FILE that cannot be read.
`;

interface FeedArgs {
  file: string;
  format: FeedFormat;
  values: Record<string, string | boolean | string[] | undefined>;
}

async function parseFeedArgs(rest: string[]): Promise<FeedArgs> {
  const { values, positionals } = parseCommandLine(rest, {
    format: { type: 'string' },
    'confidence-expr': { type: 'string' },
    'default-confidence': { type: 'string' },
    'score-column': { type: 'string' },
    'value-column': { type: 'string' },
    'type-column': { type: 'string' },
    delimiter: { type: 'string' },
    header: { type: 'boolean' },
    path: { type: 'string' },
    allow: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    list: { type: 'boolean' },
  });
  const file = positionals[0];
  const format = values.format as string | undefined;
  if (!file || positionals.length > 1) throw new UsageError('give exactly one FILE');
  if (!format || !(FEED_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      `--format must be one of ${FEED_FORMATS.join(', ')}${format ? `, not ${JSON.stringify(format)}` : ''}`,
    );
  }
  if (values.json && values.list) throw new UsageError('--json and --list do not go together');
  const readable = await stat(file).then(
    (s) => (s.isFile() ? undefined : 'not a file'),
    (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? 'no such file' : e.message),
  );
  if (readable) throw new UsageError(`${file}: ${readable}`);
  return { file, format: format as FeedFormat, values };
}

export async function runFeed(argv: string[], out: Writer, err: Writer): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'parse' || rest.includes('--help') || rest.includes('-h')) {
    (sub === 'parse' || sub === '--help' || sub === '-h' ? out : err).write(FEED_USAGE);
    return sub === 'parse' || sub === '--help' || sub === '-h' ? 0 : 2;
  }
  let args: FeedArgs;
  try {
    args = await parseFeedArgs(rest);
  } catch (e) {
    return badUsage(e, err, 'forestall feed parse', `\n${FEED_USAGE}`);
  }
  const { file, format, values } = args;
  const int = (k: string) => (values[k] === undefined ? undefined : Number(values[k]));
  const started = performance.now();
  const options: IngestOptions = {
    feed: basename(file),
    format,
    parser: {
      scoreColumn: int('score-column'),
      valueColumn: int('value-column'),
      typeColumn: int('type-column'),
      delimiter: values.delimiter as string | undefined,
      header: values.header as boolean | undefined,
      path: values.path as string | undefined,
    },
    now: new Date(),
    guardrails: new Guardrails(
      defaultGuardrailConfig({ allowlist: values.allow as string[] | undefined }),
    ),
    confidence: {
      default: int('default-confidence'),
      expression: values['confidence-expr'] as string | undefined,
    },
    sampleSize: SUMMARY_SAMPLES,
  };
  let result: IngestResult;
  try {
    if (values.list) return await list(file, options, out, err);
    // Confidence does not change what is kept, but an expression can reject records,
    // so only a lines feed without one takes the fast path for big IP lists.
    result =
      format === 'lines' && !options.confidence?.expression
        ? await summariseIpLines(createReadStream(file), options)
        : await ingest(createReadStream(file), options);
  } catch (e) {
    const msg =
      e instanceof ConfidenceExpressionError
        ? e.message.replace(/^spec\.confidence\.expression/, '--confidence-expr')
        : (e as Error).message;
    err.write(`forestall feed parse: ${file}: ${msg}\n`);
    return 1;
  }
  const durationMs = Math.round(performance.now() - started);
  const byReason = rejectedByReason(result);
  if (values.json) {
    out.write(
      JSON.stringify({
        file,
        format,
        indicators: result.kept,
        byType: result.byType,
        records: result.records,
        rejected: result.rejected,
        rejectedByReason: byReason,
        dropped: result.dropped,
        aggregatedCidrs: result.aggregatedCidrs,
        durationMs,
        rejectedSamples: result.rejectedSamples.slice(0, SHOWN_SAMPLES),
        droppedSamples: result.droppedSamples.slice(0, SHOWN_SAMPLES),
      }) + '\n',
    );
  } else {
    out.write(
      `${file} (${format}): ${result.kept} indicators kept from ${result.records} records in ${durationMs} ms\n`,
    );
    out.write(
      `  by type:  ${
        Object.entries(result.byType)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ') || 'none'
      }\n`,
    );
    out.write(
      `  dropped:  ${
        Object.entries(result.dropped)
          .map(([r, n]) => `${r} ${n}`)
          .join(', ') || 'none'
      }\n`,
    );
    for (const d of result.droppedSamples.slice(0, 10))
      out.write(`            ${printable(d.value, LIST_TEXT_MAX)} (${d.reason})\n`);
    const reasons = Object.entries(byReason)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    out.write(`  rejected: ${result.rejected}${reasons ? ` (${reasons})` : ''}\n`);
    for (const r of result.rejectedSamples.slice(0, 10))
      out.write(`            ${r.ref}: ${printable(r.reason, LIST_TEXT_MAX)}\n`);
    out.write(`  aggregated CIDRs: ${result.aggregatedCidrs}\n`);
  }
  return verdict(result, file, err);
}

/** The exit status of a parse that ran: 1 when every record was refused; an empty feed is a warning. */
function verdict(result: IngestResult, file: string, err: Writer): number {
  const dropped = Object.values(result.dropped).reduce((a, b) => a + b, 0);
  if (result.kept === 0 && result.rejected + dropped > 0) {
    err.write(
      `forestall feed parse: ${file}: every record was refused (${result.rejected} malformed, ${dropped} dropped by guardrails); nothing would be enforced\n`,
    );
    return 1;
  }
  if (result.records === 0)
    err.write(`forestall feed parse: warning: ${file}: no records; an empty feed blocks nothing\n`);
  return 0;
}

/**
 * Rejections counted by the kind of reason: the text before its first ": " or " (",
 * for example "trailing text after column 0" or "score in column 1 is not a number".
 * Counted over the samples kept (SUMMARY_SAMPLES); any beyond are "other".
 */
function rejectedByReason(result: IngestResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of result.rejectedSamples) {
    const kind = printable(r.reason.split(/: | \(/, 1)[0]!, 80);
    out[kind] = (out[kind] ?? 0) + 1;
  }
  const unsorted = result.rejected - result.rejectedSamples.length;
  if (unsorted > 0) out.other = (out.other ?? 0) + unsorted;
  return out;
}

/**
 * --list: ingests through the controller's path (not the IPv4 fast path, which keeps no
 * indicator objects) and writes what it kept and refused. ingest() reports rejections
 * with their ref only, and guardrail drops with the normalised value only, so the
 * parser's records are watched on their way in: a ref leads back to the value the feed
 * wrote, and the guardrails' verdicts are taken as they are given, for the record being
 * ingested (ingestItems finishes each record before it reads the next).
 */
async function list(
  file: string,
  options: IngestOptions,
  out: Writer,
  err: Writer,
): Promise<number> {
  const inputs = new Map<string, { index: number; input: string }>();
  let current: { index: number; ref: string; input: string } | undefined;
  let index = 0;
  const refused: { index: number; ref: string; input: string; reason: string }[] = [];
  const items = (async function* watch(
    source: AsyncIterable<ParserItem>,
  ): AsyncIterable<ParserItem> {
    for await (const item of source) {
      const input = item.kind === 'record' ? item.value : '';
      current = { index: index++, ref: item.ref, input };
      if (!inputs.has(item.ref)) inputs.set(item.ref, current);
      yield item;
    }
  })(parserFor(options.format)(gunzipIfCompressed(createReadStream(file)), options.parser ?? {}));
  const guardrails = options.guardrails;
  const check = guardrails.check.bind(guardrails);
  guardrails.check = (indicator) => {
    const reason = check(indicator);
    if (reason !== undefined && current) refused.push({ ...current, reason });
    return reason;
  };
  const result = await ingestItems(items, { ...options, sampleSize: Number.MAX_SAFE_INTEGER });
  for (const r of result.rejectedSamples) {
    const seen = inputs.get(r.ref);
    refused.push({
      index: seen?.index ?? index,
      ref: r.ref,
      input: seen?.input ?? '',
      reason: r.reason,
    });
  }
  // Expiry is judged before the guardrails, on the normalised value; its drops have no ref.
  for (const d of result.droppedSamples)
    if (d.reason === 'expired')
      refused.push({ index, ref: '-', input: d.value, reason: 'expired' });
  refused.sort((a, b) => a.index - b.index);
  await fillLineInputs(file, refused);

  writeLines(
    out,
    result.indicators.map((i) => printable(i.value)),
  );
  writeLines(
    err,
    refused.map(
      (r) =>
        `${printable(r.ref, LIST_TEXT_MAX)}\t${printable(r.input, LIST_TEXT_MAX)}\t${printable(r.reason, LIST_TEXT_MAX)}`,
    ),
  );
  return verdict(result, file, err);
}

/**
 * The text of the lines that lines and csv parsers refused before yielding a value (a
 * bad score, trailing text), found by their "line N" ref in a second read of the file,
 * which keeps only those lines.
 */
async function fillLineInputs(
  file: string,
  refused: { ref: string; input: string }[],
): Promise<void> {
  const wanted = new Map<number, { input: string }[]>();
  for (const r of refused) {
    const line = r.input === '' ? /^line (\d+)$/.exec(r.ref)?.[1] : undefined;
    if (line !== undefined) wanted.set(Number(line), [...(wanted.get(Number(line)) ?? []), r]);
  }
  if (wanted.size === 0) return;
  const decoder = new TextDecoder();
  let number = 1;
  let partial = '';
  const take = (text: string) => {
    for (const r of wanted.get(number) ?? [])
      r.input = text.endsWith('\r') ? text.slice(0, -1) : text;
  };
  for await (const chunk of gunzipIfCompressed(createReadStream(file))) {
    const parts = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      take(text);
      number++;
    }
    // A line no one asked for is not kept whole: only its length matters past the cap.
    if (!wanted.has(number) && partial.length > LIST_TEXT_MAX * 4)
      partial = partial.slice(0, LIST_TEXT_MAX * 4);
  }
  take(partial + decoder.decode());
}

/** Lines in batches: one write per line is slow on a pipe, one write of everything holds it all twice. */
function writeLines(w: Writer, lines: readonly string[]): void {
  for (let i = 0; i < lines.length; i += 4096) w.write(lines.slice(i, i + 4096).join('\n') + '\n');
}
