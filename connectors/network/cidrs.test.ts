import { describe, expect, it } from 'vitest';
import { aggregateCidrs, chunk, wholeFamilyProblems } from './cidrs.js';

describe('aggregateCidrs', () => {
  it('GIVEN addresses and CIDRs of both families in any order THEN each family is its minimal exact cover, ascending', () => {
    const result = aggregateCidrs([
      '198.51.100.3',
      '198.51.100.0',
      '198.51.100.1',
      '198.51.100.2', // four addresses: one /30
      '203.0.113.0/25',
      '203.0.113.128/25', // two halves: one /24
      '192.0.2.77',
      '2001:db8::1',
      '2001:db8::/127', // the /127 holds ::1 already
      '2001:db8:1::/48',
    ]);
    expect(result).toEqual({
      ipv4: ['192.0.2.77/32', '198.51.100.0/30', '203.0.113.0/24'],
      ipv6: ['2001:db8::/127', '2001:db8:1::/48'],
      problems: [],
    });
  });

  it('GIVEN values that are not addresses THEN one problem names the first few by index and counts the rest', () => {
    const values = [
      '1.2.3.4',
      'evil.example',
      '300.1.1.1',
      '10.0.0.0/33',
      'fe80::zz',
      '1.2.3',
      '::/129',
      'x',
    ];
    const { problems, ipv4 } = aggregateCidrs(values);
    expect(ipv4).toEqual(['1.2.3.4/32']);
    expect(problems).toEqual([
      'values[1] "evil.example", values[2] "300.1.1.1", values[3] "10.0.0.0/33", values[4] "fe80::zz", values[5] "1.2.3" and 2 more are not IP addresses or CIDRs',
    ]);
  });

  it('GIVEN a list that covers a whole family THEN that is a problem', () => {
    expect(wholeFamilyProblems(aggregateCidrs(['0.0.0.0/1', '128.0.0.0/1']))).toEqual([
      'values cover all of 0.0.0.0/0, which would cut every IPv4 destination; refusing',
    ]);
    expect(wholeFamilyProblems(aggregateCidrs(['::/0']))).toHaveLength(1);
    expect(wholeFamilyProblems(aggregateCidrs(['0.0.0.0/1']))).toEqual([]);
  });
});

describe('chunk', () => {
  const items = Array.from({ length: 100 }, (_, i) => `item-${String(i).padStart(3, '0')}`);

  it('GIVEN an item limit THEN chunks hold at most that many, in order', () => {
    const chunks = chunk(items, { maxItems: 25 });
    expect(chunks.map((c) => c.length)).toEqual([25, 25, 25, 25]);
    expect(chunks.flat()).toEqual(items);
  });

  it('GIVEN a byte budget THEN no chunk costs more than it', () => {
    const chunks = chunk(items, { maxBytes: 100, cost: (s) => s.length + 3 }); // 11 bytes each: 9 per chunk
    expect(chunks.map((c) => c.length)).toEqual([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1]);
    expect(chunks.flat()).toEqual(items);
  });

  it('GIVEN balanced THEN the same number of chunks, of near-equal size', () => {
    const chunks = chunk(items, { maxBytes: 100, cost: (s) => s.length + 3, balanced: true });
    expect(chunks).toHaveLength(12);
    expect(
      Math.max(...chunks.map((c) => c.length)) - Math.min(...chunks.map((c) => c.length)),
    ).toBeLessThanOrEqual(1);
    expect(chunks.flat()).toEqual(items);
    for (const c of chunks)
      expect(c.reduce((sum, s) => sum + s.length + 3, 0)).toBeLessThanOrEqual(100);
  });

  it('GIVEN one item over the budget THEN it throws', () => {
    expect(() => chunk(['x'.repeat(200)], { maxBytes: 100, cost: (s) => s.length })).toThrow(
      /over the budget/,
    );
  });
});
