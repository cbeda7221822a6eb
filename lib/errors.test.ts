import { describe, expect, it } from 'vitest';
import { classify, codeOf, ForestallError, statusOf } from './errors.js';

describe('ForestallError', () => {
  it('GIVEN a message with the secrets passed and credential shapes THEN the error carries none of them', () => {
    const err = new ForestallError('FST_X', 'push with tok-1234 to https://u:pw@h/x failed', {
      errorClass: 'transient',
      secrets: ['tok-1234'],
      status: 503,
      retryAfterMs: 2_000,
    });
    expect(err.message).toBe('push with [REDACTED] to https://[REDACTED]@h/x failed');
    expect(err).toMatchObject({
      code: 'FST_X',
      errorClass: 'transient',
      status: 503,
      retryAfterMs: 2_000,
    });
    expect(JSON.stringify(err)).not.toContain('tok-1234');
  });
});

describe('classify and codeOf', () => {
  it.each([
    [new ForestallError('FST_A', 'm', { errorClass: 'terminal' }), 'terminal', 'FST_A'],
    [new ForestallError('FST_B', 'm', { errorClass: 'conflict' }), 'conflict', 'FST_B'],
    // The CEL compiler's error is not a subclass, but carries an FST_ code.
    [
      Object.assign(new Error('spec.match: x'), { code: 'FST_INVALID_SPEC' }),
      'transient',
      'FST_INVALID_SPEC',
    ],
    [Object.assign(new Error('x'), { errorClass: 'terminal' }), 'terminal', 'unknown'],
    [{ code: 409 }, 'conflict', 'unknown'],
    [{ statusCode: 404 }, 'terminal', 'unknown'],
    [{ code: 503 }, 'transient', 'unknown'],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'transient', 'unknown'],
    ['a string', 'transient', 'unknown'],
    [null, 'transient', 'unknown'],
  ])('GIVEN %o THEN it is %s with code %s', (err, errorClass, code) => {
    expect(classify(err)).toBe(errorClass);
    expect(codeOf(err)).toBe(code);
  });

  it('GIVEN errors with a status THEN statusOf reads it from ours and from the Kubernetes client', () => {
    expect(
      statusOf(new ForestallError('FST_A', 'm', { errorClass: 'terminal', status: 422 })),
    ).toBe(422);
    expect(statusOf({ code: 410 })).toBe(410);
    expect(statusOf(new Error('x'))).toBeUndefined();
  });
});
