import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FeedCapError } from './caps.js';
import { defaultGuardrailConfig, Guardrails } from './guardrails.js';
import { ingest } from './ingest.js';
import { IngestSandbox, type SandboxJob } from './sandbox.js';
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
