import { describe, expect, it } from 'vitest';
import { CelCidr, CelIp, parseCidrKeepingAddress, parseCelIp } from './net.js';
import { itEvaluates, run } from './test-support.js';

describe('ip() and isIP()', () => {
  itEvaluates([
    ["isIP('192.0.2.1')", true],
    ["isIP('2001:db8::1')", true],
    ["isIP('::')", true],
    ["isIP('010.0.0.1')", false], // leading zero: octal to inet_aton
    ["isIP('1.2.3.256')", false],
    ["isIP('1.2.3')", false],
    ["isIP('::ffff:192.0.2.1')", false], // IPv4-mapped, refused as in Kubernetes
    ["isIP('fe80::1%eth0')", false], // zone
    ["isIP('192.0.2.0/24')", false],
    ["isIP('example.org')", false],
    ["isIP('')", false],
  ]);

  itEvaluates([
    ["ip('192.0.2.1').family() == 4", true],
    ["ip('2001:db8::1').family() == 6", true],
    ["ip('2001:db8::1').family() == 4", false],
    ["ip('2001:DB8:0:0:0:0:0:1') == ip('2001:db8::1')", true],
    ["ip('192.0.2.1') == ip('192.0.2.2')", false],
    ["ip('192.0.2.1') != ip('192.0.2.2')", true],
    ["string(ip('2001:DB8:0:0::1')) == '2001:db8::1'", true],
    ["string(ip('192.0.2.1')) == '192.0.2.1'", true],
    ["type(ip('192.0.2.1')) == type(ip('::1'))", true],
  ]);

  it('GIVEN ip() of a value that is not an address THEN evaluation fails, naming the problem but not the value', () => {
    expect(() => run('ip(indicator.value).family() == 4', { value: 'example.org' })).toThrow(
      /ip\(\): the argument is not an IP address/,
    );
    expect(() => run('ip(indicator.value).family() == 6', { value: '::ffff:1.2.3.4' })).toThrow(
      /the argument is an IPv4-mapped IPv6 address, which is not allowed/,
    );
    expect(() => run('ip(indicator.value).family() == 6', { value: 'fe80::1%eth0' })).toThrow(
      /the argument has a zone/,
    );
  });

  itEvaluates([
    ["ip.isCanonical('192.0.2.1')", true],
    ["ip.isCanonical('2001:db8::1')", true],
    ["ip.isCanonical('2001:DB8::1')", false],
    ["ip.isCanonical('2001:db8:0:0:0:0:0:1')", false],
    ["ip.isCanonical('2001:db8::0:1')", false],
  ]);
});

describe('IP classification', () => {
  it.each([
    ['isUnspecified', '0.0.0.0', true],
    ['isUnspecified', '::', true],
    ['isUnspecified', '0.0.0.1', false],
    ['isUnspecified', '::1', false],
    ['isLoopback', '127.0.0.1', true],
    ['isLoopback', '127.255.255.254', true],
    ['isLoopback', '::1', true],
    ['isLoopback', '128.0.0.1', false],
    ['isLoopback', '::2', false],
    ['isLinkLocalUnicast', '169.254.10.1', true],
    ['isLinkLocalUnicast', 'fe80::1', true],
    ['isLinkLocalUnicast', 'febf:ffff::1', true],
    ['isLinkLocalUnicast', 'fec0::1', false],
    ['isLinkLocalUnicast', '169.253.0.1', false],
    ['isLinkLocalMulticast', '224.0.0.251', true],
    ['isLinkLocalMulticast', 'ff02::1', true],
    ['isLinkLocalMulticast', 'ff12::1', true], // transient flag set, still link-local scope
    ['isLinkLocalMulticast', '224.0.1.1', false],
    ['isLinkLocalMulticast', 'ff05::1', false],
    ['isGlobalUnicast', '8.8.8.8', true],
    ['isGlobalUnicast', '10.1.2.3', true], // private space is global unicast, as in Go and Kubernetes
    ['isGlobalUnicast', '2001:db8::1', true],
    ['isGlobalUnicast', 'fd00::1', true],
    ['isGlobalUnicast', '255.255.255.255', false],
    ['isGlobalUnicast', '0.0.0.0', false],
    ['isGlobalUnicast', '127.0.0.1', false],
    ['isGlobalUnicast', '224.0.0.1', false],
    ['isGlobalUnicast', '169.254.0.1', false],
    ['isGlobalUnicast', 'ff02::1', false],
    ['isGlobalUnicast', 'fe80::1', false],
    ['isGlobalUnicast', '::1', false],
  ])('GIVEN ip(%j).%s() on %s THEN it is %s', (method, address, expected) => {
    expect(run(`ip('${address}').${method}()`)).toBe(expected);
  });
});

describe('cidr() and isCIDR()', () => {
  itEvaluates([
    ["isCIDR('10.0.0.0/8')", true],
    ["isCIDR('10.1.2.3/8')", true], // host bits allowed, as in Kubernetes
    ["isCIDR('2001:db8::/32')", true],
    ["isCIDR('10.0.0.0/33')", false],
    ["isCIDR('2001:db8::/129')", false],
    ["isCIDR('10.0.0.0/08')", false],
    ["isCIDR('10.0.0.0')", false],
    ["isCIDR('::ffff:10.0.0.0/104')", false],
    ["isCIDR('010.0.0.0/8')", false],
  ]);

  itEvaluates([
    ["cidr('10.0.0.0/8').containsIP('10.255.1.2')", true],
    ["cidr('10.0.0.0/8').containsIP('11.0.0.1')", false],
    ["cidr('10.0.0.0/8').containsIP(ip('10.0.0.1'))", true],
    ["cidr('10.1.2.3/8').containsIP('10.200.0.1')", true], // containment uses the masked network
    ["cidr('0.0.0.0/0').containsIP('203.0.113.9')", true],
    ["cidr('0.0.0.0/0').containsIP('2001:db8::1')", false], // families never mix
    ["cidr('2001:db8::/32').containsIP('2001:db8:ffff::1')", true],
    ["cidr('2001:db8::/32').containsIP('2001:db9::1')", false],
    ["cidr('2001:db8::/32').containsIP(ip('2001:db8::1'))", true],
    ["cidr('::/0').containsIP('10.0.0.1')", false],
    ["cidr('192.0.2.1/32').containsIP('192.0.2.1')", true],
    ["cidr('192.0.2.1/32').containsIP('192.0.2.2')", false],
  ]);

  itEvaluates([
    ["cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')", true],
    ["cidr('10.0.0.0/8').containsCIDR(cidr('10.0.0.0/8'))", true],
    ["cidr('10.0.0.0/16').containsCIDR('10.0.0.0/8')", false], // wider block
    ["cidr('10.0.0.0/8').containsCIDR('11.0.0.0/16')", false],
    ["cidr('10.1.0.0/16').containsCIDR('10.1.2.3/24')", true],
    ["cidr('2001:db8::/32').containsCIDR('2001:db8:1::/48')", true],
    ["cidr('2001:db8::/48').containsCIDR('2001:db8::/32')", false],
    ["cidr('::/0').containsCIDR('10.0.0.0/8')", false],
  ]);

  itEvaluates([
    ["cidr('10.1.2.3/8').ip() == ip('10.1.2.3')", true],
    ["cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8')", true],
    ["cidr('10.1.2.3/8') == cidr('10.0.0.0/8')", false], // equality keeps the address as written
    ["cidr('10.0.0.0/8') == cidr('10.0.0.0/8').masked()", true],
    ["cidr('10.0.0.0/8').prefixLength() == 8", true],
    ["cidr('2001:db8::1/64').prefixLength() == 64", true],
    ["cidr('2001:db8::1/64').ip().family() == 6", true],
    ["string(cidr('2001:DB8::1/64').masked()) == '2001:db8::/64'", true],
    ["string(cidr('10.1.2.3/8')) == '10.1.2.3/8'", true],
  ]);

  it('GIVEN an indicator value of each family WHEN a guarded containsIP runs THEN only the matching block counts', () => {
    const expression =
      "indicator.type == 'ipv4' ? cidr('198.51.100.0/24').containsIP(indicator.value) : cidr('2001:db8::/32').containsIP(indicator.value)";
    expect(run(expression, { type: 'ipv4', value: '198.51.100.7' })).toBe(true);
    expect(run(expression, { type: 'ipv4', value: '198.51.101.7' })).toBe(false);
    expect(run(expression, { type: 'ipv6', value: '2001:db8::7' })).toBe(true);
    expect(run(expression, { type: 'ipv6', value: '2001:db9::7' })).toBe(false);
  });

  it('GIVEN containsIP on text that is not an address THEN evaluation fails', () => {
    expect(() =>
      run("cidr('10.0.0.0/8').containsIP(indicator.value)", {
        type: 'domain',
        value: 'example.org',
      }),
    ).toThrow(/containsIP\(\): the argument is not an IP address/);
  });
});

describe('net types', () => {
  it('GIVEN the parsers THEN they keep the written address and the masked network apart', () => {
    const block = parseCidrKeepingAddress('10.1.2.3/8') as CelCidr;
    expect(block).toBeInstanceOf(CelCidr);
    expect([block.family, block.address, block.network, block.prefix]).toEqual([
      4, 0x0a010203, 0x0a000000, 8,
    ]);
    expect(parseCelIp('2001:db8::1')).toEqual(new CelIp(6, 0x20010db8000000000000000000000001n));
    expect(typeof parseCelIp('1.2.3.4.5')).toBe('string');
  });

  it('GIVEN a field access on an IP THEN it is a compile error, not a leak of the JS object', () => {
    expect(() => run("ip('10.0.0.1').value == 1")).toThrow(/No such key: value/);
  });
});
