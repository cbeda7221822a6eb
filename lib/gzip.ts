/**
 * Bounded decompression (STYLE.md 10): the one gzip sniff and the one gunzip with a size
 * cap, for buffers (stored ConfigMaps, fetched answers) and for streams (feed bodies,
 * files the CLI reads). A few hundred bytes of gzip can inflate to gigabytes, so every
 * gunzip counts what comes OUT and stops at its caller's cap with FST_GZIP_TOO_LARGE;
 * a cap only on what goes in protects nothing.
 *
 * zlib's own errors (corrupt data, a stream cut short: `code` Z_DATA_ERROR,
 * Z_BUF_ERROR) pass through unchanged: each caller already names them in its own terms
 * (a feed's FST_FEED_DECODE / FST_FEED_TRUNCATED, a damaged snapshot).
 */
import { Readable, pipeline, type Transform } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { ForestallError, type ErrorCodeTable } from './errors.js';

export const GZIP_ERROR_CODES = {
  FST_GZIP_TOO_LARGE: {
    class: 'terminal',
    summary:
      'Compressed data (a gzip feed file, a stored snapshot or review-feedback ConfigMap) decompresses to more than the cap of its reader; the message names the cap.',
  },
} as const satisfies ErrorCodeTable;

export type GzipErrorCode = keyof typeof GZIP_ERROR_CODES;

/**
 * The cap for gzip kept in a Kubernetes object (the indicator and review-feedback
 * ConfigMaps). An object holds at most 1 MiB, and what Forestall writes there (address
 * lists, JSON) compresses by 10-20x at most, so a real one stays well under 64 MiB; a
 * gzip bomb planted by someone who can write ConfigMaps in our namespace stops here
 * instead of taking the controller's heap.
 */
export const STORED_GUNZIP_MAX_BYTES = 64 * 1024 * 1024;

export class GzipError extends ForestallError<GzipErrorCode> {
  /** The cap that was passed, in decompressed bytes. */
  readonly maxBytes: number;

  constructor(what: string, maxBytes: number) {
    super(
      'FST_GZIP_TOO_LARGE',
      `${what} decompresses to more than the ${maxBytes}-byte cap; stopped`,
      { errorClass: GZIP_ERROR_CODES.FST_GZIP_TOO_LARGE.class },
    );
    this.name = 'GzipError';
    this.maxBytes = maxBytes;
  }
}

export function isGzipError(err: unknown): err is GzipError {
  return err instanceof GzipError;
}

/** Whether `bytes` start with the gzip magic (1f 8b), whatever a Content-Type said. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface GunzipOptions {
  /** Most decompressed bytes; one more is FST_GZIP_TOO_LARGE. */
  maxBytes: number;
  /** For the message: "snapshot feed-a", "the gzip file from https://…". Default "gzip data". */
  what?: string;
}

/** Decompresses a gzip buffer, refusing at the cap before it has allocated past it. */
export function gunzipBounded(bytes: Uint8Array, options: GunzipOptions): Buffer {
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.max(1, options.maxBytes) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new GzipError(options.what ?? 'gzip data', options.maxBytes);
    throw err;
  }
}

/**
 * The body, gunzipped if it starts with the gzip magic (the first two bytes decide, even
 * when they arrive in separate chunks), else as it came. Streams: nothing is buffered
 * beyond zlib's window.
 */
export async function* gunzipIfGzip(
  body: AsyncIterable<Uint8Array>,
  options: GunzipOptions,
): AsyncGenerator<Uint8Array> {
  const { head, rest } = await peek(body, 2);
  if (isGzip(head)) yield* decompressStream(rest, createGunzip, options);
  else yield* rest;
}

/**
 * `body` through a zlib decoder (gunzip, inflate, brotli), counting decompressed bytes
 * against `maxBytes` when given. An error upstream surfaces as it is: pipeline destroys
 * every stream with the first error.
 */
export async function* decompressStream(
  body: AsyncIterable<Uint8Array>,
  createDecoder: () => Transform,
  options: Partial<GunzipOptions> = {},
): AsyncGenerator<Uint8Array> {
  const input = Readable.from(body, { objectMode: false });
  const decoder = createDecoder();
  pipeline(input, decoder, () => undefined);
  let total = 0;
  try {
    for await (const chunk of decoder as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (options.maxBytes !== undefined && total > options.maxBytes)
        throw new GzipError(options.what ?? 'gzip data', options.maxBytes);
      yield chunk;
    }
  } finally {
    // Destroying the input also closes `body` (Readable.from returns its iterator).
    input.destroy();
    decoder.destroy();
  }
}

/**
 * The first `bytes` bytes of a stream (fewer if it is shorter), and the whole stream
 * again, those bytes included; closing `rest` closes the source.
 */
export async function peek(
  body: AsyncIterable<Uint8Array>,
  bytes: number,
): Promise<{ head: Buffer; rest: AsyncGenerator<Uint8Array> }> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < bytes) {
      const step = await iterator.next();
      if (step.done === true) break;
      chunks.push(step.value);
      size += step.value.length;
    }
  } catch (err) {
    await iterator.return?.();
    throw err;
  }
  return { head: Buffer.concat(chunks), rest: resume(chunks, iterator) };
}

async function* resume(
  head: readonly Uint8Array[],
  iterator: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    yield* head;
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}
