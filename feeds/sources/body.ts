/**
 * Turns a response body into the feed's bytes: undoes Content-Encoding, unpacks a
 * gzip file served as-is (ipsum.txt.gz as application/gzip), and enforces the
 * byte limit on what comes OUT of decompression, so a small gzip bomb cannot grow
 * into gigabytes in memory. Everything is streamed chunk by chunk.
 */
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { decompressStream, gunzipIfGzip, isGzipError } from '../../lib/gzip.js';
import { redactUrl } from '../../lib/redact.js';
import { FeedError } from './errors.js';

export interface DecodeOptions {
  url: URL;
  /** The Content-Encoding header, as received. */
  contentEncoding: string | undefined;
  /** Limit on decoded bytes. */
  maxBytes: number;
  /** What the limit is called in the error ("the 10485760-byte limit"). */
  limitLabel?: string;
}

/** The decoders for a Content-Encoding header, innermost last; throws on an unknown coding. */
function decodersFor(contentEncoding: string | undefined, url: URL): Array<() => Transform> {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  // Codings are listed in the order they were applied; undo them in reverse.
  return codings.reverse().map((coding) => {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return () => createGunzip();
      case 'deflate':
        return () => createInflate();
      case 'br':
        return () => createBrotliDecompress();
      default:
        throw new FeedError(
          'FST_FEED_DECODE',
          `${redactUrl(url)} sent Content-Encoding "${coding.slice(0, 32)}", which this client does not support (gzip, deflate, br)`,
          { url },
        );
    }
  });
}

/**
 * Decodes `raw` into the feed content. Throws FeedError FST_FEED_DECODE (corrupt
 * compressed data), FST_FEED_TRUNCATED (a compressed stream that stops early) or
 * FST_FEED_TOO_LARGE (more than maxBytes decoded), mid-stream.
 */
export function decodeBody(
  raw: AsyncIterable<Uint8Array>,
  options: DecodeOptions,
): AsyncIterable<Uint8Array> {
  const { url } = options;
  let stream = raw;
  for (const make of decodersFor(options.contentEncoding, url)) {
    stream = asFeedErrors(decompressStream(stream, make), options, 'Content-Encoding');
  }
  // Feeds are text (lines, csv, json, STIX, KEV, EPSS, MISP), so a body that
  // starts with the gzip magic is a compressed file whatever its Content-Type
  // says; servers label .gz downloads application/gzip, octet-stream or nothing.
  stream = asFeedErrors(gunzipIfGzip(stream, { maxBytes: options.maxBytes }), options, 'gzip file');
  return capped(stream, options);
}

async function* capped(
  source: AsyncIterable<Uint8Array>,
  options: DecodeOptions,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > options.maxBytes) throw tooLarge(options);
    yield chunk;
  }
}

function tooLarge(options: DecodeOptions): FeedError {
  return new FeedError(
    'FST_FEED_TOO_LARGE',
    `Feed from ${redactUrl(options.url)} is larger than ${options.limitLabel ?? `the ${options.maxBytes}-byte limit`} (counted after decompression); stopped reading`,
    { url: options.url },
  );
}

/** zlib's errors (and lib/gzip's cap) as the feed codes, with the URL; FeedErrors pass as they are. */
async function* asFeedErrors(
  source: AsyncIterable<Uint8Array>,
  options: DecodeOptions,
  what: string,
): AsyncGenerator<Uint8Array> {
  const { url } = options;
  try {
    yield* source;
  } catch (err) {
    if (err instanceof FeedError) throw err;
    if (isGzipError(err)) throw tooLarge(options);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') {
      throw new FeedError(
        'FST_FEED_TRUNCATED',
        `Compressed ${what} from ${redactUrl(url)} ends before the end of its stream; the body was cut short`,
        { url, cause: err },
      );
    }
    throw new FeedError(
      'FST_FEED_DECODE',
      `Could not decompress the ${what} from ${redactUrl(url)}: ${(err as Error).message}`,
      { url, cause: err },
    );
  }
}
