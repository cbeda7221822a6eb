import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { INDICATOR_TYPES, type Indicator } from '../../feeds/index.js';
import { decodeIndicators, encodeIndicators, snapshotDigest } from './snapshot-store.js';

describe('snapshot encoding', () => {
  it('GIVEN one indicator of every type, accounts included THEN the body decodes to the same indicators and digest', async () => {
    const values: Record<(typeof INDICATOR_TYPES)[number], string> = {
      ipv4: '198.51.100.7',
      ipv6: '2001:db8::1',
      cidr: '203.0.113.0/24',
      domain: 'c2.example.net',
      url: 'http://c2.example.net/gate.php',
      cve: 'CVE-2024-3400',
      hash: 'md5:d41d8cd98f00b204e9800998ecf8427e',
      account: 'jürgen.o+phish@corp.example',
    };
    const indicators: Indicator[] = INDICATOR_TYPES.map((type) => ({
      type,
      value: values[type],
      confidence: 80,
      sources: ['phish'],
      tags: [],
    }));
    // What a merge across feeds and a MISP attribute leave on an account.
    indicators.push({
      type: 'account',
      value: 'svc-backup',
      confidence: 60,
      sources: ['phish', 'misp'],
      tags: ['targeted'],
      attributes: { mispType: 'target-user' },
      ref: 'a1',
    });
    const decoded = await decodeIndicators(await encodeIndicators(indicators, 'phish'), 'phish');
    expect(decoded).toEqual(indicators);
    expect(await snapshotDigest(decoded)).toBe(await snapshotDigest(indicators));
  });

  it('GIVEN the same indicators in snapshot order, shuffled, or past one hash piece THEN the digest is sha256 over the sorted keys', async () => {
    const indicators: Indicator[] = [];
    for (let n = 0; n < 9_000; n++)
      indicators.push({
        type: n % 3 === 0 ? 'cidr' : 'ipv4',
        value: n % 3 === 0 ? `10.${n >> 8}.${n & 255}.0/24` : `192.0.${n >> 8}.${n & 255}`,
        confidence: 50,
        sources: ['f'],
        tags: [],
      });
    const keys = indicators.map((i) => `${i.type}:${i.value}`).sort();
    const expected = `sha256:${createHash('sha256')
      .update(keys.map((k) => `${k}\n`).join(''))
      .digest('hex')}`;
    const ordered = [...indicators].sort((a, b) =>
      a.type !== b.type
        ? a.type < b.type
          ? -1
          : 1
        : a.value < b.value
          ? -1
          : a.value > b.value
            ? 1
            : 0,
    );
    expect(await snapshotDigest(ordered)).toBe(expected);
    expect(await snapshotDigest(indicators)).toBe(expected);
    expect(await snapshotDigest([])).toBe(`sha256:${createHash('sha256').digest('hex')}`);
  });

  it('GIVEN rows that share an expiry, one with another, one with none THEN the body names the shared one once and decodes to the same indicators', async () => {
    const t = '2026-12-15T00:00:00.000Z';
    const indicators: Indicator[] = [
      { type: 'ipv4', value: '192.0.2.1', confidence: 50, sources: ['f'], tags: [], validUntil: t },
      {
        type: 'ipv4',
        value: '192.0.2.2',
        confidence: 70,
        sources: ['f'],
        tags: ['c2'],
        validUntil: t,
      },
      {
        type: 'ipv4',
        value: '192.0.2.3',
        confidence: 50,
        sources: ['f'],
        tags: [],
        validUntil: '2027-01-01T00:00:00.000Z',
      },
      { type: 'ipv4', value: '192.0.2.4', confidence: 50, sources: ['f'], tags: [] },
      {
        type: 'ipv4',
        value: '192.0.2.5',
        confidence: 50,
        sources: ['f', 'g'],
        tags: [],
        validUntil: t,
        ref: 'line 5',
      },
    ];
    const body = await encodeIndicators(indicators, 'f');
    const text = gunzipSync(body).toString('utf8');
    expect(text.split(t).length - 1).toBe(1);
    expect(text.split('\n')[1]).toBe('["ipv4","192.0.2.1",50]');
    expect(await decodeIndicators(body, 'f')).toEqual(indicators);
  });

  it('GIVEN a body written before the defaults line (every expiry on its row) THEN it decodes as before', async () => {
    const rows = [
      '["ipv4","192.0.2.1",50,{"validUntil":"2026-12-15T00:00:00.000Z"}]',
      '["domain","bad.example",90]',
    ];
    const decoded = await decodeIndicators(gzipSync(`${rows.join('\n')}\n`), 'f');
    expect(decoded).toEqual([
      {
        type: 'ipv4',
        value: '192.0.2.1',
        confidence: 50,
        sources: ['f'],
        tags: [],
        validUntil: '2026-12-15T00:00:00.000Z',
      },
      { type: 'domain', value: 'bad.example', confidence: 90, sources: ['f'], tags: [] },
    ]);
  });
});
