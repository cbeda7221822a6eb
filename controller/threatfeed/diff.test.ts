import { describe, expect, it } from 'vitest';
import type { Indicator } from '../../feeds/index.js';
import { diffSnapshots } from './diff.js';

const ip = (value: string, confidence = 50, tags: string[] = []): Indicator => ({
  type: 'ipv4',
  value,
  confidence,
  sources: ['f'],
  tags,
});
const cidr = (value: string): Indicator => ({ ...ip(value), type: 'cidr' });

describe('diffSnapshots', () => {
  it('GIVEN two sorted snapshots THEN it counts added and removed by type and value', async () => {
    const before = [cidr('10.0.0.0/8'), ip('1.1.1.1'), ip('2.2.2.2'), ip('3.3.3.3')];
    const after = [ip('1.1.1.1'), ip('2.2.2.2'), ip('4.4.4.4'), ip('5.5.5.5')];
    expect(await diffSnapshots(before, after)).toEqual({
      added: 2,
      removed: 2,
      contentChanged: true,
    });
  });

  it('GIVEN the same keys THEN only a change of confidence, tags, expiry or sources is content', async () => {
    const before = [ip('1.1.1.1'), ip('2.2.2.2')];
    expect(await diffSnapshots(before, [ip('1.1.1.1'), ip('2.2.2.2')])).toEqual({
      added: 0,
      removed: 0,
      contentChanged: false,
    });
    expect(await diffSnapshots(before, [ip('1.1.1.1'), ip('2.2.2.2', 90)])).toEqual({
      added: 0,
      removed: 0,
      contentChanged: true,
    });
    expect(
      (await diffSnapshots(before, [ip('1.1.1.1', 50, ['c2']), ip('2.2.2.2')])).contentChanged,
    ).toBe(true);
  });

  it('GIVEN lists out of snapshot order THEN the answer is the same as for sorted ones', async () => {
    const before = [ip('3.3.3.3'), ip('1.1.1.1'), cidr('10.0.0.0/8')];
    const after = [ip('4.4.4.4'), ip('1.1.1.1', 70)];
    expect(await diffSnapshots(before, after)).toEqual({
      added: 1,
      removed: 2,
      contentChanged: true,
    });
  });

  it('GIVEN a first sync (nothing before) or a feed emptied THEN everything is added or removed', async () => {
    const list = Array.from({ length: 50_000 }, (_, n) =>
      ip(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`),
    ).sort((a, b) => (a.value < b.value ? -1 : 1));
    expect(await diffSnapshots([], list)).toEqual({
      added: 50_000,
      removed: 0,
      contentChanged: true,
    });
    expect(await diffSnapshots(list, [])).toEqual({
      added: 0,
      removed: 50_000,
      contentChanged: true,
    });
  });
});
