import { normalise } from '../feeds/index.js';
import type { NamespaceView, WorkloadView } from './types.js';

/**
 * Namespaces and workloads as the engine sees them, read from plain Kubernetes objects
 * (the CLI reads them from a directory, the controller holds them in its informers).
 */

interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  spec?: { replicas?: number; template?: { metadata?: { labels?: Record<string, string> } } };
  status?: { desiredNumberScheduled?: number };
}

/** The label the API server puts on every Namespace (NamespaceDefaultLabelName). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

/**
 * The annotation on a workload (its own metadata, not the pod template) naming the
 * people who operate or use it: comma-separated logins, for example
 * `forestall.io/accounts: "alice@corp.example, bob"`. Identity templates with
 * `params.around: Isolated` act on them while the workload is isolated.
 */
export const ACCOUNTS_ANNOTATION = 'forestall.io/accounts';

/** A namespace's labels as the API server reports them, including kubernetes.io/metadata.name. */
export function namespaceView(name: string, labels: Record<string, string> = {}): NamespaceView {
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

/** One workload, or undefined for objects that are not workloads (and for Pods that a controller owns). */
export function workloadView(o: ObjectLike): WorkloadView | undefined {
  const kind = o.kind ?? '';
  const name = o.metadata?.name;
  if (!name) return undefined;
  // Of all annotations only this one is kept: the snapshot holds every workload of the cluster.
  const accounts = o.metadata?.annotations?.[ACCOUNTS_ANNOTATION];
  const base = {
    kind,
    namespace: o.metadata?.namespace ?? 'default',
    name,
    labels: o.metadata?.labels ?? {},
    ...(typeof accounts === 'string' ? { accounts } : {}),
  };
  if (kind === 'Deployment' || kind === 'StatefulSet') {
    return {
      ...base,
      podLabels: o.spec?.template?.metadata?.labels ?? {},
      pods: o.spec?.replicas ?? 1,
    };
  }
  if (kind === 'DaemonSet') {
    return {
      ...base,
      podLabels: o.spec?.template?.metadata?.labels ?? {},
      pods: o.status?.desiredNumberScheduled ?? 1,
    };
  }
  if (kind === 'Pod' && !o.metadata?.ownerReferences?.length) {
    return { ...base, podLabels: base.labels, pods: 1 };
  }
  return undefined;
}

/**
 * The accounts a workload's `forestall.io/accounts` annotation names, in the canonical
 * form of `account` indicators (feeds/normalise.ts: trimmed, refanged, NFC,
 * lower-cased), deduplicated and sorted; and one problem per entry that is not an
 * account (whitespace inside, a quote, a backslash, over 256 characters), which is
 * left out. Empty entries (`"a,,b"`, a trailing comma) are skipped without a problem.
 */
export function workloadAccounts(w: Pick<WorkloadView, 'accounts'>): {
  accounts: string[];
  problems: string[];
} {
  const accounts = new Set<string>();
  const problems: string[] = [];
  for (const entry of (w.accounts ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const result = normalise(entry, 'account');
    if ('error' in result) problems.push(result.error);
    else accounts.add(result.value);
  }
  return { accounts: [...accounts].sort(), problems };
}

/** The identity of a workload across the inventory, its exposure and its reports: namespace/Kind/name. */
export function workloadKey(w: { kind: string; namespace: string; name: string }): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

/** The apiVersion of a workload kind: v1 for a Pod, apps/v1 for the others. */
export function workloadApiVersion(kind: string): string {
  return kind === 'Pod' ? 'v1' : 'apps/v1';
}
