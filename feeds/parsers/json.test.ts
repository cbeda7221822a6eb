import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson } from './json.js';
import { bytesBody, collect, fileBody, parseError, SHARED_FEEDS } from './testdata/support.js';

const KEV = join(SHARED_FEEDS, 'kev', 'kev-2025-07-14.json');
const WARNINGLISTS = join(SHARED_FEEDS, 'warninglists');

describe('parseJson', () => {
  it('GIVEN the real KEV catalog and $.vulnerabilities[*].cveID THEN 1,380 string records come out, each referenced by its path', async () => {
    const { records, rejected } = await collect(
      parseJson(fileBody(KEV), { path: '$.vulnerabilities[*].cveID' }),
    );
    expect(rejected).toEqual([]);
    expect(records).toHaveLength(1380);
    expect(records[0]).toEqual({
      kind: 'record',
      value: 'CVE-2025-47812',
      record: { value: 'CVE-2025-47812' },
      ref: "$['vulnerabilities'][0]['cveID']",
    });
    // A bare string states no type.
    expect(records[0]!.typeHint).toBeUndefined();
  });

  it('GIVEN a filter expression THEN only matching items are selected (288 ransomware-linked CVEs in the 2025-07-14 catalog)', async () => {
    const { records } = await collect(
      parseJson(fileBody(KEV), {
        path: "$.vulnerabilities[?(@.knownRansomwareCampaignUse=='Known')].cveID",
      }),
    );
    expect(records).toHaveLength(288);
    expect(records[0]).toMatchObject({
      value: 'CVE-2019-6693',
      ref: "$['vulnerabilities'][10]['cveID']",
    });
  });

  it.each([
    ['tranco10k.json', 10_000, '037hdmovie.com'],
    ['public-dns-v4.json', 62_745, undefined],
    ['rfc1918.json', 3, '10.0.0.0/8'],
  ])(
    'GIVEN the real warninglist %s and $.list[*] THEN it yields exactly %i records',
    async (file, count, first) => {
      const { records, rejected } = await collect(
        parseJson(fileBody(join(WARNINGLISTS, file)), { path: '$.list[*]' }),
      );
      expect(rejected).toEqual([]);
      expect(records).toHaveLength(count);
      if (first) expect(records[0]!.value).toBe(first);
    },
  );

  it('GIVEN objects THEN the value comes from value, indicator, ip, domain or url in that order, the object is the record, and keys state types', async () => {
    const doc = {
      data: [
        { indicator: 'evil.example', value: '198.51.100.1', type: 'ip-dst', score: 7 },
        { indicator: 'c2.example', type: 'hostname' },
        { ip: '2001:db8::/32', domain: 'ignored.example' },
        { domain: 'phish.example', url: 'http://ignored.example/' },
        { url: 'http://bad.example/x', value: '  ' },
        { value: 'd41d8cd98f00b204e9800998ecf8427e', type: 'md5' },
        { name: 'no value here' },
        42,
        null,
        ['nested'],
        '   ',
      ],
    };
    const { records, rejected } = await collect(
      parseJson(bytesBody(JSON.stringify(doc)), { path: '$.data[*]' }),
    );
    expect(records.map((r) => [r.ref, r.value, r.typeHint])).toEqual([
      ["$['data'][0]", '198.51.100.1', 'ipv4'],
      ["$['data'][1]", 'c2.example', 'domain'],
      ["$['data'][2]", '2001:db8::/32', 'cidr'],
      ["$['data'][3]", 'phish.example', 'domain'],
      ["$['data'][4]", 'http://bad.example/x', 'url'],
      ["$['data'][5]", 'd41d8cd98f00b204e9800998ecf8427e', 'hash'],
    ]);
    expect(records[0]!.record).toEqual(doc.data[0]);
    expect(records[5]!.attributes).toEqual({ hashAlgorithm: 'md5' });
    expect(rejected.map((r) => [r.ref, r.reason])).toEqual([
      [
        "$['data'][6]",
        'the selected object has no non-empty string in any of value, indicator, ip, domain, url',
      ],
      ["$['data'][7]", 'the selected item is a number, not a string or an object'],
      ["$['data'][8]", 'the selected item is null, not a string or an object'],
      ["$['data'][9]", 'the selected item is an array, not a string or an object'],
      ["$['data'][10]", 'the selected string is empty'],
    ]);
  });

  it('GIVEN no path THEN the parser refuses before reading the body', async () => {
    expect((await parseError(parseJson(bytesBody('[]'), {}))).message).toBe(
      'json: parser.path is required (a JSONPath such as $.data[*].ip)',
    );
  });

  it('GIVEN an HTML error page or an empty body THEN the whole body is refused, saying so', async () => {
    expect(
      (
        await parseError(
          parseJson(bytesBody('<html><body>502 Bad Gateway</body></html>'), { path: '$[*]' }),
        )
      ).message,
    ).toBe("json: body is not JSON: Unexpected token '<' at byte 0");
    expect((await parseError(parseJson(bytesBody(' \n'), { path: '$[*]' }))).message).toBe(
      'json: body is empty',
    );
  });

  it('GIVEN a filter that tries to reach the Function constructor THEN safe evaluation refuses it as a path error', async () => {
    const err = await parseError(
      parseJson(bytesBody('{"a":[{"x":1}]}'), {
        path: "$.a[?(@.constructor.constructor('return process')())]",
      }),
    );
    expect(err.message).toMatch(/^json: path ".*" cannot be evaluated: /);
  });
});
