import type { NamespaceView, WorkloadView } from './types.js';

/**
 * Namespaces and workloads as the engine sees them, read from plain Kubernetes objects
 * (the CLI reads them from a directory, the controller holds them in its informers).
 */

interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: unknown[] };
  spec?: { replicas?: number; template?: { metadata?: { labels?: Record<string, string> } } };
  status?: { desiredNumberScheduled?: number };
}

/** The label the API server puts on every Namespace (NamespaceDefaultLabelName). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

/** A namespace's labels as the API server reports them, including kubernetes.io/metadata.name. */
export function namespaceView(name: string, labels: Record<string, string> = {}): NamespaceView {
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

/** One workload, or undefined for objects that are not workloads (and for Pods that a controller owns). */
export function workloadView(o: ObjectLike): WorkloadView | undefined {
  const kind = o.kind ?? '';
  const name = o.metadata?.name;
  if (!name) return undefined;
  const base = { kind, namespace: o.metadata?.namespace ?? 'default', name, labels: o.metadata?.labels ?? {} };
  if (kind === 'Deployment' || kind === 'StatefulSet') {
    return { ...base, podLabels: o.spec?.template?.metadata?.labels ?? {}, pods: o.spec?.replicas ?? 1 };
  }
  if (kind === 'DaemonSet') {
    return { ...base, podLabels: o.spec?.template?.metadata?.labels ?? {}, pods: o.status?.desiredNumberScheduled ?? 1 };
  }
  if (kind === 'Pod' && !o.metadata?.ownerReferences?.length) {
    return { ...base, podLabels: base.labels, pods: 1 };
  }
  return undefined;
}

/** The identity of a workload across the inventory, its exposure and its reports: namespace/Kind/name. */
export function workloadKey(w: { kind: string; namespace: string; name: string }): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

/** The apiVersion of a workload kind: v1 for a Pod, apps/v1 for the others. */
export function workloadApiVersion(kind: string): string {
  return kind === 'Pod' ? 'v1' : 'apps/v1';
}
