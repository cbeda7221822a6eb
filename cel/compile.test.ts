import { describe, expect, it } from 'vitest';
import { indicatorActivation } from './activation.js';
import { compileCel, evaluateBool } from './compile.js';
import { CelCompileError } from './errors.js';
import { MAX_ESTIMATED_COST, MAX_SOURCE_LENGTH } from './limits.js';
import { compileMatch, indicator, NOW, run } from './test-support.js';

function compileError(
  source: string,
  field = 'spec.match',
  kind: 'match' | 'autoApprove' = 'match',
): CelCompileError {
  try {
    compileCel(source, field, kind);
  } catch (err) {
    expect(err).toBeInstanceOf(CelCompileError);
    return err as CelCompileError;
  }
  throw new Error(`expected ${JSON.stringify(source)} not to compile`);
}

describe('compile errors', () => {
  it.each([
    [
      'indcator.type == "ipv4"',
      'unknown_variable',
      /^spec\.match: Unknown variable: indcator at column 1 near/,
    ],
    [
      "indicator.type = 'ipv4'",
      'unexpected_character',
      /^spec\.match: Unexpected character: = \(use '==' to compare\) at column 16 near "= 'ipv4'"$/,
    ],
    [
      "lookup(indicator.value) == 'x'",
      'no_matching_overload',
      /^spec\.match: unknown function 'lookup' at column 1/,
    ],
    [
      "indicator.type == 'ipv4' &&",
      'unexpected_token',
      /^spec\.match: the expression ends where an operand was expected at the end of the expression$/,
    ],
    [
      "&& indicator.type == 'ipv4'",
      'unexpected_token',
      /^spec\.match: Unexpected token: AND at column 1/,
    ],
    [
      "indicator.confidence >= 'x'",
      'no_such_overload',
      /^spec\.match: no such overload: int >= string at column 1/,
    ],
    [
      "indicator.tpye == 'ipv4'",
      'no_such_key',
      /^spec\.match: No such key: tpye at column 11 near "tpye == 'ipv4'"$/,
    ],
    ['has(indicator.tpye)', 'no_such_key', /^spec\.match: No such key: tpye at column 5/],
    [
      'indicator.value.startsWith(1)',
      'no_matching_overload',
      /^spec\.match: found no matching overload for 'string\.startsWith\(int\)'/,
    ],
    ['indicator.confidence == 85.0', 'no_such_overload', /int == double/],
    [
      'indicator.confidence',
      'not_bool',
      /^spec\.match: the expression must evaluate to a bool, not int$/,
    ],
    ['   ', 'invalid_expression', /^spec\.match: the expression is empty$/],
  ])('GIVEN %j THEN it fails with %s and the field path', (source, reason, message) => {
    const err = compileError(source);
    expect(err.field).toBe('spec.match');
    expect(err.reason).toBe(reason);
    expect(err.code).toBe('FST_INVALID_SPEC');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('GIVEN a multi-line expression THEN the position names line and column', () => {
    expect(compileError("indicator.type == 'ipv4' &&\n  indcator.confidence > 50").message).toMatch(
      /at line 2, column 3 near "indcator\.confidence > 50"/,
    );
  });

  it('GIVEN another field path THEN the message carries it', () => {
    const err = compileError('action.nope', 'spec.autoApprove', 'autoApprove');
    expect(err.field).toBe('spec.autoApprove');
    expect(err.message).toMatch(/^spec\.autoApprove: No such key: nope/);
  });

  it('GIVEN each kind THEN only its own variables are declared', () => {
    expect(compileError("indicator.type == 'ipv4'", 'spec.autoApprove', 'autoApprove').reason).toBe(
      'unknown_variable',
    );
    expect(compileError('action.confidence > 50').reason).toBe('unknown_variable');
    expect(() =>
      compileCel('action.confidence > 50 && now > timestamp(0)', 'spec.autoApprove', 'autoApprove'),
    ).not.toThrow();
    expect(() => compileCel('true', 'spec.x', 'nope' as 'match')).toThrow(
      /unknown CEL expression kind/,
    );
  });

  it.each([
    [
      "cidr('10.0.0.0/33').containsIP(indicator.value)",
      /cidr\(\): "10\.0\.0\.0\/33" is not a CIDR at column 6/,
    ],
    ["ip('10.0.0.256') == ip(indicator.value)", /ip\(\): "10\.0\.0\.256" is not an IP address/],
    ["cidr('10.0.0.0/8').containsIP('10.0.0')", /containsIP\(\): "10\.0\.0" is not an IP address/],
    [
      "cidr('10.0.0.0/8').containsCIDR('10.0.0.0')",
      /containsCIDR\(\): "10\.0\.0\.0" is not a CIDR/,
    ],
    ["url('not a url').getHost() == ''", /url\(\): "not a url" is not an absolute URL/],
    ["now - indicator.firstSeen < duration('1 day')", /duration\(\): Invalid duration string/],
    [
      "indicator.firstSeen > timestamp('yesterday')",
      /timestamp\(\): timestamp\(\) requires a string in ISO 8601 format/,
    ],
  ])('GIVEN the bad literal in %j THEN it fails at compile time', (source, message) => {
    const err = compileError(source);
    expect(err.reason).toBe('invalid_literal');
    expect(err.message).toMatch(message);
  });
});

describe('limits', () => {
  it('GIVEN a source longer than the limit THEN it is refused before parsing', () => {
    const long = `indicator.value == '${'a'.repeat(MAX_SOURCE_LENGTH)}'`;
    const err = compileError(long);
    expect(err.reason).toBe('source_too_long');
    expect(err.message).toBe(
      `spec.match: the expression is ${long.length} characters long; at most 4096 are allowed`,
    );
    // Exactly at the limit is fine.
    const atLimit = `indicator.value == '${'a'.repeat(MAX_SOURCE_LENGTH - 21)}'`;
    expect(atLimit.length).toBe(MAX_SOURCE_LENGTH);
    expect(() => compileMatch(atLimit)).not.toThrow();
  });

  it('GIVEN more syntax nodes than allowed THEN parsing stops', () => {
    const err = compileError(`${Array.from({ length: 600 }, () => '1').join('+')} > 0`);
    expect(err.reason).toBe('limit_exceeded');
    expect(err.message).toMatch(
      /^spec\.match: the expression is too large \(more than 1024 syntax nodes\)/,
    );
  });

  it('GIVEN nesting deeper than allowed THEN parsing stops', () => {
    const err = compileError(`${'('.repeat(40)}true${')'.repeat(40)}`);
    expect(err.reason).toBe('limit_exceeded');
    expect(err.message).toMatch(/nested too deeply \(more than 32 levels\)/);
  });

  it.each([
    [
      'three nested loops over the tags',
      'indicator.tags.exists(a, indicator.tags.exists(b, indicator.tags.exists(c, a == b && b == c)))',
    ],
    [
      'loops nested three deep over literal lists',
      `cel.bind(l, [${Array.from({ length: 100 }, (_, i) => i).join(',')}], l.exists(a, l.exists(b, l.exists(c, a * b * c == -1))))`,
    ],
    [
      'a string doubled again and again',
      `${'abcdefghij'
        .split('')
        .map(
          (v, i) =>
            `cel.bind(${v}, ${i === 0 ? 'indicator.value' : 'abcdefghij'[i - 1]} + ${i === 0 ? 'indicator.value' : 'abcdefghij'[i - 1]}, `,
        )
        .join('')}j.size() > 0${')'.repeat(10)}`,
    ],
    [
      'replace() growing a string',
      "indicator.value.replace('', indicator.value).replace('', indicator.value).size() > 0",
    ],
  ])('GIVEN %s THEN the cost estimate refuses it', (_what, source) => {
    const err = compileError(source);
    expect(err.reason).toBe('cost_limit');
    expect(err.message).toMatch(
      /^spec\.match: the estimated worst-case cost \d+ exceeds the limit of 1000000/,
    );
  });

  it('GIVEN ordinary expressions THEN their estimates stay far below the limit', () => {
    const ordinary = [
      "indicator.type == 'ipv4' && indicator.confidence >= 80 && indicator.tags.exists(t, t == 'c2')",
      "indicator.type in ['ipv4', 'ipv6'] && 'ipsum' in indicator.sources && now - indicator.firstSeen < duration('24h')",
      'indicator.tags.exists(t, indicator.sources.exists(s, s == t))',
      "indicator.tags.exists(t, t.matches('^apt[0-9]+$'))",
    ];
    for (const source of ordinary)
      expect(compileMatch(source).cost).toBeLessThan(MAX_ESTIMATED_COST / 10);
    expect(compileMatch('true').cost).toBe(1);
  });

  it.each([
    ["indicator.value.matches('(a+)+$')", /nested quantifiers/],
    [
      'indicator.value.matches(indicator.type)',
      /the pattern of matches\(\) must be a string literal at column 25/,
    ],
    [
      "indicator.value.matches('.*\\\\.php$')",
      /matches\(\): on a string of up to 8192 characters this pattern can backtrack for about 8192\^2 steps/,
    ],
    ["indicator.value.find('a.*b.*c') != ''", /8192\^3 steps/],
    ["indicator.value.findAll('(x)\\\\1').size() > 0", /backreferences/],
  ])('GIVEN the unsafe pattern in %j THEN it is refused', (source, message) => {
    const err = compileError(source);
    expect(err.reason).toBe('unsafe_regex');
    expect(err.message).toMatch(message);
  });

  it('GIVEN a safe anchored pattern on the value THEN it compiles and runs', () => {
    expect(
      run("indicator.value.matches('^https?://[^/]+\\\\.ru/')", {
        type: 'url',
        value: 'https://bad.ru/x',
      }),
    ).toBe(true);
    expect(
      run("indicator.value.matches('\\\\.php$')", {
        type: 'url',
        value: 'https://a.example/x.php',
      }),
    ).toBe(true);
  });
});

describe('numbers, timestamps and durations', () => {
  it.each([
    ['indicator.confidence >= 80', 85, true],
    ['indicator.confidence >= 80', 79, false],
    ['indicator.confidence >= 80.0', 85, true],
    ['indicator.confidence >= 80.0', 79, false],
    ['indicator.confidence > 84.5', 85, true],
    ['indicator.confidence == 85', 85, true],
    ['indicator.confidence == 85', 84, false],
    ['indicator.confidence * 2 >= 170', 85, true],
    ['double(indicator.confidence) / 100.0 >= 0.8', 85, true],
    ['indicator.confidence in [80, 85, 90]', 85, true],
  ])('GIVEN %s and confidence %d THEN it is %s', (source, confidence, expected) => {
    expect(run(source, { confidence })).toBe(expected);
  });

  it.each([
    ["now - indicator.firstSeen < duration('24h')", '2026-08-21T13:00:00Z', true],
    ["now - indicator.firstSeen < duration('24h')", '2026-08-20T13:00:00Z', false],
    ["now - timestamp(indicator.firstSeen) < duration('24h')", '2026-08-21T13:00:00Z', true],
    ["indicator.firstSeen + duration('48h') > now", '2026-08-21T13:00:00Z', true],
    ["indicator.firstSeen < timestamp('2026-08-21T00:00:00Z')", '2026-08-20T00:00:00Z', true],
    ['indicator.firstSeen.getFullYear() == 2026', '2026-08-20T00:00:00Z', true],
    ['(now - indicator.firstSeen).getHours() >= 36', '2026-08-21T00:00:00Z', true],
  ])('GIVEN %s and firstSeen %s THEN it is %s', (source, firstSeen, expected) => {
    expect(run(source, { firstSeen })).toBe(expected);
  });

  it('GIVEN optional timestamps THEN has() tells whether they are set', () => {
    expect(
      run('has(indicator.validUntil) && indicator.validUntil > now', {
        validUntil: '2026-09-01T00:00:00Z',
      }),
    ).toBe(true);
    expect(run('has(indicator.validUntil)')).toBe(false);
    expect(run('!has(indicator.validUntil) || indicator.validUntil > now')).toBe(true);
  });
});

describe('evaluateBool', () => {
  const vars = (overrides = {}) => ({
    indicator: indicatorActivation(indicator(overrides)),
    now: NOW,
  });

  it('GIVEN a true and a false result THEN it returns them and reports nothing', () => {
    const program = compileMatch("indicator.type == 'ipv4'");
    const errors: string[] = [];
    expect(evaluateBool(program, vars(), (m) => errors.push(m))).toBe(true);
    expect(
      evaluateBool(program, vars({ type: 'domain', value: 'a.example' }), (m) => errors.push(m)),
    ).toBe(false);
    expect(errors).toEqual([]);
  });

  it.each([
    [
      "indicator.attributes.vendor == 'Fortinet'",
      {},
      /^spec\.match: No such key: vendor \(at column 22\)$/,
    ],
    [
      'ip(indicator.value).family() == 4',
      { value: 'example.org' },
      /^spec\.match: ip\(\): the argument is not an IP address \(at column 1\)$/,
    ],
    ['indicator.confidence / 0 == 1', {}, /^spec\.match: division by zero/],
    [
      'has(indicator.lastSeen) || indicator.lastSeen < now',
      {},
      /^spec\.match: No such key: lastSeen/,
    ],
  ])(
    'GIVEN %j failing at run time THEN it counts as false and the message is reported',
    (source, overrides, message) => {
      const errors: string[] = [];
      expect(evaluateBool(compileMatch(source), vars(overrides), (m) => errors.push(m))).toBe(
        false,
      );
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);
      expect(errors[0]).not.toContain('\n');
    },
  );

  it('GIVEN a dyn expression that yields a string THEN it counts as false with a message', () => {
    const program = compileMatch('indicator.attributes.vendor');
    const errors: string[] = [];
    expect(
      evaluateBool(program, vars({ attributes: { vendor: 'Fortinet' } }), (m) => errors.push(m)),
    ).toBe(false);
    expect(errors).toEqual(['spec.match: the expression returned a string, not a bool']);
  });

  it('GIVEN the same error on many indicators THEN the message is the same each time, so the caller can count it once', () => {
    const program = compileMatch('ip(indicator.value).isLoopback()');
    const errors = new Set<string>();
    for (const value of ['a.example', 'b.example', 'c.example'])
      evaluateBool(program, vars({ type: 'domain', value }), (m) => errors.add(m));
    expect([...errors]).toEqual([
      'spec.match: ip(): the argument is not an IP address (at column 1)',
    ]);
  });

  it('GIVEN a multi-line expression failing at run time THEN the message names line and column', () => {
    const errors: string[] = [];
    evaluateBool(
      compileMatch("indicator.type == 'ipv4' &&\n  indicator.attributes.vendor == 'x'"),
      vars(),
      (m) => errors.push(m),
    );
    expect(errors).toEqual(['spec.match: No such key: vendor (at line 2, column 24)']);
  });

  it('GIVEN no onError THEN a failure is still false', () => {
    expect(evaluateBool(compileMatch('indicator.attributes.x == 1.0'), vars())).toBe(false);
  });

  it('GIVEN a plain Indicator instead of its view THEN cel-js converts it', () => {
    expect(
      compileMatch("indicator.confidence >= 80 && 'c2' in indicator.tags").evaluate({
        indicator: indicator(),
        now: NOW,
      }),
    ).toBe(true);
  });

  it('GIVEN a program THEN it is frozen and says where it came from', () => {
    const program = compileMatch('true');
    expect([program.source, program.field, program.kind]).toEqual(['true', 'spec.match', 'match']);
    expect(Object.isFrozen(program)).toBe(true);
  });
});

describe('reads', () => {
  it.each([
    [
      "action.type == 'IdentitySuspend' && action.confidence >= 90",
      ['action.confidence', 'action.type'],
    ],
    ['has(action.layer) && action.blastRadius.users <= 5', ['action.blastRadius', 'action.layer']],
    [
      "action.feeds.exists(f, f == 'phish') && action.connector.startsWith('identity:')",
      ['action.connector', 'action.feeds'],
    ],
    ["action['layer'] == 'identity'", ['action.layer']],
    ["[{'type': 'x'}].exists(action, action.type == 'x')", []],
    ["cel.bind(action, {'layer': 'x'}, action.layer == 'x')", []],
    ['true', []],
  ])('GIVEN %j THEN the fields read off the variables are %j', (source, reads) => {
    expect([...compileCel(source, 'spec.autoApprove', 'autoApprove').reads].sort()).toEqual(reads);
  });

  it('GIVEN a match expression THEN indicator fields are listed the same way', () => {
    expect(
      [
        ...compileMatch("indicator.type == 'account' && indicator.value.endsWith('@example.com')")
          .reads,
      ].sort(),
    ).toEqual(['indicator.type', 'indicator.value']);
  });
});
