/**
 * Helpers for the parser tests: feed bodies from real files or strings, split into
 * chunks of a chosen size so that tests reach every chunk-boundary case.
 */
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParsedRecord, ParserItem, RejectedRecord } from '../../indicator.js';

/** /work/shared/feeds, found beside the repository as DESIGN.md places it. */
export const SHARED_FEEDS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'shared',
  'feeds',
);
export const TESTDATA = dirname(fileURLToPath(import.meta.url));

/** A file as a body, read in chunks of `chunkSize` bytes. */
export function fileBody(path: string, chunkSize = 64 * 1024): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: chunkSize });
}

/** A string or buffer as a body, cut into chunks of `chunkSize` bytes (or at the given offsets). */
export async function* bytesBody(
  data: string | Uint8Array,
  chunkSize: number | number[] = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<Uint8Array> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const cuts = Array.isArray(chunkSize) ? [...chunkSize].sort((a, b) => a - b) : [];
  if (!Array.isArray(chunkSize))
    for (let at = chunkSize; at < buf.length; at += chunkSize) cuts.push(at);
  let start = 0;
  for (const cut of [...cuts, buf.length]) {
    if (cut > start) yield buf.subarray(start, cut);
    start = Math.max(start, cut);
  }
}

export async function collect(
  items: AsyncIterable<ParserItem>,
): Promise<{ records: ParsedRecord[]; rejected: RejectedRecord[]; all: ParserItem[] }> {
  const all: ParserItem[] = [];
  for await (const item of items) all.push(item);
  return {
    all,
    records: all.filter((i): i is ParsedRecord => i.kind === 'record'),
    rejected: all.filter((i): i is RejectedRecord => i.kind === 'rejected'),
  };
}

/** The error a parser throws, or a failure if it throws none. */
export async function parseError(items: AsyncIterable<ParserItem>): Promise<Error> {
  try {
    for await (const _ of items) {
      // drain
    }
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`a non-Error was thrown: ${String(err)}`);
  }
  throw new Error('the parser threw no error');
}
