import type { KubernetesObject } from '@kubernetes/client-node';

// Manifests and status readers the integration tests and benchmarks all build, written once
// so that each states only the names and data that matter to it.

/** The condition of one type on any object with standard status conditions. */
export function condition<C extends { type: string }>(
  o: { status?: { conditions?: C[] } } | undefined,
  type: string,
): C | undefined {
  return o?.status?.conditions?.find((c) => c.type === type);
}

/** A Namespace manifest, with labels when given. */
export const namespace = (name: string, labels?: Record<string, string>): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
});

/**
 * The spec of an ExposurePolicy that denies egress from one namespace (by name) to a
 * feed's indicators through the NetworkPolicy connector, enforced, approved by itself
 * and expiring after 24 h; `overrides` replace or add fields.
 */
export const egressDenySpec = (
  feed: string,
  namespaceName: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> => ({
  feeds: { names: [feed] },
  scope: {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespaceName } },
  },
  actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }],
  mode: 'Enforce',
  autoApprove: 'true',
  expiry: '24h',
  ...overrides,
});

/** A ConfigMap manifest; `field` is binaryData for the gzipped catalogs. */
export function configMap(
  namespace: string,
  name: string,
  data: Record<string, string>,
  field: 'data' | 'binaryData' = 'data',
): KubernetesObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, [field]: data };
}

/** A plain Secret manifest (no credential label: see credentialSecret for one Forestall may send). */
export function secret(
  namespace: string,
  name: string,
  stringData: Record<string, string>,
): KubernetesObject & { stringData: Record<string, string> } {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData };
}

/** An ExposurePolicy manifest; without a spec, the reference a delete needs. */
export function exposurePolicy(name: string, spec?: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'ExposurePolicy',
    metadata: { name },
    ...(spec ? { spec } : {}),
  } as KubernetesObject;
}

/** A PreemptiveAction manifest, as a person writes one by hand. */
export function preemptiveAction(name: string, spec: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name },
    spec,
  } as KubernetesObject;
}
