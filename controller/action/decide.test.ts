import { describe, expect, it } from 'vitest';
import { ACTION_PHASES, TERMINAL_PHASES, type PreemptiveAction } from '../../crds/index.js';
import {
  afterProposal,
  applyFailed,
  decide,
  episodeStatus,
  invalid,
  removalCommitted,
  removalProposed,
  removed,
  synced,
  type ConnectorKind,
  type GitTarget,
  type Observed,
  type Phase,
  type Transition,
} from './decide.js';
import { ActionReason } from './reasons.js';

const now = new Date('2026-11-23T10:00:00Z');
const PHASES: readonly Phase[] = ACTION_PHASES;
const DELIVERIES = ['Direct', 'Git'] as const;
const CONNECTORS: ConnectorKind[] = ['manifests', 'identity', 'unknown'];
const PULL_REQUESTS = ['none', 'Open', 'Merged', 'Closed'] as const;
const ENDINGS = ['expired', 'no indicators', 'live'] as const;
const TERMINAL: ReadonlySet<Phase> = TERMINAL_PHASES;
const git: GitTarget = { url: 'https://git.example/infra.git' };

interface Case {
  phase: Phase;
  delivery: (typeof DELIVERIES)[number];
  connector: ConnectorKind;
  pr: (typeof PULL_REQUESTS)[number];
  ending: (typeof ENDINGS)[number];
  approval: boolean;
}

/** An Observed as the reconciler gathers it: generation 2, its status last written for generation 1. */
function observed(c: Case, extra: Partial<Observed> = {}, status: object = {}): Observed {
  const expiresAt = c.ending === 'expired' ? '2026-11-23T09:00:00Z' : '2026-11-24T10:00:00Z';
  const count = c.ending === 'no indicators' ? 0 : 3;
  const action = {
    metadata: { name: 'a', generation: 2, creationTimestamp: '2026-11-23T08:00:00Z' },
    spec: {
      type: 'BlockEgress',
      layer: 'network',
      delivery: c.delivery,
      expiresAt,
      indicators: { count, digest: 'sha256:new' },
      approval: { required: c.approval, reason: 'production' },
    },
    status: {
      phase: c.phase,
      observedGeneration: 1,
      ...(c.pr === 'none' ? {} : { pullRequest: { url: 'https://pr/7', number: 7, state: c.pr } }),
      ...status,
    },
  } as unknown as PreemptiveAction;
  const ending = c.ending !== 'live';
  return {
    action,
    previous: c.phase,
    generation: 2,
    observedGeneration: 1,
    now,
    expiresAt: Date.parse(expiresAt),
    count,
    ending,
    connectorId: 'network:networkpolicy',
    connector: c.connector,
    knownConnectors: ['network:networkpolicy'],
    delivery: c.delivery,
    approvalRequired: c.approval,
    guarded: false,
    git: c.delivery === 'Git' ? git : undefined,
    status: episodeStatus(action, c.phase, ending, now),
    pollMs: 30_000,
    ...extra,
  };
}

function* cases(): Generator<Case> {
  for (const phase of PHASES)
    for (const delivery of DELIVERIES)
      for (const connector of CONNECTORS)
        for (const pr of PULL_REQUESTS)
          for (const ending of ENDINGS)
            for (const approval of [true, false])
              yield { phase, delivery, connector, pr, ending, approval };
}

/** The rule the table checks, written from the lifecycle rather than from the code. */
function expectedKind(c: Case): Transition['kind'] {
  if (c.connector === 'unknown') return 'fail';
  if (c.ending !== 'live') {
    const throughGit = c.delivery === 'Git' && c.phase === 'Enforced' && c.pr !== 'none';
    return throughGit && c.connector === 'manifests' ? 'removeByPullRequest' : 'remove';
  }
  if (!c.approval) return 'apply';
  return c.delivery === 'Git' ? 'propose' : 'awaitApproval';
}

const name = (c: Case) =>
  `${c.phase}, ${c.delivery}, ${c.connector} connector, pull request ${c.pr}, ${c.ending}, ` +
  `approval ${c.approval ? 'required' : 'not required'}`;
const table = [...cases()];

describe('decide(): the lifecycle table', () => {
  it('covers phase × delivery × connector kind × pull request × ending × approval', () => {
    expect(table).toHaveLength(7 * 2 * 3 * 4 * 3 * 2);
  });

  it.each(table.map((c) => [name(c), c] as const))(
    'GIVEN %s WHEN decided THEN the rule holds',
    (_, c) => {
      const t = decide(observed(c));
      expect(t.kind).toBe(expectedKind(c));
      const enforced = c.phase === 'Enforced';
      switch (t.kind) {
        case 'fail':
          expect(t.outcome.status.phase).toBe(enforced ? 'Enforced' : 'Failed');
          expect(t.outcome.conditions[0]).toMatchObject({
            status: 'False',
            reason: ActionReason.UnknownConnector,
          });
          break;
        case 'awaitApproval':
          // Fail static: an enforced action keeps what is enforced while its update waits.
          expect(t.outcome.status.phase).toBe(enforced ? 'Enforced' : 'Proposed');
          expect(t.outcome.conditions[0]!.reason).toBe(
            enforced ? ActionReason.UpdateAwaitingApproval : ActionReason.AwaitingApproval,
          );
          expect(t.outcome.expires).toBe(true);
          break;
        case 'remove':
          expect(t.cause).toBe(c.ending === 'no indicators' ? 'Lifted' : 'Expired');
          expect(t.recheck).toBe(c.phase === 'Expired' || c.phase === 'Lifted');
          expect(t.withdraw !== undefined).toBe(c.delivery === 'Git' && !TERMINAL.has(c.phase));
          // An identity action enforced through a merged pull request is described in Git: its removal is recorded there.
          expect(t.record !== undefined).toBe(
            c.delivery === 'Git' && enforced && c.connector === 'identity',
          );
          break;
        case 'removeByPullRequest':
          expect(t.git).toBe(git);
          break;
        case 'apply':
          expect(t).toEqual({ kind: 'apply', guard: false, record: undefined });
          break;
        case 'propose': {
          // A new episode (a terminal phase with something to do again) starts without a pull request.
          const fresh = TERMINAL.has(c.phase) && c.phase !== 'Failed';
          const known = fresh || c.pr === 'none' || (enforced && c.pr === 'Merged') ? undefined : 7;
          expect(t.proposal).toEqual({ known, pushed: false, updating: enforced });
          break;
        }
        default:
          throw new Error(`unexpected ${t.kind}`);
      }
    },
  );
});

describe('decide(): the rows that are not a rule', () => {
  const base: Case = {
    phase: 'Rejected',
    delivery: 'Git',
    connector: 'manifests',
    pr: 'Closed',
    ending: 'live',
    approval: true,
  };

  it('GIVEN a Rejected action whose status is for this generation WHEN decided THEN nothing is done', () => {
    expect(decide(observed(base, { observedGeneration: 2 }))).toEqual({ kind: 'noop' });
  });

  it('GIVEN a Rejected action whose spec moved but keeps the rejected indicators WHEN decided THEN nothing is done (no second pull request)', () => {
    const o = observed(base, {}, { rejection: { digest: 'sha256:new' } });
    expect(decide(o)).toEqual({ kind: 'noop' });
  });

  it('GIVEN a Rejected action with new indicators WHEN decided THEN a new episode proposes them, without the old pull request', () => {
    const o = observed(base, {}, { rejection: { digest: 'sha256:old' } });
    expect(decide(o)).toMatchObject({
      kind: 'propose',
      proposal: { known: undefined, updating: false },
    });
    expect(o.status.pullRequest).toBeUndefined();
    expect(o.status.detectedAt).toBe('2026-11-23T10:00:00Z');
  });

  it('GIVEN an action Enforced through a merged pull request and an unchanged spec WHEN decided THEN nothing is done', () => {
    const c = { ...base, phase: 'Enforced' as const, pr: 'Merged' as const };
    expect(decide(observed(c, { observedGeneration: 2 }))).toEqual({ kind: 'noop' });
  });

  it('GIVEN an open pull request that already carries this generation WHEN decided THEN only its state is read', () => {
    const c = { ...base, phase: 'Proposed' as const, pr: 'Open' as const };
    expect(decide(observed(c, { observedGeneration: 2 }))).toMatchObject({
      kind: 'propose',
      proposal: { known: 7, pushed: true, updating: false },
    });
  });

  it('GIVEN Git delivery without spec.git WHEN approval is required THEN the action waits, Proposed, for a pull request', () => {
    const t = decide(observed({ ...base, phase: 'Pending', pr: 'none' }, { git: undefined }));
    expect(t.kind).toBe('awaitApproval');
    if (t.kind === 'awaitApproval')
      expect(t.outcome.conditions[1]!.message).toBe('awaiting a pull request and its review');
  });

  it('GIVEN spec.git.directRemoval and an enforced, expired action WHEN decided THEN the removal is committed', () => {
    const c = {
      ...base,
      phase: 'Enforced' as const,
      pr: 'Merged' as const,
      ending: 'expired' as const,
    };
    const direct = { ...git, directRemoval: true };
    expect(decide(observed(c, { git: direct }))).toEqual({
      kind: 'removeByCommit',
      cause: 'Expired',
      git: direct,
      committed: undefined,
    });
  });

  it('GIVEN a removal already committed WHEN decided again THEN the commit is not made twice', () => {
    const c = {
      ...base,
      phase: 'Enforced' as const,
      pr: 'Merged' as const,
      ending: 'expired' as const,
    };
    const conditions = [
      { type: 'Ready', status: 'True', reason: ActionReason.RemovalCommitted, message: 'm' },
    ];
    const o = observed(
      c,
      { git: { ...git, directRemoval: true } },
      { recordedCommit: 'abc', conditions },
    );
    expect(decide(o)).toMatchObject({ kind: 'removeByCommit', committed: 'abc' });
  });

  it('GIVEN spec.git.recordAutoApproved WHEN an approved action is decided THEN it is applied and recorded', () => {
    const recording = { ...git, recordAutoApproved: true };
    const c = { ...base, phase: 'Pending' as const, delivery: 'Direct' as const, approval: false };
    expect(decide(observed(c, { git: recording }))).toEqual({
      kind: 'apply',
      guard: false,
      record: recording,
    });
  });

  it('GIVEN a recorded action that expires WHEN decided THEN its removal is recorded too', () => {
    const recording = { ...git, recordAutoApproved: true };
    const c = {
      ...base,
      phase: 'Enforced' as const,
      delivery: 'Direct' as const,
      ending: 'expired' as const,
    };
    const t = decide(observed(c, { git: recording }, { recordedCommit: 'abc' }));
    expect(t).toMatchObject({ kind: 'remove', record: recording, withdraw: undefined });
  });

  it('GIVEN a hand-written action and guardrails WHEN decided THEN the apply is guarded', () => {
    const c = { ...base, phase: 'Pending' as const, delivery: 'Direct' as const, approval: false };
    expect(decide(observed(c, { guarded: true, git: undefined }))).toMatchObject({
      kind: 'apply',
      guard: true,
    });
  });

  it('GIVEN an action no policy made, with Git delivery WHEN decided THEN the proposal is guarded too', () => {
    const c = { ...base, phase: 'Pending' as const, delivery: 'Git' as const, approval: true };
    expect(decide(observed(c, { guarded: true }))).toMatchObject({ kind: 'propose', guard: true });
    expect(decide(observed(c))).toMatchObject({ kind: 'propose', guard: false });
  });
});

const pr = (state: 'Open' | 'Merged' | 'Closed') => ({ url: 'https://pr/8', number: 8, state });
const proposed = (phase: Phase, connector: ConnectorKind = 'manifests') =>
  observed({ phase, delivery: 'Git', connector, pr: 'Open', ending: 'live', approval: true });

describe('afterProposal(): what a pull request state means', () => {
  it.each([
    ['Proposed', 'manifests', 'Open', 'settle'],
    ['Enforced', 'manifests', 'Open', 'settle'],
    ['Proposed', 'manifests', 'Merged', 'awaitSync'],
    ['Proposed', 'identity', 'Merged', 'applyMerged'],
    ['Enforced', 'identity', 'Merged', 'applyMerged'],
    ['Proposed', 'manifests', 'Closed', 'reject'],
    ['Enforced', 'manifests', 'Closed', 'settle'],
  ] as const)(
    'GIVEN a %s action (%s) WHEN its pull request is %s THEN the next step is %s',
    (phase, kind, state, step) => {
      expect(afterProposal(proposed(phase, kind), pr(state)).kind).toBe(step);
    },
  );

  it('GIVEN a new proposal WHEN its pull request is open THEN Proposed, AwaitingReview, polled', () => {
    const next = afterProposal(proposed('Pending'), pr('Open'));
    expect(next).toMatchObject({
      kind: 'settle',
      outcome: {
        status: { phase: 'Proposed', pullRequest: pr('Open') },
        after: { requeueAfter: 30_000 },
      },
    });
    if (next.kind === 'settle')
      expect(next.outcome.conditions.map((c) => c.reason)).toEqual([
        'AwaitingReview',
        'AwaitingReview',
      ]);
  });

  it('GIVEN an update of an enforced action WHEN its pull request is closed THEN what is enforced stays', () => {
    const next = afterProposal(proposed('Enforced'), pr('Closed'));
    expect(next).toMatchObject({ kind: 'settle', outcome: { status: { phase: 'Enforced' } } });
    if (next.kind === 'settle')
      expect(next.outcome.conditions[0]!.message).toBe(
        'the update in pull request #8 was closed without merging; what is enforced stays in place',
      );
  });
});

describe('the second steps after an effect', () => {
  it('GIVEN a merged pull request WHEN objects are still pending THEN Proposed, AwaitingSync, polled soon', () => {
    const out = synced(proposed('Proposed'), pr('Merged'), 3, 2);
    expect(out.status.phase).toBe('Proposed');
    expect(out.conditions[1]).toMatchObject({
      reason: 'AwaitingSync',
      message: 'merged; waiting for Argo CD or Flux to apply 2 objects',
    });
    expect(out.after).toEqual({ requeueAfter: 2000 });
  });

  it('GIVEN a merged pull request WHEN nothing is pending THEN Enforced, with the time to enforce', () => {
    const out = synced(proposed('Proposed'), pr('Merged'), 3, 0);
    expect(out.status).toMatchObject({
      phase: 'Enforced',
      enforcedAt: '2026-11-23T10:00:00Z',
      timeToEnforceSeconds: 7200,
    });
    expect(out.after).toBeUndefined();
  });

  it.each([
    ['Open', 2, undefined, { requeueAfter: 30_000 }],
    ['Merged', 2, undefined, { requeueAfter: 30_000 }],
    ['Merged', 0, 'Expired', undefined],
    ['Closed', 2, undefined, {}],
  ] as const)(
    'GIVEN a removal pull request %s with %i objects left THEN phase %s, requeue %j',
    (state, left, phase, after) => {
      const expiring = observed({
        phase: 'Enforced',
        delivery: 'Git',
        connector: 'manifests',
        pr: 'Merged',
        ending: 'expired',
        approval: true,
      });
      const out = removalProposed(expiring, pr(state), left);
      expect(out.status.phase).toBe(phase ?? 'Enforced');
      expect(out.after).toEqual(after);
    },
  );

  it('GIVEN a committed removal WHEN objects are left THEN it stays Enforced and is polled', () => {
    const lifting = observed({
      phase: 'Enforced',
      delivery: 'Git',
      connector: 'manifests',
      pr: 'Merged',
      ending: 'no indicators',
      approval: true,
    });
    const out = removalCommitted(lifting, git, 'abcdef1234567890', 1);
    expect(out.conditions[0]).toMatchObject({
      reason: 'RemovalCommitted',
      message:
        'removal committed to main at abcdef123456; waiting for Argo CD or Flux to delete 1 objects',
    });
    expect(out.status.phase).toBe('Enforced');
    expect(removalCommitted(lifting, git, 'abc', 0).status.phase).toBe('Lifted');
  });

  it.each([
    ['Pending', true, 'Pending'],
    ['Pending', false, 'Failed'],
    ['Enforced', false, 'Enforced'],
  ] as const)(
    'GIVEN a %s action WHEN the apply fails (transient %s) THEN the phase is %s',
    (phase, transient, expected) => {
      expect(applyFailed(proposed(phase), 'boom', transient).status.phase).toBe(expected);
    },
  );

  it('GIVEN an enforced action WHEN the guardrails refuse the update THEN it stays Enforced and says so', () => {
    const out = invalid(proposed('Enforced'), 'apply', ['refused'], true);
    expect(out).toMatchObject({ status: { phase: 'Enforced' }, expires: true });
    expect(out!.conditions[0]).toMatchObject({
      reason: 'GuardrailRefused',
      message: 'network:networkpolicy: refused; what is enforced stays in place',
    });
    expect(invalid(proposed('Pending'), 'propose', [], false)).toBeUndefined();
  });

  it.each([
    ['Pending', 'Failed'],
    ['Enforced', 'Enforced'],
  ] as const)(
    'GIVEN a %s action WHEN the guardrails refuse its proposal THEN the phase is %s, GuardrailRefused',
    (phase, expected) => {
      const out = invalid(proposed(phase), 'propose', ['refused'], true);
      expect(out).toMatchObject({ status: { phase: expected }, expires: true });
      expect(out!.conditions[0]).toMatchObject({ reason: 'GuardrailRefused' });
      // A Git form's own problems still fail the proposal, as before.
      expect(invalid(proposed(phase), 'propose', ['bad'], false)!.conditions[0]).toMatchObject({
        reason: 'InvalidAction',
      });
    },
  );
});

describe('decide(): a person decision (forestall approve, reject, lift)', () => {
  const proposed: Case = {
    phase: 'Proposed',
    delivery: 'Direct',
    connector: 'manifests',
    pr: 'none',
    ending: 'live',
    approval: true,
  };
  const person = (verb: 'approve' | 'reject' | 'lift') => ({
    verb,
    digest: 'sha256:new',
    by: 'alice',
    at: '2026-11-23T09:59:00Z',
    reason: 'INC-7',
  });

  it('GIVEN a person rejects a Proposed action THEN it is rejected by them, not left waiting for approval', () => {
    expect(decide(observed(proposed, { person: person('reject') }))).toEqual({
      kind: 'rejectByPerson',
      decision: person('reject'),
    });
  });

  it('GIVEN a person rejects a Proposed action delivered through Git THEN it stays with its pull request (closing that rejects it)', () => {
    const git = { ...proposed, delivery: 'Git' as const };
    expect(decide(observed(git, { person: person('reject') })).kind).toBe('propose');
  });

  it('GIVEN a person rejects an Enforced action THEN the rejection does not apply (it is lifted, not rejected)', () => {
    const enforced = { ...proposed, phase: 'Enforced' as const, approval: false };
    expect(decide(observed(enforced, { person: person('reject') })).kind).toBe('apply');
  });

  it('GIVEN a person lifted an Enforced action (the reconciler marks it ending) THEN it is removed as Lifted, not Expired, and says who lifted it', () => {
    const o = observed(
      { ...proposed, phase: 'Enforced', approval: false },
      { person: person('lift'), ending: true },
    );
    expect(decide(o)).toMatchObject({ kind: 'remove', cause: 'Lifted' });
    const out = removed(o, { objects: [], changes: [] }, undefined, undefined);
    expect(out.status.phase).toBe('Lifted');
    expect(out.conditions[0]!.message).toBe(
      'lifted by alice (INC-7): everything the action applied is removed',
    );
  });
});
