import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { WorkQueue } from './queue.js';
import { ExponentialRateLimiter } from './rate-limiter.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('GIVEN a key added three times before processing WHEN workers take keys THEN it is handed out once', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('GIVEN a key being processed WHEN it is added again THEN it is not handed out until done, then exactly once more', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await tick();
    expect(second).toBeUndefined();
    expect(q.isProcessing('a')).toBe(true);
    q.done(first!);
    await tick();
    expect(second).toBe('a');
    expect(q.len()).toBe(0);
  });

  it('GIVEN many workers and a storm of adds THEN no key is ever processed by two workers at once and every key is processed after its last add', async () => {
    const q = new WorkQueue();
    const active = new Set<string>();
    const lastProcessed = new Map<string, number>();
    const lastAdded = new Map<string, number>();
    let overlaps = 0;
    let seq = 0;
    let stop = false;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (active.has(key)) overlaps++;
        active.add(key);
        const startedAt = seq++;
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        lastProcessed.set(key, startedAt);
        active.delete(key);
        q.done(key);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 400; i++) {
      const key = `k${i % 5}`;
      lastAdded.set(key, seq++);
      q.add(key);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    while (!stop) {
      await new Promise((r) => setTimeout(r, 20));
      stop = q.len() === 0 && active.size === 0;
    }
    q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    for (const [key, added] of lastAdded) expect(lastProcessed.get(key)!).toBeGreaterThan(added);
  });

  it('GIVEN addAfter twice for one key THEN only the earlier delay counts', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 5000);
    clock.advance(299);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    clock.advance(10_000);
    expect(q.len()).toBe(0);
  });

  it('GIVEN repeated failures THEN the backoff doubles up to the cap, and forget() resets it', () => {
    const clock = new FakeClock();
    const limiter = new ExponentialRateLimiter(10, 100);
    const q = new WorkQueue({ clock, rateLimiter: limiter });
    const delays = Array.from({ length: 6 }, () => limiter.when('a'));
    expect(delays).toEqual([10, 20, 40, 80, 100, 100]);
    limiter.forget('a');
    q.addRateLimited('a');
    clock.advance(9);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(limiter.failures('a')).toBe(1);
    expect(limiter.failures('b')).toBe(0);
  });

  it('GIVEN a shut-down queue THEN waiting workers get undefined and adds are ignored', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    expect(q.len()).toBe(0);
  });
});
