import { describe, expect, it } from 'vitest';
import {
  aggregateIpv6,
  Ipv4Set,
  ipv6CidrRange,
  mergeIpv6Ranges,
  sortUint32,
  type Ipv6Range,
} from './cidr-aggregate.js';
import { formatIpv4, formatIpv6, IPV6_MAX, parseIpv4, parseIpv6 } from './ip.js';
import { seededRandom as seeded } from '../test/harness/seeded-random.js';

const ip = (text: string): number => parseIpv4(text)!;

/**
 * The reference, independent of the code under test: which addresses of a window
 * are covered, as a bitmap, and the minimal cover found top-down from 0.0.0.0/0: a
 * block is emitted when every address in it is covered (its parent, by construction,
 * was not). Prefix sums make "how many covered in this block" O(1), and the window
 * need not be aligned.
 */
function referenceCidrs(covered: Uint8Array, base: number): string[] {
  const sums = new Uint32Array(covered.length + 1);
  for (let i = 0; i < covered.length; i++) sums[i + 1] = sums[i]! + covered[i]!;
  const coveredIn = (first: number, last: number): number => {
    const from = Math.max(first, base) - base;
    const to = Math.min(last, base + covered.length - 1) - base;
    return to < from ? 0 : sums[to + 1]! - sums[from]!;
  };
  const out: string[] = [];
  const visit = (first: number, bits: number): void => {
    const size = 2 ** bits;
    const count = coveredIn(first, first + size - 1);
    if (count === size) out.push(`${formatIpv4(first)}/${32 - bits}`);
    else if (count > 0) {
      visit(first, bits - 1);
      visit(first + size / 2, bits - 1);
    }
  };
  visit(0, 32);
  return out;
}

function randomCase(
  random: () => number,
  base: number,
  bits: number,
): { set: Ipv4Set; covered: Uint8Array } {
  const size = 2 ** bits;
  const covered = new Uint8Array(size);
  const set = new Ipv4Set(4);
  const items = 1 + Math.floor(random() * 60);
  for (let n = 0; n < items; n++) {
    const kind = random();
    if (kind < 0.5) {
      const offset = Math.floor(random() * size);
      set.addAddress(base + offset);
      covered[offset] = 1;
    } else if (kind < 0.8) {
      const a = Math.floor(random() * size);
      const b = Math.min(size - 1, a + Math.floor(random() * 300));
      set.addRange(base + a, base + b);
      covered.fill(1, a, b + 1);
    } else {
      const prefix = 32 - Math.floor(random() * (bits + 1));
      const blockSize = 2 ** (32 - prefix);
      const address = base + Math.floor(random() * size);
      const first = address - (address % blockSize);
      // The bitmap only sees the window; an unaligned window can cut a block.
      if (first < base || first + blockSize > base + size) continue;
      // Host bits set on purpose: addCidr must clear them.
      set.addCidr(address, prefix);
      covered.fill(1, first - base, first - base + blockSize);
    }
  }
  return { set, covered };
}

describe('Ipv4Set aggregation against a brute-force reference', () => {
  it.each([
    ['a window in the middle', ip('198.51.96.0'), 12],
    ['the first window, from 0.0.0.0', 0, 12],
    ['the last window, up to 255.255.255.255', ip('255.255.240.0'), 12],
    ['an unaligned window across 128.0.0.0, the sign bit', ip('127.255.248.0') + 3, 12],
  ])(
    'GIVEN random addresses, ranges and CIDRs in %s WHEN aggregated THEN the CIDRs are exactly the minimal cover',
    (_name, base, bits) => {
      const random = seeded(base + bits);
      const failures: string[] = [];
      for (let round = 0; round < 300; round++) {
        const { set, covered } = randomCase(random, base, bits);
        const expected = referenceCidrs(covered, base);
        const actual = set.cidrs();
        const count = covered.reduce((sum, bit) => sum + bit, 0);
        if (
          JSON.stringify(actual) !== JSON.stringify(expected) ||
          set.addressCount() !== count ||
          set.cidrCount() !== expected.length
        ) {
          failures.push(`round ${round}: expected ${expected.join(' ')} got ${actual.join(' ')}`);
        }
      }
      expect(failures).toEqual([]);
    },
  );

  it('GIVEN random inputs WHEN ranges() is read THEN ranges are sorted, disjoint, non-adjacent and cover exactly the input', () => {
    const random = seeded(7);
    const base = ip('10.20.0.0');
    for (let round = 0; round < 50; round++) {
      const { set, covered } = randomCase(random, base, 12);
      const { starts, ends } = set.ranges();
      const rebuilt = new Uint8Array(covered.length);
      let ordered = true;
      for (let i = 0; i < starts.length; i++) {
        if (starts[i]! > ends[i]! || (i > 0 && starts[i]! <= ends[i - 1]! + 1)) ordered = false;
        rebuilt.fill(1, starts[i]! - base, ends[i]! - base + 1);
      }
      expect(ordered).toBe(true);
      expect(Buffer.from(rebuilt).equals(Buffer.from(covered))).toBe(true);
      expect(set.size).toBe(starts.length);
    }
  });
});

describe('Ipv4Set edge cases', () => {
  it('GIVEN 0.0.0.0/0 WHEN aggregated THEN it stays one /0 of 2^32 addresses', () => {
    const set = new Ipv4Set();
    set.addCidr(0, 0);
    set.addAddress(ip('1.2.3.4'));
    expect(set.cidrs()).toEqual(['0.0.0.0/0']);
    expect(set.addressCount()).toBe(2 ** 32);
  });

  it('GIVEN the whole space as a range WHEN aggregated THEN it is 0.0.0.0/0', () => {
    const set = new Ipv4Set();
    set.addRange(0, 0xffffffff);
    expect(set.cidrs()).toEqual(['0.0.0.0/0']);
  });

  it('GIVEN the first and last addresses WHEN aggregated THEN neither wraps around', () => {
    const set = new Ipv4Set();
    set.addAddress(0xffffffff);
    set.addAddress(0);
    expect(set.cidrs()).toEqual(['0.0.0.0/32', '255.255.255.255/32']);
    expect(set.has(0xffffffff)).toBe(true);
    expect(set.has(0xfffffffe)).toBe(false);
  });

  it('GIVEN everything from 255.255.255.0 up WHEN aggregated THEN the top /24 is one block', () => {
    const set = new Ipv4Set();
    for (let a = ip('255.255.255.0'); a <= 0xffffffff; a++) set.addAddress(a);
    expect(set.cidrs()).toEqual(['255.255.255.0/24']);
  });

  it('GIVEN two adjacent addresses on a /31 boundary WHEN aggregated THEN they merge into one /31', () => {
    const set = new Ipv4Set();
    set.addAddress(ip('1.2.3.5'));
    set.addAddress(ip('1.2.3.4'));
    expect(set.cidrs()).toEqual(['1.2.3.4/31']);
  });

  it('GIVEN two adjacent addresses across a /31 boundary WHEN aggregated THEN they are one range but two CIDRs', () => {
    const set = new Ipv4Set();
    set.addAddress(ip('1.2.3.5'));
    set.addAddress(ip('1.2.3.6'));
    expect(set.size).toBe(1);
    expect(set.cidrs()).toEqual(['1.2.3.5/32', '1.2.3.6/32']);
  });

  it('GIVEN two adjacent /8s WHEN aggregated THEN they merge into a /7', () => {
    const set = new Ipv4Set();
    set.addCidr(ip('11.0.0.0'), 8);
    set.addCidr(ip('10.0.0.0'), 8);
    expect(set.cidrs()).toEqual(['10.0.0.0/7']);
  });

  it('GIVEN the same address a thousand times and inside a CIDR WHEN aggregated THEN it counts once', () => {
    const set = new Ipv4Set(1);
    for (let i = 0; i < 1000; i++) set.addAddress(ip('192.0.2.10'));
    expect(set.cidrs()).toEqual(['192.0.2.10/32']);
    set.addCidr(ip('192.0.2.0'), 28);
    expect(set.cidrs()).toEqual(['192.0.2.0/28']);
    expect(set.addressCount()).toBe(16);
  });

  it('GIVEN a set already read WHEN more is added THEN the next read includes it', () => {
    const set = new Ipv4Set();
    set.addAddress(ip('10.0.0.1'));
    expect(set.cidrs()).toEqual(['10.0.0.1/32']);
    set.addAddress(ip('10.0.0.0'));
    set.addAddresses(new Uint32Array([ip('10.0.0.2'), ip('10.0.0.3')]));
    expect(set.cidrs()).toEqual(['10.0.0.0/30']);
  });

  it('GIVEN ranges with starts above 2^31 in reverse order WHEN aggregated THEN each end stays with its start', () => {
    const set = new Ipv4Set();
    set.addRange(ip('200.0.0.0'), ip('200.0.0.255'));
    set.addRange(ip('150.0.0.0'), ip('150.0.0.3'));
    set.addRange(ip('100.0.0.8'), ip('100.0.0.15'));
    expect(set.cidrs()).toEqual(['100.0.0.8/29', '150.0.0.0/30', '200.0.0.0/24']);
  });

  it('GIVEN one set WHEN added to another THEN the union is aggregated', () => {
    const a = new Ipv4Set();
    a.addCidr(ip('10.0.0.0'), 25);
    const b = new Ipv4Set();
    b.addCidr(ip('10.0.0.128'), 25);
    b.addAddress(ip('9.9.9.9'));
    a.addAll(b);
    expect(a.cidrs()).toEqual(['9.9.9.9/32', '10.0.0.0/24']);
  });

  it.each([
    ['a negative number', () => new Ipv4Set().addAddress(-1)],
    ['2^32', () => new Ipv4Set().addAddress(2 ** 32)],
    ['a fraction', () => new Ipv4Set().addAddress(1.5)],
    ['a reversed range', () => new Ipv4Set().addRange(5, 4)],
    ['a prefix of 33', () => new Ipv4Set().addCidr(0, 33)],
    ['NaN as the network', () => new Ipv4Set().addCidr(Number.NaN, 8)],
  ])('GIVEN %s WHEN added THEN it throws instead of widening the set', (_name, add) => {
    expect(add).toThrow(RangeError);
  });
});

describe('sortUint32', () => {
  it.each([10, 70_000, 300_000])(
    'GIVEN %i random values with duplicates WHEN sorted THEN the result equals the native sort',
    (length) => {
      const random = seeded(length);
      const values = new Uint32Array(length);
      for (let i = 0; i < length; i++)
        values[i] = random() < 0.1 ? 0xffffffff : Math.floor(random() * 4294967296);
      const expected = values.slice().sort();
      sortUint32(values);
      let firstDifference = -1;
      for (let i = 0; i < length && firstDifference < 0; i++)
        if (values[i] !== expected[i]) firstDifference = i;
      expect(firstDifference).toBe(-1);
    },
  );
});

describe('IPv6 aggregation', () => {
  const v6 = (text: string): bigint => parseIpv6(text)!;

  function referenceIpv6(covered: Uint8Array, base: bigint, bits: number): string[] {
    const out: string[] = [];
    const visit = (offset: number, size: number): void => {
      let all = true;
      let any = false;
      for (let i = offset; i < offset + size; i++) {
        if (covered[i]) any = true;
        else all = false;
      }
      if (all) out.push(`${formatIpv6(base + BigInt(offset))}/${128 - Math.log2(size)}`);
      else if (any) {
        visit(offset, size / 2);
        visit(offset + size / 2, size / 2);
      }
    };
    visit(0, 2 ** bits);
    return out;
  }

  it.each([
    ['a documentation window', v6('2001:db8::')],
    ['the last window, up to ffff:...:ffff', IPV6_MAX - 4095n],
    ['the first window, from ::', 0n],
  ])(
    'GIVEN random ranges in %s WHEN aggregated THEN the CIDRs are exactly the minimal cover',
    (_name, base) => {
      const random = seeded(Number(base % 1000003n));
      const bits = 12;
      const size = 2 ** bits;
      const failures: string[] = [];
      for (let round = 0; round < 150; round++) {
        const covered = new Uint8Array(size);
        const ranges: Ipv6Range[] = [];
        const items = 1 + Math.floor(random() * 30);
        for (let n = 0; n < items; n++) {
          const a = Math.floor(random() * size);
          const b = random() < 0.5 ? a : Math.min(size - 1, a + Math.floor(random() * 300));
          ranges.push({ start: base + BigInt(a), end: base + BigInt(b) });
          covered.fill(1, a, b + 1);
        }
        const expected = referenceIpv6(covered, base, bits);
        const actual = aggregateIpv6(ranges);
        if (JSON.stringify(actual) !== JSON.stringify(expected))
          failures.push(`round ${round}: expected ${expected.join(' ')} got ${actual.join(' ')}`);
      }
      expect(failures).toEqual([]);
    },
  );

  it('GIVEN ::/0 and a single address WHEN aggregated THEN the result is ::/0', () => {
    expect(aggregateIpv6([ipv6CidrRange(0n, 0), { start: 1n, end: 1n }])).toEqual(['::/0']);
  });

  it('GIVEN the last address and its neighbour WHEN aggregated THEN they make one /127 without overflow', () => {
    expect(
      aggregateIpv6([
        { start: IPV6_MAX, end: IPV6_MAX },
        { start: IPV6_MAX - 1n, end: IPV6_MAX - 1n },
      ]),
    ).toEqual(['ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127']);
  });

  it('GIVEN two adjacent /64s and a duplicate WHEN merged THEN one range and one /63 remain', () => {
    const ranges = [
      ipv6CidrRange(v6('2001:db8:0:1::'), 64),
      ipv6CidrRange(v6('2001:db8::'), 64),
      ipv6CidrRange(v6('2001:db8::'), 64),
    ];
    expect(mergeIpv6Ranges(ranges)).toHaveLength(1);
    expect(aggregateIpv6(ranges)).toEqual(['2001:db8::/63']);
  });

  it('GIVEN a reversed or out-of-range IPv6 range WHEN merged THEN it throws', () => {
    expect(() => mergeIpv6Ranges([{ start: 2n, end: 1n }])).toThrow(RangeError);
    expect(() => mergeIpv6Ranges([{ start: 0n, end: IPV6_MAX + 1n }])).toThrow(RangeError);
  });
});
