import { describe, expect, it } from 'vitest';
import { compareValues } from './lists.js';
import { itEvaluates, run } from './test-support.js';

describe('list helpers added to cel-js', () => {
  itEvaluates([
    ['[1, 2, 2, 3].isSorted()', true],
    ['[1, 3, 2].isSorted()', false],
    ["['a', 'b'].isSorted()", true],
    ['[].isSorted()', true],
    ['[1, 2, 3].sum() == 6', true],
    ['[1.5, 2.5].sum() == 4.0', true],
    ['[1, 2].sum() == 4', false],
    ['[3, 1, 2].min() == 1', true],
    ['[3, 1, 2].max() == 3', true],
    ["['b', 'c', 'a'].max() == 'c'", true],
    ['[3, 1, 2].sort() == [1, 2, 3]', true],
    ['[3, 1, 2].sort()[0] + 1 == 2', true], // sort() keeps the element type: list<int>
    ["['b', 'a', 'b'].distinct() == ['b', 'a']", true],
    ['[1, 2, 3].reverse() == [3, 2, 1]', true],
    ['[1, 2, 3, 4].slice(1, 3) == [2, 3]', true],
    ['[1, 2, 3].slice(0, 0) == []', true],
    ["['a', 'b', 'a'].indexOf('a') == 0", true],
    ["['a', 'b', 'a'].lastIndexOf('a') == 2", true],
    ["['a', 'b'].indexOf('z') == -1", true],
    [
      "[timestamp('2026-01-02T00:00:00Z'), timestamp('2026-01-01T00:00:00Z')].min() == timestamp('2026-01-01T00:00:00Z')",
      true,
    ],
    ["[duration('2h'), duration('30m')].sort() == [duration('30m'), duration('2h')]", true],
  ]);

  it('GIVEN the indicator tags THEN the helpers work on them', () => {
    expect(run("indicator.tags.sort() == ['botnet', 'c2']", { tags: ['c2', 'botnet'] })).toBe(true);
    expect(run("indicator.tags.indexOf('c2') == 0", { tags: ['c2', 'botnet'] })).toBe(true);
    expect(run('indicator.tags.distinct().size() == 2', { tags: ['c2', 'c2', 'x'] })).toBe(true);
  });

  it('GIVEN an empty list or a bad range THEN evaluation fails instead of guessing', () => {
    expect(() => run('indicator.tags.min() == "a"', { tags: [] })).toThrow(/empty/);
    expect(() => run('[1, 2].slice(1, 3) == [2]')).toThrow(/slice\(\): range out of bounds/);
    expect(() => run('[9223372036854775807, 1].sum() > 0')).toThrow(/overflow/);
  });

  it('GIVEN values of different kinds THEN ordering refuses them', () => {
    expect(compareValues(1n, 2.5)).toBe(-1);
    expect(compareValues('b', 'a')).toBe(1);
    expect(() => compareValues('1', 1n)).toThrow(/cannot order/);
  });
});

// CEL's macros come from cel-js; pin what policies use.
describe('list macros cel-js provides', () => {
  it.each([
    ["indicator.tags.exists(t, t == 'c2')", true],
    ["indicator.tags.exists(t, t == 'tor')", false],
    ['indicator.tags.all(t, t.size() > 1)', true],
    ["indicator.tags.all(t, t == 'c2')", false],
    ["indicator.tags.exists_one(t, t.startsWith('b'))", true],
    ["indicator.tags.filter(t, t != 'c2') == ['botnet']", true],
    ["indicator.tags.map(t, t.upperAscii()) == ['C2', 'BOTNET']", true],
    ["'c2' in indicator.tags", true],
    ['size(indicator.tags) == 2', true],
    ["cel.bind(t, indicator.tags, t.size() == 2 && 'botnet' in t)", true],
  ])('GIVEN tags c2, botnet and %s THEN it is %s', (expression, expected) => {
    expect(run(expression, { tags: ['c2', 'botnet'] })).toBe(expected);
  });
});
