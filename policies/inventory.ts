import type { Inventory, NamespaceView, WorkloadView } from './types.js';

/**
 * Builds the engine's Inventory from plain Kubernetes objects, as the CLI reads them
 * from a directory and the controller holds them in its informers.
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

export function inventoryFromObjects(objects: readonly unknown[]): Inventory {
  const namespaces = new Map<string, NamespaceView>();
  const workloads: WorkloadView[] = [];
  for (const raw of objects) {
    if (!raw || typeof raw !== 'object') continue;
    const o = raw as ObjectLike;
    if (o.kind === 'Namespace' && o.metadata?.name) {
      namespaces.set(o.metadata.name, namespaceView(o.metadata.name, o.metadata.labels));
      continue;
    }
    const w = workloadView(o);
    if (w) workloads.push(w);
  }
  // A workload's namespace exists even when the directory does not declare it.
  for (const w of workloads) {
    if (!namespaces.has(w.namespace)) namespaces.set(w.namespace, namespaceView(w.namespace));
  }
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    namespaces: [...namespaces.values()].sort(byName),
    workloads: workloads.sort((a, b) => byName({ name: `${a.namespace}/${a.kind}/${a.name}` }, { name: `${b.namespace}/${b.kind}/${b.name}` })),
  };
}
