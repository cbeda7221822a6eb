import { describe, expect, it } from 'vitest';
import type { PreemptiveAction, PreemptiveActionStatus } from '../../crds/index.js';
import { feedbackOf, withOutcomeTimes } from './outcome-feedback.js';

const now = new Date('2026-12-07T12:00:00Z');

function action(extra: Partial<PreemptiveAction['spec']> = {}): PreemptiveAction {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name: 'deny-egressdeny', creationTimestamp: '2026-12-01T00:00:00Z' },
    spec: {
      policyRef: { name: 'deny' },
      type: 'EgressDeny',
      layer: 'network',
      indicators: { count: 2, digest: 'abc' },
      feeds: ['noisy'],
      publishedAt: '2026-11-30T00:00:00Z',
      ...extra,
    },
  } as unknown as PreemptiveAction;
}

const enforced: PreemptiveActionStatus = {
  phase: 'Enforced',
  detectedAt: '2026-12-01T00:00:00Z',
  enforcedAt: '2026-12-01T00:00:02Z',
};

describe('outcome feedback', () => {
  it('GIVEN an enforced action THEN its exposure window runs from spec.publishedAt to enforcedAt', () => {
    expect(withOutcomeTimes(action(), enforced, now).exposureWindowSeconds).toBe(86402);
    expect(
      withOutcomeTimes(action({ publishedAt: undefined }), enforced, now).exposureWindowSeconds,
    ).toBeUndefined();
  });

  it('GIVEN an action that ends THEN liftedAt is set once', () => {
    const ended = withOutcomeTimes(action(), { ...enforced, phase: 'Expired' }, now);
    expect(ended.liftedAt).toBe('2026-12-07T12:00:00Z');
    const later = withOutcomeTimes(action(), ended, new Date('2026-12-08T00:00:00Z'));
    expect(later.liftedAt).toBe('2026-12-07T12:00:00Z');
  });

  it('GIVEN each transition THEN the feedback is rejected, lifted (by a person only) or expiredClean (enforced, no exception)', () => {
    const person = { verb: 'lift' as const, digest: 'abc', by: 'alice', at: '' };
    const to = (phase: string, a = action(), p?: typeof person, from = 'Enforced') =>
      feedbackOf(a, from, { ...enforced, phase: phase as never }, p, now);
    expect(to('Rejected', action(), undefined, 'Proposed')).toMatchObject({
      kind: 'rejected',
      key: 'rejected/deny-egressdeny/abc',
      policy: 'deny',
    });
    expect(to('Lifted', action(), person)).toMatchObject({ kind: 'lifted' });
    // Lifted because its indicators left the feed: no one said it was wrong.
    expect(to('Lifted')).toBeUndefined();
    expect(to('Expired')).toMatchObject({
      kind: 'expiredClean',
      key: 'expired/deny-egressdeny@2026-12-01T00:00:00Z',
    });
    expect(to('Expired', action({ exceptions: [{ name: 'cdn', indicators: 1 }] }))).toBeUndefined();
    expect(to('Enforced')).toBeUndefined();
  });
});
