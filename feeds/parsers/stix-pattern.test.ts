import { describe, expect, it } from 'vitest';
import { readStixPattern, type PatternReading } from './stix-pattern.js';

function compact(reading: PatternReading): unknown {
  if (!reading.ok) return reading.reason;
  return reading.comparisons.map((c) => [
    c.pathText,
    c.negated ? `NOT ${c.operator}` : c.operator,
    c.value &&
      ('value' in c.value
        ? c.value.value
        : c.value.values.map((v) => ('value' in v ? v.value : '?'))),
  ]);
}

describe('readStixPattern', () => {
  it('GIVEN ORs inside and between observations, with parentheses THEN every comparison comes out in order', () => {
    expect(
      compact(
        readStixPattern(
          "([ipv4-addr:value = '198.51.100.1' OR (domain-name:value = 'a.example')] OR [url:value = 'http://b.example/'])",
        ),
      ),
    ).toEqual([
      ['ipv4-addr:value', '=', '198.51.100.1'],
      ['domain-name:value', '=', 'a.example'],
      ['url:value', '=', 'http://b.example/'],
    ]);
  });

  it("GIVEN quoted path parts, escaped quotes and backslashes, '==' and '<>' THEN they are read as the spec defines", () => {
    expect(
      compact(
        readStixPattern(
          "[file:hashes.'SHA-256' == 'ab' OR file:name <> 'it\\'s \\\\ here' OR file:parent_directory_ref.path = 'C:\\\\x']",
        ),
      ),
    ).toEqual([
      ["file:hashes.'SHA-256'", '=', 'ab'],
      ['file:name', '!=', "it's \\ here"],
      ['file:parent_directory_ref.path', '=', 'C:\\x'],
    ]);
  });

  it('GIVEN NOT, IN, LIKE, EXISTS and typed literals THEN they parse as comparisons for the caller to judge', () => {
    expect(
      compact(
        readStixPattern(
          "[ipv4-addr:value NOT = '1.2.3.4' OR ipv4-addr:value IN ('1.1.1.1', '8.8.8.8') OR url:value LIKE 'http://%' OR EXISTS windows-registry-key:key OR artifact:payload_bin = b'aGk=' OR network-traffic:dst_port > 1024 OR file:x_flag = true OR file:extensions.'ntfs-ext'.sid = h'ff' OR email-message:date = t'2016-01-01T00:00:00Z' OR network-traffic:src_ref.extensions[*].x = 1 OR process:arguments[0] = '-e']",
        ),
      ),
    ).toEqual([
      ['ipv4-addr:value', 'NOT =', '1.2.3.4'],
      ['ipv4-addr:value', 'IN', ['1.1.1.1', '8.8.8.8']],
      ['url:value', 'LIKE', 'http://%'],
      ['windows-registry-key:key', 'EXISTS', undefined],
      ['artifact:payload_bin', '=', 'aGk='],
      ['network-traffic:dst_port', '>', 1024],
      ['file:x_flag', '=', true],
      ["file:extensions.'ntfs-ext'.sid", '=', 'ff'],
      ['email-message:date', '=', '2016-01-01T00:00:00Z'],
      ['network-traffic:src_ref.extensions[*].x', '=', 1],
      ['process:arguments[0]', '=', '-e'],
    ]);
  });

  it.each([
    ["[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']", 'AND between comparisons'],
    [
      "[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']",
      'AND between observations',
    ],
    ["[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']", 'FOLLOWEDBY'],
    [
      "[ipv4-addr:value = '1.2.3.4'] OR ([domain-name:value = 'a.example'] WITHIN 60 SECONDS)",
      'the WITHIN qualifier',
    ],
    [
      "[ipv4-addr:value = '1.2.3.4'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
      'the START/STOP qualifier',
    ],
    ["[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES", 'the REPEATS qualifier'],
  ])('GIVEN %s THEN it is valid but refused as %s', (pattern, combination) => {
    expect(readStixPattern(pattern)).toEqual({
      ok: false,
      combination: true,
      reason: `the pattern uses ${combination}, so no single value it names can be enforced on its own`,
    });
  });

  it.each([
    ["[ipv4-addr:value = '1.2.3.4'", 'expected "]" at character 28'],
    ["[ipv4-addr:value = '1.2.3.4]", 'unterminated string starting at character 19'],
    ["ipv4-addr:value = '1.2.3.4'", 'expected "[" or "(" at character 0'],
    ["[ipv4-addr:value '1.2.3.4']", 'expected a comparison operator at character 17'],
    ["[ipv4-addr:value = 'a\\n']", 'invalid escape \\n at character 21'],
    ["[ipv4-addr:value = '1.2.3.4'] OR", 'expected "[" or "(" at character 32'],
    ["[value = '1.2.3.4']", 'unexpected "value" at character 1'],
    ['', 'expected "[" or "(" at character 0'],
  ])('GIVEN the malformed pattern %j THEN the reason locates the error', (pattern, where) => {
    expect(readStixPattern(pattern)).toEqual({
      ok: false,
      reason: `the pattern is not valid STIX patterning: ${where}`,
    });
  });
});
