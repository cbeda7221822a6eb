import { describe, expect, it } from 'vitest';
import type { IndicatorType } from './indicator.js';
import { normalise, refang } from './normalise.js';

describe('normalise without a type hint', () => {
  it.each<[string, IndicatorType, string]>([
    // IPv4
    ['192.0.2.1', 'ipv4', '192.0.2.1'],
    ['  192.0.2.1\t', 'ipv4', '192.0.2.1'],
    ['192.0.2[.]1', 'ipv4', '192.0.2.1'],
    ['192[.]0[.]2[.]1', 'ipv4', '192.0.2.1'],
    // IPv6
    ['2001:DB8:0:0:0:0:0:1', 'ipv6', '2001:db8::1'],
    ['::ffff:192.0.2.1', 'ipv4', '192.0.2.1'],
    // CIDR: network form; a single-address prefix is the address
    ['10.1.2.3/8', 'cidr', '10.0.0.0/8'],
    ['198.51.100.0/24', 'cidr', '198.51.100.0/24'],
    ['192.0.2.7/32', 'ipv4', '192.0.2.7'],
    ['2001:db8::1/32', 'cidr', '2001:db8::/32'],
    ['2001:db8::1/128', 'ipv6', '2001:db8::1'],
    // Domains
    ['Example.COM', 'domain', 'example.com'],
    ['example.com.', 'domain', 'example.com'],
    ['evil[.]example[.]org', 'domain', 'evil.example.org'],
    ['bücher.example', 'domain', 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.example', 'domain', 'xn--bcher-kva.example'],
    ['c2_beacon.example.net', 'domain', 'c2_beacon.example.net'],
    ['a-b.example', 'domain', 'a-b.example'],
    // URLs
    ['HTTP://Example.COM:80/Path?q=1#frag', 'url', 'http://example.com/Path?q=1'],
    ['hxxp://evil[.]example/payload.exe', 'url', 'http://evil.example/payload.exe'],
    ['hXXps://evil.example:443/', 'url', 'https://evil.example/'],
    ['https://evil.example:8443/x', 'url', 'https://evil.example:8443/x'],
    ['http://bücher.example/a', 'url', 'http://xn--bcher-kva.example/a'],
    ['http[:]//198.51.100.7/x', 'url', 'http://198.51.100.7/x'],
    ['evil.example/gate.php', 'url', 'http://evil.example/gate.php'],
    ['198.51.100.7/bins/x86', 'url', 'http://198.51.100.7/bins/x86'],
    ['198.51.100.7:8080/bins/x86', 'url', 'http://198.51.100.7:8080/bins/x86'],
    ['evil.example:8080/x', 'url', 'http://evil.example:8080/x'],
    // Hashes
    ['D41D8CD98F00B204E9800998ECF8427E', 'hash', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    [
      'da39a3ee5e6b4b0d3255bfef95601890afd80709',
      'hash',
      'sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709',
    ],
    [
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'hash',
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ],
    [
      'SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
      'hash',
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ],
    ['a'.repeat(128), 'hash', `sha512:${'a'.repeat(128)}`],
    // CVEs
    ['cve-2024-3094', 'cve', 'CVE-2024-3094'],
    ['CVE-2021-44228', 'cve', 'CVE-2021-44228'],
    ['CVE-2024-1234567', 'cve', 'CVE-2024-1234567'],
  ])('GIVEN %j WHEN normalised THEN it is %s %j', (raw, type, value) => {
    expect(normalise(raw)).toEqual({ type, value });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['010.1.1.1', 'IPv4 with a leading zero: ambiguous'],
    ['1.2.3.256', 'IPv4 out of range, and no domain either'],
    ['1.2.3.4.5', 'numeric last label'],
    ['0x7f.1', 'hex IPv4 in disguise'],
    ['10.0.0.0/33', 'broken CIDR'],
    ['10.0.0.0/08', 'prefix with a leading zero'],
    ['fe80::1%eth0', 'IPv6 zone id'],
    ['localhost', 'single label'],
    ['-evil.example', 'label starting with a hyphen'],
    ['evil-.example', 'label ending with a hyphen'],
    ['a..example', 'empty label'],
    ['*.example.com', 'wildcard'],
    [`${'a'.repeat(64)}.example`, 'label over 63 characters'],
    [`${'abcdefghi.'.repeat(25)}example`, 'name over 253 characters'],
    ['ex ample.com', 'space'],
    ['javascript://evil.example/', 'unsupported scheme'],
    ['http://', 'URL without host'],
    ['d41d8cd98f00b204e9800998ecf8427', 'hex of no hash length'],
    ['md5:da39a3ee5e6b4b0d3255bfef95601890afd80709', 'algorithm and length disagree'],
    ['CVE-2024-123', 'CVE sequence too short'],
    ['CVE-24-1234', 'CVE year too short'],
  ])('GIVEN %j (%s) WHEN normalised THEN it is an error', (raw) => {
    const result = normalise(raw);
    expect(result).toHaveProperty('error');
    expect((result as { error: string }).error).not.toBe('');
  });
});

describe('normalise with a type hint', () => {
  it.each<[string, IndicatorType, IndicatorType, string]>([
    ['192.0.2.1', 'ipv4', 'ipv4', '192.0.2.1'],
    ['192.0.2.1/32', 'ipv4', 'ipv4', '192.0.2.1'],
    ['192.0.2.1', 'cidr', 'ipv4', '192.0.2.1'],
    ['192.0.2.1/24', 'cidr', 'cidr', '192.0.2.0/24'],
    ['2001:db8::1', 'ipv6', 'ipv6', '2001:db8::1'],
    ['EXAMPLE.org', 'domain', 'domain', 'example.org'],
    ['evil.example/x', 'url', 'url', 'http://evil.example/x'],
    ['d41d8cd98f00b204e9800998ecf8427e', 'hash', 'hash', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ['cve-2023-4863', 'cve', 'cve', 'CVE-2023-4863'],
  ])('GIVEN %j hinted as %s WHEN normalised THEN it is %s %j', (raw, hint, type, value) => {
    expect(normalise(raw, hint)).toEqual({ type, value });
  });

  it.each<[string, IndicatorType]>([
    ['192.0.2.0/24', 'ipv4'],
    ['2001:db8::1', 'ipv4'],
    ['192.0.2.1', 'ipv6'],
    ['192.0.2.1', 'domain'],
    ['example.org', 'ipv4'],
    ['example.org', 'cve'],
    ['example.org', 'hash'],
    ['CVE-2024-3094', 'domain'],
    ['not a url', 'url'],
  ])(
    'GIVEN %j hinted as %s WHEN normalised THEN the mismatch is an error, not a guess',
    (raw, hint) => {
      expect(normalise(raw, hint)).toHaveProperty('error');
    },
  );
});

describe('normalise accounts', () => {
  it.each<[string, string]>([
    ['alice@example.com', 'alice@example.com'],
    ['  Alice.Smith@Example.COM\t', 'alice.smith@example.com'],
    ['BOB', 'bob'],
    ['svc_backup-01', 'svc_backup-01'],
    ['j.doe@corp.onmicrosoft.com', 'j.doe@corp.onmicrosoft.com'],
    ['alice[.]smith@example[.]com', 'alice.smith@example.com'],
    // One person in NFC and NFD is one account.
    ['J\u00dcRGEN@example.com', 'j\u00fcrgen@example.com'],
    ['Ju\u0308rgen@example.com', 'j\u00fcrgen@example.com'],
    ['a+tag@example.com', 'a+tag@example.com'],
    ['x'.repeat(256), 'x'.repeat(256)],
    // Values other types would claim are still accounts when the feed says so.
    ['192.0.2.1', '192.0.2.1'],
    ['cve-2024-3094', 'cve-2024-3094'],
  ])('GIVEN %j hinted as account WHEN normalised THEN it is the account %j', (raw, value) => {
    expect(normalise(raw, 'account')).toEqual({ type: 'account', value });
  });

  it.each<[string, RegExp]>([
    ['   ', /^empty value$/],
    ['alice smith', /contains whitespace \(U\+0020\)/],
    ['alice\u00a0smith', /contains whitespace \(U\+00A0\)/],
    ['alice\tsmith', /contains whitespace \(U\+0009\)/],
    ['alice\u0000', /contains a control or invisible character \(U\+0000\)/],
    ['ali\u200bce', /contains a control or invisible character \(U\+200B\)/],
    ['alice,bob', /contains a comma/],
    ['"alice"', /contains a quote/],
    ["o'brien@example.com", /contains a quote/],
    ['alice`', /contains a quote/],
    ['CORP\\alice', /contains a backslash/],
    ['x'.repeat(257), /^account longer than 256 characters \(257\)/],
    // Lower-casing U+0130 makes two code points of one, so the limit is checked after it.
    ['\u0130'.repeat(129), /^account longer than 256 characters \(258\)/],
  ])('GIVEN %j hinted as account WHEN normalised THEN it is rejected: %s', (raw, reason) => {
    const result = normalise(raw, 'account');
    expect(result).toEqual({ error: expect.stringMatching(reason) });
  });

  it.each(['alice@example.com', 'Bob.Smith@Example.org', 'alice', 'CORP\\alice'])(
    'GIVEN the bare value %j without a hint WHEN normalised THEN it is never an account',
    (raw) => {
      expect(normalise(raw)).not.toMatchObject({ type: 'account' });
    },
  );

  it('GIVEN a bare email address without a hint THEN it is rejected as it was before accounts existed, not turned into a domain', () => {
    expect(normalise('alice@example.com')).toEqual({
      error: expect.stringMatching(
        /^not an IP, CIDR, domain, URL, hash or CVE: "alice@example.com"/,
      ),
    });
  });
});

describe('refang', () => {
  it.each([
    ['hxxp://evil[.]example', 'http://evil.example'],
    ['hxxps[:]//evil(.)example', 'https://evil.example'],
    ['evil[dot]example', 'evil.example'],
    ['1.2.3{.}4', '1.2.3.4'],
    ['fxp://files.example', 'ftp://files.example'],
    ['plain text dot com', 'plain text dot com'],
  ])('GIVEN %j WHEN refanged THEN it reads %j', (defanged, refanged) => {
    expect(refang(defanged)).toBe(refanged);
  });
});
