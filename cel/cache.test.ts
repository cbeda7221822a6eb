import { describe, expect, it } from 'vitest';
import { CelCache } from './cache.js';
import { CelCompileError } from './errors.js';

describe('CelCache', () => {
  it('GIVEN the same kind, field and source THEN the same program comes back', () => {
    const cache = new CelCache();
    const program = cache.compile("indicator.type == 'ipv4'", 'spec.match', 'match');
    expect(cache.compile("indicator.type == 'ipv4'", 'spec.match', 'match')).toBe(program);
    expect(cache.size).toBe(1);
  });

  it('GIVEN another field or source THEN another program is compiled', () => {
    const cache = new CelCache();
    const program = cache.compile('true', 'spec.match', 'match');
    expect(cache.compile('true', 'spec.rules[1].match', 'match')).not.toBe(program);
    expect(cache.compile('true', 'spec.autoApprove', 'autoApprove')).not.toBe(program);
    expect(cache.compile('true ', 'spec.match', 'match')).not.toBe(program);
    expect(cache.size).toBe(4);
  });

  it('GIVEN a source that does not compile THEN the same error is thrown again without recompiling', () => {
    const cache = new CelCache();
    let first: unknown;
    try {
      cache.compile('indcator.type', 'spec.match', 'match');
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(CelCompileError);
    expect(() => cache.compile('indcator.type', 'spec.match', 'match')).toThrow(first as Error);
    try {
      cache.compile('indcator.type', 'spec.match', 'match');
    } catch (err) {
      expect(err).toBe(first);
    }
  });

  it('GIVEN more entries than the limit THEN the least recently used one is evicted', () => {
    const cache = new CelCache(2);
    const a = cache.compile('1 == 1', 'spec.match', 'match');
    const b = cache.compile('2 == 2', 'spec.match', 'match');
    expect(cache.compile('1 == 1', 'spec.match', 'match')).toBe(a); // a is now the most recent
    cache.compile('3 == 3', 'spec.match', 'match'); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.compile('1 == 1', 'spec.match', 'match')).toBe(a);
    expect(cache.compile('2 == 2', 'spec.match', 'match')).not.toBe(b);
  });

  it('GIVEN a limit below one THEN construction fails', () => {
    expect(() => new CelCache(0)).toThrow(RangeError);
  });
});
