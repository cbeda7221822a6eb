import { describe, expect, it, vi } from 'vitest';
import type { PreemptiveAction, PreemptiveActionStatus } from '../../crds/index.js';
import { rejectionEvent, statusEvents, StatusWriter, type StatusWriterDeps } from './status.js';
import { livePolicy } from './test-support.js';

const now = new Date('2026-11-23T10:00:00Z');
const at = '2026-11-23T09:00:00Z';

function action(status: PreemptiveActionStatus, type = 'BlockEgress'): PreemptiveAction {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name: 'a', generation: 1 },
    spec: {
      type,
      layer: 'network',
      indicators: { count: 2 },
      targets: [{ kind: 'Deployment', name: 'web', namespace: 'shop' }],
      evidence: { vulnerabilities: [{ cveID: 'CVE-2026-1' }] },
    },
    status,
  } as unknown as PreemptiveAction;
}

const ready = (status: 'True' | 'False', reason: string, message = reason) => ({
  type: 'Ready',
  status,
  reason,
  message,
  lastTransitionTime: at,
});

describe('statusEvents(): the Events a status change calls for', () => {
  it('GIVEN the phase changed WHEN written THEN a Normal Event named for the phase carries Ready', () => {
    const events = statusEvents(action({ phase: 'Proposed' }), {
      phase: 'Enforced',
      conditions: [ready('True', 'Enforced', '2 indicators enforced')],
    });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'Normal',
        reason: 'Enforced',
        message: '2 indicators enforced',
      }),
    ]);
  });

  it('GIVEN the phase became Failed WHEN written THEN the Event is a Warning', () => {
    const events = statusEvents(action({ phase: 'Pending' }), { phase: 'Failed' });
    expect(events).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'Failed', message: 'phase Failed' }),
    ]);
  });

  it('GIVEN an Isolate action enforced WHEN written THEN its workload is told too', () => {
    const events = statusEvents(action({ phase: 'Proposed' }, 'Isolate'), { phase: 'Enforced' });
    expect(events.map((e) => [e.on.kind, e.type, e.reason])).toEqual([
      ['PreemptiveAction', 'Normal', 'Enforced'],
      ['Deployment', 'Warning', 'Isolated'],
    ]);
    expect(events[1]!.message).toContain('CVE-2026-1');
  });

  it('GIVEN the same phase WHEN Ready went False with a new reason THEN a Warning, once', () => {
    const before = action({ phase: 'Enforced', conditions: [ready('True', 'Enforced')] });
    const failed = { phase: 'Enforced' as const, conditions: [ready('False', 'ApplyFailed', 'x')] };
    expect(statusEvents(before, failed)).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'ApplyFailed', message: 'x' }),
    ]);
    const again = action({ phase: 'Enforced', conditions: [ready('False', 'ApplyFailed', 'y')] });
    expect(statusEvents(again, failed)).toEqual([]);
  });

  it('GIVEN Notified went False with a new message WHEN written THEN a Warning', () => {
    const notified = {
      type: 'Notified',
      status: 'False' as const,
      reason: 'NotificationFailed',
      message: 'spec.notify: down; retrying',
      lastTransitionTime: at,
    };
    const events = statusEvents(action({ phase: 'Enforced' }), {
      phase: 'Enforced',
      conditions: [notified],
    });
    expect(events).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'NotificationFailed' }),
    ]);
    expect(
      statusEvents(action({ phase: 'Enforced', conditions: [notified] }), {
        phase: 'Enforced',
        conditions: [notified],
      }),
    ).toEqual([]);
  });
});

function writer(notify?: StatusWriterDeps['notifier']) {
  const applyStatus = vi.fn(async (o: PreemptiveAction) => o);
  const event = vi.fn();
  const inc = vi.fn();
  const rejections = vi.fn();
  const deps = {
    client: { applyStatus },
    events: { event },
    metrics: { notificationFailures: { inc }, reviewRejections: { inc: rejections } },
    ...(notify ? { notifier: notify } : {}),
    policy: (name: string) => (name === 'deny' ? livePolicy : undefined),
    retryMs: 30_000,
  } as unknown as StatusWriterDeps;
  return { w: new StatusWriter(deps), applyStatus, event, inc, rejections };
}

const proposed = {
  status: { phase: 'Proposed' as const },
  conditions: [
    { type: 'Ready', status: 'True' as const, reason: 'AwaitingApproval', message: 'm' },
  ],
  generation: 1,
  now,
};

describe('StatusWriter', () => {
  it('GIVEN a failing notification WHEN written THEN status is still written, Notified False, retried later', async () => {
    const { w, applyStatus, event, inc } = writer({
      wants: () => true,
      notify: async () => {
        throw Object.assign(new Error('slack down'), { code: 'FST_NOTIFY' });
      },
    });
    const result = await w.write({ action: action({ phase: 'Pending' }), ...proposed });
    expect(applyStatus).toHaveBeenCalledOnce();
    const written = applyStatus.mock.calls[0]![0].status!;
    expect(written.phase).toBe('Proposed');
    expect(written.conditions).toContainEqual(
      expect.objectContaining({
        type: 'Notified',
        status: 'False',
        message: 'spec.notify: slack down; retrying',
      }),
    );
    expect(result).toEqual({ requeueAfter: 30_000 });
    expect(inc).toHaveBeenCalledWith({ code: 'FST_NOTIFY' });
    expect(event.mock.calls.map((c) => c[2])).toEqual(['Proposed', 'NotificationFailed']);
  });

  it('GIVEN a sent notification WHEN written THEN Notified True names it and status.notified lists it', async () => {
    const { w, applyStatus } = writer({ wants: () => true, notify: async () => ['a/1/Proposed'] });
    await w.write({ action: action({ phase: 'Pending' }), ...proposed });
    const written = applyStatus.mock.calls[0]![0].status!;
    expect(written.notified).toEqual(['a/1/Proposed']);
    expect(written.conditions).toContainEqual(
      expect.objectContaining({
        type: 'Notified',
        status: 'True',
        message: 'Proposed announced to spec.notify',
      }),
    );
  });

  it('GIVEN nothing changed WHEN written THEN nothing is written and no Event recorded', async () => {
    const { w, applyStatus, event } = writer();
    const first = writer();
    await first.w.write({ action: action({ phase: 'Pending' }), ...proposed });
    const stored = first.applyStatus.mock.calls[0]![0].status!;
    await w.write({ action: action(stored), ...proposed });
    expect(applyStatus).not.toHaveBeenCalled();
    expect(event).not.toHaveBeenCalled();
  });

  it('GIVEN an expiry WHEN the phase is not terminal THEN the reconcile runs again then', async () => {
    const { w } = writer();
    const expiresAt = now.getTime() + 5000;
    expect(await w.write({ action: action({}), ...proposed, expiresAt })).toEqual({
      requeueAfter: 5000,
    });
    const lifted = { ...proposed, status: { phase: 'Lifted' as const } };
    expect(await w.write({ action: action({}), ...lifted, expiresAt })).toBeUndefined();
  });
});

/** An action of policy `deny`, rejected: through Git (its pull request closed) or by a person. */
function rejectedAction(via: 'Git' | 'person', status: PreemptiveActionStatus = {}) {
  const a = action(status);
  a.spec.policyRef = { name: 'deny' };
  a.spec.indicators.digest = 'sha256:d';
  if (via === 'Git') a.spec.delivery = 'Git';
  else
    a.metadata.annotations = {
      'forestall.io/decision': JSON.stringify({
        verb: 'reject',
        digest: 'sha256:d',
        by: 'alice',
        at,
        reason: 'a CDN',
      }),
    };
  return a;
}
const held = { at: '2026-11-23T10:00:00Z', until: '2026-11-30T10:00:00Z', indicators: 2 };
const closed = { url: 'https://git.example/pr/8', number: 8, state: 'Closed' as const };

describe('rejectionEvent(): a new rejection, told on the policy', () => {
  it.each([
    [
      'a pull request closed unmerged',
      'Git',
      'ReviewRejected',
      'pull request https://git.example/pr/8 for a was closed without merging',
    ],
    ['a person (forestall reject)', 'person', 'PersonRejected', 'a was rejected by alice (a CDN)'],
  ] as const)(
    'GIVEN %s WHEN its rejection is written THEN %s on the policy, saying what is left out until when',
    (_, via, reason, what) => {
      const written = { phase: 'Rejected' as const, pullRequest: closed, rejection: held };
      expect(rejectionEvent(rejectedAction(via), written, livePolicy)).toEqual({
        on: livePolicy,
        type: 'Normal',
        reason,
        message: `${what}: 2 indicators are left out until 2026-11-30T10:00:00Z`,
      });
    },
  );

  it('GIVEN the rejection is stored already, holds nothing out, or has no policy THEN no Event', () => {
    const written = { phase: 'Rejected' as const, rejection: held };
    const stored = rejectedAction('person', written);
    expect(rejectionEvent(stored, written, livePolicy)).toBeUndefined();
    const noted = { phase: 'Rejected' as const, rejection: { at: held.at, indicators: 2 } };
    expect(rejectionEvent(rejectedAction('person'), noted, livePolicy)).toBeUndefined();
    expect(rejectionEvent(rejectedAction('person'), written, undefined)).toBeUndefined();
  });
});

describe('StatusWriter: a rejection', () => {
  const rejectedWrite = (a: PreemptiveAction) => ({
    action: a,
    status: { phase: 'Rejected' as const, rejection: held },
    conditions: [],
    generation: 1,
    now,
  });

  it('GIVEN a new rejection WHEN written THEN one PersonRejected Event on the policy, counted once; written again THEN none', async () => {
    const { w, applyStatus, event, rejections } = writer();
    await w.write(rejectedWrite(rejectedAction('person', { phase: 'Pending' })));
    const onPolicy = event.mock.calls.filter((c) => c[0] === livePolicy);
    expect(onPolicy.map((c) => [c[1], c[2]])).toEqual([['Normal', 'PersonRejected']]);
    expect(rejections).toHaveBeenCalledExactlyOnceWith({ policy: 'deny' });
    // The next reconcile finds the rejection stored: nothing to write, nothing to tell.
    const stored = applyStatus.mock.calls[0]![0].status!;
    event.mockClear();
    await w.write(rejectedWrite(rejectedAction('person', stored)));
    expect(event).not.toHaveBeenCalled();
    expect(rejections).toHaveBeenCalledOnce();
  });

  it('GIVEN the status write fails WHEN written THEN no rejection Event is recorded before it succeeds', async () => {
    const { w, applyStatus, event } = writer();
    applyStatus.mockRejectedValueOnce(new Error('conflict'));
    const write = rejectedWrite(rejectedAction('person', { phase: 'Pending' }));
    await expect(w.write(write)).rejects.toThrow('conflict');
    expect(event).not.toHaveBeenCalled();
    await w.write(write);
    expect(event.mock.calls.filter((c) => c[2] === 'PersonRejected')).toHaveLength(1);
  });
});
