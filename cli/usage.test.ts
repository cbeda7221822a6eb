import { describe, expect, it } from 'vitest';
import { badUsage, UsageError } from './usage.js';

function capture() {
  const written: string[] = [];
  return { written, write: (s: string) => written.push(s) };
}

describe('badUsage', () => {
  it('GIVEN a UsageError WHEN answered THEN the command and message, then what follows, go to err with exit 2', () => {
    const err = capture();
    const code = badUsage(
      new UsageError('--reason is required'),
      err,
      'forestall reject',
      '\nUSAGE\n',
    );
    expect(code).toBe(2);
    expect(err.written.join('')).toBe('forestall reject: --reason is required\n\nUSAGE\n');
  });

  it('GIVEN nothing to follow WHEN answered THEN only the line is written', () => {
    const err = capture();
    badUsage(new UsageError('give at least one DIR'), err, 'forestall test');
    expect(err.written.join('')).toBe('forestall test: give at least one DIR\n');
  });

  it('GIVEN an error that is not a usage mistake WHEN answered THEN it is thrown again and nothing is written', () => {
    const err = capture();
    const boom = new Error('connection refused');
    expect(() => badUsage(boom, err, 'forestall status')).toThrow(boom);
    expect(err.written).toEqual([]);
  });
});
