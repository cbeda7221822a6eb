import { describe, expect, it } from 'vitest';
import { regexDegree, regexProblem } from './regex.js';

describe('regexProblem', () => {
  it.each([
    '^evil\\.[a-z0-9-]+\\.example$',
    '(www\\.)?example\\.(com|net)$',
    '[0-9]{1,3}(\\.[0-9]{1,3}){3}',
    '^(?:ab)+$',
    '(?<scheme>https?)://',
    '^a*b*c*$',
    '[(+*]+',
    'a{2}',
    '(com|net){2}$',
    '\\(a+\\)+',
  ])('GIVEN the safe pattern %j THEN it is accepted', (pattern) => {
    expect(regexProblem(pattern)).toBeUndefined();
  });

  it.each([
    ['(a+)+$', /nested quantifiers/],
    ['(a*)*', /nested quantifiers/],
    ['(a|a)*b', /nested quantifiers/],
    ['(a|b)+', /nested quantifiers/],
    ['((ab)*c)+', /nested quantifiers/],
    ['(a?){25}a{25}', /nested quantifiers/],
    ['(a+){3}', /nested quantifiers/],
    ['(a|b){2,}', /nested quantifiers/],
    ['(?:x+y)*', /nested quantifiers/],
    ['(a)\\1', /backreferences/],
    ['(?<q>a)\\k<q>', /backreferences/],
    ['foo(?=bar)', /lookahead and lookbehind/],
    ['(?<!x)y', /lookahead and lookbehind/],
    ['(unclosed', /invalid regular expression/],
    ['a'.repeat(257), /longer than 256/],
  ])('GIVEN the pattern %j THEN it is refused', (pattern, problem) => {
    expect(regexProblem(pattern)).toMatch(problem);
  });
});

describe('regexDegree', () => {
  it.each([
    ['\\.php$', 1], // no repeat: one pass per start position
    ['[0-9]+', 1], // a repeat that ends the pattern never gives characters back
    ['^https?://[^/]+/', 1], // anchored: one start position
    ['a+b', 2],
    ['.*\\.php$', 2],
    ['^.*a.*b', 2],
    ['a.*b.*c', 3],
    ['^x|.*y', 2], // a top-level alternation is not anchored
  ])('GIVEN %j THEN backtracking grows as n^%d', (pattern, degree) => {
    expect(regexDegree(pattern)).toBe(degree);
  });
});
