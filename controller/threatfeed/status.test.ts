import { describe, expect, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import { FeedCapError, FeedError } from '../../feeds/index.js';
import { ThreatFeedReason as R } from './reasons.js';
import { cappedTagsCondition, effectiveRefresh, failureReason } from './status.js';

const feed = (
  refreshInterval: string | undefined,
  source: ThreatFeed['spec']['source'],
): ThreatFeed =>
  ({
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'ThreatFeed',
    metadata: { name: 'f' },
    spec: { format: 'lines', source, ...(refreshInterval ? { refreshInterval } : {}) },
  }) as ThreatFeed;
const http = { http: { url: 'https://feeds.example/x.txt' } };
const configMap = { configMapRef: { name: 'cm', key: 'k' } };

describe('effectiveRefresh (an object stored before the CRD rule)', () => {
  it.each([
    ['1ms', http, 60_000, '1ms'],
    ['30s', http, 60_000, '30s'],
    ['1m', http, 60_000, undefined],
    [undefined, http, 3_600_000, undefined],
    ['1ms', configMap, 1_000, '1ms'],
    ['1s', configMap, 1_000, undefined],
    ['5m', configMap, 300_000, undefined],
  ])(
    'GIVEN refreshInterval %s on %j THEN it runs every %d ms (clamped from %s)',
    (text, source, ms, clampedFrom) => {
      const r = effectiveRefresh(feed(text, source));
      expect(r.ms).toBe(ms);
      expect(r.clampedFrom).toBe(clampedFrom);
    },
  );
});

describe('failureReason', () => {
  it('GIVEN each limit THEN the Degraded reason names it', () => {
    expect(failureReason(new FeedCapError('records', 5, 'x'))).toBe(R.RecordsCapExceeded);
    expect(failureReason(new FeedCapError('indicators', 5, 'x'))).toBe(R.IndicatorsCapExceeded);
    expect(failureReason(new FeedCapError('mispEvents', 5, 'x'))).toBe(R.MispEventsCapExceeded);
    expect(failureReason(new FeedError('FST_FEED_WORKER_MEMORY', 'x'))).toBe(
      R.WorkerMemoryExceeded,
    );
    expect(failureReason(new FeedError('FST_FEED_DEADLINE', 'x'))).toBe(R.SyncDeadlineExceeded);
    expect(failureReason(new FeedError('FST_FEED_TIMEOUT', 'x'))).toBe(R.FetchFailed);
    expect(failureReason(new Error('body is not JSON'))).toBe(R.ParseFailed);
  });

  it('GIVEN capped tags THEN Degraded names both caps and the largest values seen', () => {
    expect(
      cappedTagsCondition(
        { indicators: 3, maxTagsSeen: 300, longestTagSeen: 5000 },
        { maxTagsPerIndicator: 64, maxTagLength: 128 },
      ),
    ).toEqual({
      type: 'Degraded',
      status: 'True',
      reason: 'TagsCapExceeded',
      message:
        '3 indicators had more than 64 tags (at most 300) or tags longer than 128 characters (the longest 5000); the extra tags were dropped',
    });
  });
});
