import { exposureFromObjects } from './exposure.js';
import type { Inventory, NamespaceView, WorkloadView } from './types.js';
import { namespaceView, workloadView } from './workloads.js';

/**
 * Builds the engine's Inventory from plain Kubernetes objects, as the CLI reads them
 * from a directory and the controller holds them in its informers: namespaces,
 * workloads, and (exposure.ts) how each workload is reachable and what its current
 * VulnerabilityReports list.
 */

export function inventoryFromObjects(objects: readonly unknown[]): Inventory {
  const namespaces = new Map<string, NamespaceView>();
  const workloads: WorkloadView[] = [];
  for (const raw of objects) {
    if (!raw || typeof raw !== 'object') continue;
    const o = raw as Parameters<typeof workloadView>[0];
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
  const byName = (a: { name: string }, b: { name: string }) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return {
    namespaces: [...namespaces.values()].sort(byName),
    workloads: workloads.sort((a, b) =>
      byName(
        { name: `${a.namespace}/${a.kind}/${a.name}` },
        { name: `${b.namespace}/${b.kind}/${b.name}` },
      ),
    ),
    exposure: exposureFromObjects(objects),
  };
}
