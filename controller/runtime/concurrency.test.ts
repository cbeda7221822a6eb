import { describe, expect, it } from 'vitest';
import { forEachLimit } from './concurrency.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('forEachLimit', () => {
  it('GIVEN more items than the limit THEN every item runs once and never more than the limit at a time', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimit([...Array(20).keys()], 4, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      seen.push(i);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(peak).toBe(4);
  });

  it('GIVEN a failure THEN no new item starts, the running ones finish, and the first error is thrown', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    await expect(
      forEachLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await tick();
        if (i === 1) throw new Error('boom 1');
        finished.push(i);
      }),
    ).rejects.toThrow('boom 1');
    expect(started).toEqual([0, 1, 2]);
    expect(finished).toEqual([0, 2]);
  });

  it('GIVEN no items THEN nothing runs', async () => {
    let calls = 0;
    await forEachLimit([], 3, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});
