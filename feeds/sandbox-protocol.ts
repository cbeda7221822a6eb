import type { GuardrailConfig } from './guardrails.js';
import type { IngestCaps, IngestOptions, IngestResult, Ipv4Block } from './ingest.js';
import type { Indicator } from './indicator.js';

/**
 * The messages between the ingestion sandbox (sandbox.ts, main thread) and its worker
 * (sandbox-worker.ts). Everything is plain data: structured clone copies it, and
 * nothing with behaviour (a Guardrails, a Date) crosses the boundary.
 */

/** The worker's workerData: the ingest options as data, and what it reads. */
export interface SandboxInput {
  feed: string;
  format: IngestOptions['format'];
  parser?: IngestOptions['parser'];
  confidence?: IngestOptions['confidence'];
  ttlMs?: number;
  /** ISO time; the worker builds the Date. */
  now: string;
  /** The worker builds `new Guardrails(config)` from this. */
  guardrails: GuardrailConfig;
  caps?: Partial<IngestCaps>;
  sampleSize?: number;
  /** `body`: one body, sent as the first `file` message; `misp`: a MISP feed, whose files the worker asks for by name. */
  source: 'body' | 'misp';
  /** For `misp`: how many events the manifest may list. */
  maxEvents?: number;
}

/** A thrown error, as data. */
export interface SandboxError {
  name: string;
  message: string;
  code?: string;
  cap?: string;
  limit?: number;
}

export type ToWorker =
  | { type: 'file'; id: number; bytes: Uint8Array }
  /** The main thread took the last batch of indicators; the worker may send the next. */
  | { type: 'ack' }
  | { type: 'fileError'; id: number; error: SandboxError };

export type FromWorker =
  | { type: 'read'; id: number; name: string }
  | { type: 'indicators'; batch: Indicator[] }
  /** A lines feed's kept IPv4 addresses, one transferred buffer (ingest.ts Ipv4Block). */
  | { type: 'ipv4'; block: Ipv4Block }
  | { type: 'done'; result: Omit<IngestResult, 'indicators'>; peakHeapBytes: number }
  | { type: 'failed'; error: SandboxError };

/**
 * How many indicators go in one message: small enough that deserialising one never
 * blocks the main thread for long. The worker waits for an `ack` before the next:
 * Node delivers every queued message of a port in one task, so batches sent all at
 * once would be deserialised in one long stall (measured: 3 s for a million).
 */
export const INDICATOR_BATCH = 5_000;
