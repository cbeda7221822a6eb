/**
 * Heap expansion of feed ingestion: feed bytes in, peak heap of the ingestion worker
 * (feeds/sandbox.ts) out, per format. The default byte cap (--feed-max-bytes) and the
 * worker's heap limit (--feed-worker-heap) are chosen together from these ratios.
 *
 * Inputs: the real IPsum and KEV copies in ../shared/feeds, and synthetic lines, csv,
 * json and stix feeds of `--mib` MiB each (distinct public-looking addresses, so the
 * guardrails keep most of them and the result is as large as it can be). Each runs in
 * a fresh worker with a generous heap; the worker samples its used heap every 1024
 * records and 64 KiB of input (garbage included: what the heap limit is judged on).
 * Then each synthetic feed is run once more at the byte cap under the default heap
 * limit, to check that the pair holds.
 *
 * Also measures the main thread's longest event-loop stall (perf_hooks
 * monitorEventLoopDelay) while a large lines feed is ingested in the worker, and while
 * the same feed is ingested on the main thread as the controller did before.
 *
 * Prints one JSON line per measurement. Usage:
 *   npm run build && node dist/bench/sandbox-heap.js [--mib 8]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULT_SANDBOX, IngestSandbox, type SandboxJob } from '../feeds/sandbox.js';
import { defaultGuardrailConfig, Guardrails } from '../feeds/guardrails.js';
import { ingest } from '../feeds/ingest.js';
import { packageRoot } from '../feeds/package-root.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '8' },
    cap: { type: 'string', default: String(DEFAULT_SANDBOX.maxBytes / 1048576) },
    'stall-mib': { type: 'string', default: '4' },
    'stall-only': { type: 'boolean', default: false },
  },
});
const size = Number(values.mib) * 1048576;
const capBytes = Number(values.cap) * 1048576;
const shared = join(packageRoot(), '..', 'shared', 'feeds');

/** A deterministic address outside the ranges the guardrails refuse (mostly: 11.x-126.x). */
function address(i: number): string {
  const n = 0x0b000000 + (((i * 2654435761) >>> 0) % 0x73000000);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function fill(bytes: number, line: (i: number) => string, head = '', tail = '', sep = ''): Buffer {
  const parts: string[] = [head];
  let length = head.length + tail.length;
  for (let i = 0; length < bytes; i++) {
    const l = (i > 0 ? sep : '') + line(i);
    parts.push(l);
    length += l.length;
  }
  parts.push(tail);
  return Buffer.from(parts.join(''));
}

const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const synthetic = (bytes: number) => ({
  lines: {
    format: 'lines' as const,
    parser: { scoreColumn: 1 },
    body: fill(bytes, (i) => `${address(i)}\t${1 + (i % 9)}\n`),
  },
  csv: {
    format: 'csv' as const,
    parser: { header: true, valueColumn: 0, typeColumn: 1, scoreColumn: 2 },
    body: fill(
      bytes,
      (i) => `${address(i)},ipv4,${i % 100},botnet;c2\n`,
      'value,type,score,tags\n',
    ),
  },
  json: {
    format: 'json' as const,
    parser: { path: '$.data[*]' },
    body: fill(
      bytes,
      (i) =>
        JSON.stringify({
          ip: address(i),
          score: i % 100,
          first_seen: '2026-08-01',
          tags: ['botnet', 'c2'],
        }),
      '{"data":[',
      ']}',
      ',',
    ),
  },
  stix: {
    format: 'stix' as const,
    parser: {},
    body: fill(
      bytes,
      (i) =>
        JSON.stringify({
          type: 'indicator',
          spec_version: '2.1',
          id: `indicator--${uuid(i)}`,
          created: '2026-08-01T00:00:00.000Z',
          modified: '2026-08-01T00:00:00.000Z',
          name: `C2 ${i}`,
          pattern: `[ipv4-addr:value = '${address(i)}']`,
          pattern_type: 'stix',
          valid_from: '2026-08-01T00:00:00Z',
          labels: ['malicious-activity'],
        }),
      `{"type":"bundle","id":"bundle--${uuid(0)}","objects":[`,
      ']}',
      ',',
    ),
  },
});

const guardrails = defaultGuardrailConfig();
/** The record and indicator caps would stop the larger inputs early; this measures the heap, not the caps. */
const NO_CAPS = { maxRecords: Infinity, maxIndicators: Infinity };
const now = new Date('2026-08-22T12:00:00Z');
const job = (
  feed: string,
  format: SandboxJob['format'],
  parser: SandboxJob['parser'],
  bytes: Uint8Array,
  caps: SandboxJob['caps'] = NO_CAPS,
): SandboxJob => ({
  feed,
  format,
  parser,
  now,
  guardrails,
  source: { kind: 'body', bytes },
  deadline: Date.now() + 600_000,
  caps,
  ...(format === 'lines'
    ? { confidence: { expression: 'int(record.score) >= 8 ? 100 : int(record.score) * 12' } }
    : {}),
});
const print = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

async function measure(
  name: string,
  format: SandboxJob['format'],
  parser: SandboxJob['parser'],
  body: Buffer,
  heapMb: number,
  caps?: SandboxJob['caps'],
): Promise<void> {
  const sandbox = new IngestSandbox({ heapMb });
  const started = performance.now();
  try {
    const r = await sandbox.ingest(job(name, format, parser, new Uint8Array(body), caps));
    print({
      name,
      format,
      heapLimitMb: heapMb,
      bytes: body.length,
      records: r.records,
      kept: r.kept,
      peakHeapMb: Math.round(r.peakHeapBytes / 1048576),
      ratio: Math.round((r.peakHeapBytes / body.length) * 10) / 10,
      ms: Math.round(performance.now() - started),
    });
  } catch (err) {
    print({
      name,
      format,
      heapLimitMb: heapMb,
      bytes: body.length,
      error: (err as { code?: string }).code,
      peak: undefined,
      message: (err as Error).message,
    });
  }
}

async function stall(what: string, run: () => Promise<unknown>): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  // A 10 ms ticker as a second measure: the longest gap between its ticks.
  let last = performance.now();
  let gap = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    gap = Math.max(gap, t - last);
    last = t;
  }, 10);
  const started = performance.now();
  await run();
  const ms = Math.round(performance.now() - started);
  // One more turn of the loop, so a stall that lasted until now is recorded too.
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(ticker);
  h.disable();
  print({
    name: `event-loop stall, ${what}`,
    maxMs: Math.round(h.max / 1e6),
    p99Ms: Math.round(h.percentile(99) / 1e6),
    longestTickGapMs: Math.round(gap),
    ms,
  });
}

const real = [
  {
    name: 'ipsum (real)',
    format: 'lines' as const,
    parser: { scoreColumn: 1 },
    body: readFileSync(join(shared, 'ipsum', 'ipsum-2026-08-22.txt')),
  },
  {
    name: 'kev (real)',
    format: 'kev' as const,
    parser: {},
    body: readFileSync(join(shared, 'kev', 'kev-2025-07-14.json')),
  },
];
if (!values['stall-only']) {
  for (const f of real) await measure(f.name, f.format, f.parser, f.body, 4096);
  for (const [name, f] of Object.entries(synthetic(size)))
    await measure(`${name} ${values.mib} MiB`, f.format, f.parser, f.body, 4096);
  // At the default byte cap, heap limit and caps: each must finish or stop at a cap, never run out of heap.
  for (const [name, f] of Object.entries(synthetic(capBytes)))
    await measure(`${name} at the cap`, f.format, f.parser, f.body, DEFAULT_SANDBOX.heapMb, {});
}

// About 260,000 addresses in 4 MiB: a feed near the indicators cap.
const big = synthetic(Number(values['stall-mib']) * 1048576).lines;
await stall(`${values['stall-mib']} MiB lines feed in the worker`, () =>
  new IngestSandbox({ heapMb: 4096 }).ingest(
    job('stall', 'lines', big.parser, new Uint8Array(big.body)),
  ),
);
await stall(`${values['stall-mib']} MiB lines feed on the main thread (before)`, () =>
  ingest(
    (async function* () {
      yield big.body;
    })(),
    {
      feed: 'stall',
      format: 'lines',
      parser: big.parser,
      now,
      guardrails: new Guardrails(guardrails),
      caps: NO_CAPS,
      confidence: { expression: 'int(record.score) >= 8 ? 100 : int(record.score) * 12' },
    },
  ),
);
