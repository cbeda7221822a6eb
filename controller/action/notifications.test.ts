import { describe, expect, it } from 'vitest';
import type { PreemptiveAction } from '../../crds/index.js';
import { buildNotification } from './notifications.js';

const now = new Date('2026-11-23T10:00:00Z');

function action(spec: Partial<PreemptiveAction['spec']>): PreemptiveAction {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name: 'kev-stepupauth' },
    spec: { type: 'StepUpAuth', layer: 'identity', indicators: { count: 3 }, ...spec },
  } as PreemptiveAction;
}

const note = (id: string, type: string) => ({
  id,
  event: 'Enforced' as const,
  action: action({ type } as Partial<PreemptiveAction['spec']>),
  status: {},
  readyMessage: undefined,
  now,
});

describe('buildNotification', () => {
  it('GIVEN a StepUpAuth around isolated workloads THEN the summary counts accounts and names the workloads', () => {
    const n = buildNotification({
      id: 'id-1',
      event: 'Proposed',
      action: action({
        evidence: {
          isolatedWorkloads: [
            {
              target: {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                namespace: 'shop',
                name: 'checkout',
              },
              isolation: 'kev-isolate-shop-deployment-checkout',
              accounts: ['j.doe@corp.example'],
            },
          ],
        },
      }),
      status: {},
      readyMessage: undefined,
      now,
    });
    expect(n.summary).toBe(
      'StepUpAuth on 3 accounts around the isolated Deployment shop/checkout awaits approval',
    );
    expect(n.targets).toEqual([]);
  });

  it('GIVEN an IdentitySuspend from a feed THEN the summary counts accounts; an IdentityBlock counts indicators', () => {
    expect(buildNotification(note('id-2', 'IdentitySuspend')).summary).toBe(
      'IdentitySuspend enforced on 3 accounts',
    );
    expect(buildNotification(note('id-3', 'IdentityBlock')).summary).toBe(
      'IdentityBlock enforced on 3 indicators',
    );
  });
});
