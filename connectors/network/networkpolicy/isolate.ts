/**
 * network:networkpolicy, action type Isolate: cut a vulnerable workload off from ingress
 * it does not need while a CVE it runs is exploitable, keeping the in-cluster traffic
 * the policy template allows.
 *
 * The request names exactly one target workload (targets[0], with its namespace) and its
 * pods (scope.workloadSelector, the pod template labels). The render is ONE NetworkPolicy
 * in the target's namespace that selects those pods, has policyTypes [Ingress], and one
 * ingress rule whose peers are
 *   - every pod of the same namespace (`podSelector: {}`), when allowSameNamespace (default
 *     true);
 *   - every pod of the namespaces in allowNamespaces (default none), selected by the
 *     `kubernetes.io/metadata.name` label the API server sets on every namespace.
 * With neither, the policy has no ingress rule at all: every ingress to the pods is
 * denied. Nothing else is allowed, so traffic from outside the cluster (LoadBalancer and
 * NodePort Services, external IPs) and from ingress controllers and gateways in other
 * namespaces is cut off. That is the point: an ingress controller or a Gateway in another
 * namespace is an internet path, and it is cut unless its namespace is listed, which
 * reopens the path.
 *
 * Limits (stated in connectors/README.md too):
 *   - NetworkPolicies are additive. Another policy that selects the same pods and allows
 *     ingress (from 0.0.0.0/0, from everything, from the ingress controller) widens the
 *     isolation again; Forestall cannot see or prevent that. A policy that already
 *     selected the pods keeps allowing what it allows (that is the widening); pods that
 *     had no ingress policy move into ingress default-deny for everything not allowed.
 *   - Egress is untouched: an exploited pod can still connect out. Pair Isolate with an
 *     EgressDeny, or with a default-deny egress policy, where that matters.
 *   - A gateway or ingress controller in the workload's own namespace is a pod of the
 *     same namespace: set allowSameNamespace false for such namespaces.
 *   - CNIs always allow traffic from the pod's own node (kubelet probes keep working).
 *     External traffic that kube-proxy SNATs to the address of the node the pod runs on
 *     (NodePort or LoadBalancer with externalTrafficPolicy Cluster, hostNetwork ingress
 *     controllers) can therefore still arrive on that node; traffic through other nodes is
 *     cut.
 *   - It needs a CNI that enforces NetworkPolicy; on one that does not, the object is
 *     accepted and changes nothing.
 *
 * An empty workload selector would select every pod in the namespace, so a request must
 * select by at least one label value: isolating a whole namespace by accident is refused,
 * not rendered. An Isolate with no values (every CVE patched) renders nothing, so applying
 * it lifts the isolation.
 */
import { checkRequest } from '../../core/checks.js';
import { paramList, paramValue } from '../../core/params.js';
import { plainSelector, requirements } from '../../core/selectors.js';
import {
  ANNOTATION_CVES,
  ANNOTATION_TARGET,
  type ParamSpec,
  type Renderer,
} from '../../core/types.js';
import type { ActionRequest, ObjectRef } from '../../../crds/index.js';

export const ALLOW_SAME_NAMESPACE: ParamSpec & { default: boolean } = {
  name: 'allowSameNamespace',
  type: 'boolean',
  default: true,
  actions: ['Isolate'],
  description:
    "Isolate: keep ingress from every pod of the workload's own namespace. Set false where a gateway or ingress controller runs in that namespace.",
};

export const ALLOW_NAMESPACES: ParamSpec & { default: readonly string[] } = {
  name: 'allowNamespaces',
  type: 'stringList',
  format: 'namespace',
  maxItems: 100,
  default: [],
  actions: ['Isolate'],
  description:
    'Isolate: namespaces whose pods keep ingress to the workload, for example monitoring. Listing the namespace of an ingress controller or gateway reopens the path from outside.',
};

export const ISOLATE_PARAMS: readonly ParamSpec[] = [ALLOW_SAME_NAMESPACE, ALLOW_NAMESPACES];

/** The label the API server sets on every namespace (GA since Kubernetes 1.22). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Workload kinds an Isolate may target, with their apiVersion. */
const WORKLOAD_KINDS: Readonly<Record<string, string>> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  Pod: 'v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

const CVE_ID = /^CVE-\d{4}-\d{4,19}$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_LISTED_PROBLEMS = 5;
/** CVE IDs written into the annotation; the rest are counted. 20 IDs are about 300 characters, readable in `kubectl describe`. */
export const MAX_ANNOTATED_CVES = 20;

/** Problems with an Isolate request, as sentences naming the field. */
export function checkIsolateRequest(
  renderer: Pick<Renderer, 'id' | 'supports' | 'params'>,
  request: ActionRequest,
): string[] {
  const problems = checkRequest(renderer, request);
  const bad = request.values.flatMap((value, i) =>
    CVE_ID.test(value) ? [] : [`values[${i}] "${value}"`],
  );
  if (bad.length > 0) {
    const shown = bad.slice(0, MAX_LISTED_PROBLEMS).join(', ');
    const more =
      bad.length > MAX_LISTED_PROBLEMS ? ` and ${bad.length - MAX_LISTED_PROBLEMS} more` : '';
    problems.push(
      `${shown}${more} ${bad.length === 1 ? 'is not a CVE ID' : 'are not CVE IDs'} (CVE-YYYY-NNNN)`,
    );
  }
  const targets = request.targets ?? [];
  targets.forEach((target, i) => problems.push(...checkTarget(target, `targets[${i}]`)));
  // With no values nothing is rendered (the lift), so the target and selector do not matter.
  if (request.values.length === 0) return problems;
  if (targets.length !== 1) {
    problems.push(
      `targets must name exactly one workload for Isolate (one NetworkPolicy per workload), not ${targets.length}`,
    );
  }
  const namespace = targets.length === 1 ? targets[0]!.namespace : undefined;
  if (namespace !== undefined && request.scope.namespaces.some((ns) => ns !== namespace)) {
    problems.push(
      `scope.namespaces must be empty or only the target's namespace "${namespace}" (the NetworkPolicy goes there), not ${request.scope.namespaces.map((ns) => `"${ns}"`).join(', ')}`,
    );
  }
  if (!requirements(request.scope.workloadSelector).some((r) => r.operator === 'In')) {
    problems.push(
      "scope.workloadSelector must select the target's pods by at least one label value (matchLabels, or an In expression); " +
        'an empty or only negative selector would isolate every pod of the namespace, so it is refused',
    );
  }
  return problems;
}

function checkTarget(target: ObjectRef, path: string): string[] {
  const problems: string[] = [];
  const apiVersion = Object.hasOwn(WORKLOAD_KINDS, target.kind)
    ? WORKLOAD_KINDS[target.kind]
    : undefined;
  if (apiVersion === undefined) {
    problems.push(
      `${path}.kind must be a workload kind (${Object.keys(WORKLOAD_KINDS).join(', ')}), not "${target.kind}"`,
    );
  } else if (target.apiVersion !== apiVersion) {
    problems.push(
      `${path}.apiVersion must be ${apiVersion} for a ${target.kind}, not "${target.apiVersion}"`,
    );
  }
  if (target.namespace === undefined || target.namespace === '') {
    problems.push(
      `${path}.namespace is missing: Isolate writes its NetworkPolicy into the workload's namespace`,
    );
  } else if (target.namespace.length > 63 || !NAMESPACE_NAME.test(target.namespace)) {
    problems.push(`${path}.namespace is not a namespace name: "${target.namespace}"`);
  }
  if (target.name.length > 253 || !OBJECT_NAME.test(target.name))
    problems.push(`${path}.name is not a valid object name: "${target.name}"`);
  return problems;
}

/** The NetworkPolicy spec of a validated Isolate request. */
export function isolateSpec(request: ActionRequest): Record<string, unknown> {
  const from: Record<string, unknown>[] = [];
  if (paramValue(request.params, ALLOW_SAME_NAMESPACE)) from.push({ podSelector: {} });
  const namespaces = paramList(request.params, ALLOW_NAMESPACES);
  if (namespaces.length > 0) {
    from.push({
      namespaceSelector: {
        matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces }],
      },
    });
  }
  return {
    podSelector: plainSelector(request.scope.workloadSelector),
    policyTypes: ['Ingress'],
    // No rule at all, rather than `ingress: []`: the API server drops an empty list, and the
    // live object would then never look like the render.
    ...(from.length > 0 ? { ingress: [{ from }] } : {}),
  };
}

/** The annotations of a validated Isolate request: the CVEs (the first MAX_ANNOTATED_CVES, then a count) and the target. */
export function isolateAnnotations(request: ActionRequest): Record<string, string> {
  const cves = [...new Set(request.values)].sort(compareCves);
  const listed = cves.slice(0, MAX_ANNOTATED_CVES).join(',');
  const target = request.targets![0]!;
  return {
    [ANNOTATION_CVES]:
      cves.length > MAX_ANNOTATED_CVES
        ? `${listed} (+${cves.length - MAX_ANNOTATED_CVES} more)`
        : listed,
    [ANNOTATION_TARGET]: `${target.kind}/${target.name}`,
  };
}

/** By year, then by number (CVE-2024-9999 before CVE-2024-10000). */
function compareCves(a: string, b: string): number {
  const [, ya = '', na = ''] = a.split('-');
  const [, yb = '', nb = ''] = b.split('-');
  return ya.localeCompare(yb) || na.length - nb.length || na.localeCompare(nb);
}
