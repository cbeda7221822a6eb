import { describe, expect, it } from 'vitest';
import type { Indicator } from './indicator.js';
import { sharing } from './sandbox.js';

// Each indicator as a worker message deserialises it: its own copy of every string and list.
const fresh = (value: string, tags: string[] = []): Indicator =>
  structuredClone({
    type: 'ipv4',
    value,
    confidence: 50,
    sources: ['ipsum'],
    tags,
    validUntil: '2026-12-15T00:00:00.000Z',
  });

describe('sharing what the indicators of one sync repeat', () => {
  it('GIVEN indicators deserialised one by one THEN equal lists and times are one object, and the values stay equal', () => {
    const share = sharing();
    const a = share(fresh('192.0.2.1'));
    const b = share(fresh('192.0.2.2'));
    const c = share(fresh('192.0.2.3', ['c2']));
    expect(a.sources).toBe(b.sources);
    expect(a.tags).toBe(b.tags);
    expect(c.tags).not.toBe(a.tags);
    expect(c.tags).toEqual(['c2']);
    expect(a).toEqual(fresh('192.0.2.1'));
    expect(b.validUntil).toBe('2026-12-15T00:00:00.000Z');
  });

  it('GIVEN a shared list THEN changing it in place fails loudly instead of changing every indicator', () => {
    const share = sharing();
    const a = share(fresh('192.0.2.1'));
    const b = share(fresh('192.0.2.2'));
    expect(() => a.tags.push('x')).toThrow(TypeError);
    expect(b.tags).toEqual([]);
  });

  it('GIVEN lists whose joined text collides THEN they stay distinct', () => {
    const share = sharing();
    const one = share(fresh('192.0.2.1', ['a\u0000b']));
    const two = share(fresh('192.0.2.2', ['a', 'b']));
    const three = share(fresh('192.0.2.3', ['a\u0000', 'b']));
    const four = share(fresh('192.0.2.4', ['a', '\u0000b']));
    expect(one.tags).toEqual(['a\u0000b']);
    expect(two.tags).toEqual(['a', 'b']);
    expect(three.tags).toEqual(['a\u0000', 'b']);
    expect(four.tags).toEqual(['a', '\u0000b']);
  });
});
