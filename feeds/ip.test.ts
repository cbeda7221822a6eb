import { describe, expect, it } from 'vitest';
import {
  formatCidr,
  formatIpv4,
  formatIpv6,
  IPV6_MAX,
  packedCidrNetwork,
  packedCidrPrefix,
  parseCidr,
  parseIpv4,
  parseIpv4Bytes,
  parseIpv4CidrBytes,
  parseIpv6,
  writeIpv4,
} from './ip.js';
import { seededRandom as seeded } from '../test/harness/seeded-random.js';


const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('IPv4 parsing', () => {
  it.each([
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['192.0.2.1', 0xc0000201],
    ['10.0.0.0', 0x0a000000],
    ['1.2.3.4', 0x01020304],
  ])('GIVEN %s WHEN parsed as text and as bytes THEN both give the same uint32', (text, expected) => {
    expect(parseIpv4(text)).toBe(expected);
    expect(parseIpv4Bytes(ascii(text))).toBe(expected);
  });

  it.each([
    ['010.1.1.1', 'leading zero, octal to inet_aton'],
    ['1.2.3.04', 'leading zero in the last octet'],
    ['00.0.0.0', 'double zero'],
    ['1.2.3.256', 'octet out of range'],
    ['1.2.3.1000', 'four digits'],
    ['1.2.3', 'three octets'],
    ['1.2.3.4.5', 'five octets'],
    ['1..2.3', 'empty octet'],
    ['.1.2.3', 'leading dot'],
    ['1.2.3.', 'trailing dot'],
    ['1.2.3.4 ', 'trailing blank'],
    [' 1.2.3.4', 'leading blank'],
    ['1.2.3.4a', 'trailing junk'],
    ['1.2.3.4/32', 'a prefix is not an address'],
    ['0x1.2.3.4', 'hex'],
    ['1.2.3.-1', 'sign'],
    ['16909060', 'a bare integer'],
    ['', 'empty'],
  ])('GIVEN %j (%s) WHEN parsed THEN it is refused', (text) => {
    expect(parseIpv4(text)).toBeUndefined();
    expect(parseIpv4Bytes(ascii(text))).toBe(-1);
  });

  it('GIVEN an address inside a larger buffer WHEN the slice is parsed THEN only the slice counts', () => {
    const bytes = ascii('xx192.168.1.20yy');
    expect(parseIpv4Bytes(bytes, 2, 14)).toBe(0xc0a80114);
    expect(parseIpv4Bytes(bytes, 2, 15)).toBe(-1);
    expect(parseIpv4Bytes(bytes, 1, 14)).toBe(-1);
  });

  it('GIVEN random addresses WHEN formatted, written as bytes and parsed back THEN every step agrees', () => {
    const random = seeded(1);
    const out = new Uint8Array(20);
    const decoder = new TextDecoder();
    const mismatches: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const address = Math.floor(random() * 4294967296);
      const text = formatIpv4(address);
      const end = writeIpv4(out, 2, address);
      if (decoder.decode(out.subarray(2, end)) !== text || parseIpv4(text) !== address || parseIpv4Bytes(out, 2, end) !== address) {
        mismatches.push(text);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('GIVEN random short strings of digits and dots WHEN parsed as text and bytes THEN the two parsers agree with a reference', () => {
    const random = seeded(2);
    const alphabet = '0123456789..';
    const reference = (text: string): number | undefined => {
      const parts = text.split('.');
      if (parts.length !== 4) return undefined;
      let value = 0;
      for (const part of parts) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
        value = value * 256 + Number(part);
      }
      return value;
    };
    let valid = 0;
    const mismatches: string[] = [];
    for (let n = 0; n < 50_000; n++) {
      let text = '';
      const length = 7 + Math.floor(random() * 9);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const expected = reference(text);
      if (expected !== undefined) valid++;
      if (parseIpv4(text) !== expected || parseIpv4Bytes(ascii(text)) !== (expected ?? -1)) mismatches.push(text);
    }
    expect(mismatches).toEqual([]);
    // The generator must exercise both outcomes, or this test proves little.
    expect(valid).toBeGreaterThan(100);
  });
});

describe('IPv4 CIDR from bytes', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0', 8],
    ['192.0.2.1', '192.0.2.1', 32],
    ['192.0.2.1/32', '192.0.2.1', 32],
    ['0.0.0.0/0', '0.0.0.0', 0],
    ['255.255.255.255/0', '0.0.0.0', 0],
    ['255.255.255.255/31', '255.255.255.254', 31],
  ])('GIVEN %s WHEN parsed THEN the network is %s/%i with host bits cleared', (text, network, prefix) => {
    const packed = parseIpv4CidrBytes(ascii(text));
    expect(formatIpv4(packedCidrNetwork(packed))).toBe(network);
    expect(packedCidrPrefix(packed)).toBe(prefix);
  });

  it.each(['1.2.3.4/33', '1.2.3.4/08', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/8 ', '1.2.3.4/1/2', '01.2.3.4/8', '1.2.3.4/100'])(
    'GIVEN %j WHEN parsed THEN it is refused',
    (text) => {
      expect(parseIpv4CidrBytes(ascii(text))).toBe(-1);
    },
  );
});

describe('IPv6 parsing and RFC 5952 formatting', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::FFFF:C000:0201', '::ffff:192.0.2.1'],
    ['64:ff9b::198.51.100.7', '64:ff9b::c633:6407'],
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['fe80::1', 'fe80::1'],
    ['FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('GIVEN %s WHEN parsed and formatted THEN the canonical text is %s', (text, canonical) => {
    const value = parseIpv6(text);
    expect(value).toBeDefined();
    expect(formatIpv6(value!)).toBe(canonical);
  });

  it.each([
    ['fe80::1%eth0', 'zone id'],
    ['fe80::1%1', 'numeric zone id'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1:2:3:4:5:6:7', 'seven groups, no ::'],
    ['1:2:3:4:5:6:7:8::', ':: standing for nothing'],
    ['::1:2:3:4:5:6:7:8', ':: standing for nothing, in front'],
    [':::', 'three colons'],
    ['1:::2', 'three colons inside'],
    ['1::2::3', 'two ::'],
    ['12345::', 'five hex digits'],
    ['::g', 'not hex'],
    [':1', 'single leading colon'],
    ['1:', 'single trailing colon'],
    ['[::1]', 'brackets'],
    ['::1/128', 'prefix'],
    ['::ffff:010.1.1.1', 'embedded IPv4 with a leading zero'],
    ['::ffff:1.2.3', 'embedded IPv4 too short'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'embedded IPv4 past the last group'],
    ['::1.2.3.4:1', 'embedded IPv4 not last'],
    ['1.2.3.4', 'plain IPv4'],
    ['', 'empty'],
  ])('GIVEN %j (%s) WHEN parsed THEN it is refused', (text) => {
    expect(parseIpv6(text)).toBeUndefined();
  });

  it('GIVEN random addresses WHEN formatted THEN the text parses back, and matches the WHATWG URL serialiser', () => {
    const random = seeded(3);
    const group = (): number => {
      // Many zero groups, so compression and ties are exercised.
      const roll = random();
      return roll < 0.45 ? 0 : roll < 0.55 ? 1 : Math.floor(random() * 65536);
    };
    const mismatches: string[] = [];
    for (let n = 0; n < 5_000; n++) {
      let value = 0n;
      const groups: number[] = [];
      for (let i = 0; i < 8; i++) {
        const g = group();
        groups.push(g);
        value = (value << 16n) | BigInt(g);
      }
      const text = formatIpv6(value);
      const longForm = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
      // WHATWG writes IPv4-mapped addresses in hex; every other address must read the same.
      const whatwg = value >> 32n === 0xffffn ? text : new URL(`http://[${longForm}]/`).hostname.slice(1, -1);
      if (parseIpv6(text) !== value || parseIpv6(longForm) !== value || text !== whatwg) mismatches.push(`${longForm} -> ${text}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('GIVEN a value outside 0..2^128-1 WHEN formatted THEN it throws rather than print a wrong address', () => {
    expect(() => formatIpv6(IPV6_MAX + 1n)).toThrow(RangeError);
    expect(() => formatIpv6(-1n)).toThrow(RangeError);
  });
});

describe('CIDR parsing, both families', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.0.2.77/24', '192.0.2.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['1.2.3.4/32', '1.2.3.4/32'],
    ['2001:db8::1/32', '2001:db8::/32'],
    ['2001:DB8:1:2::/64', '2001:db8:1:2::/64'],
    ['::/0', '::/0'],
    ['::1/128', '::1/128'],
    ['ffff::1/1', '8000::/1'],
  ])('GIVEN %s WHEN parsed THEN the network form is %s', (text, canonical) => {
    const cidr = parseCidr(text);
    expect(cidr).toBeDefined();
    expect(formatCidr(cidr!)).toBe(canonical);
  });

  it.each(['1.2.3.4', '::1', '1.2.3.4/33', '::/129', '1.2.3.4/', '1.2.3.4/1/2', '1.2.3.4/08', '::/01', '010.0.0.0/8', 'fe80::%1/64', '/8'])(
    'GIVEN %j WHEN parsed as a CIDR THEN it is refused',
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );
});
