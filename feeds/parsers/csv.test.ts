import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { ParsedRecord } from '../indicator.js';
import { parseCsv } from './csv.js';
import { bytesBody, collect, fileBody, parseError, SHARED_FEEDS } from './testdata/support.js';

const IPSUM = join(SHARED_FEEDS, 'ipsum', 'ipsum-2026-08-22.txt');
const ipsumOptions = { delimiter: '\t', commentPrefix: '#', valueColumn: 0, scoreColumn: 1 };

// A small feed exercising RFC 4180: quoted delimiters, doubled quotes, a quoted field
// spanning three lines (one of which starts like a comment), CRLF and LF line ends,
// multi-byte UTF-8, and a trailing empty field.
const SAMPLE = [
  '# exported by a synthetic test tool\r\n',
  'indicator,score,type,note\r\n',
  '"198.51.100.7",80,ip-dst,"C2, seen twice"\r\n',
  'evil.example,55,domain,"He said ""block it"""\n',
  '"http://bad.example/a,b",90,url,"multi\r\nline note\n# not a comment"\n',
  '\n',
  '203.0.113.0/24,40,ip,résumé ✓\n',
  '2001:db8::1,70,IPv6,\n',
  '44d88612fea8a8f36de82e1278abb02f,100,md5,eicar\n',
  'CVE-2024-3400,99,cve,',
].join('');

const sampleOptions = { header: true, valueColumn: 0, scoreColumn: 1, typeColumn: 2 };

function summary(records: ParsedRecord[]): unknown[] {
  return records.map((r) => [r.ref, r.value, r.typeHint, r.record.score, r.record.note]);
}

const SAMPLE_EXPECTED = [
  ['line 3', '198.51.100.7', 'ipv4', 80, 'C2, seen twice'],
  ['line 4', 'evil.example', 'domain', 55, 'He said "block it"'],
  ['line 5', 'http://bad.example/a,b', 'url', 90, 'multi\nline note\n# not a comment'],
  ['line 9', '203.0.113.0/24', 'cidr', 40, 'résumé ✓'],
  ['line 10', '2001:db8::1', 'ipv6', 70, ''],
  ['line 11', '44d88612fea8a8f36de82e1278abb02f', 'hash', 100, 'eicar'],
  ['line 12', 'CVE-2024-3400', 'cve', 99, ''],
];

describe('parseCsv', () => {
  it('GIVEN the real IPsum feed WHEN read as tab-separated csv with a score column THEN all 120,430 addresses come out with their scores', async () => {
    const { records, rejected } = await collect(parseCsv(fileBody(IPSUM), ipsumOptions));
    expect(rejected).toEqual([]);
    expect(records).toHaveLength(120_430);
    expect(records[0]).toEqual({
      kind: 'record',
      value: '77.90.185.20',
      ref: 'line 8',
      record: { value: '77.90.185.20', score: 10, columns: ['77.90.185.20', '10'] },
    });
    expect(records.at(-1)).toMatchObject({
      value: '162.251.62.103',
      ref: 'line 120437',
      record: { score: 1 },
    });
    const byScore = new Map<unknown, number>();
    for (const r of records) byScore.set(r.record.score, (byScore.get(r.record.score) ?? 0) + 1);
    expect(byScore.get(10)).toBe(3);
    expect(byScore.get(1)).toBe(89_657);
    // No type column: the format states no type, so no hint.
    expect(records.some((r) => r.typeHint !== undefined)).toBe(false);
  });

  it('GIVEN the IPsum feed in 4,093-byte chunks that split lines anywhere THEN the records equal those from one chunk', async () => {
    const whole = await readFile(IPSUM);
    const one = await collect(parseCsv(bytesBody(whole), ipsumOptions));
    const many = await collect(parseCsv(fileBody(IPSUM, 4093), ipsumOptions));
    expect(many.all).toEqual(one.all);
    expect(many.records).toHaveLength(120_430);
  });

  it('GIVEN RFC 4180 quoting with a header row THEN quoted delimiters, doubled quotes and quoted line breaks survive, and named columns are exposed', async () => {
    const { records, rejected } = await collect(parseCsv(bytesBody(SAMPLE), sampleOptions));
    expect(rejected).toEqual([]);
    expect(summary(records)).toEqual(SAMPLE_EXPECTED);
    expect(records[0]!.record).toEqual({
      indicator: '198.51.100.7',
      score: 80,
      type: 'ip-dst',
      note: 'C2, seen twice',
      value: '198.51.100.7',
      columns: ['198.51.100.7', '80', 'ip-dst', 'C2, seen twice'],
    });
    expect(records[5]!.attributes).toEqual({ hashAlgorithm: 'md5' });
  });

  it('GIVEN the same sample cut into two chunks at every byte offset, and into 1-byte chunks THEN every split parses identically', async () => {
    const bytes = Buffer.from(SAMPLE, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const { records } = await collect(parseCsv(bytesBody(bytes, [cut]), sampleOptions));
      expect(summary(records), `cut at byte ${cut}`).toEqual(SAMPLE_EXPECTED);
    }
    const { records } = await collect(parseCsv(bytesBody(bytes, 1), sampleOptions));
    expect(summary(records)).toEqual(SAMPLE_EXPECTED);
  });

  it('GIVEN no header option THEN the header row is a record, and an unknown type name rejects it', async () => {
    const { records, rejected } = await collect(
      parseCsv(bytesBody(SAMPLE), { valueColumn: 0, typeColumn: 2 }),
    );
    expect(records).toHaveLength(7);
    expect(rejected).toEqual([
      {
        kind: 'rejected',
        ref: 'line 2',
        reason: expect.stringMatching(/^type "type" in column 2 is not one of ip, ip-src, /),
      },
    ]);
    expect(records[0]!.record).not.toHaveProperty('indicator');
  });

  it('GIVEN rows that are short, empty, badly quoted or carry a non-numeric score THEN each is rejected with its line and reason, and good rows still come out', async () => {
    const body = 'a.example,1\nonlyvalue\n,5\n"x.example"junk,2\nb.example,high\nc.example,\n';
    const { records, rejected } = await collect(
      parseCsv(bytesBody(body), { valueColumn: 0, scoreColumn: 1 }),
    );
    expect(records.map((r) => [r.ref, r.value, r.record.score])).toEqual([
      ['line 1', 'a.example', 1],
      ['line 2', 'onlyvalue', undefined],
      ['line 6', 'c.example', undefined],
    ]);
    expect(rejected).toEqual([
      { kind: 'rejected', ref: 'line 3', reason: 'value column 0 is empty' },
      { kind: 'rejected', ref: 'line 4', reason: 'text after the closing quote of field 1' },
      { kind: 'rejected', ref: 'line 5', reason: 'score "high" in column 1 is not a number' },
    ]);
    const short = await collect(parseCsv(bytesBody('a;b\n'), { delimiter: ';', valueColumn: 2 }));
    expect(short.rejected).toEqual([
      {
        kind: 'rejected',
        ref: 'line 1',
        reason: 'the row has 2 columns, so value column 2 is missing',
      },
    ]);
  });

  it('GIVEN a type column naming logins THEN those rows are account hints, and a row without a type stays unhinted', async () => {
    const body = [
      'value,score,type',
      'Alice@Example.com,90,username',
      'bob@example.com,80,email',
      'CORP-carol,70,UPN',
      '"dave@example.com",60,target-user',
      'eve@example.com,50,',
    ].join('\n');
    const { records, rejected } = await collect(
      parseCsv(bytesBody(body), { header: true, valueColumn: 0, scoreColumn: 1, typeColumn: 2 }),
    );
    expect(rejected).toEqual([]);
    // The parser hands the value over as written; normalise() lower-cases it.
    expect(records.map((r) => [r.ref, r.value, r.typeHint])).toEqual([
      ['line 2', 'Alice@Example.com', 'account'],
      ['line 3', 'bob@example.com', 'account'],
      ['line 4', 'CORP-carol', 'account'],
      ['line 5', 'dave@example.com', 'account'],
      ['line 6', 'eve@example.com', undefined],
    ]);
  });

  it('GIVEN a quote that is never closed THEN the whole body is refused, naming the line where it opened', async () => {
    const err = await parseError(
      parseCsv(bytesBody('ok.example\n"broken.example,3\nmore\nlines\n'), {}),
    );
    expect(err.message).toBe('csv: the quoted field opened on line 2 is never closed');
  });

  it('GIVEN a custom comment prefix, a ";" delimiter and the single-quoted YAML "\\t" THEN they are honoured', async () => {
    const semi = await collect(
      parseCsv(bytesBody('// note\n1.2.3.4;x\n#kept.example;y\n'), {
        delimiter: ';',
        commentPrefix: '//',
      }),
    );
    expect(semi.records.map((r) => r.value)).toEqual(['1.2.3.4', '#kept.example']);
    const tab = await collect(
      parseCsv(bytesBody('1.2.3.4\t9\n'), { delimiter: '\\t', scoreColumn: 1 }),
    );
    expect(tab.records[0]!.record.score).toBe(9);
    await expect(collect(parseCsv(bytesBody('x'), { delimiter: '"' }))).rejects.toThrow(
      'csv: the delimiter "\\"" may not contain a quote or a line break',
    );
  });
});
