/**
 * Ingestion in a bounded sandbox: the CPU- and memory-heavy part of a sync (parse →
 * normalise → confidence → guardrails → dedupe, ingest.ts) runs in a worker thread
 * with a heap of its own (resourceLimits) and a deadline, so a feed that is too large
 * for memory, or too slow, stops that worker with a clear error instead of crashing
 * the controller or stalling its event loop (probes, the leader lease).
 *
 * Who fetches: the main thread. Fetching is I/O with its own byte cap and timeouts,
 * holds the credentials and the Kubernetes client, and belongs to the shared HTTP
 * client; none of that needs to enter the worker. The main thread collects each body
 * (at most the byte cap, as external memory outside both heaps) and transfers it to
 * the worker in one message, and the worker asks for each file of a MISP feed by name
 * as its parser reaches it. So the worker's heap holds the parse and one file, the main
 * thread one body at a time, and no stream needs flow control across the boundary.
 *
 * The indicators come back in batches of INDICATOR_BATCH, one message each and the next
 * only once the main thread has taken the last, so that deserialising a large result
 * is many short tasks on the main thread, not one long one.
 *
 * Workers run one at a time per sandbox (`maxWorkers`, default 1): the heap limit is
 * what one sync may use, and the chart's memory limit is sized for one of them beside
 * the controller's own heap.
 *
 * Limits and measurements (bench/sandbox-heap.ts on Node 24.21, re-run 2026-12-08 on a
 * loaded 2-core machine; peak used heap of the worker, garbage included, over the feed's
 * bytes; Node 20 measured 78, 238, 121, 127, 59 and 19 MB for the same rows):
 *   lines  IPsum 1.9 MB (real)          97 MB   52x   120k indicators
 *   lines  8 MiB synthetic             303 MB   38x   526k indicators
 *   csv    8 MiB synthetic             137 MB   17x   263k indicators
 *   json   8 MiB synthetic             118 MB   15x   101k indicators
 *   stix   8 MiB synthetic              59 MB    7x    26k indicators
 *   kev    1.2 MB (real)                28 MB   24x    1.4k indicators
 * The heap follows the kept indicators (about 600-800 bytes each, garbage included, plus
 * the guardrail tables) for line formats, and the parsed document (about 15x) for JSON
 * formats. So the defaults are chosen together: an 8 MiB byte cap (--feed-max-bytes)
 * bounds the JSON formats to about 130 MB, the 250,000-indicator cap (ingest.ts) stops
 * the line formats first (8 MiB of distinct addresses is refused by it), and the worker's
 * heap (--feed-worker-heap) is 256 MiB.
 *
 * The heaviest feed the defaults admit is a line feed just under the indicator cap: 8 MiB
 * of 527k scored lines, 248.5k distinct addresses, a confidence expression. It peaks at
 * 226-234 MB of used heap and needs an old generation between 192 MiB (out of heap) and
 * 224 MiB (ingested): 256 MiB holds it with 15-30% to spare, not twice over
 * (sandbox.test.ts runs it at the defaults). A process doing nothing but that ingestion
 * peaks at 418-470 MiB RSS (87 MiB before it; the worker, and the 85 MB of indicators it
 * hands the main thread). So the chart's 512 MiB limit leaves the controller's own heap
 * (informers, the feed's previous snapshot of the same size) little room in that worst
 * case; an installation that ingests line feeds near the indicator cap needs a higher
 * memory limit (768Mi by estimate, not measured in a cluster) or a lower
 * --feed-max-indicators. (Measured at f6441dd.) The old 64 MiB cap expanded to 1-2.7 GB.
 * Raising the byte cap means raising the heap by 15-40 times as much, and the
 * container's memory limit with it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FeedCapError, type FeedCap } from './caps.js';
import type { GuardrailConfig } from './guardrails.js';
import {
  ConfidenceExpressionError,
  type IngestCaps,
  type IngestOptions,
  type IngestResult,
  ipv4Indicators,
  withIpv4,
  type Ipv4Block,
} from './ingest.js';
import type { Indicator } from './indicator.js';
import { pause, PAUSE_EVERY } from '../lib/yield.js';
import { packageRoot } from './package-root.js';
import type { FromWorker, SandboxError, SandboxInput, ToWorker } from './sandbox-protocol.js';
import { FeedError, type FeedErrorCode, FEED_ERROR_CODES } from './sources/errors.js';

/**
 * The defaults, chosen together with the byte cap (controller/config.ts
 * --feed-max-bytes) from the measurements in the module comment.
 */
export const DEFAULT_SANDBOX = Object.freeze({
  heapMb: 256,
  syncDeadlineMs: 300_000,
  maxBytes: 8 * 1024 * 1024,
});

export interface SandboxLimits {
  /** V8 old-generation heap of the worker, MiB (resourceLimits.maxOldGenerationSizeMb). */
  heapMb: number;
  /** Young generation, MiB. Default 32. */
  youngMb?: number;
  /** Stack, MiB. Default 4 (Node's default), so deep recursion fails as a RangeError, not a crash. */
  stackMb?: number;
  /** How many workers may run at once. Default 1. */
  maxWorkers?: number;
}

/** One sync's ingestion job: the ingest options as plain data, and where the bytes come from. */
export interface SandboxJob extends Omit<IngestOptions, 'guardrails' | 'now' | 'caps'> {
  now: Date;
  /** The worker builds Guardrails from this config (plain data). */
  guardrails: GuardrailConfig;
  caps?: Partial<IngestCaps>;
  /**
   * `body`: one body, already fetched. `misp`: a MISP feed, read file by file
   * ("manifest.json", then "<uuid>.json" for each event) as the worker asks.
   */
  source:
    | { kind: 'body'; bytes: Uint8Array }
    | { kind: 'misp'; readFile: (name: string) => Promise<Uint8Array>; maxEvents?: number };
  /** When the sync's time is up: the worker is terminated then (FST_FEED_DEADLINE). */
  deadline: number;
  signal?: AbortSignal;
}

export interface SandboxOutcome extends IngestResult {
  /** The most heap the worker was seen using (sampled every 1024 records and 64 KiB of input), in bytes. */
  peakHeapBytes: number;
}

/**
 * The worker's entry point. From the build (dist/feeds/sandbox.js, as the controller
 * and the container run) it is the sibling .js file. From the TypeScript sources (vitest
 * runs them through vite-node), Node cannot load a .ts file as a worker, and vitest 3
 * does not transform worker_threads entries, so the compiled worker in dist/ is used:
 * `npm run build` first, as `npm test` does. The worker then runs the built feeds/ code
 * while the test runs the sources, so a test of changed ingest code needs a fresh build.
 */
function workerEntry(): URL {
  if (import.meta.url.endsWith('.js')) return new URL('./sandbox-worker.js', import.meta.url);
  const built = join(packageRoot(), 'dist', 'feeds', 'sandbox-worker.js');
  if (!existsSync(built)) {
    throw new FeedError(
      'FST_FEED_WORKER_FAILED',
      `the ingestion worker ${built} is missing: run \`npm run build\` first`,
    );
  }
  return pathToFileURL(built);
}

/** Rebuilds a worker's error as the class the controller tells apart. */
function fromData(e: SandboxError): Error {
  if (e.code === 'FST_FEED_CAP_EXCEEDED' && e.cap !== undefined && e.limit !== undefined)
    return new FeedCapError(e.cap as FeedCap, e.limit, e.message);
  if (e.code !== undefined && Object.hasOwn(FEED_ERROR_CODES, e.code))
    return new FeedError(e.code as FeedErrorCode, e.message);
  if (e.name === 'ConfidenceExpressionError') return new ConfidenceExpressionError(e.message);
  return new Error(e.message);
}

export class IngestSandbox {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limits: SandboxLimits) {}

  /** Runs one job in a fresh worker, after any that hold the sandbox's slots. */
  async ingest(job: SandboxJob): Promise<SandboxOutcome> {
    await this.slot(job);
    try {
      return await this.run(job);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async slot(job: SandboxJob): Promise<void> {
    if (this.running < (this.limits.maxWorkers ?? 1)) {
      this.running++;
      return;
    }
    // The deadline and the signal also bound the wait for a slot.
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        job.signal?.removeEventListener('abort', abort);
        this.running++;
        resolve();
      };
      const leave = (err: Error) => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        job.signal?.removeEventListener('abort', abort);
        clearTimeout(timer);
        reject(err);
      };
      const abort = () =>
        leave(
          new FeedError(
            'FST_FEED_ABORTED',
            'the sync was cancelled while waiting for an ingestion worker',
          ),
        );
      const timer = setTimeout(
        () => leave(this.deadlineError(job)),
        Math.max(0, job.deadline - Date.now()),
      );
      job.signal?.addEventListener('abort', abort, { once: true });
      this.waiting.push(go);
    });
  }

  private deadlineError(job: SandboxJob): FeedError {
    return new FeedError(
      'FST_FEED_DEADLINE',
      `the sync of ${job.feed} passed its deadline (--feed-sync-deadline) before ingestion finished; the worker was stopped`,
    );
  }

  private run(job: SandboxJob): Promise<SandboxOutcome> {
    const { heapMb, youngMb = 32, stackMb = 4 } = this.limits;
    const input: SandboxInput = {
      feed: job.feed,
      format: job.format,
      now: job.now.toISOString(),
      guardrails: job.guardrails,
      source: job.source.kind,
      ...(job.parser ? { parser: job.parser } : {}),
      ...(job.confidence ? { confidence: job.confidence } : {}),
      ...(job.ttlMs !== undefined ? { ttlMs: job.ttlMs } : {}),
      ...(job.caps ? { caps: job.caps } : {}),
      ...(job.sampleSize !== undefined ? { sampleSize: job.sampleSize } : {}),
      ...(job.source.kind === 'misp' && job.source.maxEvents !== undefined
        ? { maxEvents: job.source.maxEvents }
        : {}),
    };
    return new Promise<SandboxOutcome>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(workerEntry(), {
          workerData: input,
          resourceLimits: {
            maxOldGenerationSizeMb: heapMb,
            maxYoungGenerationSizeMb: youngMb,
            stackSizeMb: stackMb,
          },
          // Feed code needs no environment; the worker gets none of the controller's.
          env: {},
        });
      } catch (err) {
        reject(
          err instanceof FeedError
            ? err
            : new FeedError(
                'FST_FEED_WORKER_FAILED',
                `the ingestion worker did not start: ${(err as Error).message}`,
              ),
        );
        return;
      }
      const indicators: Indicator[] = [];
      let ipv4: Ipv4Block | undefined;
      const share = sharing();
      let settled = false;
      const finish = (err: Error | undefined, outcome?: SandboxOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        job.signal?.removeEventListener('abort', abort);
        void worker.terminate();
        if (err) reject(err);
        else resolve(outcome!);
      };
      const timer = setTimeout(
        () => finish(this.deadlineError(job)),
        Math.max(0, job.deadline - Date.now()),
      );
      const abort = () =>
        finish(
          new FeedError(
            'FST_FEED_ABORTED',
            `the sync of ${job.feed} was cancelled; the ingestion worker was stopped`,
          ),
        );
      if (job.signal?.aborted) abort();
      job.signal?.addEventListener('abort', abort, { once: true });

      const send = (m: ToWorker, transfer: ArrayBuffer[] = []) => {
        if (!settled) worker.postMessage(m, transfer);
      };
      const sendFile = (id: number, bytes: Uint8Array) => {
        // Transfer, not copy, when the bytes own their whole buffer (not a slice of Buffer's pool).
        const own =
          bytes.byteOffset === 0 &&
          bytes.byteLength === bytes.buffer.byteLength &&
          bytes.buffer instanceof ArrayBuffer;
        send({ type: 'file', id, bytes }, own ? [bytes.buffer as ArrayBuffer] : []);
      };
      const read = (id: number, name: string) => {
        const source = job.source;
        const bytes =
          source.kind === 'body'
            ? name === 'body'
              ? Promise.resolve(source.bytes)
              : Promise.reject(new Error(`no file ${name}`))
            : source.readFile(name);
        bytes.then(
          (b) => sendFile(id, b),
          (err: unknown) => {
            const e = err as { name?: string; message?: string; code?: string };
            send({
              type: 'fileError',
              id,
              error: {
                name: e?.name ?? 'Error',
                message: e?.message ?? String(err),
                ...(e?.code ? { code: e.code } : {}),
              },
            });
          },
        );
      };

      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'read':
            read(m.id, m.name);
            return;
          case 'indicators':
            for (const i of m.batch) indicators.push(share(i));
            // After pending I/O (probes, the lease renewal), not before it.
            setImmediate(() => send({ type: 'ack' }));
            return;
          case 'ipv4':
            ipv4 = m.block;
            return;
          case 'done': {
            const done = m;
            // The block becomes objects in slices, so a million addresses never hold the loop.
            void expand(ipv4, job.feed).then(
              (addresses) =>
                finish(undefined, {
                  ...done.result,
                  indicators: addresses ? withIpv4(indicators, addresses) : indicators,
                  peakHeapBytes: done.peakHeapBytes,
                }),
              (err: unknown) => finish(err as Error),
            );
            return;
          }
          case 'failed':
            finish(fromData(m.error));
        }
      });
      worker.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          finish(
            new FeedError(
              'FST_FEED_WORKER_MEMORY',
              `ingesting ${job.feed} needed more than the ingestion worker's ${heapMb} MiB heap (--feed-worker-heap); the worker was stopped`,
            ),
          );
        } else {
          finish(
            new FeedError(
              'FST_FEED_WORKER_FAILED',
              `the ingestion worker for ${job.feed} failed: ${err.message}`,
            ),
          );
        }
      });
      worker.on('exit', (code) =>
        finish(
          new FeedError(
            'FST_FEED_WORKER_FAILED',
            `the ingestion worker for ${job.feed} exited (code ${code}) before it finished`,
          ),
        ),
      );
    });
  }
}

/**
 * What the indicators of one sync repeat, held once: a message from the worker is
 * deserialised into fresh strings and arrays for every indicator, so a million
 * addresses would carry a million copies of the same type name, feed name, empty tag
 * list and expiry time. Shared lists are frozen, so code that tried to change one
 * indicator's list in place would fail loudly instead of changing them all.
 */
export function sharing(): (i: Indicator) => Indicator {
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const str = (v: string): string => {
    const seen = strings.get(v);
    if (seen !== undefined) return seen;
    strings.set(v, v);
    return v;
  };
  const list = (v: string[]): string[] => {
    const key = v.length === 0 ? '' : JSON.stringify(v);
    const seen = lists.get(key);
    if (seen !== undefined) return seen;
    const frozen = Object.freeze(v.map(str)) as string[];
    lists.set(key, frozen);
    return frozen;
  };
  return (i) => {
    i.type = str(i.type) as Indicator['type'];
    i.sources = list(i.sources);
    i.tags = list(i.tags);
    if (i.validUntil !== undefined) i.validUntil = str(i.validUntil);
    if (i.firstSeen !== undefined) i.firstSeen = str(i.firstSeen);
    if (i.lastSeen !== undefined) i.lastSeen = str(i.lastSeen);
    return i;
  };
}

/** A block's indicators, made PAUSE_EVERY at a time with a pause between. */
async function expand(
  block: Ipv4Block | undefined,
  feed: string,
): Promise<Indicator[] | undefined> {
  if (!block) return undefined;
  const sources = Object.freeze([feed]) as unknown as string[];
  const out: Indicator[] = [];
  for (let from = 0; from < block.addresses.length; from += PAUSE_EVERY) {
    for (const i of ipv4Indicators(
      block,
      sources,
      from,
      Math.min(block.addresses.length, from + PAUSE_EVERY),
    ))
      out.push(i);
    await pause();
  }
  return out;
}
