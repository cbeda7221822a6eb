import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { Controller, type Request } from './controller.js';
import { ForestallError } from './errors.js';
import type { Informer } from './informer.js';
import { Metrics } from './metrics.js';
import { ExponentialRateLimiter } from './rate-limiter.js';

// The controller only needs the informer's event and sync surface; this stands in for
// the list-watch (tested against the real API server in test/integration).
function staticInformer(names: string[]): Informer<KubernetesObject> {
  const objs = names.map((name) => ({ metadata: { name } }));
  return {
    on: () => undefined,
    start: () => undefined,
    stop: async () => undefined,
    waitForSync: async () => undefined,
    hasSynced: () => true,
    list: () => objs,
  } as unknown as Informer<KubernetesObject>;
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function harness(reconcile: (req: Request) => Promise<{ requeueAfter?: number } | void>) {
  const clock = new FakeClock();
  const metrics = new Metrics();
  const controller = new Controller({
    name: 'test',
    informer: staticInformer([]),
    reconciler: { reconcile },
    clock,
    log: pino({ level: 'silent' }),
    metrics,
    concurrency: 3,
    rateLimiter: new ExponentialRateLimiter(100, 10_000),
  });
  return { clock, metrics, controller };
}

describe('Controller', () => {
  it('GIVEN transient failures THEN retries wait 100, 200, 400 ms and success resets the backoff', async () => {
    const attempts: number[] = [];
    let failuresLeft = 3;
    const { clock, controller } = harness(async () => {
      attempts.push(clock.now());
      if (failuresLeft-- > 0) throw new Error('connection refused');
    });
    await controller.start();
    const t0 = clock.now();
    controller.queue.add('a');
    await settle();
    for (const step of [100, 200, 400]) {
      clock.advance(step - 1);
      await settle();
      const before = attempts.length;
      clock.advance(1);
      await settle();
      expect(attempts.length).toBe(before + 1);
    }
    expect(attempts.map((t) => t - t0)).toEqual([0, 100, 300, 700]);
    expect(controller.queue.rateLimiter.failures('a')).toBe(0);
    await controller.stop();
  });

  it('GIVEN a terminal error THEN the key is not retried and the error is counted by code', async () => {
    let calls = 0;
    const { clock, metrics, controller } = harness(async () => {
      calls++;
      throw new ForestallError('FST_INVALID_SPEC', 'spec.match: bad');
    });
    await controller.start();
    controller.queue.add('a');
    await settle();
    clock.advance(60_000);
    await settle();
    expect(calls).toBe(1);
    const errors = await metrics.reconcileErrors.get();
    expect(errors.values).toContainEqual(
      expect.objectContaining({
        labels: { controller: 'test', code: 'FST_INVALID_SPEC' },
        value: 1,
      }),
    );
    await controller.stop();
  });

  it('GIVEN requeueAfter THEN the key runs again after that delay', async () => {
    const runs: number[] = [];
    const { clock, controller } = harness(async () => {
      runs.push(clock.now());
      return runs.length < 3 ? { requeueAfter: 5000 } : undefined;
    });
    await controller.start();
    controller.queue.add('a');
    await settle();
    clock.advance(5000);
    await settle();
    clock.advance(5000);
    await settle();
    clock.advance(60_000);
    await settle();
    expect(runs.map((t) => t - runs[0]!)).toEqual([0, 5000, 10_000]);
    await controller.stop();
  });

  it('GIVEN a resync period THEN every cached object is reconciled again', async () => {
    const seen: string[] = [];
    const clock = new FakeClock();
    const controller = new Controller({
      name: 'resync',
      informer: staticInformer(['x', 'y']),
      reconciler: {
        reconcile: async ({ key }) => {
          seen.push(key);
        },
      },
      clock,
      log: pino({ level: 'silent' }),
      metrics: new Metrics(),
      resyncPeriodMs: 60_000,
    });
    await controller.start();
    clock.advance(66_001);
    await settle();
    expect(seen.sort()).toEqual(['x', 'y']);
    await controller.stop();
  });
});
