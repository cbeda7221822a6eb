import type { LabelSelector, PreemptiveActionSpec } from './generated/types.js';

/**
 * The domain words every folder shares: what an action does, where it acts, which
 * objects it selects and how Forestall marks what it owns. They are facts of the
 * PreemptiveAction API, so they live beside its types; the engine (policies/), the
 * connectors, Git delivery, the CLI and the controller all read them here, and none of
 * them has to import another to name an action type.
 */

export type ActionType = PreemptiveActionSpec['type'];
export type Layer = PreemptiveActionSpec['layer'];
export type { LabelSelector };

/** A reference to one Kubernetes object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  /** Empty for cluster-scoped objects. */
  namespace?: string;
  name: string;
}

/**
 * What a connector needs to know about one action, whether it came from the controller
 * or the CLI. The policy engine produces it and the connectors consume it.
 */
export interface ActionRequest {
  /** PreemptiveAction name. Every object is labelled with it (LABEL_ACTION, through labelValue(), which shortens names over 63 characters), which is how the objects are found again. */
  name: string;
  /** The ExposurePolicy behind it, if any. */
  policy?: string;
  type: ActionType;
  /** Canonical indicator values, sorted: IPv4/IPv6 addresses and CIDRs for EgressDeny, domains for DNSBlock, CVE IDs for Isolate. */
  values: string[];
  scope: {
    /** Namespaces in scope, sorted. Namespaced connectors (NetworkPolicy) write one object into each; for Isolate, empty or the target's namespace. */
    namespaces: string[];
    /** Cluster-wide connectors select with these. Absent means every namespace / every pod. */
    namespaceSelector?: LabelSelector;
    /** For Isolate: the target's pod template labels, never empty. */
    workloadSelector?: LabelSelector;
  };
  /** Objects the action protects or changes. Isolate: exactly one workload (apps/v1 Deployment, StatefulSet, DaemonSet, ReplicaSet; v1 Pod; batch/v1 Job, CronJob), with its namespace. */
  targets?: ObjectRef[];
  /** The policy's action template params, unvalidated; validate() checks them. */
  params: Record<string, unknown>;
  /** RFC 3339; recorded in an annotation. */
  expiresAt?: string;
}

/** Labels on every object Forestall writes: rendered enforcement, snapshots, ledgers, reports. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'forestall';
export const LABEL_ACTION = 'forestall.io/action';
export const LABEL_POLICY = 'forestall.io/policy';

/**
 * The last decision a person made about a PreemptiveAction with `forestall approve`,
 * `reject` or `lift` (or by hand): JSON of {@link PersonDecision}. It holds for the
 * indicator set it names (spec.indicators.digest); new intelligence needs a new one.
 * An annotation, so the write is the person's own (RBAC: patch on preemptiveactions)
 * and the API server's audit log records who made it.
 */
export const ANNOTATION_DECISION = 'forestall.io/decision';

export interface PersonDecision {
  verb: 'approve' | 'reject' | 'lift';
  /** spec.indicators.digest of the set decided on. */
  digest: string;
  /** Who, as the API server authenticated them when the CLI wrote it. */
  by: string;
  /** RFC 3339. */
  at: string;
  reason?: string;
}

/** The action's person decision when it is well formed and about its current indicators; else undefined. */
export function personDecision(action: {
  metadata?: { annotations?: Record<string, string> };
  spec: PreemptiveActionSpec;
}): PersonDecision | undefined {
  const text = action.metadata?.annotations?.[ANNOTATION_DECISION];
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const d = parsed as Partial<PersonDecision>;
  if (
    typeof d !== 'object' ||
    d === null ||
    !['approve', 'reject', 'lift'].includes(d.verb as string) ||
    typeof d.digest !== 'string' ||
    d.digest !== action.spec.indicators.digest
  )
    return undefined;
  return {
    verb: d.verb!,
    digest: d.digest,
    by: typeof d.by === 'string' ? d.by.slice(0, 256) : 'unknown',
    at: typeof d.at === 'string' ? d.at.slice(0, 64) : '',
    ...(typeof d.reason === 'string' ? { reason: d.reason.slice(0, 1024) } : {}),
  };
}
