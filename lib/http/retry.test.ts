import { describe, expect, it } from 'vitest';
import {
  attemptsNote,
  backoffDelay,
  parseRetryAfter,
  withRetry,
  type AttemptResult,
} from './retry.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2015-10-21T07:28:00Z');
  it.each<[string | null, number | undefined]>([
    ['1', 1_000],
    ['0', 0],
    [' 120 ', 120_000],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30_000],
    ['Wed, 21 Oct 2015 07:00:00 GMT', 0],
    ['1.5', undefined],
    ['-1', undefined],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
  ])('GIVEN Retry-After %j THEN the wait is %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('withRetry', () => {
  type Failure = { n: number };
  const failing =
    (retry: boolean, retryAfterMs?: number) =>
    async (n: number): Promise<AttemptResult<string, Failure>> => ({
      ok: false,
      failure: { n },
      retry,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });

  function policy(slept: number[], overrides: Partial<Parameters<typeof withRetry>[1]> = {}) {
    return {
      retries: 2,
      backoffMs: 100,
      maxBackoffMs: 1_000,
      maxRetryAfterMs: 5_000,
      random: () => 1,
      sleep: async (ms: number) => {
        slept.push(ms);
      },
      giveUp: (failure: unknown, reason: string, attempts: number) =>
        Object.assign(new Error(reason), { failure, attempts }),
      ...overrides,
    };
  }

  it('GIVEN a transient failure every time THEN it tries 1 + retries times with doubling backoff, then gives up exhausted', async () => {
    const slept: number[] = [];
    await expect(withRetry(failing(true), policy(slept))).rejects.toMatchObject({
      message: 'exhausted',
      attempts: 3,
    });
    expect(slept).toEqual([100, 200]);
  });

  it('GIVEN a failure that says not to retry THEN one attempt, no wait', async () => {
    const slept: number[] = [];
    await expect(withRetry(failing(false), policy(slept))).rejects.toMatchObject({
      message: 'final',
      attempts: 1,
    });
    expect(slept).toEqual([]);
  });

  it('GIVEN a Retry-After within the cap THEN it replaces the backoff; beyond the cap THEN it gives up at once', async () => {
    const slept: number[] = [];
    await expect(withRetry(failing(true, 3_000), policy(slept))).rejects.toThrow('exhausted');
    expect(slept).toEqual([3_000, 3_000]);
    const none: number[] = [];
    await expect(withRetry(failing(true, 9_000), policy(none))).rejects.toMatchObject({
      message: 'retry-after-too-long',
      attempts: 1,
    });
    expect(none).toEqual([]);
  });

  it('GIVEN success on the second attempt THEN its value, after one wait', async () => {
    const slept: number[] = [];
    const value = await withRetry<string, Failure>(
      async (n) =>
        n === 2 ? { ok: true, value: 'done' } : { ok: false, failure: { n }, retry: true },
      policy(slept),
    );
    expect(value).toBe('done');
    expect(slept).toHaveLength(1);
  });

  it('GIVEN an aborted signal THEN the cancelled error, before any attempt', async () => {
    const controller = new AbortController();
    controller.abort();
    let attempts = 0;
    await expect(
      withRetry(
        async () => {
          attempts++;
          return { ok: true, value: 'x' };
        },
        policy([], { signal: controller.signal, cancelled: () => new Error('cancelled') }),
      ),
    ).rejects.toThrow('cancelled');
    expect(attempts).toBe(0);
  });

  it('GIVEN jitter THEN each wait is between half and all of the capped backoff', () => {
    expect(backoffDelay(0, { backoffMs: 100, maxBackoffMs: 1_000, random: () => 0 })).toBe(50);
    expect(backoffDelay(10, { backoffMs: 100, maxBackoffMs: 1_000, random: () => 1 })).toBe(1_000);
  });
});

describe('attemptsNote', () => {
  it('GIVEN one attempt THEN nothing; GIVEN more THEN their count in brackets', () => {
    expect(attemptsNote(1)).toBe('');
    expect(attemptsNote(2)).toBe(' (2 attempts)');
    expect(attemptsNote(4)).toBe(' (4 attempts)');
  });
});
