/**
 * The Kubernetes kinds the engine reads, listed once: the controller watches exactly
 * these (controller/inventory/cache.ts), the chart's ClusterRole lets it list and watch them
 * (a test compares the two), and exposure.ts and workloads.ts read exactly these from
 * the objects `forestall plan` is given. A kind the CLI counted but the controller did
 * not watch would make Isolate in the cluster miss workloads the plan isolates.
 *
 * Gateway API routes: HTTPRoute and GRPCRoute are in its standard channel (v1); TLSRoute,
 * TCPRoute and UDPRoute only in the experimental one, where every release serves
 * v1alpha2. The exposure rules read the group and kind, never the version, so a file
 * of any version counts in the plan; the controller lists the version named here.
 */
export interface InventoryKind {
  /** The version the controller lists and watches. */
  apiVersion: string;
  kind: string;
  /** The resource name, for the API path and RBAC. */
  plural: string;
  namespaced: boolean;
  /** core: every policy reads it (scope, blast radius); exposure: only Isolate policies do. */
  group: 'core' | 'exposure';
  /** A CRD a cluster may not have: until it is served it counts as empty. */
  optional: boolean;
  /** For an optional kind: what its absence means for the user (logged once). */
  absentMeans?: string;
  /**
   * The controller watches it. Pods are not watched: their churn would re-evaluate every
   * policy on every rollout, and ReplicaSets already tie reports to workloads, so bare
   * Pods are isolated by the CLI (which reads them from files) but not by the controller.
   */
  watched: boolean;
}

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

const kind = (
  apiVersion: string,
  name: string,
  plural: string,
  group: InventoryKind['group'],
  options: Partial<Pick<InventoryKind, 'namespaced' | 'optional' | 'watched'>> = {},
): InventoryKind => ({
  apiVersion,
  kind: name,
  plural,
  group,
  namespaced: options.namespaced ?? true,
  optional: options.optional ?? false,
  watched: options.watched ?? true,
});

const GATEWAY_ABSENT = (what: string) =>
  `no exposure through Gateway API ${what}: Isolate does not see workloads reachable only that way`;

const route = (version: string, name: string): InventoryKind => ({
  ...kind(`${GATEWAY_GROUP}/${version}`, name, `${name.toLowerCase()}s`, 'exposure', {
    optional: true,
  }),
  absentMeans: GATEWAY_ABSENT(`${name}s`),
});

export const INVENTORY_KINDS: readonly InventoryKind[] = Object.freeze([
  kind('v1', 'Namespace', 'namespaces', 'core', { namespaced: false }),
  kind('apps/v1', 'Deployment', 'deployments', 'core'),
  kind('apps/v1', 'StatefulSet', 'statefulsets', 'core'),
  kind('apps/v1', 'DaemonSet', 'daemonsets', 'core'),
  kind('v1', 'Pod', 'pods', 'core', { watched: false }),
  kind('apps/v1', 'ReplicaSet', 'replicasets', 'exposure'),
  kind('v1', 'Service', 'services', 'exposure'),
  kind('networking.k8s.io/v1', 'Ingress', 'ingresses', 'exposure'),
  {
    ...kind(`${GATEWAY_GROUP}/v1`, 'Gateway', 'gateways', 'exposure', { optional: true }),
    absentMeans: GATEWAY_ABSENT('Gateways'),
  },
  route('v1', 'HTTPRoute'),
  route('v1', 'GRPCRoute'),
  route('v1alpha2', 'TLSRoute'),
  route('v1alpha2', 'TCPRoute'),
  route('v1alpha2', 'UDPRoute'),
  {
    ...kind(
      'aquasecurity.github.io/v1alpha1',
      'VulnerabilityReport',
      'vulnerabilityreports',
      'exposure',
      { optional: true },
    ),
    absentMeans:
      'no Trivy Operator VulnerabilityReports: Isolate policies find no vulnerable workload',
  },
]);

/** The Gateway API route kinds that attach a Service to a Gateway. */
export const ROUTE_KINDS: ReadonlySet<string> = new Set(
  INVENTORY_KINDS.filter(
    (k) => k.apiVersion.startsWith(`${GATEWAY_GROUP}/`) && k.kind.endsWith('Route'),
  ).map((k) => k.kind),
);
