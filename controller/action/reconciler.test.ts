import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { ApplyOutcome, Connector } from '../../connectors/core/types.js';
import type { PreemptiveAction } from '../../crds/index.js';
import { defaultGuardrailConfig, Guardrails } from '../../feeds/index.js';
import { FakeClock } from '../runtime/clock.js';
import type { Condition } from '../runtime/conditions.js';
import { FINALIZER } from '../runtime/finalizers.js';
import { ActionMetrics } from './metrics.js';
import { ActionReconciler, type ActionDeps } from './reconciler.js';
import { livePolicy, ownedByPolicy } from './test-support.js';

// The action reconciler with every dependency a fake: the cache holds one action, the
// client records the status written, the connector records what it was asked to do.
// What is asserted is the status written and what reached the connector.

const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'));
/** An approved action, past its finalizer; `spec` and `meta` are merged into it, `status` is its stored status. */
function action(
  spec: Record<string, unknown>,
  meta: Record<string, unknown> = {},
  status?: object,
): PreemptiveAction {
  const values = (spec['values'] as string[] | undefined) ?? ['185.220.101.7'];
  const rest = { ...spec };
  delete rest['values'];
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name: 'a', generation: 1, finalizers: [FINALIZER], ...meta },
    spec: {
      type: 'EgressDeny',
      layer: 'network',
      connector: 'network:networkpolicy',
      scope: { namespaces: ['team-x'] },
      indicators: { count: values.length, values },
      approval: { required: false, reason: 'written by hand' },
      expiresAt: '2026-11-24T10:00:00Z',
      ...rest,
    },
    ...(status ? { status } : {}),
  } as unknown as PreemptiveAction;
}

function fakeConnector(id: string): Connector & { apply: ReturnType<typeof vi.fn> } {
  const outcome: ApplyOutcome = {
    changes: [],
    objects: [{ apiVersion: 'v1', kind: 'Object', name: 'o', namespace: 'team-x' }],
  };
  return {
    id,
    layer: id.startsWith('identity:') ? 'identity' : 'network',
    supports: [],
    validate: () => [],
    plan: async () => [],
    apply: vi.fn(async () => outcome),
    remove: vi.fn(async () => ({ changes: [], objects: [] })),
  };
}

/** A reconciler over `stored`, with the feeds' guardrails (a cluster Service range of 10.96.0.0/12). */
function harness(stored: PreemptiveAction) {
  const connectors = new Map(
    ['network:networkpolicy', 'identity:okta'].map((id) => [id, fakeConnector(id)]),
  );
  const applyStatus = vi.fn(async (o: PreemptiveAction) => o);
  const events = { event: vi.fn(), flush: async () => undefined };
  const feedback = { reject: vi.fn(async () => undefined) };
  const guardrails = vi.fn(
    async () => new Guardrails(defaultGuardrailConfig({ clusterCidrs: ['10.96.0.0/12'] })),
  );
  const deps = {
    cache: { get: () => stored },
    client: { applyStatus, setFinalizers: vi.fn() },
    events,
    clock,
    metrics: new ActionMetrics(new Registry()),
    store: { namespace: 'forestall-system' },
    connector: (id: string) => connectors.get(id),
    catalog: {
      info: (id: string) =>
        connectors.has(id)
          ? { layer: connectors.get(id)!.layer, rendersManifests: !id.startsWith('identity:') }
          : undefined,
      ids: () => [...connectors.keys()],
    },
    defaultConnector: () => 'network:networkpolicy',
    guardrails,
    feedback,
    policy: (name: string) => (name === 'deny' ? livePolicy : undefined),
  } as unknown as ActionDeps;
  const reconciler = new ActionReconciler(deps);
  const reconcile = () =>
    reconciler.reconcile({
      key: 'a',
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
      reconcileID: '1',
    });
  /** The one status written. */
  const written = () => {
    expect(applyStatus).toHaveBeenCalledOnce();
    return applyStatus.mock.calls[0]![0].status!;
  };
  const ready = () =>
    (written().conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');
  return { reconcile, connectors, guardrails, events, feedback, applyStatus, written, ready };
}

describe('ActionReconciler: actions no policy made pass the guardrails', () => {
  it('GIVEN an approved action whose policyRef names no policy WHEN reconciled THEN it fails GuardrailRefused, naming the indicator, spec.indicators and spec.policyRef, and nothing is applied', async () => {
    const h = harness(
      action({
        policyRef: { name: 'no-such-policy' },
        values: ['169.254.169.254', '185.220.101.7'],
      }),
    );
    await h.reconcile();
    expect(h.written().phase).toBe('Failed');
    expect(h.ready()).toMatchObject({ status: 'False', reason: 'GuardrailRefused' });
    expect(h.ready()!.message).toMatch(
      /^network:networkpolicy: spec\.indicators: 1 of 2 indicators are refused by the guardrails that policy actions pass: 169\.254\.169\.254 \(\S+\); nothing is applied \(spec\.policyRef: ExposurePolicy no-such-policy did not make this action/,
    );
    expect(h.connectors.get('network:networkpolicy')!.apply).not.toHaveBeenCalled();
  });

  it('GIVEN a policyRef to a live policy without its ownerReference WHEN reconciled THEN it is judged too', async () => {
    const h = harness(action({ policyRef: { name: 'deny' }, values: ['10.96.0.10'] }));
    await h.reconcile();
    expect(h.ready()).toMatchObject({ reason: 'GuardrailRefused' });
    expect(h.ready()!.message).toContain('10.96.0.10 (cluster)');
    expect(h.connectors.get('network:networkpolicy')!.apply).not.toHaveBeenCalled();
  });

  it.each(['10.0.0.0/8', '169.254.169.254'])(
    'GIVEN an approved hand-written IdentityBlock of %s WHEN reconciled THEN it fails GuardrailRefused and the provider is never called',
    async (value) => {
      const h = harness(
        action({
          type: 'IdentityBlock',
          layer: 'identity',
          connector: 'identity:okta',
          values: [value],
          params: { zone: 'blocked' },
        }),
      );
      await h.reconcile();
      expect(h.written().phase).toBe('Failed');
      expect(h.ready()).toMatchObject({ status: 'False', reason: 'GuardrailRefused' });
      expect(h.ready()!.message).toContain(`identity:okta: spec.indicators: 1 of 1 indicators`);
      expect(h.ready()!.message).toContain(`${value} (`);
      expect(h.connectors.get('identity:okta')!.apply).not.toHaveBeenCalled();
    },
  );

  it('GIVEN an enforced action no policy made WHEN its update is refused THEN what is enforced stays in place', async () => {
    const enforced = {
      phase: 'Enforced',
      observedGeneration: 1,
      enforcedAt: '2026-11-23T09:00:00Z',
    };
    const h = harness(action({ values: ['169.254.169.254'] }, { generation: 2 }, enforced));
    await h.reconcile();
    expect(h.written().phase).toBe('Enforced');
    expect(h.ready()).toMatchObject({ status: 'False', reason: 'GuardrailRefused' });
    expect(h.ready()!.message).toMatch(/; what is enforced stays in place$/);
    const connector = h.connectors.get('network:networkpolicy')!;
    expect(connector.apply).not.toHaveBeenCalled();
    expect(connector.remove).not.toHaveBeenCalled();
  });

  it('GIVEN an action its live policy made WHEN reconciled THEN it is applied as before, without a second judgement', async () => {
    const h = harness(
      action({ policyRef: { name: 'deny' } }, { ownerReferences: [ownedByPolicy()] }),
    );
    await h.reconcile();
    expect(h.written().phase).toBe('Enforced');
    expect(h.connectors.get('network:networkpolicy')!.apply).toHaveBeenCalledOnce();
    expect(h.guardrails).not.toHaveBeenCalled();
  });
});

describe('ActionReconciler: a person rejects an action', () => {
  const rejectedByAlice = () =>
    action(
      {
        policyRef: { name: 'deny' },
        approval: { required: true, reason: 'production' },
        indicators: { count: 1, values: ['185.220.101.7'], digest: 'sha256:d' },
      },
      {
        annotations: {
          'forestall.io/decision': JSON.stringify({
            verb: 'reject',
            digest: 'sha256:d',
            by: 'alice',
            at: '2026-11-23T09:59:00Z',
          }),
        },
      },
    );

  it('GIVEN the first status write fails WHEN reconciled again THEN the policy is told once, after the write', async () => {
    const h = harness(rejectedByAlice());
    h.applyStatus.mockRejectedValueOnce(new Error('conflict'));
    await expect(h.reconcile()).rejects.toThrow('conflict');
    expect(h.events.event).not.toHaveBeenCalled();
    await h.reconcile();
    // Both attempts record the feedback (the second replaces the first); one Event.
    expect(h.feedback.reject).toHaveBeenCalledTimes(2);
    const told = h.events.event.mock.calls.filter((c) => c[0] === livePolicy);
    expect(told).toEqual([
      [
        livePolicy,
        'Normal',
        'PersonRejected',
        'a was rejected by alice: 1 indicators are left out until 2026-11-30T10:00:00Z',
      ],
    ]);
    expect(h.applyStatus.mock.calls[1]![0].status).toMatchObject({
      phase: 'Rejected',
      rejection: { until: '2026-11-30T10:00:00Z', indicators: 1, digest: 'sha256:d' },
    });
  });
});
