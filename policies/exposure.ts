/**
 * Which workloads are reachable from the internet, and through what. Pure: plain
 * Kubernetes objects in (the same list inventoryFromObjects takes), an
 * ExposureInventory out, which also carries the workloads' current vulnerabilities
 * (vulnerability-reports.ts).
 *
 * A workload (Deployment, StatefulSet, DaemonSet, or a Pod no controller owns) is
 * internet-facing when one of these paths leads to its pods:
 *
 * 1. A Service (v1) in its namespace whose spec.selector is not empty and is a subset of
 *    the pod template labels, and that is
 *    - type LoadBalancer, unless an annotation makes the load balancer internal
 *      (INTERNAL_LOAD_BALANCER_ANNOTATIONS);
 *    - type NodePort: nodes may have public addresses, and nothing in the API says they
 *      do not;
 *    - any type with spec.externalIPs.
 * 2. An Ingress (networking.k8s.io/v1) in that namespace whose defaultBackend or
 *    rules[].http.paths[].backend.service names a Service that selects the pods, of any
 *    type: the ingress controller forwards to it.
 * 3. A Gateway API route (gateway.networking.k8s.io: HTTPRoute, GRPCRoute, TLSRoute,
 *    TCPRoute, UDPRoute) attached to an existing Gateway whose rules[].backendRefs name
 *    such a Service. A parentRef defaults to kind Gateway in the route's namespace, and a
 *    backendRef to kind Service in the route's namespace. The route is attached when a
 *    listener of the Gateway (the one parentRef.sectionName or .port names, if it names
 *    one) admits routes from the route's namespace (allowedRoutes.namespaces.from: Same,
 *    the default, All, or Selector over the namespace's labels) and, if
 *    allowedRoutes.kinds lists kinds, of the route's kind.
 *
 * The annotation `forestall.io/internet-facing: "true"` or `"false"` on the workload
 * (metadata.annotations of the Deployment, StatefulSet, DaemonSet or bare Pod) wins over
 * all of this; "true" adds an `Annotation` path so the reason shows.
 *
 * Deliberately left out, so these err on the side of "internet-facing": whether a
 * Gateway or an ingress controller is itself internal, ReferenceGrants for
 * cross-namespace backendRefs, route status, and Services without a selector (their
 * EndpointSlices are managed by hand). The override annotation is the answer where the
 * result is wrong. An internal LoadBalancer's node ports are not counted: they exist
 * only as the load balancer's plumbing.
 */
import {
  fields,
  header,
  items,
  isSubset,
  stringMap,
  text,
  compareText,
  apiGroup,
  type Fields,
  type ObjectHeader,
} from './object-fields.js';
import { matchesSelector } from './selector.js';
import type {
  ContainerImage,
  ExposureInventory,
  ExposurePath,
  VulnerabilityFinding,
  WorkloadExposure,
} from './types.js';
import {
  currentFindings,
  readVulnerabilityReport,
  type VulnerabilityReport,
} from './vulnerability-reports.js';
import { namespaceView, workloadKey, workloadView } from './workloads.js';
import type { LabelSelector } from '../crds/index.js';
import { GATEWAY_GROUP, ROUTE_KINDS } from './inventory-kinds.js';

export const INTERNET_FACING_ANNOTATION = 'forestall.io/internet-facing';

/**
 * Service annotations that keep a LoadBalancer inside the cloud network, with the value
 * that does so (compared case-insensitively): AWS (in-tree and AWS Load Balancer
 * Controller), GKE (current and legacy) and AKS.
 */
export const INTERNAL_LOAD_BALANCER_ANNOTATIONS: readonly (readonly [string, string])[] = [
  ['service.beta.kubernetes.io/aws-load-balancer-internal', 'true'],
  ['service.beta.kubernetes.io/aws-load-balancer-scheme', 'internal'],
  ['networking.gke.io/load-balancer-type', 'internal'],
  ['cloud.google.com/load-balancer-type', 'internal'],
  ['service.beta.kubernetes.io/azure-load-balancer-internal', 'true'],
];

/** A Service that selects pods, with the internet paths that lead to it. */
interface ServiceEntry {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  paths: ExposurePath[];
}

/** The objects exposure and vulnerability mapping read, sorted by kind. */
interface Objects {
  namespaceLabels: Map<string, Record<string, string>>;
  /** Workload objects with their header. */
  workloads: { object: Fields; meta: ObjectHeader }[];
  services: Map<string, ServiceEntry>;
  ingresses: { object: Fields; meta: ObjectHeader }[];
  gateways: Map<string, Fields>;
  routes: { object: Fields; meta: ObjectHeader }[];
  replicaSets: Map<string, ObjectHeader>;
  pods: Map<string, ObjectHeader>;
  reports: VulnerabilityReport[];
}

const at = (namespace: string, name: string) => `${namespace}/${name}`;

function sortObjects(objects: readonly unknown[]): Objects {
  const out: Objects = {
    namespaceLabels: new Map(),
    workloads: [],
    services: new Map(),
    ingresses: [],
    gateways: new Map(),
    routes: [],
    replicaSets: new Map(),
    pods: new Map(),
    reports: [],
  };
  for (const raw of objects) {
    const object = fields(raw);
    const meta = header(object);
    if (!meta.name) continue;
    const group = apiGroup(meta.apiVersion);
    const namespace = meta.namespace || 'default';
    switch (`${group}/${meta.kind}`) {
      case '/Namespace':
        out.namespaceLabels.set(meta.name, namespaceView(meta.name, meta.labels).labels);
        break;
      case '/Service': {
        const service = serviceEntry(object, meta, namespace);
        if (service) out.services.set(at(namespace, meta.name), service);
        break;
      }
      case '/Pod':
        out.pods.set(at(namespace, meta.name), meta);
        if (!meta.owners.length) out.workloads.push({ object, meta });
        break;
      case 'apps/ReplicaSet':
        out.replicaSets.set(at(namespace, meta.name), meta);
        break;
      case 'apps/Deployment':
      case 'apps/StatefulSet':
      case 'apps/DaemonSet':
        out.workloads.push({ object, meta });
        break;
      case 'networking.k8s.io/Ingress':
        out.ingresses.push({ object, meta });
        break;
      case `${GATEWAY_GROUP}/Gateway`:
        out.gateways.set(at(namespace, meta.name), object);
        break;
      case 'aquasecurity.github.io/VulnerabilityReport': {
        out.reports.push(readVulnerabilityReport(object, meta));
        break;
      }
      default:
        if (group === GATEWAY_GROUP && ROUTE_KINDS.has(meta.kind))
          out.routes.push({ object, meta });
    }
  }
  return out;
}

function isInternalLoadBalancer(annotations: Readonly<Record<string, string>>): boolean {
  return INTERNAL_LOAD_BALANCER_ANNOTATIONS.some(
    ([key, value]) => annotations[key]?.toLowerCase() === value,
  );
}

/** A Service with a selector, and the paths that make it reachable by itself; undefined for a Service that selects no pods. */
function serviceEntry(
  object: Fields,
  meta: ObjectHeader,
  namespace: string,
): ServiceEntry | undefined {
  const spec = fields(object.spec);
  const selector = stringMap(spec.selector);
  if (!Object.keys(selector).length) return undefined;
  const type = text(spec.type) ?? 'ClusterIP';
  const name = `Service ${at(namespace, meta.name)}`;
  const paths: ExposurePath[] = [];
  if (type === 'LoadBalancer' && !isInternalLoadBalancer(meta.annotations))
    paths.push({ kind: 'LoadBalancer', via: `${name} (LoadBalancer)` });
  if (type === 'NodePort') paths.push({ kind: 'NodePort', via: `${name} (NodePort)` });
  const externalIPs = items(spec.externalIPs).filter(
    (ip): ip is string => typeof ip === 'string' && ip !== '',
  );
  if (externalIPs.length)
    paths.push({ kind: 'ExternalIP', via: `${name} (externalIPs ${externalIPs.join(', ')})` });
  return { namespace, name: meta.name, selector, paths };
}

/** "web:80", "web:http" or "web": a Service reference with its port, as an Ingress or a route writes it. */
function serviceTarget(name: string, port: unknown): string {
  const p = fields(port);
  const value = typeof port === 'number' ? port : (p.number ?? p.name);
  return typeof value === 'number' || typeof value === 'string' ? `${name}:${value}` : name;
}

/** Adds the Ingress paths to the Services their backends name. */
function addIngressPaths(o: Objects): void {
  for (const { object, meta } of o.ingresses) {
    const namespace = meta.namespace || 'default';
    const spec = fields(object.spec);
    const add = (backend: unknown, where: string) => {
      const service = fields(fields(backend).service);
      const name = text(service.name);
      const entry = name ? o.services.get(at(namespace, name)) : undefined;
      if (!entry || !name) return;
      entry.paths.push({
        kind: 'Ingress',
        via: `Ingress ${at(namespace, meta.name)} (${where}) → Service ${serviceTarget(name, service.port)}`,
      });
    };
    if (spec.defaultBackend !== undefined) add(spec.defaultBackend, 'default backend');
    for (const rule of items(spec.rules)) {
      const host = text(fields(rule).host);
      for (const path of items(fields(fields(rule).http).paths))
        add(fields(path).backend, host ? `host ${host}` : 'any host');
    }
  }
}

/** Whether the Gateway accepts the route on the listener the parentRef names (or on any listener, if it names none). */
function gatewayAdmits(
  gateway: Fields,
  gatewayNamespace: string,
  parentRef: Fields,
  routeNamespace: string,
  routeKind: string,
  o: Objects,
): boolean {
  const section = text(parentRef.sectionName);
  const port = typeof parentRef.port === 'number' ? parentRef.port : undefined;
  return items(fields(gateway.spec).listeners).some((raw) => {
    const listener = fields(raw);
    if (section !== undefined && text(listener.name) !== section) return false;
    if (port !== undefined && listener.port !== port) return false;
    const allowed = fields(listener.allowedRoutes);
    const kinds = items(allowed.kinds).map(fields);
    if (
      kinds.length &&
      !kinds.some(
        (k) => text(k.kind) === routeKind && (text(k.group) ?? GATEWAY_GROUP) === GATEWAY_GROUP,
      )
    )
      return false;
    const namespaces = fields(allowed.namespaces);
    switch (text(namespaces.from) ?? 'Same') {
      case 'All':
        return true;
      case 'Same':
        return routeNamespace === gatewayNamespace;
      case 'Selector': {
        const labels =
          o.namespaceLabels.get(routeNamespace) ?? namespaceView(routeNamespace).labels;
        return matchesSelector(fields(namespaces.selector) as LabelSelector, labels);
      }
      default:
        return false;
    }
  });
}

/** Adds the Gateway paths to the Services that attached routes send traffic to. */
function addGatewayPaths(o: Objects): void {
  for (const { object, meta } of o.routes) {
    const namespace = meta.namespace || 'default';
    const spec = fields(object.spec);
    const gateways = new Set<string>();
    for (const raw of items(spec.parentRefs)) {
      const ref = fields(raw);
      if (
        (text(ref.group) ?? GATEWAY_GROUP) !== GATEWAY_GROUP ||
        (text(ref.kind) ?? 'Gateway') !== 'Gateway'
      )
        continue;
      const gatewayNamespace = text(ref.namespace) ?? namespace;
      const key = at(gatewayNamespace, text(ref.name) ?? '');
      const gateway = o.gateways.get(key);
      if (gateway && gatewayAdmits(gateway, gatewayNamespace, ref, namespace, meta.kind, o))
        gateways.add(key);
    }
    if (!gateways.size) continue;
    for (const rule of items(spec.rules)) {
      for (const raw of items(fields(rule).backendRefs)) {
        const ref = fields(raw);
        if ((text(ref.group) ?? '') !== '' || (text(ref.kind) ?? 'Service') !== 'Service') continue;
        const name = text(ref.name);
        const serviceNamespace = text(ref.namespace) ?? namespace;
        const entry = name ? o.services.get(at(serviceNamespace, name)) : undefined;
        if (!entry || !name) continue;
        const service = serviceNamespace === namespace ? name : at(serviceNamespace, name);
        for (const gateway of gateways) {
          entry.paths.push({
            kind: 'Gateway',
            via: `Gateway ${gateway} ← ${meta.kind} ${at(namespace, meta.name)} → Service ${serviceTarget(service, ref.port)}`,
          });
        }
      }
    }
  }
}

/** The pod spec of a workload object: spec.template.spec, or spec for a Pod. */
function podSpec(object: Fields, kind: string): Fields {
  const spec = fields(object.spec);
  return kind === 'Pod' ? spec : fields(fields(spec.template).spec);
}

function containerImages(spec: Fields): ContainerImage[] {
  const read = (list: unknown, init: boolean) =>
    items(list).flatMap((raw) => {
      const c = fields(raw);
      const container = text(c.name);
      const image = text(c.image);
      return container && image ? [{ container, image, init }] : [];
    });
  return [...read(spec.containers, false), ...read(spec.initContainers, true)];
}

/**
 * Exposure and current vulnerabilities of every workload in `objects`, the Kubernetes
 * objects of a cluster as plain JSON (any order; kinds it does not read are skipped).
 * The controller calls it with its informers' contents, the CLI with a directory's.
 */
export function exposureFromObjects(objects: readonly unknown[]): ExposureInventory {
  const o = sortObjects(objects);
  addIngressPaths(o);
  addGatewayPaths(o);
  const servicesByNamespace = new Map<string, ServiceEntry[]>();
  for (const s of o.services.values()) {
    const list = servicesByNamespace.get(s.namespace);
    if (list) list.push(s);
    else servicesByNamespace.set(s.namespace, [s]);
  }

  const warnings: string[] = [];
  const workloads = new Map<string, WorkloadExposure>();
  for (const { object, meta } of o.workloads) {
    const view = workloadView(object as Parameters<typeof workloadView>[0]);
    if (!view) continue;
    const byVia = new Map<string, ExposurePath>();
    for (const service of servicesByNamespace.get(view.namespace) ?? []) {
      if (!isSubset(service.selector, view.podLabels)) continue;
      for (const path of service.paths) byVia.set(path.via, path);
    }
    const identity = `${view.kind} ${at(view.namespace, view.name)}`;
    const override = meta.annotations[INTERNET_FACING_ANNOTATION];
    if (override === 'true') {
      const via = `annotation ${INTERNET_FACING_ANNOTATION}: "true" on ${identity}`;
      byVia.set(via, { kind: 'Annotation', via });
    } else if (override !== undefined && override !== 'false') {
      warnings.push(
        `${identity}: annotation ${INTERNET_FACING_ANNOTATION} is ${JSON.stringify(override)}, not "true" or "false"; it is ignored`,
      );
    }
    const exposure = [...byVia.values()].sort((a, b) => compareText(a.via, b.via));
    const internetFacing = override === 'true' || (override !== 'false' && exposure.length > 0);
    workloads.set(workloadKey(view), {
      kind: view.kind,
      namespace: view.namespace,
      name: view.name,
      internetFacing,
      exposure,
      images: containerImages(podSpec(object, view.kind)),
      findings: [],
    });
  }

  const { findings, ignored } = currentFindings(o.reports, workloads, {
    replicaSets: o.replicaSets,
    pods: o.pods,
  });
  const byVulnerability = new Map<string, Map<string, VulnerabilityFinding[]>>();
  for (const key of [...findings.keys()].sort(compareText)) {
    const list = findings.get(key)!;
    workloads.get(key)!.findings = list;
    // The list is sorted by id, so each id's findings are one run.
    for (let start = 0; start < list.length;) {
      const id = list[start]!.vulnerabilityID;
      let end = start + 1;
      while (end < list.length && list[end]!.vulnerabilityID === id) end++;
      let byWorkload = byVulnerability.get(id);
      if (!byWorkload) byVulnerability.set(id, (byWorkload = new Map()));
      byWorkload.set(key, list.slice(start, end));
      start = end;
    }
  }
  return {
    workloads,
    byVulnerability,
    reports: o.reports.length,
    ignoredReports: ignored,
    warnings,
  };
}
