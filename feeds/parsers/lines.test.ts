import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ipv4Set } from '../../lib/net.js';
import type { ParsedRecord, ParserItem, ParserOptions } from '../indicator.js';
import { ipv4Broadcast, parseCidr, parseIpv4 } from '../../lib/ip.js';
import { MAX_LINE_BYTES, parseLines, readIpLines, type ReadIpLinesOptions } from './lines.js';
import { seededRandom as seeded } from '../../test/harness/seeded-random.js';

const IPSUM = resolve(
  fileURLToPath(import.meta.url),
  '../../../../shared/feeds/ipsum/ipsum-2026-08-22.txt',
);

const encoder = new TextEncoder();

async function* chunksOf(
  text: string | Uint8Array,
  sizes: number[] | number,
): AsyncIterable<Uint8Array> {
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  let pos = 0;
  let n = 0;
  while (pos < bytes.length) {
    const size = typeof sizes === 'number' ? sizes : sizes[n++ % sizes.length]!;
    yield bytes.slice(pos, pos + size);
    pos += size;
  }
}

async function collect(items: AsyncIterable<ParserItem>): Promise<ParserItem[]> {
  const out: ParserItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A feed with every kind of line the format allows, and some it rejects. */
const MIXED = [
  '\uFEFF# header comment', // line 1, with a BOM
  '',
  '192.0.2.1\t5', // line 3
  '  198.51.100.7   2  ', // leading and trailing blanks
  '203.0.113.0/24 1',
  '10.1.2.3/8\t9',
  '2001:db8::1 4',
  'evil.example 3 # trailing comment',
  'http://evil.example/a#frag 1',
  '192.0.2.9\tnot-a-number', // line 10: rejected
  '192.0.2.10 # no score, only a comment',
  '   # indented comment',
  '010.1.1.1 1', // leading zero: not IPv4, left for normalise to refuse
  '192.0.2.11\r', // CR inside an LF file: just a CRLF line
  '192.0.2.12 2.5',
  '192.0.2.13 -1',
  '192.0.2.14 1e2',
  '192.0.2.15 0x10', // rejected: not decimal
  '192.0.2.16', // no score column at all
  '192.0.2.17 7', // last line, no newline
].join('\n');

describe('parseLines (the generic lines parser)', () => {
  it('GIVEN a mixed feed WHEN parsed with scoreColumn 1 THEN each value line is a record with its score, line and ref', async () => {
    const items = await collect(parseLines(chunksOf(MIXED, 1 << 16), { scoreColumn: 1 }));
    const summary = items.map((item) =>
      item.kind === 'record'
        ? `${item.ref} ${item.value} ${String(item.record.score)}`
        : `${item.ref} REJECTED ${item.reason}`,
    );
    expect(summary).toEqual([
      'line 3 192.0.2.1 5',
      'line 4 198.51.100.7 2',
      'line 5 203.0.113.0/24 1',
      'line 6 10.1.2.3/8 9',
      'line 7 2001:db8::1 4',
      'line 8 evil.example 3',
      'line 9 http://evil.example/a#frag 1',
      'line 10 REJECTED score in column 1 is not a number: "not-a-number"',
      'line 11 192.0.2.10 undefined',
      'line 13 010.1.1.1 1',
      'line 14 192.0.2.11 undefined',
      'line 15 192.0.2.12 2.5',
      'line 16 192.0.2.13 -1',
      'line 17 192.0.2.14 100',
      'line 18 REJECTED score in column 1 is not a number: "0x10"',
      'line 19 192.0.2.16 undefined',
      'line 20 192.0.2.17 7',
    ]);
    const first = items[0] as ParsedRecord;
    expect(first).toEqual({
      kind: 'record',
      value: '192.0.2.1',
      record: { value: '192.0.2.1', score: 5, line: 3 },
      ref: 'line 3',
    });
    // A line without a score has no score key at all, so a CEL has() check works.
    expect('score' in (items[8] as ParsedRecord).record).toBe(false);
  });

  it('GIVEN the mixed feed WHEN it arrives split at every possible byte offset THEN the records are the same as in one piece', async () => {
    const whole = JSON.stringify(
      await collect(parseLines(chunksOf(MIXED, 1 << 16), { scoreColumn: 1 })),
    );
    const bytes = encoder.encode(MIXED);
    const differing: number[] = [];
    for (let split = 1; split < bytes.length; split++) {
      const parts = [bytes.slice(0, split), bytes.slice(split)];
      const body = (async function* () {
        yield* parts;
      })();
      if (JSON.stringify(await collect(parseLines(body, { scoreColumn: 1 }))) !== whole)
        differing.push(split);
    }
    expect(differing).toEqual([]);
    expect(JSON.stringify(await collect(parseLines(chunksOf(MIXED, 1), { scoreColumn: 1 })))).toBe(
      whole,
    );
  });

  it('GIVEN CRLF line ends and no final newline WHEN parsed THEN values carry no CR and the last line counts', async () => {
    const items = await collect(
      parseLines(chunksOf('a.example\r\nb.example\r\n\r\nc.example', [3, 5]), {}),
    );
    expect(items.map((item) => (item as ParsedRecord).value)).toEqual([
      'a.example',
      'b.example',
      'c.example',
    ]);
    expect(items.map((item) => item.ref)).toEqual(['line 1', 'line 2', 'line 4']);
  });

  it('GIVEN a csv-like body WHEN parsed with an exact delimiter and columns THEN the columns are picked and trimmed', async () => {
    const body = 'id,value,score\n1, 192.0.2.1 ,80\n2,,10\n3,evil.example,\n';
    const items = await collect(
      parseLines(chunksOf(body, 7), { delimiter: ',', valueColumn: 1, scoreColumn: 2 }),
    );
    expect(items).toEqual([
      { kind: 'rejected', ref: 'line 1', reason: 'score in column 2 is not a number: "score"' },
      {
        kind: 'record',
        value: '192.0.2.1',
        record: { value: '192.0.2.1', score: 80, line: 2 },
        ref: 'line 2',
      },
      { kind: 'rejected', ref: 'line 3', reason: 'no value in column 1' },
      {
        kind: 'record',
        value: 'evil.example',
        record: { value: 'evil.example', line: 4 },
        ref: 'line 4',
      },
    ]);
  });

  it('GIVEN a TSV with an empty column WHEN the delimiter is a tab THEN empty columns keep their place', async () => {
    const items = await collect(
      parseLines(chunksOf('x\t\t192.0.2.1\n', 64), { delimiter: '\t', valueColumn: 2 }),
    );
    expect((items[0] as ParsedRecord).value).toBe('192.0.2.1');
  });

  it('GIVEN a custom comment prefix WHEN parsed THEN lines and columns starting with it are comments', async () => {
    const body = '; Spamhaus-style header\n192.0.2.0/24 ; SBL123\n';
    const items = await collect(
      parseLines(chunksOf(body, 64), { commentPrefix: ';', scoreColumn: 1 }),
    );
    expect(items).toEqual([
      {
        kind: 'record',
        value: '192.0.2.0/24',
        record: { value: '192.0.2.0/24', line: 2 },
        ref: 'line 2',
      },
    ]);
  });

  it.each([[1 << 16], [1000], [1]])(
    'GIVEN a line longer than the limit, in chunks of %i bytes, WHEN parsed THEN it is rejected and the next line still reads',
    async (chunkSize) => {
      const body = `192.0.2.1\n${'x'.repeat(MAX_LINE_BYTES + 10)}\n192.0.2.2\n${'y'.repeat(MAX_LINE_BYTES)}\r\n192.0.2.3`;
      const items = await collect(parseLines(chunksOf(body, chunkSize), {}));
      expect(
        items.map((item) => (item.kind === 'record' ? item.value : `${item.ref} ${item.reason}`)),
      ).toEqual([
        '192.0.2.1',
        `line 2 line longer than ${MAX_LINE_BYTES} bytes`,
        '192.0.2.2',
        'y'.repeat(MAX_LINE_BYTES),
        '192.0.2.3',
      ]);
    },
  );

  it('GIVEN an empty body WHEN parsed THEN there are no records', async () => {
    expect(await collect(parseLines(chunksOf('', 1), {}))).toEqual([]);
  });

  it('GIVEN trailing text after the columns read WHEN parsed, with and without a score column, THEN the line is rejected naming it', async () => {
    const body = [
      '192.0.2.1 junk', // line 1: no score column: junk; with one: not a number
      '192.0.2.2;evil.example', // line 2: glued to the value, left for normalise to refuse
      'evil.example/path extra', // line 3
      '192.0.2.3\t5', // line 4: IPsum's count, read without a score column
      '192.0.2.4\t5\tjunk', // line 5: after the score
      '192.0.2.5\t5 # a comment', // line 6: a comment is not trailing text
      '192.0.2.6 \t ', // line 7: trailing blanks are not either
    ].join('\n');
    const read = async (options: ParserOptions) =>
      (await collect(parseLines(chunksOf(body, 5), options))).map((i) =>
        i.kind === 'record' ? `${i.ref} ${i.value}` : `${i.ref} ${i.reason}`,
      );
    expect(await read({})).toEqual([
      'line 1 trailing text after column 0: "junk" (a line holds the value, then only a comment starting with "#")',
      'line 2 192.0.2.2;evil.example',
      'line 3 trailing text after column 0: "extra" (a line holds the value, then only a comment starting with "#")',
      'line 4 trailing text after column 0: "5" (a line holds the value, then only a comment starting with "#"); if it is a score, set scoreColumn 1',
      'line 5 trailing text after column 0: "5\\tjunk" (a line holds the value, then only a comment starting with "#"); if it is a score, set scoreColumn 1',
      'line 6 trailing text after column 0: "5 # a comment" (a line holds the value, then only a comment starting with "#"); if it is a score, set scoreColumn 1',
      'line 7 192.0.2.6',
    ]);
    expect(await read({ scoreColumn: 1 })).toEqual([
      'line 1 score in column 1 is not a number: "junk"',
      'line 2 192.0.2.2;evil.example',
      'line 3 score in column 1 is not a number: "extra"',
      'line 4 192.0.2.3',
      'line 5 trailing text after column 1: "junk" (a line holds the value (column 0) and score (column 1), then only a comment starting with "#")',
      'line 6 192.0.2.5',
      'line 7 192.0.2.6',
    ]);
    // The fast path reads the same lines the same way.
    for (const options of [{}, { scoreColumn: 1 }]) {
      const fast = await readIpLines(chunksOf(body, 1 << 16), options);
      const generic = (await collect(parseLines(chunksOf(body, 64), options))).filter(
        (i) => i.kind === 'rejected',
      );
      expect(fast.rejectedSamples).toEqual(generic);
    }
  });

  it('GIVEN an exact delimiter WHEN a row has more columns than are read THEN they are data the feed does not use, not trailing text', async () => {
    const items = await collect(
      parseLines(chunksOf('192.0.2.1,80,first seen 2026-08-01\n', 64), {
        delimiter: ',',
        scoreColumn: 1,
      }),
    );
    expect(items).toEqual([
      {
        kind: 'record',
        value: '192.0.2.1',
        record: { value: '192.0.2.1', score: 80, line: 1 },
        ref: 'line 1',
      },
    ]);
  });

  it('GIVEN the same column for value and score WHEN parsing starts THEN it is refused as a configuration error', async () => {
    await expect(
      collect(parseLines(chunksOf('x', 1), { valueColumn: 1, scoreColumn: 1 })),
    ).rejects.toThrow(RangeError);
  });
});

/**
 * What readIpLines must produce, derived from parseLines (which has no fast path): a
 * record whose value is a strict IPv4 address or CIDR goes into the set, every other
 * record into `other`, every rejection is counted.
 */
async function expectedFromGenericParser(body: Uint8Array, options: ReadIpLinesOptions) {
  const v4 = new Ipv4Set();
  const other: ParsedRecord[] = [];
  const scored: string[] = [];
  let rejected = 0;
  let ipv4Lines = 0;
  for await (const item of parseLines(chunksOf(body, 1 << 16), options)) {
    if (item.kind === 'rejected') {
      rejected++;
      continue;
    }
    const address = parseIpv4(item.value);
    const cidr = address === undefined ? parseCidr(item.value) : undefined;
    if (address !== undefined) {
      v4.addAddress(address);
    } else if (cidr !== undefined && cidr.family === 4 && cidr.prefix >= (options.minPrefix ?? 0)) {
      v4.addCidr(cidr.network, cidr.prefix);
    } else {
      other.push(item);
      continue;
    }
    ipv4Lines++;
    const start = address ?? (cidr!.network as number);
    const end = address ?? ipv4Broadcast(start, cidr!.prefix);
    if (item.record.score !== undefined)
      scored.push(`${start}-${end}=${String(item.record.score)}`);
  }
  return { cidrs: v4.cidrs(), other, rejected, ipv4Lines, scored };
}

async function actualFromReadIpLines(body: AsyncIterable<Uint8Array>, options: ReadIpLinesOptions) {
  const result = await readIpLines(body, options);
  const scored: string[] = [];
  for (let i = 0; i < (result.scores?.length ?? 0); i++) {
    const entry = result.scores!.at(i)!;
    scored.push(`${entry.start}-${entry.end}=${entry.score}`);
  }
  return {
    cidrs: result.v4.cidrs(),
    other: result.other,
    rejected: result.rejected,
    ipv4Lines: result.ipv4Lines,
    scored,
    lines: result.lines,
  };
}

/** Lines of every shape the fast path must recognise, or hand on untouched. */
function randomLine(random: () => number): string {
  const pick = <T>(options: readonly T[]): T => options[Math.floor(random() * options.length)]!;
  const octet = (): string =>
    pick([
      '0',
      '1',
      '9',
      '10',
      '99',
      '100',
      '199',
      '200',
      '255',
      '256',
      '01',
      '007',
      String(Math.floor(random() * 256)),
    ]);
  const address = (): string => [octet(), octet(), octet(), octet()].join('.');
  const value = pick([
    () => address(),
    () => address(),
    () => `${address()}/${pick(['0', '7', '8', '16', '24', '31', '32', '33', '08', '', '100'])}`,
    () => `${address()}${pick(['x', ':80', '.', '..1', '/24/1'])}`,
    () =>
      pick([
        '2001:db8::1',
        'evil.example',
        'http://evil.example/x',
        '1.2.3',
        '1.2.3.4.5',
        '#comment',
        '',
      ] as const),
  ])();
  const score = pick([
    '',
    '',
    ' 1',
    '\t12',
    '  3',
    ' 2.5',
    ' -1',
    ' x',
    ' 1e3',
    ' 5 # note',
    ' # note',
    ' 12345678901234567',
    ' 0x10',
  ]);
  const lead = pick(['', '', '', ' ', '\t']);
  const end = pick(['\n', '\n', '\r\n', '\r\n', ' \n', '\rx\n']);
  return `${lead}${value}${score}${end}`;
}

describe('readIpLines (the fast path for big IP feeds)', () => {
  it.each<[string, ReadIpLinesOptions]>([
    ['no score column', {}],
    ['score column 1', { scoreColumn: 1 }],
    ['minPrefix 8', { scoreColumn: 1, minPrefix: 8 }],
    ['an exact comma delimiter (general path only)', { delimiter: ',', valueColumn: 0 }],
  ])(
    'GIVEN random lines of every shape, with %s, WHEN read in random chunks THEN the result equals the generic parser plus strict IPv4 parsing',
    async (_name, options) => {
      const random = seeded(11);
      for (let round = 0; round < 30; round++) {
        let text = '';
        for (let n = 0; n < 200; n++) text += randomLine(random);
        const bytes = encoder.encode(text);
        const sizes = Array.from({ length: 7 }, () => 1 + Math.floor(random() * 64));
        const expected = await expectedFromGenericParser(bytes, options);
        const actual = await actualFromReadIpLines(chunksOf(bytes, sizes), options);
        expect({ ...actual, lines: undefined }).toEqual({
          ...expected,
          scored: options.scoreColumn === undefined ? [] : expected.scored,
          lines: undefined,
        });
        expect(actual.lines).toBe(text.split('\n').length - 1);
      }
    },
  );

  it('GIVEN the IPsum snapshot WHEN read with its score column THEN all 120,430 addresses and their scores are there', async () => {
    const result = await readIpLines(createReadStream(IPSUM), { scoreColumn: 1 });
    expect(result.lines).toBe(120_437);
    expect(result.ipv4Lines).toBe(120_430);
    expect(result.rejected).toBe(0);
    expect(result.other).toEqual([]);
    expect(result.v4.addressCount()).toBe(120_430);
    // The minimal cover of the whole list, as `iprange` prints it for this file.
    expect(result.v4.cidrCount()).toBe(95_644);
    const scores = result.scores!;
    expect(scores.length).toBe(120_430);
    expect(scores.countAtLeast(1)).toBe(120_430);
    expect(scores.countAtLeast(3)).toBe(14_217);
    expect(scores.countAtLeast(8)).toBe(23);
    expect(scores.countAtLeast(11)).toBe(0);
    const level3 = scores.atLeast(3);
    expect(level3.addressCount()).toBe(14_217);
    expect(level3.cidrCount()).toBe(11_804);
    // The first data line of the file: "77.90.185.20<TAB>10" on line 8.
    expect(scores.at(0)).toEqual({
      start: parseIpv4('77.90.185.20'),
      end: parseIpv4('77.90.185.20'),
      score: 10,
    });
  });

  it('GIVEN the IPsum snapshot WHEN read by the generic parser THEN it yields the same 120,430 records the fast path counted', async () => {
    let records = 0;
    let rejected = 0;
    let atLeast3 = 0;
    const set = new Ipv4Set();
    for await (const item of parseLines(createReadStream(IPSUM), { scoreColumn: 1 })) {
      if (item.kind !== 'record') {
        rejected++;
        continue;
      }
      records++;
      if ((item.record.score as number) >= 3) atLeast3++;
      set.addAddress(parseIpv4(item.value)!);
    }
    expect(records).toBe(120_430);
    expect(rejected).toBe(0);
    expect(atLeast3).toBe(14_217);
    expect(set.cidrCount()).toBe(95_644);
  });

  it('GIVEN IPv4 lines split across chunks at every offset WHEN read THEN every address is found once', async () => {
    const text =
      '192.0.2.1\t3\r\n198.51.100.0/24 1\n203.0.113.77\n# c\n2001:db8::1\n10.0.0.1 x\n192.0.2.2';
    const bytes = encoder.encode(text);
    const failures: string[] = [];
    for (let split = 1; split < bytes.length; split++) {
      const body = (async function* () {
        yield bytes.slice(0, split);
        yield bytes.slice(split);
      })();
      const result = await readIpLines(body, { scoreColumn: 1 });
      const summary = `${result.v4.cidrs().join(' ')} | ${result.other.map((o) => o.value).join(' ')} | ${result.rejected} | ${result.lines} | ${result.scores!.length}`;
      if (
        summary !==
        '192.0.2.1/32 192.0.2.2/32 198.51.100.0/24 203.0.113.77/32 | 2001:db8::1 | 1 | 7 | 2'
      )
        failures.push(`${split}: ${summary}`);
    }
    expect(failures).toEqual([]);
  });

  it('GIVEN a broad CIDR and minPrefix 8 WHEN read THEN the broad one is left as a record for the guardrails', async () => {
    const result = await readIpLines(chunksOf('16.0.0.0/4\n10.0.0.0/8\n', 64), { minPrefix: 8 });
    expect(result.v4.cidrs()).toEqual(['10.0.0.0/8']);
    expect(result.other.map((o) => o.value)).toEqual(['16.0.0.0/4']);
  });

  it('GIVEN many rejected lines WHEN read THEN all are counted but only the sample size is kept', async () => {
    const body = Array.from({ length: 50 }, (_, i) => `192.0.2.${i} bad`).join('\n');
    const result = await readIpLines(chunksOf(body, 100), {
      scoreColumn: 1,
      rejectedSampleSize: 5,
    } satisfies ParserOptions & ReadIpLinesOptions);
    expect(result.rejected).toBe(50);
    expect(result.rejectedSamples).toHaveLength(5);
    expect(result.rejectedSamples[0]).toEqual({
      kind: 'rejected',
      ref: 'line 1',
      reason: 'score in column 1 is not a number: "bad"',
    });
    expect(result.v4.size).toBe(0);
  });
});
