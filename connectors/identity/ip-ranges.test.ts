import { describe, expect, it } from 'vitest';
import { canonicalCidr, isIpv6Cidr, rangeCidrs } from './ip-ranges.js';

describe('canonicalCidr', () => {
  it('GIVEN addresses and CIDRs of either family THEN the canonical CIDR: host bits cleared, RFC 5952, single addresses as /32 or /128', () => {
    expect(canonicalCidr('203.0.113.7')).toBe('203.0.113.7/32');
    expect(canonicalCidr(' 198.51.100.9/24 ')).toBe('198.51.100.0/24');
    expect(canonicalCidr('2001:DB8:0:0::1')).toBe('2001:db8::1/128');
    expect(canonicalCidr('2001:db8::1/48')).toBe('2001:db8::/48');
  });

  it('GIVEN something else THEN undefined', () => {
    for (const value of [
      '',
      'evil.example',
      '203.0.113.256',
      '203.0.113.7/33',
      '2001:db8::/129',
      '203.0.113.1-203.0.113.9',
    ])
      expect(canonicalCidr(value), value).toBeUndefined();
  });
});

describe('rangeCidrs', () => {
  it('GIVEN an inclusive range THEN its minimal CIDR cover', () => {
    expect(rangeCidrs('198.51.100.1', '198.51.100.6')).toEqual([
      '198.51.100.1/32',
      '198.51.100.2/31',
      '198.51.100.4/31',
      '198.51.100.6/32',
    ]);
    expect(rangeCidrs('192.0.2.0', '192.0.2.255')).toEqual(['192.0.2.0/24']);
    expect(rangeCidrs('2001:db8::', '2001:db8::3')).toEqual(['2001:db8::/126']);
    expect(isIpv6Cidr('2001:db8::/126')).toBe(true);
    expect(isIpv6Cidr('192.0.2.0/24')).toBe(false);
  });

  it('GIVEN a reversed range, mixed families or a non-address THEN undefined', () => {
    expect(rangeCidrs('192.0.2.9', '192.0.2.1')).toBeUndefined();
    expect(rangeCidrs('192.0.2.1', '2001:db8::1')).toBeUndefined();
    expect(rangeCidrs('a', 'b')).toBeUndefined();
  });
});
