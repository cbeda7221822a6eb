import {
  API_VERSION,
  type PreemptiveAction,
  type ThreatException,
  type ThreatExceptionStatus,
} from '../../crds/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { withConditions, type ConditionInput } from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import type { Informer } from '../runtime/informer.js';
import { applyStatusIfChanged, readyTransition } from '../runtime/status-write.js';
import type { ExceptionSet } from './exception-set.js';
import type { SourceConfidenceRecorder } from '../stores/source-confidence.js';

export const ExceptionReason = {
  Active: 'Active',
  Expired: 'Expired',
  InvalidSpec: 'InvalidSpec',
  Broad: 'Broad',
  Narrow: 'Narrow',
  ActionsChanged: 'ActionsChanged',
} as const;

/** Actions listed in status at most. */
const LISTED_ACTIONS = 64;

export interface ExceptionDeps {
  exceptions: ExceptionSet;
  actions: Informer<PreemptiveAction>;
  client: Pick<KubeClient, 'applyStatus'>;
  events: Pick<EventRecorder, 'event'>;
  clock: Clock;
  /** Charges each feed behind an excepted action once: the feedback loop's `excepted`. */
  sourceConfidence?: Pick<SourceConfidenceRecorder, 'record'>;
}

/**
 * Reconciles one ThreatException's status: whether it is honoured (Active), ended
 * (Expired) or cannot be (Invalid, with the field), whether it is broad, and the actions
 * it currently leaves indicators out of, as the policy controller recorded them in each
 * action's spec.exceptions. The policies do the excepting; this only reports, records
 * Events on changes, and runs again at expiry so the phase turns on time.
 */
export class ExceptionReconciler implements Reconciler {
  constructor(private readonly deps: ExceptionDeps) {}

  async reconcile({ key, log }: Request): Promise<Result | void> {
    const exception = this.deps.exceptions.informer.get(key);
    if (!exception) return;
    const name = exception.metadata.name!;
    const now = new Date(this.deps.clock.now());
    const verdict = this.deps.exceptions.verdict(exception);
    const expiresAt = exception.spec.expiresAt ? Date.parse(exception.spec.expiresAt) : undefined;
    const expired = expiresAt !== undefined && expiresAt <= now.getTime();
    const actions = this.deps.actions
      .list()
      .flatMap((a) => {
        const use = a.spec.exceptions?.find((e) => e.name === name);
        return use && !isGone(a)
          ? [
              {
                name: a.metadata.name!,
                indicators: use.indicators,
                lifted: a.spec.indicators.count === 0,
              },
            ]
          : [];
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const ready: Omit<ConditionInput, 'observedGeneration'> = verdict.problems.length
      ? {
          type: 'Ready',
          status: 'False',
          reason: ExceptionReason.InvalidSpec,
          message: `${verdict.problems.join('; ')}; no policy honours it`,
        }
      : expired
        ? {
            type: 'Ready',
            status: 'False',
            reason: ExceptionReason.Expired,
            message: `expired at ${exception.spec.expiresAt}; no policy honours it, and what it excepted is enforced again where the policies still match it`,
          }
        : {
            type: 'Ready',
            status: 'True',
            reason: ExceptionReason.Active,
            message: `honoured by ${exception.spec.policies?.length ? `policies ${exception.spec.policies.join(', ')}` : 'every policy'}${exception.spec.expiresAt ? ` until ${exception.spec.expiresAt}` : ''}; ${actions.length} action(s) leave indicators out because of it`,
          };
    const broad: Omit<ConditionInput, 'observedGeneration'> = verdict.broad.length
      ? {
          type: 'Broad',
          status: 'True',
          reason: ExceptionReason.Broad,
          message: verdict.broad.join('; '),
        }
      : {
          type: 'Broad',
          status: 'False',
          reason: ExceptionReason.Narrow,
          message: 'no broad range or domain',
        };
    const phase = verdict.problems.length ? 'Invalid' : expired ? 'Expired' : 'Active';
    const chargedFeeds =
      phase === 'Active'
        ? await this.charge(exception, actions, log)
        : exception.status?.chargedFeeds;
    const status = withConditions<ThreatExceptionStatus>(
      {
        ...exception.status,
        phase,
        exceptedActions: phase === 'Active' ? actions.length : 0,
        actions: phase === 'Active' ? actions.slice(0, LISTED_ACTIONS) : [],
        ...(chargedFeeds?.length ? { chargedFeeds } : {}),
      },
      exception.metadata.generation ?? 0,
      now,
      [ready, broad],
    );
    const written = await applyStatusIfChanged(
      this.deps.client,
      { apiVersion: API_VERSION, kind: 'ThreatException', name },
      exception.status,
      status,
    );
    if (written) this.recordEvents(exception, written);
    if (phase === 'Active' && expiresAt !== undefined)
      return { requeueAfter: Math.max(1, expiresAt - now.getTime()) };
    return undefined;
  }

  /**
   * Lowers the source confidence of the feeds behind the actions this exception leaves
   * indicators out of, each feed once (status.chargedFeeds; the ledger's key covers a
   * retry before that status is written). Returns the feeds charged so far.
   */
  private async charge(
    exception: ThreatException,
    actions: readonly { name: string }[],
    log: Request['log'],
  ): Promise<string[] | undefined> {
    const charged = new Set(exception.status?.chargedFeeds ?? []);
    const recorder = this.deps.sourceConfidence;
    if (!recorder) return exception.status?.chargedFeeds;
    const name = exception.metadata.name!;
    for (const a of actions) {
      const action = this.deps.actions.get(a.name);
      const feeds = (action?.spec.feeds ?? []).filter((f) => !charged.has(f));
      if (!feeds.length) continue;
      const held = await recorder.record(
        feeds,
        {
          kind: 'excepted',
          at: new Date(this.deps.clock.now()).toISOString(),
          action: a.name,
          exception: name,
          ...(action?.spec.policyRef?.name ? { policy: action.spec.policyRef.name } : {}),
          key: `excepted/${name}/${exception.metadata.uid ?? ''}`,
        },
        log,
      );
      // A feed whose write failed stays uncharged: the next reconcile tries it again.
      for (const f of held) charged.add(f);
    }
    return [...charged].sort().slice(0, 256);
  }

  private recordEvents(exception: ThreatException, written: ThreatExceptionStatus): void {
    const transition = readyTransition(exception.status, written);
    if (transition)
      this.deps.events.event(
        exception,
        transition.status === 'True' ? 'Normal' : 'Warning',
        transition.reason,
        transition.message.slice(0, 1024),
      );
    const before = (exception.status?.actions ?? []).map(
      (a) => `${a.name}:${a.indicators}:${a.lifted}`,
    );
    const after = (written.actions ?? []).map((a) => `${a.name}:${a.indicators}:${a.lifted}`);
    if (written.phase === 'Active' && before.join() !== after.join()) {
      const lifted = (written.actions ?? []).filter((a) => a.lifted).map((a) => a.name);
      this.deps.events.event(
        exception,
        'Normal',
        ExceptionReason.ActionsChanged,
        `leaves indicators out of ${after.length} action(s)${after.length ? `: ${(written.actions ?? []).map((a) => `${a.name} (${a.indicators})`).join(', ')}` : ''}${lifted.length ? `; lifted: ${lifted.join(', ')}` : ''}`.slice(
          0,
          1024,
        ),
      );
    }
  }
}

function isGone(action: PreemptiveAction): boolean {
  return action.metadata.deletionTimestamp !== undefined;
}
