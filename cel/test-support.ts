import { expect, it } from 'vitest';
import { compileCel, type CelProgram } from './compile.js';
import { indicatorActivation, type IndicatorFacts } from './activation.js';

/**
 * Shared by the unit tests of this folder (not exported from index.ts): compile a
 * match expression and run it against one indicator at a fixed time.
 */

export const NOW = new Date('2026-08-22T12:00:00Z');

export function indicator(overrides: Partial<IndicatorFacts> = {}): IndicatorFacts {
  return {
    type: 'ipv4',
    value: '192.0.2.10',
    confidence: 85,
    sources: ['ipsum'],
    tags: ['c2', 'botnet'],
    firstSeen: '2026-08-21T12:00:00Z',
    ...overrides,
  };
}

/** Compiles `expression` as spec.match and returns what it evaluates to; runtime errors throw. */
export function run(expression: string, overrides: Partial<IndicatorFacts> = {}): unknown {
  return compileMatch(expression).evaluate({
    indicator: indicatorActivation(indicator(overrides)),
    now: NOW,
  });
}

export function compileMatch(expression: string): CelProgram {
  return compileCel(expression, 'spec.match', 'match');
}

/**
 * One test per case, named "GIVEN <expression> THEN it is <value>": the expression, run
 * against the default indicator, evaluates to the value beside it.
 */
export function itEvaluates(cases: [expression: string, expected: unknown][]): void {
  it.each(cases)('GIVEN %s THEN it is %s', (expression, expected) => {
    expect(run(expression)).toBe(expected);
  });
}
