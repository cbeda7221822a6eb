import { describe, expect, it } from 'vitest';
import { itEvaluates, run } from './test-support.js';

describe('string helpers added to cel-js', () => {
  itEvaluates([
    ["'abc'.charAt(1) == 'b'", true],
    ["'abc'.charAt(3) == ''", true],
    ["'abc'.charAt(0) == 'b'", false],
    ["'a.b.c'.replace('.', '-') == 'a-b-c'", true],
    ["'a.b.c'.replace('.', '-', 1) == 'a-b.c'", true],
    ["'a.b.c'.replace('.', '-', 0) == 'a.b.c'", true],
    ["'a.b.c'.replace('.', '-', -1) == 'a-b-c'", true],
    ["'ab'.replace('', '-', 2) == '-a-b'", true],
    ["'ab'.replace('', '-') == '-a-b-'", true],
    ["'a.b.c'.replace('x', '-') == 'a.b.c'", true],
    ["'stressed'.reverse() == 'desserts'", true],
    ["'ab😀'.reverse() == '😀ba'", true],
    ["'abc'.reverse() == 'abc'", false],
    ["'id=42;id=7'.find('[0-9]+') == '42'", true],
    ["'no digits'.find('[0-9]+') == ''", true],
    ["'id=42;id=7'.findAll('[0-9]+') == ['42', '7']", true],
    ["'id=42;id=7;id=9'.findAll('[0-9]+', 2) == ['42', '7']", true],
    ["'id=42'.findAll('[0-9]+', 0) == []", true],
    ["'abc'.findAll('x') == []", true],
  ]);

  it('GIVEN charAt past the end THEN evaluation fails', () => {
    expect(() => run("'abc'.charAt(4) == ''")).toThrow(/index out of range/);
    expect(() => run("'abc'.charAt(-1) == ''")).toThrow(/index out of range/);
  });
});

// cel-js provides these; the tests pin the behaviour policies rely on, so an upgrade that changes it is noticed.
describe('string functions cel-js provides', () => {
  it.each([
    ["indicator.value.startsWith('evil.')", true],
    ["indicator.value.endsWith('.example')", true],
    ["indicator.value.contains('corp')", true],
    ["indicator.value.matches('^evil\\\\.[a-z]+\\\\.example$')", true],
    ["indicator.value.matches('^good\\\\.')", false],
    ["'EVIL.Example'.lowerAscii() == 'evil.example'", true],
    ["'evil'.upperAscii() == 'EVIL'", true],
    ["'  x  '.trim() == 'x'", true],
    ["indicator.value.split('.') == ['evil', 'corp', 'example']", true],
    ["indicator.value.split('.', 2) == ['evil', 'corp.example']", true],
    ["['a', 'b'].join('.') == 'a.b'", true],
    ["indicator.value.indexOf('.') == 4", true],
    ["indicator.value.lastIndexOf('.') == 9", true],
    ["indicator.value.substring(0, 4) == 'evil'", true],
    ['indicator.value.size() == 17', true],
    ['size(indicator.value) == 17', true],
  ])('GIVEN the value evil.corp.example and %s THEN it is %s', (expression, expected) => {
    expect(run(expression, { type: 'domain', value: 'evil.corp.example' })).toBe(expected);
  });
});
