import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FeedCapError } from './caps.js';
import { defaultGuardrailConfig, Guardrails } from './guardrails.js';
import { ingest } from './ingest.js';
import { DEFAULT_SANDBOX, IngestSandbox, type SandboxJob } from './sandbox.js';
import { FeedError } from './sources/errors.js';

// The worker runs dist/feeds/sandbox-worker.js (see workerEntry in sandbox.ts): `npm run build` first.
const guardrails = defaultGuardrailConfig();
const now = new Date('2026-08-22T12:00:00Z');
const IPSUM = new URL('../../shared/feeds/ipsum/ipsum-2026-08-22.txt', import.meta.url);
const job = (bytes: Uint8Array, extra: Partial<SandboxJob> = {}): SandboxJob => ({
  feed: 'test',
  format: 'lines',
  now,
  guardrails,
  source: { kind: 'body', bytes },
  deadline: Date.now() + 60_000,
  ...extra,
});
const text = (s: string) => new Uint8Array(Buffer.from(s));

describe('IngestSandbox', () => {
  it('GIVEN a feed THEN the worker returns exactly what ingest() on the main thread returns', async () => {
    const body = '77.90.185.20 3\n8.8.8.8 9\n169.254.169.254 1\nnot-an-indicator!\n2.57.122.53 8\n';
    const options = {
      parser: { scoreColumn: 1 },
      confidence: { expression: 'int(record.score) * 10' },
    };
    const inWorker = await new IngestSandbox({ heapMb: 64 }).ingest(job(text(body), options));
    const onMain = await ingest(
      (async function* () {
        yield Buffer.from(body);
      })(),
      { feed: 'test', format: 'lines', now, guardrails: new Guardrails(guardrails), ...options },
    );
    const { peakHeapBytes, ...result } = inWorker;
    expect(result).toEqual(onMain);
    expect(peakHeapBytes).toBeGreaterThan(0);
  }, 30_000);

  it('GIVEN a feed that needs more heap than the worker may use THEN FST_FEED_WORKER_MEMORY names the limit, and the process lives on', async () => {
    const err = await new IngestSandbox({ heapMb: 16, youngMb: 4 })
      .ingest(
        job(new Uint8Array(readFileSync(IPSUM)), {
          parser: { scoreColumn: 1 },
          confidence: { expression: 'int(record.score) * 10' },
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedError);
    expect(err).toMatchObject({ code: 'FST_FEED_WORKER_MEMORY' });
    expect((err as Error).message).toMatch(
      /more than the ingestion worker's 16 MiB heap \(--feed-worker-heap\)/,
    );
  }, 60_000);

  it('GIVEN a deadline that passes during ingestion THEN the worker is terminated with FST_FEED_DEADLINE', async () => {
    const started = Date.now();
    const err = await new IngestSandbox({ heapMb: 512 })
      .ingest(
        job(new Uint8Array(readFileSync(IPSUM)), {
          parser: { scoreColumn: 1 },
          deadline: Date.now() + 300,
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FST_FEED_DEADLINE' });
    expect((err as Error).message).toMatch(/passed its deadline \(--feed-sync-deadline\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  it('GIVEN a cap hit inside the worker THEN it arrives as a FeedCapError naming the cap', async () => {
    const err = await new IngestSandbox({ heapMb: 64 })
      .ingest(job(text('1.2.3.4\n1.2.3.5\n1.2.3.6\n'), { caps: { maxRecords: 2 } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedCapError);
    expect(err).toMatchObject({ cap: 'records', limit: 2 });
  }, 30_000);

  it('GIVEN a MISP feed THEN the worker asks for each file by name, and a failed read keeps its code', async () => {
    const uuid = '3b9e0c5a-6f1d-4c2e-9a47-1d2f3e4a5b6c';
    const event = {
      Event: {
        uuid,
        info: 'x',
        Attribute: [{ type: 'ip-dst', value: '45.154.244.193', to_ids: true, uuid: 'a1' }],
      },
    };
    const asked: string[] = [];
    const files: Record<string, string> = {
      'manifest.json': JSON.stringify({ [uuid]: { info: 'x' } }),
      [`${uuid}.json`]: JSON.stringify(event),
    };
    const readFile = (name: string) => (asked.push(name), Promise.resolve(text(files[name]!)));
    const r = await new IngestSandbox({ heapMb: 64 }).ingest(
      job(new Uint8Array(), { format: 'misp', source: { kind: 'misp', readFile } }),
    );
    expect(asked).toEqual(['manifest.json', `${uuid}.json`]);
    expect(r.indicators.map((i) => i.value)).toEqual(['45.154.244.193']);

    const tooLarge = (name: string) =>
      name === 'manifest.json'
        ? readFile(name)
        : Promise.reject(new FeedError('FST_FEED_TOO_LARGE', 'over the budget'));
    const err = await new IngestSandbox({ heapMb: 64 })
      .ingest(
        job(new Uint8Array(), { format: 'misp', source: { kind: 'misp', readFile: tooLarge } }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'FST_FEED_TOO_LARGE',
      message: `misp: cannot read ${uuid}.json: over the budget`,
    });
  }, 30_000);

  it('GIVEN more jobs than workers THEN they run one after another, and one waiting past its deadline fails', async () => {
    const sandbox = new IngestSandbox({ heapMb: 512 });
    const slow = sandbox.ingest(
      job(new Uint8Array(readFileSync(IPSUM)), { parser: { scoreColumn: 1 } }),
    );
    const waiting = sandbox
      .ingest(job(text('1.2.3.4\n'), { deadline: Date.now() + 100 }))
      .catch((e: unknown) => e);
    expect(await waiting).toMatchObject({ code: 'FST_FEED_DEADLINE' });
    await expect(slow).resolves.toMatchObject({ kept: 120_382 });
  }, 60_000);
});

// Issue 13: "a default byte cap that fits the chart's memory limit with margin". The
// heaviest feeds the default byte cap admits, ingested under the default worker heap and
// the default caps: each is ingested, or refused by a cap that names itself, and never
// runs out of heap. The measurements behind the defaults, and what they leave of the
// chart's memory limit, are in sandbox.ts's header. The first case takes 5-20 s on two
// busy cores: it runs close to the heap limit, where the collector works hardest.
describe('IngestSandbox at the defaults: 8 MiB of the heaviest formats in a 256 MiB heap', () => {
  const MIB = 1024 * 1024;
  const atDefaults = (
    format: SandboxJob['format'],
    parser: SandboxJob['parser'],
    body: Buffer,
    extra: Partial<SandboxJob> = {},
  ) =>
    new IngestSandbox({ heapMb: DEFAULT_SANDBOX.heapMb }).ingest(
      job(new Uint8Array(body), {
        format,
        parser,
        deadline: Date.now() + DEFAULT_SANDBOX.syncDeadlineMs,
        ...extra,
      }),
    );
  /** Address n of a walk through 11.0.0.0-125.255.255.255 (public unicast, nothing the guardrails drop). */
  const address = (n: number) => {
    const a = 0x0b000000 + (((n * 2_654_435_761) >>> 0) % 0x73000000);
    return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
  };
  /** `open`, then items joined by `sep` while they fit in the byte cap, then `close`. */
  const upToCap = (item: (i: number) => string, open = '', close = '', sep = '') => {
    const parts = [open];
    let size = open.length + close.length;
    for (let i = 0; ; i++) {
      const next = (i === 0 ? '' : sep) + item(i);
      if (size + next.length > DEFAULT_SANDBOX.maxBytes) break;
      parts.push(next);
      size += next.length;
    }
    parts.push(close);
    return Buffer.from(parts.join(''));
  };
  const outOfHeap = (err: unknown) =>
    (err as { code?: string }).code === 'FST_FEED_WORKER_MEMORY' ? (err as Error).message : '';

  it('GIVEN 8 MiB of scored address lines, just under the indicators cap and repeats after THEN it is ingested (the most a line feed can keep)', async () => {
    const body = upToCap((i) => `${address(i % 249_000)}\t${1 + (i % 9)}\n`);
    expect(body.length).toBeGreaterThan(DEFAULT_SANDBOX.maxBytes - 32);
    const confidence = { expression: 'int(record.score) * 10' };
    const result = await atDefaults('lines', { scoreColumn: 1 }, body, { confidence }).catch(
      (e: unknown) => {
        throw new Error(outOfHeap(e) || String(e));
      },
    );
    expect(result.records).toBeGreaterThan(500_000);
    expect(result.kept).toBeGreaterThan(245_000);
    expect(result.peakHeapBytes).toBeLessThan(DEFAULT_SANDBOX.heapMb * MIB);
  }, 120_000);

  it('GIVEN 8 MiB of distinct address lines THEN the indicators cap refuses it by name, not the heap', async () => {
    const body = upToCap((i) => `${address(i)}\n`);
    const err = await atDefaults('lines', {}, body).catch((e: unknown) => e);
    expect(outOfHeap(err)).toBe('');
    expect(err).toBeInstanceOf(FeedCapError);
    expect(err).toMatchObject({ cap: 'indicators', limit: 250_000 });
  }, 120_000);

  it('GIVEN an 8 MiB JSON document of records THEN it is ingested', async () => {
    const record = (i: number) =>
      JSON.stringify({ ip: address(i), score: i % 100, first_seen: '2026-08-01', tags: ['c2'] });
    const body = upToCap(record, '{"data":[', ']}', ',');
    const result = await atDefaults('json', { path: '$.data[*]' }, body).catch((e: unknown) => {
      throw new Error(outOfHeap(e) || String(e));
    });
    expect(result.kept).toBeGreaterThan(100_000);
  }, 120_000);
});
