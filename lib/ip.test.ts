import { describe, expect, it } from 'vitest';
import {
  sortIpv4AsText,
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
  parseCidrOrIp,
  parseIp,
  formatIp,
  cidrContains,
  embeddedIpv4,
  embeddedIpv4Cidrs,
  unmapIpv4,
  type Cidr,
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
  ])(
    'GIVEN %s WHEN parsed as text and as bytes THEN both give the same uint32',
    (text, expected) => {
      expect(parseIpv4(text)).toBe(expected);
      expect(parseIpv4Bytes(ascii(text))).toBe(expected);
    },
  );

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
      if (
        decoder.decode(out.subarray(2, end)) !== text ||
        parseIpv4(text) !== address ||
        parseIpv4Bytes(out, 2, end) !== address
      ) {
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
      if (parseIpv4(text) !== expected || parseIpv4Bytes(ascii(text)) !== (expected ?? -1))
        mismatches.push(text);
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
  ])(
    'GIVEN %s WHEN parsed THEN the network is %s/%i with host bits cleared',
    (text, network, prefix) => {
      const packed = parseIpv4CidrBytes(ascii(text));
      expect(formatIpv4(packedCidrNetwork(packed))).toBe(network);
      expect(packedCidrPrefix(packed)).toBe(prefix);
    },
  );

  it.each([
    '1.2.3.4/33',
    '1.2.3.4/08',
    '1.2.3.4/',
    '1.2.3.4/-1',
    '1.2.3.4/8 ',
    '1.2.3.4/1/2',
    '01.2.3.4/8',
    '1.2.3.4/100',
  ])('GIVEN %j WHEN parsed THEN it is refused', (text) => {
    expect(parseIpv4CidrBytes(ascii(text))).toBe(-1);
  });
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
      const whatwg =
        value >> 32n === 0xffffn ? text : new URL(`http://[${longForm}]/`).hostname.slice(1, -1);
      if (parseIpv6(text) !== value || parseIpv6(longForm) !== value || text !== whatwg)
        mismatches.push(`${longForm} -> ${text}`);
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

  it.each([
    '1.2.3.4',
    '::1',
    '1.2.3.4/33',
    '::/129',
    '1.2.3.4/',
    '1.2.3.4/1/2',
    '1.2.3.4/08',
    '::/01',
    '010.0.0.0/8',
    'fe80::%1/64',
    '/8',
  ])('GIVEN %j WHEN parsed as a CIDR THEN it is refused', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});

describe('one address of either family', () => {
  it.each([
    ['169.254.169.254', 4, '169.254.169.254'],
    ['[::ffff:a9fe:a9fe]', 6, '::ffff:169.254.169.254'],
    ['FD00:EC2:0:0:0:0:0:254', 6, 'fd00:ec2::254'],
    ['1:0:0:2:0:0:0:3', 6, '1:0:0:2::3'],
  ])('GIVEN %s WHEN parsed and formatted THEN it is IPv%d %s', (text, family, formatted) => {
    const ip = parseIp(text);
    expect(ip?.family).toBe(family);
    expect(formatIp(ip!)).toBe(formatted);
  });

  it.each([
    '',
    'fe80::1%eth0',
    '[1.2.3.4]',
    '0xA9FEA9FE',
    '2852039166',
    '01.2.3.4',
    'example.org',
    '1::2::3',
  ])(
    'GIVEN %j WHEN parsed THEN it is not an address (zone ids and non-canonical spellings are refused)',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );

  it('GIVEN CIDRs or bare addresses WHEN addresses are matched THEN the prefix decides and families never mix', () => {
    const ten = parseCidrOrIp('10.0.0.0/8')!;
    expect(parseCidrOrIp('fd00:ec2::254')).toEqual({
      family: 6,
      network: parseIpv6('fd00:ec2::254'),
      prefix: 128,
    });
    expect(cidrContains(ten, parseIp('10.255.1.2')!)).toBe(true);
    expect(cidrContains(ten, parseIp('11.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidrOrIp('fc00::/7')!, parseIp('fdff::1')!)).toBe(true);
    expect(cidrContains(ten, parseIp('::ffff:10.0.0.1')!)).toBe(false);
    expect(parseCidrOrIp('10.0.0.0/33')).toBeUndefined();
  });
});

describe('IPv4 carried inside IPv6', () => {
  const readings = (text: string) =>
    embeddedIpv4(parseIpv6(text)!).map((e) => `${e.form} ${formatIpv4(e.ipv4)}`);
  const images = (text: string) =>
    embeddedIpv4Cidrs(parseCidr(text) as Extract<Cidr, { family: 6 }>).map(
      (e) => `${e.form} ${formatCidr(e.cidr)}`,
    );

  it.each([
    ['::ffff:169.254.169.254', ['IPv4-mapped 169.254.169.254']],
    ['::10.1.2.3', ['IPv4-compatible 10.1.2.3']],
    // RFC 6052 2.4: 192.0.2.33 under the well-known prefix.
    ['64:ff9b::c000:221', ['NAT64 192.0.2.33']],
    ['64:ff9b::a9fe:a9fe', ['NAT64 169.254.169.254']],
    // RFC 3056 2: 2002:V4ADDR::/48, here 192.0.2.1.
    ['2002:c000:201::1', ['6to4 192.0.2.1']],
    // RFC 4380 4: server 65.54.227.120, client 192.0.2.45 behind a cone NAT, port 40000.
    [
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
      ['Teredo server 65.54.227.120', 'Teredo client 192.0.2.45'],
    ],
  ])('GIVEN %s WHEN its embedded IPv4 is read THEN it is %j', (text, expected) => {
    expect(readings(text)).toEqual(expected);
  });

  it.each([
    // RFC 6052 2.4's table, moved into the local-use prefix 64:ff9b:1::/48 (RFC 8215).
    ['64:ff9b:1:c000:2:2100::', '/48'],
    ['64:ff9b:1:3c0:0:221::', '/56'],
    ['64:ff9b:1:344:c0:2:2100::', '/64'],
    ['64:ff9b:1:344::192.0.2.33', '/96'],
  ])(
    'GIVEN %s (RFC 6052 format %s in the local-use NAT64 prefix) WHEN read THEN one of its readings is 192.0.2.33',
    (text) => {
      const all = readings(text);
      expect(all).toHaveLength(4);
      expect(all).toContain('NAT64 192.0.2.33');
    },
  );

  it.each(['::', '::1', '2001:db8::1', 'fe80::1', '2606:4700:4700::1111'])(
    'GIVEN %s WHEN read THEN it carries no IPv4',
    (text) => {
      expect(readings(text)).toEqual([]);
    },
  );

  it.each([
    ['::ffff:10.0.0.0/104', ['IPv4-mapped 10.0.0.0/8']],
    ['64:ff9b::/96', ['NAT64 0.0.0.0/0']],
    ['2002:a9fe:a9fe::/48', ['6to4 169.254.169.254/32']],
    ['2002:a9fe::/32', ['6to4 169.254.0.0/16']],
    ['2002:a9fe:a9fe:1::/64', ['6to4 169.254.169.254/32']],
    ['2001:0:4136:e378::/64', ['Teredo server 65.54.227.120/32', 'Teredo client 0.0.0.0/0']],
    [
      '2001:0:4136:e378:8000:63bf:3fff:fd00/120',
      ['Teredo server 65.54.227.120/32', 'Teredo client 192.0.2.0/24'],
    ],
    ['2001:db8::/32', []],
  ])('GIVEN the IPv6 CIDR %s WHEN mapped to IPv4 THEN it reaches %j', (text, expected) => {
    expect(images(text)).toEqual(expected);
  });

  it('GIVEN an IPv6 CIDR that contains a whole embedding prefix THEN it reaches all of IPv4 through it', () => {
    expect(images('::/64')).toEqual(['IPv4-mapped 0.0.0.0/0', 'IPv4-compatible 0.0.0.0/0']);
    expect(images('2000::/4')).toEqual([
      '6to4 0.0.0.0/0',
      'Teredo server 0.0.0.0/0',
      'Teredo client 0.0.0.0/0',
    ]);
  });

  it.each([
    ['::ffff:0.0.0.0/96', '0.0.0.0/0'],
    ['::ffff:5.6.7.8/128', '5.6.7.8/32'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::ffff:0:0/95', '::fffe:0:0/95'],
    ['64:ff9b::a9fe:a9fe/128', '64:ff9b::a9fe:a9fe/128'],
  ])(
    'GIVEN %s WHEN unmapped THEN it is %s (only the mapped form is the IPv4 packet itself)',
    (text, expected) => {
      expect(formatCidr(unmapIpv4(parseCidr(text)!))).toBe(expected);
    },
  );
});

describe('sortIpv4AsText', () => {
  it('GIVEN addresses THEN they come out in the order of their text, as a string sort gives', () => {
    let seed = 11;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const octets = [0, 1, 2, 9, 10, 11, 19, 20, 25, 99, 100, 101, 199, 200, 249, 250, 255];
    const list: number[] = [];
    for (let n = 0; n < 5000; n++) {
      const pick = () => (next() % 3 === 0 ? octets[next() % octets.length]! : next() & 0xff);
      list.push(((pick() << 24) | (pick() << 16) | (pick() << 8) | pick()) >>> 0);
    }
    const sorted = sortIpv4AsText(Uint32Array.from(list));
    expect([...sorted].map(formatIpv4)).toEqual(list.map(formatIpv4).sort());
  });

  it('GIVEN prefixes of each other THEN the shorter octet sorts first, and "." before a digit', () => {
    const list = ['1.2.3.4', '1.23.4.5', '12.0.0.1', '1.2.3.40', '100.0.0.0', '2.0.0.0'];
    const sorted = sortIpv4AsText(Uint32Array.from(list.map((a) => parseIpv4(a)!)));
    expect([...sorted].map(formatIpv4)).toEqual([...list].sort());
  });
});
