/**
 * `params.around: Isolated` on an IdentitySuspend or StepUpAuth template: the people
 * who operate or use the workloads a policy isolates are stepped up to MFA (or
 * suspended) for as long as any of those workloads is isolated.
 *
 * The accounts come from the `forestall.io/accounts` annotation of every workload the
 * same policy isolates in the same evaluation, whatever that isolation's decision
 * (auto, approval or audit): the risk is that the workload is vulnerable and reachable
 * from the internet, which holds while its isolation waits for review too, and the
 * identity action has its own decision. A workload whose isolation reviewers rejected
 * leaves the plan through the suppression of its CVEs, and its accounts with it.
 *
 * `around` is the engine's param, not the connector's: it is checked here (compile
 * errors on `spec.actions[i].params.around`) and removed from the params the connector
 * receives.
 */
import { earliestTime } from './provenance.js';
import type { ExposurePolicySpec, ActionType } from '../crds/index.js';
import type { CompileError, IsolatedWorkloadEvidence, WorkloadView } from './types.js';
import { ACCOUNTS_ANNOTATION, workloadAccounts, workloadApiVersion } from './workloads.js';

export const AROUND_PARAM = 'around';
/** The values `params.around` takes. */
export const AROUND_VALUES = ['Isolated'] as const;
/** The templates that take `params.around`: the ones acting on accounts. */
const AROUND_TYPES: readonly ActionType[] = ['IdentitySuspend', 'StepUpAuth'];

/** Whether a template asks for the accounts around isolated workloads. */
export function aroundIsolated(template: { params?: unknown }): boolean {
  return paramsOf(template)[AROUND_PARAM] === 'Isolated';
}

/** The params the connector receives: the template's without `around`. */
export function connectorParams(template: { params?: unknown }): Record<string, unknown> {
  const params = paramsOf(template);
  if (!(AROUND_PARAM in params)) return params;
  return Object.fromEntries(Object.entries(params).filter(([key]) => key !== AROUND_PARAM));
}

/**
 * Compile errors of `params.around`: on a template that does not act on accounts, a
 * value other than Isolated, or Isolated in a policy without an Isolate template (it
 * would never name anyone, silently).
 */
export function aroundProblems(spec: Pick<ExposurePolicySpec, 'actions'>): CompileError[] {
  const errors: CompileError[] = [];
  const isolates = spec.actions.some((t) => t.type === 'Isolate');
  spec.actions.forEach((template, index) => {
    const params = paramsOf(template);
    if (!(AROUND_PARAM in params)) return;
    const field = `spec.actions[${index}].params.${AROUND_PARAM}`;
    const value = params[AROUND_PARAM];
    const problem = !AROUND_TYPES.includes(template.type)
      ? `only ${AROUND_TYPES.join(' and ')} templates take it (the accounts of isolated workloads), not ${template.type}`
      : !(AROUND_VALUES as readonly unknown[]).includes(value)
        ? `${JSON.stringify(value)} is not one of ${AROUND_VALUES.join(', ')}`
        : !isolates
          ? 'Isolated takes the accounts of the workloads this policy isolates, and spec.actions has no Isolate template'
          : undefined;
    if (problem) errors.push({ field, message: `${field}: ${problem}` });
  });
  return errors;
}

/** One workload isolated in this evaluation, with what the identity action takes from its isolation. */
export interface Isolation {
  workload: WorkloadView;
  /** The Isolate action's name. */
  action: string;
  confidence: number;
  feeds: readonly string[];
  /** When the intelligence behind the isolation was published (RFC 3339). */
  publishedAt?: string;
}

export interface IsolatedAccounts {
  /** Every account named, canonical, deduplicated. */
  accounts: Set<string>;
  /** The workloads that named at least one, sorted as the isolations came. */
  workloads: IsolatedWorkloadEvidence[];
  /** Highest confidence of those isolations (0 when there are none). */
  confidence: number;
  feeds: Set<string>;
  /** The earliest publication of those isolations (RFC 3339). */
  publishedAt?: string;
}

/**
 * The accounts the isolated workloads name, without `suppressed` ones (reviewers
 * rejected them for this policy). An entry that is not an account is left out with a
 * warning naming the workload. `isolations` holds one entry per workload (the first
 * Isolate template's action).
 */
export function isolatedAccounts(
  isolations: readonly Isolation[],
  suppressed: ReadonlySet<string> | undefined,
  warnings: string[],
): IsolatedAccounts {
  const out: IsolatedAccounts = {
    accounts: new Set(),
    workloads: [],
    confidence: 0,
    feeds: new Set(),
  };
  for (const isolation of isolations) {
    const w = isolation.workload;
    const { accounts, problems } = workloadAccounts(w);
    for (const problem of problems)
      warnings.push(
        `${w.kind} ${w.namespace}/${w.name}: annotation ${ACCOUNTS_ANNOTATION}: ${problem}; the entry is ignored`,
      );
    const kept = accounts.filter((a) => !suppressed?.has(a));
    if (!kept.length) continue;
    for (const a of kept) out.accounts.add(a);
    for (const f of isolation.feeds) out.feeds.add(f);
    out.confidence = Math.max(out.confidence, isolation.confidence);
    out.publishedAt = earliestTime(out.publishedAt, isolation.publishedAt);
    out.workloads.push({
      target: {
        apiVersion: workloadApiVersion(w.kind),
        kind: w.kind,
        namespace: w.namespace,
        name: w.name,
      },
      isolation: isolation.action,
      accounts: kept,
    });
  }
  return out;
}

function paramsOf(template: { params?: unknown }): Record<string, unknown> {
  const p = template.params;
  return p !== null && typeof p === 'object' && !Array.isArray(p)
    ? (p as Record<string, unknown>)
    : {};
}
