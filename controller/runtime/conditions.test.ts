import { describe, expect, it } from 'vitest';
import { setCondition } from './conditions.js';

describe('setCondition', () => {
  const t1 = new Date('2026-01-01T00:00:00.123Z');
  const t2 = new Date('2026-01-01T01:00:00Z');
  /** A condition as a reconciler passes it in, before the time is stamped. */
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
  });

  it('GIVEN no conditions WHEN one is set THEN it is added with the time at second precision', () => {
    const out = setCondition(undefined, cond('Ready', 'True', 'Synced', 'ok'), t1);
    expect(out).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Synced',
        message: 'ok',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('GIVEN the same status with a new message THEN lastTransitionTime is kept', () => {
    const first = setCondition(undefined, cond('Ready', 'True', 'Synced', 'ok'), t1);
    const second = setCondition(first, cond('Ready', 'True', 'Synced', 'still ok'), t2);
    expect(second[0]!.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(second[0]!.message).toBe('still ok');
  });

  it('GIVEN a status change THEN lastTransitionTime moves and other conditions are untouched', () => {
    const first = setCondition(
      setCondition(undefined, cond('Ready', 'True', 'Synced', 'ok'), t1),
      cond('Stale', 'False', 'Fresh', ''),
      t1,
    );
    const second = setCondition(first, cond('Ready', 'False', 'Suspended', 'suspended'), t2);
    expect(second.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe('2026-01-01T01:00:00Z');
    expect(second.find((c) => c.type === 'Stale')).toEqual(first[1]);
  });
});
