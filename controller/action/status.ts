import type { KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  personDecision,
  TERMINAL_PHASES,
  type ExposurePolicy,
  type PreemptiveAction,
  type PreemptiveActionStatus,
} from '../../crds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { findCondition, withConditions, type Condition } from '../runtime/conditions.js';
import type { Result } from '../runtime/controller.js';
import { messageOf } from '../runtime/errors.js';
import type { EventRecorder, EventType } from '../runtime/events.js';
import { applyStatusIfChanged } from '../runtime/status-write.js';
import { byPerson, type ConditionSpec } from './decide.js';
import { codeOf, type ActionMetrics } from './metrics.js';
import type { ActionNotifier } from './notifications.js';
import { ActionCondition, ActionReason } from './reasons.js';

export interface StatusWriterDeps {
  client: Pick<KubeClient, 'applyStatus'>;
  events: Pick<EventRecorder, 'event'>;
  metrics: Pick<ActionMetrics, 'notificationFailures' | 'reviewRejections'>;
  notifier?: Pick<ActionNotifier, 'wants' | 'notify'>;
  /** The ExposurePolicy of that name, from the cache: where a rejection's Event goes. */
  policy?: (name: string) => ExposurePolicy | undefined;
  /** When a notification that failed is tried again. */
  retryMs: number;
}

/** One status write: the status, the conditions to set on it, and when the action expires. */
export interface StatusWrite {
  action: PreemptiveAction;
  status: PreemptiveActionStatus;
  conditions: ConditionSpec[];
  generation: number;
  now: Date;
  /** spec.expiresAt (ms), to run again then while the phase is not terminal. */
  expiresAt?: number;
}

/** An Event to record: on what, of which type, why and what. */
export interface ActionEvent {
  on: KubernetesObject;
  type: EventType;
  reason: string;
  message: string;
}

/**
 * The one status writer of the action controller, called once per reconcile: sets the
 * conditions, sends the notification the phase calls for (spec.notify) before the write,
 * writes status if it changed, and records the Events the change calls for (on the
 * action, its workloads, and for a new rejection on its policy, which is also counted).
 * A notification that could not be delivered is retried later; it never holds back the
 * status.
 */
export class StatusWriter {
  constructor(private readonly deps: StatusWriterDeps) {}

  async write(w: StatusWrite): Promise<Result | void> {
    const excepted = exceptedCondition(w.action);
    const conditioned = withConditions(
      w.status,
      w.generation,
      w.now,
      excepted ? [...w.conditions, excepted] : w.conditions,
    );
    const { status: next, failed } = await this.notify(w, conditioned);
    const target = {
      apiVersion: API_VERSION,
      kind: 'PreemptiveAction',
      name: w.action.metadata.name!,
    };
    const written = await applyStatusIfChanged(this.deps.client, target, w.action.status, next);
    if (written) this.record(w.action, written);
    const retry = failed ? this.deps.retryMs : undefined;
    const expiry =
      w.expiresAt !== undefined && !TERMINAL_PHASES.has(next.phase ?? 'Pending')
        ? Math.max(1, w.expiresAt - w.now.getTime())
        : undefined;
    const after = [retry, expiry].filter((v): v is number => v !== undefined);
    return after.length ? { requeueAfter: Math.min(...after) } : undefined;
  }

  /** The "after write" hook: the Events the written status calls for, and a new rejection counted. */
  private record(action: PreemptiveAction, written: PreemptiveActionStatus): void {
    for (const e of statusEvents(action, written))
      this.deps.events.event(e.on, e.type, e.reason, e.message);
    const name = action.spec.policyRef?.name;
    const rejection = rejectionEvent(action, written, name ? this.deps.policy?.(name) : undefined);
    if (!rejection) return;
    this.deps.events.event(rejection.on, rejection.type, rejection.reason, rejection.message);
    this.deps.metrics.reviewRejections.inc({ policy: name! });
  }

  /** The "before write" hook: the notification the next status calls for, and its condition. */
  private async notify(
    w: StatusWrite,
    next: PreemptiveActionStatus,
  ): Promise<{ status: PreemptiveActionStatus; failed: boolean }> {
    const { notifier } = this.deps;
    if (!notifier?.wants(w.action)) return { status: next, failed: false };
    const conditions = next.conditions as Condition[] | undefined;
    const readyMessage = findCondition(conditions, ActionCondition.Ready)?.message;
    const set = (status: PreemptiveActionStatus, c: ConditionSpec) =>
      withConditions(status, w.generation, w.now, [c]);
    try {
      const notified = await notifier.notify(w.action, next, readyMessage, w.now);
      if (!notified) return { status: next, failed: false };
      const message = `${notified.at(-1)!.split('/').pop()} announced to spec.notify`;
      return {
        status: set({ ...next, notified }, notifiedCondition('True', message)),
        failed: false,
      };
    } catch (err) {
      this.deps.metrics.notificationFailures.inc({ code: codeOf(err) });
      const message = `spec.notify: ${messageOf(err)}; retrying`;
      return { status: set(next, notifiedCondition('False', message)), failed: true };
    }
  }
}

function notifiedCondition(status: 'True' | 'False', message: string): ConditionSpec {
  const reason =
    status === 'True' ? ActionReason.NotificationSent : ActionReason.NotificationFailed;
  return { type: ActionCondition.Notified, status, reason, message };
}

/**
 * The Events a written status calls for: a phase change (on the action, and for Isolate
 * on its workloads too); else Ready gone False with a new reason (Warning); and a
 * Notified gone False with a new message (Warning).
 */
export function statusEvents(
  action: PreemptiveAction,
  written: PreemptiveActionStatus,
): ActionEvent[] {
  const find = (s: PreemptiveActionStatus | undefined, type: string) =>
    findCondition(s?.conditions as Condition[] | undefined, type);
  const ready = find(written, ActionCondition.Ready);
  const readyBefore = find(action.status, ActionCondition.Ready);
  const events: ActionEvent[] = [];
  if (written.phase !== action.status?.phase) {
    events.push({
      on: action,
      type: written.phase === 'Failed' ? 'Warning' : 'Normal',
      reason: written.phase ?? 'Pending',
      message: ready?.message ?? `phase ${written.phase}`,
    });
    events.push(...workloadEvents(action, written.phase));
  } else if (ready && ready.status === 'False' && readyBefore?.reason !== ready.reason) {
    events.push({ on: action, type: 'Warning', reason: ready.reason, message: ready.message });
  }
  const notified = find(written, ActionCondition.Notified);
  const notifiedBefore = find(action.status, ActionCondition.Notified);
  if (notified?.status === 'False' && notifiedBefore?.message !== notified.message)
    events.push({
      on: action,
      type: 'Warning',
      reason: notified.reason,
      message: notified.message,
    });
  return events;
}

/**
 * The Event a new rejection calls for, on the policy that now leaves the rejected
 * indicators out: a written status.rejection that holds them out (it has `until`, so
 * the review feedback was recorded) and differs from the stored one. A pull request
 * closed without merging (Git delivery) is ReviewRejected; a person's
 * `forestall reject` is PersonRejected. Without the policy there is nothing to tell.
 */
export function rejectionEvent(
  action: PreemptiveAction,
  written: PreemptiveActionStatus,
  policy: ExposurePolicy | undefined,
): ActionEvent | undefined {
  const r = written.rejection;
  const before = action.status?.rejection;
  if (!policy || !r?.until || (r.at === before?.at && r.until === before?.until)) return undefined;
  const name = action.metadata.name;
  const held = `${r.indicators} indicators are left out until ${r.until}`;
  if (action.spec.delivery === 'Git') {
    const url = written.pullRequest?.url;
    const message = `pull request ${url} for ${name} was closed without merging: ${held}`;
    return url ? { on: policy, type: 'Normal', reason: 'ReviewRejected', message } : undefined;
  }
  const person = personDecision(action);
  const message = person && `${name} was rejected${byPerson(person)}: ${held}`;
  return message ? { on: policy, type: 'Normal', reason: 'PersonRejected', message } : undefined;
}

/** An Isolate action's transitions, told on the workloads it isolates, where their owners look. */
export function workloadEvents(
  action: PreemptiveAction,
  phase: PreemptiveActionStatus['phase'],
): ActionEvent[] {
  if (action.spec.type !== 'Isolate') return [];
  const told = isolationEvent(action, phase);
  if (!told) return [];
  return (action.spec.targets ?? []).map((t) => ({
    on: {
      apiVersion: t.apiVersion ?? 'apps/v1',
      kind: t.kind,
      metadata: { name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}) },
    },
    ...told,
    message: told.message.slice(0, 1024),
  }));
}

function isolationEvent(
  action: PreemptiveAction,
  phase: PreemptiveActionStatus['phase'],
): Omit<ActionEvent, 'on'> | undefined {
  const name = action.metadata.name;
  const vulnerabilities = action.spec.evidence?.vulnerabilities ?? [];
  const cves = [...new Set(vulnerabilities.map((v) => v.cveID))];
  const ids = cves.length ? cves.join(', ') : `${action.spec.indicators.count} CVEs`;
  if (phase === 'Enforced') {
    const exposure = action.spec.evidence?.exposure;
    const fixes = vulnerabilities
      .filter((v) => v.fixedVersion)
      .map(
        (v) =>
          `${v.package ?? 'package'} ${v.installedVersion ?? ''} → ${v.fixedVersion} (container ${v.container ?? '?'})`,
      );
    const reachable = exposure?.length ? `, reachable through ${exposure.join('; ')}` : '';
    const fix = fixes.length ? ` Fix: ${fixes.join('; ')}.` : '';
    const message = `Forestall isolated this workload from ingress outside the cluster (PreemptiveAction ${name}): ${ids}${reachable}.${fix}`;
    return { type: 'Warning', reason: 'Isolated', message };
  }
  if (phase === 'Proposed') {
    const message = `Forestall proposes isolating this workload (PreemptiveAction ${name}, awaiting approval): ${ids}`;
    return { type: 'Warning', reason: 'IsolationProposed', message };
  }
  if (phase === 'Lifted' || phase === 'Expired') {
    const message = `Forestall lifted the isolation of this workload (PreemptiveAction ${name}, ${phase})`;
    return { type: 'Normal', reason: 'IsolationLifted', message };
  }
  return undefined;
}

/**
 * The Excepted condition: which ThreatExceptions left indicators out of the action, as
 * its policy recorded them in spec.exceptions. Set False once they no longer do;
 * absent on actions no exception ever touched.
 */
export function exceptedCondition(action: PreemptiveAction): ConditionSpec | undefined {
  const uses = action.spec.exceptions ?? [];
  if (uses.length)
    return {
      type: ActionCondition.Excepted,
      status: 'True',
      reason: ActionReason.Excepted,
      message: `${uses.map((u) => `ThreatException ${u.name} left out ${u.indicators} indicator(s)`).join('; ')}${action.spec.indicators.count === 0 ? '; none is left, so the action is lifted' : ''}`,
    };
  const had = findCondition(
    action.status?.conditions as Condition[] | undefined,
    ActionCondition.Excepted,
  );
  return had && had.status === 'True'
    ? {
        type: ActionCondition.Excepted,
        status: 'False',
        reason: ActionReason.NotExcepted,
        message: 'no ThreatException leaves indicators out of it now',
      }
    : undefined;
}
