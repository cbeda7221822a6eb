import { createReadStream, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultGuardrailConfig, Guardrails } from './guardrails.js';
import { FeedCapError } from './caps.js';
import {
  ConfidenceExpressionError,
  DEFAULT_INGEST_CAPS,
  ingest,
  ingestItems,
  ingestLines,
  mergeIndicator,
  recordBoundsProblem,
  summariseIpLines,
  type IngestOptions,
} from './ingest.js';
import type { ParserItem } from './indicator.js';
import { parseLines } from './parsers/lines.js';

const SHARED = new URL('../../shared/feeds/', import.meta.url);
const guardrails = new Guardrails(defaultGuardrailConfig());
const now = new Date('2026-08-22T12:00:00Z');
const opts = (o: Partial<IngestOptions>): IngestOptions => ({
  feed: 'test',
  format: 'lines',
  now,
  guardrails,
  ...o,
});
async function* bytes(text: string) {
  yield Buffer.from(text);
}

describe('ingest', () => {
  it('GIVEN 8.8.8.8, 169.254.169.254, 10.0.0.0/8 and 0.0.0.0/0 among ordinary addresses THEN exactly those four are dropped, each with its reason', async () => {
    const r = await ingest(
      bytes(
        '77.90.185.20\n8.8.8.8\n2.57.122.53\n169.254.169.254\n10.0.0.0/8\n45.154.244.193\n0.0.0.0/0\n',
      ),
      opts({}),
    );
    expect(r.indicators.map((i) => i.value)).toEqual([
      '2.57.122.53',
      '45.154.244.193',
      '77.90.185.20',
    ]);
    expect(r.dropped).toEqual({
      'never-block:public-dns-v4': 1,
      'cloud-metadata': 1,
      'never-block:rfc1918': 1,
      'too-broad': 1,
    });
    // Addresses (the lines fast path) come first, by guardrail; then the other values.
    expect(r.droppedSamples).toEqual([
      { value: '169.254.169.254', reason: 'cloud-metadata' },
      { value: '8.8.8.8', reason: 'never-block:public-dns-v4' },
      { value: '10.0.0.0/8', reason: 'never-block:rfc1918' },
      { value: '0.0.0.0/0', reason: 'too-broad' },
    ]);
  });

  it('GIVEN the real IPsum snapshot THEN all 120,430 addresses are either kept or dropped, and the dropped are exactly those on the public-resolver list', async () => {
    const r = await ingest(
      createReadStream(new URL('ipsum/ipsum-2026-08-22.txt', SHARED)),
      opts({
        parser: { scoreColumn: 1 },
        confidence: { expression: 'int(record.score) >= 8 ? 100 : int(record.score) * 12' },
      }),
    );
    // Independent check: intersect the two files as plain sets.
    const resolvers = new Set(
      (
        JSON.parse(readFileSync(new URL('warninglists/public-dns-v4.json', SHARED), 'utf8')) as {
          list: string[];
        }
      ).list,
    );
    const ipsum = readFileSync(new URL('ipsum/ipsum-2026-08-22.txt', SHARED), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('\t')[0]!);
    const onResolverList = ipsum.filter((ip) => resolvers.has(ip)).length;
    expect(r.records).toBe(120_430);
    expect(r.rejected).toBe(0);
    expect(r.dropped).toEqual({ 'never-block:public-dns-v4': onResolverList });
    expect(r.indicators.length + onResolverList).toBe(120_430);
    expect(r.byType).toEqual({ ipv4: 120_430 - onResolverList });
    const top = r.indicators.find((i) => i.value === '77.90.185.20');
    expect(top).toMatchObject({ confidence: 100, sources: ['test'] });
    expect(top?.validUntil).toBeUndefined();
    expect(r.aggregatedCidrs).toBeGreaterThan(90_000);
  }, 30_000);

  it('GIVEN the four KEV catalogs in order THEN each sync reports exactly the CVEs CISA added', async () => {
    const files = [
      'kev-2025-01-29.json',
      'kev-2025-03-31.json',
      'kev-2025-05-22.json',
      'kev-2025-07-14.json',
    ];
    const sets: Set<string>[] = [];
    for (const f of files) {
      const r = await ingest(
        createReadStream(new URL(`kev/${f}`, SHARED)),
        opts({ format: 'kev' }),
      );
      sets.push(new Set(r.indicators.map((i) => i.value)));
    }
    expect(sets.map((s) => s.size)).toEqual([1253, 1312, 1352, 1380]);
    const added = sets.slice(1).map((s, i) => [...s].filter((v) => !sets[i]!.has(v)).length);
    const removed = sets.slice(1).map((s, i) => [...sets[i]!].filter((v) => !s.has(v)));
    expect(added).toEqual([59, 40, 29]);
    expect(removed).toEqual([[], [], ['CVE-2025-4664']]);
  });

  it('GIVEN a confidence expression with a typo THEN ingest refuses it naming the field', async () => {
    await expect(
      ingest(bytes('1.2.3.4\n'), opts({ confidence: { expression: 'int(record.score * ' } })),
    ).rejects.toThrow(ConfidenceExpressionError);
    await expect(
      ingest(bytes('1.2.3.4\n'), opts({ confidence: { expression: 'int(record.score * ' } })),
    ).rejects.toThrow(/^spec\.confidence\.expression: /);
  });

  it('GIVEN duplicates, an expired STIX indicator and a ttl THEN the highest confidence wins and expiry is applied', async () => {
    const r = await ingest(
      bytes('1.2.3.4 2\n1.2.3.4 9\n5.6.7.8 1\n'),
      opts({
        parser: { scoreColumn: 1 },
        confidence: { expression: 'int(record.score) * 10' },
        ttlMs: 3_600_000,
      }),
    );
    expect(r.indicators.map((i) => [i.value, i.confidence, i.validUntil])).toEqual([
      ['1.2.3.4', 90, '2026-08-22T13:00:00.000Z'],
      ['5.6.7.8', 10, '2026-08-22T13:00:00.000Z'],
    ]);
    const expired = await ingest(
      bytes(
        JSON.stringify({
          type: 'bundle',
          id: 'bundle--5d0092c5-5f74-4287-9642-33f4c354e56d',
          objects: [
            {
              type: 'indicator',
              spec_version: '2.1',
              id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
              created: '2016-04-06T20:03:48.000Z',
              modified: '2016-04-06T20:03:48.000Z',
              pattern: "[ipv4-addr:value = '198.51.100.3']",
              pattern_type: 'stix',
              valid_from: '2016-01-01T00:00:00Z',
              valid_until: '2017-01-01T00:00:00Z',
            },
          ],
        }),
      ),
      opts({ format: 'stix' }),
    );
    expect(expired.dropped).toEqual({ expired: 1 });
  });

  it('GIVEN two sightings of one indicator THEN merge unites tags and sources and keeps the higher confidence', () => {
    const a = {
      type: 'domain' as const,
      value: 'evil.example',
      confidence: 40,
      sources: ['a'],
      tags: ['c2'],
    };
    const b = {
      type: 'domain' as const,
      value: 'evil.example',
      confidence: 80,
      sources: ['b'],
      tags: ['phishing'],
    };
    expect(mergeIndicator(a, b)).toEqual({
      type: 'domain',
      value: 'evil.example',
      confidence: 80,
      sources: ['a', 'b'],
      tags: ['c2', 'phishing'],
    });
  });
});

describe('ingest: accounts', () => {
  it('GIVEN a csv whose type column names logins THEN valid ones are kept as lower-case accounts, and broken ones are rejected with the reason', async () => {
    const body = [
      'indicator,type',
      'Alice@Example.COM,email',
      'alice@example.com,username',
      'bob,login',
      '"carol smith",user',
      '"dave,eve",upn',
      '77.90.185.20,ip',
    ].join('\n');
    const r = await ingest(
      bytes(body),
      opts({ format: 'csv', parser: { header: true, valueColumn: 0, typeColumn: 1 } }),
    );
    expect(r.indicators.map((i) => [i.type, i.value, i.ref])).toEqual([
      // The same person in two spellings is one account (the first sighting's ref).
      ['account', 'alice@example.com', 'line 2'],
      ['account', 'bob', 'line 4'],
      ['ipv4', '77.90.185.20', 'line 7'],
    ]);
    expect(r.byType).toEqual({ account: 2, ipv4: 1 });
    expect(r.rejectedSamples).toEqual([
      {
        ref: 'line 5',
        reason: expect.stringMatching(
          /^not an account \(a user name, email address or UPN\): "carol smith" contains whitespace/,
        ),
      },
      { ref: 'line 6', reason: expect.stringMatching(/contains a comma/) },
    ]);
  });

  it('GIVEN bare email addresses in a lines feed, or in a csv without a type column THEN none becomes an account: each is rejected as no IP, domain or URL', async () => {
    const lines = await ingest(
      bytes('alice@example.com\n77.90.185.20\nBob@Example.org\n'),
      opts({}),
    );
    const csv = await ingest(
      bytes('alice@example.com,90\n77.90.185.20,80\n'),
      opts({ format: 'csv', parser: { valueColumn: 0, scoreColumn: 1 } }),
    );
    for (const r of [lines, csv]) {
      expect(r.indicators.map((i) => i.type)).toEqual(['ipv4']);
      expect(r.byType).not.toHaveProperty('account');
      expect(r.rejectedSamples[0]).toEqual({
        ref: 'line 1',
        reason: expect.stringMatching(
          /^not an IP, CIDR, domain, URL, hash or CVE: "alice@example.com"/,
        ),
      });
    }
  });

  it("GIVEN accounts whose domain is allowlisted or a public resolver's THEN the guardrails let them through: they protect infrastructure, not people", async () => {
    const strict = new Guardrails(defaultGuardrailConfig({ allowlist: ['example.com'] }));
    const r = await ingest(
      bytes('value,type\nadmin@example.com,email\nexample.com,domain\n8.8.8.8,user\n'),
      opts({ format: 'csv', guardrails: strict, parser: { header: true, typeColumn: 1 } }),
    );
    expect(r.indicators.map((i) => [i.type, i.value])).toEqual([
      ['account', '8.8.8.8'],
      ['account', 'admin@example.com'],
    ]);
    expect(r.dropped).toEqual({ allowlist: 1 });
  });
});

describe('Guardrails', () => {
  it.each([
    ['ipv6', 'fd00:ec2::254', 'cloud-metadata'],
    ['cidr', '127.0.0.0/7', 'too-broad'],
    ['cidr', '55.0.0.0/8', undefined],
    ['cidr', '126.0.0.0/8', 'never-block:public-dns-v4'],
    ['cidr', '169.254.0.0/24', 'link-local'],
    ['cidr', '169.254.169.0/24', 'cloud-metadata'],
    ['ipv4', '100.64.1.1', 'never-block:rfc6598'],
    ['domain', 'google.com', 'never-block:tranco10k'],
    ['domain', 'evil.google.com.example', undefined],
    ['ipv4', '198.51.100.7', 'documentation'],
  ] as const)('GIVEN %s %s THEN the reason is %s', (type, value, reason) => {
    expect(guardrails.check({ type, value })).toBe(reason);
  });

  it('GIVEN cluster ranges and an allowlist THEN addresses inside them are refused, and CIDRs overlapping the cluster too', () => {
    const g = new Guardrails(
      defaultGuardrailConfig({
        clusterCidrs: ['10.96.0.0/12', '203.0.113.10/32'],
        allowlist: ['93.184.216.0/24', 'partner.example'],
      }),
    );
    expect(g.check({ type: 'cidr', value: '10.96.0.0/16' })).toBe('cluster');
    expect(g.check({ type: 'ipv4', value: '93.184.216.34' })).toBe('allowlist');
    expect(g.check({ type: 'domain', value: 'partner.example' })).toBe('allowlist');
    expect(g.check({ type: 'ipv4', value: '93.184.217.1' })).toBeUndefined();
  });
});

describe('summariseIpLines (the fast path)', () => {
  const body =
    [
      '# duplicates, never-block addresses, adjacent addresses, CIDRs, IPv6 and junk',
      '77.90.185.20',
      '77.90.185.20',
      '77.90.185.21',
      '8.8.8.8',
      '8.8.8.8',
      '10.1.2.3',
      '169.254.169.254',
      '127.0.0.1',
      '2.57.122.0/24',
      '0.0.0.0/0',
      '100.64.0.0/10',
      '2001:db8::1',
      '2606:4700:4700::1111',
      'evil.example',
      'not an address!',
      '45.154.244.193',
      '::ffff:77.90.185.21',
      '::ffff:45.154.244.194',
    ].join('\n') + '\n';

  it('GIVEN the same lines THEN it reports exactly what ingest() reports, without an object per address', async () => {
    const slow = await ingest(bytes(body), opts({}));
    const fast = await summariseIpLines(bytes(body), opts({}));
    expect(fast.indicators).toEqual([]);
    const { indicators: _i, rejectedSamples: _rs, droppedSamples: _ds, ...fastCounts } = fast;
    const { indicators: _j, rejectedSamples: _rt, droppedSamples: _dt, ...slowCounts } = slow;
    expect(fastCounts).toEqual(slowCounts);
    // ::ffff:77.90.185.21 is 77.90.185.21 again; ::ffff:45.154.244.194 is one more address.
    expect(fast.kept).toBe(6);
    // 100.64.0.0/10 contains Alibaba Cloud's metadata address 100.100.100.200, so it is
    // refused as cloud-metadata (an overlap with a critical range), like 169.254.169.254.
    expect(fast.dropped).toEqual({
      'never-block:public-dns-v4': 1,
      'never-block:public-dns-v6': 1,
      'never-block:rfc1918': 1,
      'cloud-metadata': 2,
      loopback: 1,
      'too-broad': 1,
      documentation: 1,
    });
  });
});

describe("ingestLines (the controller's fast path for lines feeds)", () => {
  const perRecord = (text: string, o: Partial<IngestOptions>) =>
    ingestItems(parseLines(bytes(text), o.parser ?? {}), opts(o));
  const withoutRef = (r: { indicators: readonly { ref?: string }[] }) =>
    r.indicators.map(({ ref: _ref, ...rest }) => rest);
  const mixed =
    [
      '77.90.185.20',
      '77.90.185.20',
      '8.8.8.8',
      '10.1.2.3',
      '2.57.122.0/24',
      '2.57.122.7/32',
      '2001:db8::1',
      '2606:4700:4700::1234',
      'evil.example',
      'not an address!',
      '45.154.244.193',
      '45.154.244.19',
      '::ffff:45.154.244.194',
      '1.2.3.4 trailing junk',
    ].join('\n') + '\n';

  it('GIVEN the same lines THEN it keeps, drops and rejects exactly what the per-record path does, in the same order', async () => {
    const o = { ttlMs: 3_600_000, confidence: { default: 70 } };
    const fast = await ingestLines(bytes(mixed), opts(o));
    const slow = await perRecord(mixed, o);
    expect(withoutRef(fast)).toEqual(withoutRef(slow));
    expect(fast.indicators.map((i) => i.value)).toContain('45.154.244.194');
    const { indicators: _f, rejectedSamples: _fr, droppedSamples: _fd, ...fastCounts } = fast;
    const { indicators: _s, rejectedSamples: _sr, droppedSamples: _sd, ...slowCounts } = slow;
    expect(fastCounts).toEqual(slowCounts);
    expect(fast.indicators.every((i) => i.confidence === 70 && i.validUntil)).toBe(true);
  });

  it('GIVEN the real IPsum snapshot THEN the fast path keeps the same indicators as the per-record path', async () => {
    const text = readFileSync(new URL('ipsum/ipsum-2026-08-22.txt', SHARED), 'utf8');
    const fast = await ingest(bytes(text), opts({ parser: { scoreColumn: 1 } }));
    const slow = await perRecord(text, { parser: { scoreColumn: 1 } });
    expect(fast.indicators.length).toBeGreaterThan(100_000);
    expect(withoutRef(fast)).toEqual(withoutRef(slow));
    expect(fast.dropped).toEqual(slow.dropped);
  });

  it('GIVEN more distinct addresses or records than the caps THEN it refuses the sync, naming the cap', async () => {
    const text = ['77.90.185.20', '77.90.185.21', '77.90.185.22'].join('\n');
    await expect(ingestLines(bytes(text), opts({ caps: { maxIndicators: 2 } }))).rejects.toThrow(
      /more than 2 distinct indicators \(the indicators cap\)/,
    );
    await expect(ingestLines(bytes(text), opts({ caps: { maxRecords: 2 } }))).rejects.toThrow(
      /more than 2 records \(the records cap\)/,
    );
  });
});

describe('ingest: caps and CEL limits (issue 13, item 3)', () => {
  const items = (list: ParserItem[]) =>
    (async function* () {
      yield* list;
    })();
  const record = (value: string, extra: Partial<ParserItem> = {}): ParserItem =>
    ({ kind: 'record', value, record: { value }, ref: value, ...extra }) as ParserItem;

  it('GIVEN the ReDoS confidence expression THEN ingest refuses it before reading a record, naming the field', async () => {
    const redos = "record.value.matches('^(a+)+$') ? 100 : 0";
    await expect(
      ingest(bytes(`${'a'.repeat(40)}b.example\n`), opts({ confidence: { expression: redos } })),
    ).rejects.toThrow(
      /^spec\.confidence\.expression: matches\(\): nested quantifiers are not allowed/,
    );
    await expect(
      ingest(bytes('1.2.3.4\n'), opts({ confidence: { expression: redos } })),
    ).rejects.toBeInstanceOf(ConfidenceExpressionError);
  });

  it('GIVEN more records than the records cap THEN the sync fails with FST_FEED_CAP_EXCEEDED naming the cap', async () => {
    const err = await ingest(
      bytes('1.2.3.4\n1.2.3.5\n1.2.3.6\n'),
      opts({ caps: { maxRecords: 2 } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedCapError);
    expect(err).toMatchObject({ code: 'FST_FEED_CAP_EXCEEDED', cap: 'records', limit: 2 });
    expect((err as Error).message).toMatch(/more than 2 records \(the records cap\)/);
  });

  it('GIVEN more distinct indicators than the cap THEN the sync fails naming it; repeats of kept ones do not count', async () => {
    await expect(
      ingest(bytes('1.2.3.4\n1.2.3.4\n1.2.3.5\n'), opts({ caps: { maxIndicators: 2 } })),
    ).resolves.toMatchObject({ kept: 2 });
    await expect(
      ingest(bytes('1.2.3.4\n1.2.3.5\n1.2.3.6\n'), opts({ caps: { maxIndicators: 2 } })),
    ).rejects.toMatchObject({
      cap: 'indicators',
      limit: 2,
      message: expect.stringMatching(/more than 2 distinct indicators/),
    });
  });

  it('GIVEN tags past the CEL bounds THEN each indicator keeps at most 64 tags of at most 128 characters, and the result says so', async () => {
    expect(DEFAULT_INGEST_CAPS).toMatchObject({ maxTagsPerIndicator: 64, maxTagLength: 128 });
    const many = Array.from({ length: 300 }, (_, i) => `tag-${String(i).padStart(3, '0')}`);
    const r = await ingestItems(
      items([
        record('1.2.3.4', { tags: many }),
        record('1.2.3.5', { tags: ['ok', 'x'.repeat(5000)] }),
        record('1.2.3.6', { tags: ['fine'] }),
      ]),
      opts({}),
    );
    const byValue = Object.fromEntries(r.indicators.map((i) => [i.value, i.tags]));
    expect(byValue['1.2.3.4']).toEqual(many.slice(0, 64));
    expect(byValue['1.2.3.5']).toEqual(['ok']);
    expect(byValue['1.2.3.6']).toEqual(['fine']);
    expect(r.capped).toEqual({ indicators: 2, maxTagsSeen: 300, longestTagSeen: 5000 });
  });

  it('GIVEN two sightings whose tags together pass the cap THEN the merged indicator is bounded too', async () => {
    const half = (from: number) => Array.from({ length: 40 }, (_, i) => `t${from + i}`);
    const r = await ingestItems(
      items([record('1.2.3.4', { tags: half(0) }), record('1.2.3.4', { tags: half(100) })]),
      opts({}),
    );
    expect(r.indicators[0]!.tags).toHaveLength(64);
    expect(r.capped?.indicators).toBe(1);
  });

  it("GIVEN a record larger than the confidence expression's assumed bounds THEN it is rejected, not scored", async () => {
    expect(
      recordBoundsProblem({ value: 'x'.repeat(8192), list: Array(8192).fill(1) }),
    ).toBeUndefined();
    expect(recordBoundsProblem({ deep: { deeper: ['x'.repeat(8193)] } })).toBe(
      'a string of 8193 characters (at most 8192)',
    );
    expect(recordBoundsProblem({ list: Array(8193).fill(1) })).toBe(
      'a list of 8193 entries (at most 8192)',
    );
    const r = await ingestItems(
      items([
        {
          kind: 'record',
          value: '1.2.3.4',
          record: { value: '1.2.3.4', note: 'n'.repeat(10_000) },
          ref: 'line 1',
        },
        record('1.2.3.5'),
      ]),
      opts({ confidence: { expression: "record.value.startsWith('1.') ? 90 : 10" } }),
    );
    expect(r.indicators.map((i) => [i.value, i.confidence])).toEqual([['1.2.3.5', 90]]);
    expect(r.rejectedSamples).toEqual([
      {
        ref: 'line 1',
        reason:
          'the record holds a string of 10000 characters (at most 8192), more than the confidence expression may be given',
      },
    ]);
  });
});
