import { describe, expect, it } from 'vitest';
import { compileCel } from './compile.js';
import { CelCompileError } from './errors.js';

// A ThreatFeed's confidence expression runs on feed data, so it is compiled under the
// policy limits (issue 13, item 3: `matches('^(a+)+$')` took seconds per record).
const FIELD = 'spec.confidence.expression';

function refusal(source: string): CelCompileError {
  try {
    compileCel(source, FIELD, 'confidence');
  } catch (err) {
    expect(err).toBeInstanceOf(CelCompileError);
    return err as CelCompileError;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be refused`);
}

describe('the confidence kind', () => {
  it('GIVEN the ReDoS reproduction THEN it is refused at compile time with the field path and why', () => {
    const err = refusal("record.value.matches('^(a+)+$') ? 100 : 0");
    expect(err.reason).toBe('unsafe_regex');
    expect(err.message).toMatch(
      /^spec\.confidence\.expression: matches\(\): nested quantifiers are not allowed/,
    );
  });

  it.each([
    ["record.tags.exists(t, t.matches('a.*b.*c')) ? 90 : 10", 'unsafe_regex'],
    ['record.value.matches(record.pattern) ? 1 : 0', 'unsafe_regex'],
    ['record.a.map(x, record.b.map(y, record.c.map(z, z))).size()', 'cost_limit'],
    ["'high'", 'not_number'],
    ['score * 2', 'unknown_variable'],
  ])('GIVEN %j THEN it is refused (%s)', (source, reason) => {
    expect(refusal(source).reason).toBe(reason);
  });

  it('GIVEN the expressions feeds use THEN they compile and score records', () => {
    const ipsum = compileCel(
      'int(record.score) >= 8 ? 100 : int(record.score) * 12',
      FIELD,
      'confidence',
    );
    expect(ipsum.evaluate({ record: { value: '1.2.3.4', score: '9' } })).toBe(100n);
    expect(ipsum.evaluate({ record: { value: '1.2.3.4', score: '3' } })).toBe(36n);
    const anchored = compileCel("record.value.matches('^[0-9.]+$') ? 90 : 10", FIELD, 'confidence');
    expect(anchored.evaluate({ record: { value: '1.2.3.4' } })).toBe(90n);
    expect(
      compileCel('double(record.score) * 1.5', FIELD, 'confidence').evaluate({
        record: { score: 10 },
      }),
    ).toBe(15);
  });
});
