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
    expect(snapshotDigest(decoded)).toBe(snapshotDigest(indicators));
  });
});
