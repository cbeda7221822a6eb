import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';
import { evaluatePolicy } from './engine.js';
import { inventoryFromObjects } from './inventory.js';
import { publishedAt, feedsByName } from './provenance.js';
import type { FeedView } from './types.js';

const now = new Date('2026-12-07T12:00:00Z');
const cel = new CelCache();
const inventory = inventoryFromObjects([
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
]);

const ip = (value: string, source: string, extra: Partial<Indicator> = {}): Indicator => ({
  type: 'ipv4',
  value,
  confidence: 90,
  sources: [source],
  tags: [],
  ...extra,
});

function feedsWith(confidence: { trusted?: number; noisy?: number }): FeedView[] {
  const view = (name: string, effective: number | undefined, values: Indicator[]): FeedView => ({
    name,
    labels: {},
    indicators: values,
    changedAt: '2026-12-01T00:00:00Z',
    ...(effective !== undefined
      ? { sourceConfidence: { effective, feedback: `3 rejected; last: rejected x at 2026-12-06` } }
      : {}),
  });
  return [
    view('trusted', confidence.trusted, [ip('192.0.2.1', 'trusted')]),
    view('noisy', confidence.noisy, [ip('192.0.2.2', 'noisy'), ip('192.0.2.1', 'noisy')]),
  ];
}

const spec = (over: Partial<ExposurePolicySpec> = {}): ExposurePolicySpec => ({
  feeds: { names: ['trusted', 'noisy'] },
  actions: [{ type: 'EgressDeny' }],
  mode: 'Enforce',
  autoApprove: 'action.confidence >= 50',
  ...over,
});

const evaluate = (s: ExposurePolicySpec, feeds: FeedView[]) =>
  evaluatePolicy({ name: 'p', generation: 1, spec: s }, feeds, inventory, {
    now,
    cel,
    connectors,
  });

describe('source confidence in the engine', () => {
  it('GIVEN a feed below spec.guardrails.minSourceConfidence THEN its action goes to review and the reason names the feedback', () => {
    const e = evaluate(spec(), feedsWith({ noisy: 40 }));
    expect(e.compileErrors).toEqual([]);
    const [action] = e.actions;
    expect(action!.sourceConfidence).toBe(40);
    expect(action!.decision).toBe('approval');
    expect(action!.reason).toContain('feed noisy has source confidence 40');
    expect(action!.reason).toContain('minSourceConfidence 50');
    expect(action!.reason).toContain('3 rejected');
  });

  it('GIVEN the same feed above the threshold THEN the action is approved automatically', () => {
    const e = evaluate(spec(), feedsWith({ noisy: 60 }));
    expect(e.actions[0]!.decision).toBe('auto');
    const lower = evaluate(
      spec({ guardrails: { minSourceConfidence: 70 } }),
      feedsWith({ noisy: 60 }),
    );
    expect(lower.actions[0]!.decision).toBe('approval');
  });

  it('GIVEN autoApprove on action.sourceConfidence THEN it reads the weakest feed', () => {
    const s = spec({
      autoApprove: 'action.sourceConfidence >= 80',
      guardrails: { minSourceConfidence: 0 },
    });
    expect(evaluate(s, feedsWith({ noisy: 75 })).actions[0]!.decision).toBe('approval');
    expect(evaluate(s, feedsWith({ noisy: 85 })).actions[0]!.decision).toBe('auto');
    expect(evaluate(s, feedsWith({})).actions[0]!.sourceConfidence).toBe(100);
  });

  it('GIVEN spec.match on indicator.sourceConfidence THEN an indicator counts its best source', () => {
    const s = spec({ match: 'indicator.sourceConfidence >= 70' });
    const e = evaluate(s, feedsWith({ noisy: 30 }));
    // 192.0.2.1 is also in the trusted feed (100); 192.0.2.2 only in the noisy one.
    expect(e.actions[0]!.request.values).toEqual(['192.0.2.1']);
    const all = evaluate(s, feedsWith({}));
    expect(all.actions[0]!.request.values).toEqual(['192.0.2.1', '192.0.2.2']);
  });
});

describe('publishedAt', () => {
  const feeds = feedsByName([
    { name: 'blocklist', labels: {}, indicators: [], changedAt: '2026-12-05T08:00:00Z' },
  ]);

  it('GIVEN first_seen, KEV dateAdded and a bare line THEN the earliest publication wins', () => {
    expect(
      publishedAt(
        [
          ip('192.0.2.1', 'blocklist', { firstSeen: '2026-12-03T10:00:00Z' }),
          ip('192.0.2.2', 'blocklist'),
        ],
        feeds,
      ),
    ).toBe('2026-12-03T10:00:00.000Z');
    const kev: Indicator = {
      type: 'cve',
      value: 'CVE-2025-24813',
      confidence: 100,
      sources: ['kev'],
      tags: ['kev'],
      attributes: { dateAdded: '2025-04-01' },
    };
    expect(publishedAt([kev], feeds)).toBe('2025-04-01T00:00:00.000Z');
  });

  it('GIVEN indicators with no date THEN the feed change that brought them is the publication', () => {
    expect(publishedAt([ip('192.0.2.2', 'blocklist')], feeds)).toBe('2026-12-05T08:00:00.000Z');
    expect(publishedAt([ip('192.0.2.2', 'unknown-feed')], feeds)).toBeUndefined();
  });

  it('GIVEN an evaluation THEN every planned action carries its publication', () => {
    const e = evaluate(spec(), feedsWith({}));
    expect(e.actions[0]!.publishedAt).toBe('2026-12-01T00:00:00.000Z');
  });
});
