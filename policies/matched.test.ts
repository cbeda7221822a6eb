import { describe, expect, it } from 'vitest';
import type { Indicator } from '../feeds/index.js';
import { MatchedIndicators } from './matched.js';

const ip = (value: string, confidence = 50, source = 'a'): Indicator => ({
  type: 'ipv4',
  value,
  confidence,
  sources: [source],
  tags: [],
});

describe('MatchedIndicators', () => {
  it('keeps one feed in snapshot order without merging', () => {
    const m = new MatchedIndicators();
    for (const v of ['1.1.1.1', '1.1.1.2', '9.9.9.9']) m.add(ip(v));
    m.add({ type: 'cidr', value: '10.0.0.0/8', confidence: 1, sources: ['a'], tags: [] });
    expect(m.size).toBe(4);
    expect([...m.ofType('ipv4')].map((i) => i.value)).toEqual(['1.1.1.1', '1.1.1.2', '9.9.9.9']);
    expect(m.has({ type: 'cidr', value: '10.0.0.0/8' })).toBe(true);
    expect(m.has({ type: 'ipv4', value: '10.0.0.0/8' })).toBe(false);
  });

  it('merges an indicator seen again (a second feed), the highest confidence winning', () => {
    const m = new MatchedIndicators();
    m.add(ip('1.1.1.1', 40, 'a'));
    m.add(ip('2.2.2.2', 40, 'a'));
    m.add(ip('1.1.1.1', 90, 'b'));
    expect(m.size).toBe(2);
    const merged = [...m.ofType('ipv4')].find((i) => i.value === '1.1.1.1')!;
    expect(merged.confidence).toBe(90);
    expect(merged.sources).toEqual(['a', 'b']);
  });

  it('counts a new value that arrives out of order, and an exact repeat once', () => {
    const m = new MatchedIndicators();
    m.add(ip('5.5.5.5'));
    m.add(ip('1.1.1.1'));
    m.add(ip('1.1.1.1'));
    expect(m.size).toBe(2);
    expect(new Set([...m.values()].map((i) => i.value))).toEqual(new Set(['1.1.1.1', '5.5.5.5']));
  });

  it('deletes by type and value, and keeps the count right', () => {
    const m = new MatchedIndicators();
    for (const v of ['1.1.1.1', '2.2.2.2']) m.add(ip(v));
    m.delete({ type: 'ipv4', value: '1.1.1.1' });
    m.delete({ type: 'ipv4', value: '7.7.7.7' });
    m.delete({ type: 'domain', value: 'x.test' });
    expect(m.size).toBe(1);
    expect([...m.values()].map((i) => i.value)).toEqual(['2.2.2.2']);
    m.add(ip('3.3.3.3'));
    expect(m.size).toBe(2);
  });
});
