/**
 * The ingestion worker's entry point (see sandbox.ts). It runs parse → normalise →
 * confidence → guardrails → dedupe on bytes the main thread fetched, inside a V8 heap
 * of its own with resourceLimits, so a feed that needs too much memory or time kills
 * this thread and not the controller.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Guardrails } from './guardrails.js';
import { ingestItems, ingestLinesCompact, linesFastPath, type IngestOptions } from './ingest.js';
import type { ParserItem } from './indicator.js';
import { gunzipIfCompressed } from './parsers/body.js';
import { parserFor } from './parsers/index.js';
import { parseMispFeed } from './parsers/misp.js';
import {
  INDICATOR_BATCH,
  type FromWorker,
  type SandboxError,
  type SandboxInput,
  type ToWorker,
} from './sandbox-protocol.js';

const port = parentPort!;
const input = workerData as SandboxInput;

/** Parsers read bodies in chunks of this size, as they would from a socket. */
const CHUNK = 64 * 1024;

let peakHeapBytes = 0;
const sampleHeap = () => {
  peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().used_heap_size);
};

const pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
let nextId = 0;
let acked: (() => void) | undefined;
port.on('message', (m: ToWorker) => {
  if (m.type === 'ack') {
    acked?.();
    return;
  }
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.type === 'file') p.resolve(m.bytes);
  else p.reject(Object.assign(new Error(m.error.message), { sandboxError: m.error }));
});

/** Asks the main thread for one file of the feed ("body", "manifest.json", "<uuid>.json"). */
function readFile(name: string): Promise<Uint8Array> {
  const id = nextId++;
  const promise = new Promise<Uint8Array>((resolve, reject) =>
    pending.set(id, { resolve, reject }),
  );
  port.postMessage({ type: 'read', id, name } satisfies FromWorker);
  return promise;
}

async function* chunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK) {
    sampleHeap();
    yield bytes.subarray(i, Math.min(bytes.length, i + CHUNK));
  }
}

async function* sampled(items: AsyncIterable<ParserItem>): AsyncGenerator<ParserItem> {
  let n = 0;
  for await (const item of items) {
    if ((++n & 1023) === 0) sampleHeap();
    yield item;
  }
}

function asData(err: unknown): SandboxError {
  // An error the main thread sent (a fetch that failed), possibly wrapped by the parser with more context.
  const wrapper = err as {
    sandboxError?: SandboxError;
    cause?: { sandboxError?: SandboxError };
    message?: unknown;
  } | null;
  const carried = wrapper?.sandboxError ?? wrapper?.cause?.sandboxError;
  if (carried)
    return {
      ...carried,
      message: typeof wrapper?.message === 'string' ? wrapper.message : carried.message,
    };
  const e = err as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    cap?: unknown;
    limit?: unknown;
  } | null;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.cap === 'string' ? { cap: e.cap } : {}),
    ...(typeof e?.limit === 'number' ? { limit: e.limit } : {}),
  };
}

async function run(): Promise<void> {
  const opts: IngestOptions = {
    feed: input.feed,
    format: input.format,
    now: new Date(input.now),
    guardrails: new Guardrails(input.guardrails),
    ...(input.parser ? { parser: input.parser } : {}),
    ...(input.confidence ? { confidence: input.confidence } : {}),
    ...(input.ttlMs !== undefined ? { ttlMs: input.ttlMs } : {}),
    ...(input.caps ? { caps: input.caps } : {}),
    ...(input.sampleSize !== undefined ? { sampleSize: input.sampleSize } : {}),
  };
  const items =
    input.source === 'misp'
      ? parseMispFeed(async (name) => chunks(await readFile(name)), {
          ...(input.maxEvents !== undefined ? { maxEvents: input.maxEvents } : {}),
        })
      : linesFastPath(opts)
        ? undefined
        : parserFor(input.format)(
            gunzipIfCompressed(chunks(await readFile('body'))),
            input.parser ?? {},
          );
  // A lines feed's IPv4 addresses come back as one block (ingestLinesCompact).
  const { result, ipv4 } = items
    ? { result: await ingestItems(sampled(items), opts), ipv4: undefined }
    : await ingestLinesCompact(chunks(await readFile('body')), opts);
  const { indicators, ...summary } = result;
  sampleHeap();
  for (let i = 0; i < indicators.length; i += INDICATOR_BATCH) {
    const taken = new Promise<void>((resolve) => (acked = resolve));
    port.postMessage({
      type: 'indicators',
      batch: indicators.slice(i, i + INDICATOR_BATCH),
    } satisfies FromWorker);
    await taken;
  }
  if (ipv4)
    port.postMessage({ type: 'ipv4', block: ipv4 } satisfies FromWorker, [
      ipv4.addresses.buffer as ArrayBuffer,
    ]);
  port.postMessage({ type: 'done', result: summary, peakHeapBytes } satisfies FromWorker);
}

// The main thread terminates the worker once it has the last message.
run().catch((err: unknown) =>
  port.postMessage({ type: 'failed', error: asData(err) } satisfies FromWorker),
);
