import { describe, expect, it } from 'vitest';
import { indicatorActivation, type IndicatorFacts } from './activation.js';
import { compileCel, evaluateBool } from './compile.js';
import { EMPTY_WORKLOAD } from './activation.js';

const now = new Date('2026-12-08T00:00:00Z');

function indicators(): IndicatorFacts[] {
  const out: IndicatorFacts[] = [];
  for (const [type, value] of [
    ['ipv4', '192.0.2.1'],
    ['cidr', '198.51.100.0/24'],
    ['domain', 'c2.bad.test'],
    ['account', 'alice@example.org'],
  ] as const)
    for (const confidence of [0, 50, 79, 80, 81, 100])
      for (const tags of [[], ['c2'], ['scanner', 'c2'], ['scanner']])
        out.push({ type, value, confidence, sources: ['f'], tags });
  return out;
}

const celSays = (source: string, i: IndicatorFacts) =>
  evaluateBool(
    compileCel(source, 'spec.match', 'match'),
    { indicator: indicatorActivation(i), workload: EMPTY_WORKLOAD, now },
    () => undefined,
  );

describe('the match shortcut', () => {
  const exact = [
    "indicator.type == 'ipv4'",
    "'ipv4' == indicator.type && indicator.confidence >= 80",
    "indicator.type in ['ipv4', 'cidr'] && indicator.confidence > 79",
    "indicator.type != 'domain' && 80 <= indicator.confidence",
    "indicator.confidence < 80 && 'c2' in indicator.tags",
    "indicator.value == '192.0.2.1' && indicator.confidence != 0",
    '100 > indicator.confidence && indicator.confidence <= 81',
  ];
  const partial = [
    "indicator.type == 'ipv4' && indicator.tags.exists(t, t == 'c2')",
    "indicator.confidence >= 80 && indicator.value.endsWith('.test')",
    "indicator.type in ['ipv4', 'cidr'] && cidr('192.0.2.0/24').containsIP(indicator.value)",
  ];

  it.each(exact)('decides %s alone, as CEL does', (source) => {
    const shortcut = compileCel(source, 'spec.match', 'match').shortcut;
    expect(shortcut?.exact).toBe(true);
    for (const i of indicators())
      expect(shortcut!.judge(i) === 'yes', `${source} on ${JSON.stringify(i)}`).toBe(
        celSays(source, i),
      );
  });

  it.each(partial)('only says no where CEL says false, for %s', (source) => {
    const shortcut = compileCel(source, 'spec.match', 'match').shortcut;
    expect(shortcut?.exact).toBe(false);
    let refused = 0;
    for (const i of indicators()) {
      const judged = shortcut!.judge(i);
      expect(judged).not.toBe('yes');
      if (judged === 'no') {
        refused++;
        expect(celSays(source, i), `${source} on ${JSON.stringify(i)}`).toBe(false);
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('leaves an indicator that is not well formed to CEL', () => {
    const shortcut = compileCel('indicator.confidence >= 80', 'spec.match', 'match').shortcut!;
    expect(
      shortcut.judge({ type: 'ipv4', value: '192.0.2.1', confidence: 80.5, sources: [], tags: [] }),
    ).toBe('cel');
    expect(
      shortcut.judge({ type: 'ipv4', value: '192.0.2.1', confidence: 80, sources: [], tags: [] }),
    ).toBe('yes');
  });

  it('gives no shortcut to an expression with no known term (a disjunction is one term), nor to other kinds', () => {
    expect(
      compileCel("indicator.confidence == 80 || indicator.type == 'cidr'", 'spec.match', 'match')
        .shortcut,
    ).toBeUndefined();
    expect(
      compileCel("indicator.tags.exists(t, t == 'c2')", 'spec.match', 'match').shortcut,
    ).toBeUndefined();
    expect(
      compileCel('action.confidence >= 80', 'spec.autoApprove', 'autoApprove').shortcut,
    ).toBeUndefined();
  });

  it('says which types can match and the bounds on confidence, for the index to skip by', () => {
    const facts = (source: string) => {
      const s = compileCel(source, 'spec.match', 'match').shortcut!;
      return { types: s.types && [...s.types].sort(), confidence: s.confidence };
    };
    expect(facts("indicator.type in ['ipv4', 'cidr'] && indicator.confidence >= 80")).toEqual({
      types: ['cidr', 'ipv4'],
      confidence: { min: 80, max: Infinity },
    });
    expect(
      facts("indicator.type == 'ipv4' && 90 > indicator.confidence && indicator.confidence > 10"),
    ).toEqual({ types: ['ipv4'], confidence: { min: 11, max: 89 } });
    expect(
      facts("indicator.type in ['ipv4', 'cidr'] && indicator.type in ['cidr', 'domain']"),
    ).toEqual({ types: ['cidr'], confidence: { min: -Infinity, max: Infinity } });
    expect(facts("indicator.type != 'ipv4' && indicator.confidence == 50")).toEqual({
      types: undefined,
      confidence: { min: 50, max: 50 },
    });
  });
});
