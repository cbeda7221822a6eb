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
