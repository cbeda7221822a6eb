/**
 * network:cilium: EgressDeny as CiliumCIDRGroup objects (cilium.io/v2alpha1) holding the
 * blocked CIDRs, and one CiliumClusterwideNetworkPolicy (cilium.io/v2) whose
 * `egressDeny` refers to every group with `toCIDRSet: [{cidrGroupRef}]`.
 *
 * Why this shape: a deny in Cilium wins over every allow, from any policy kind, so the
 * block holds whatever other policies select the same pods (unlike NetworkPolicy). The
 * CIDRs live in groups, not in the policy, so a large list is sharded into as many
 * groups as the size budget needs (CiliumCIDRGroup.spec.externalCIDRs has no item limit
 * upstream; only the object size binds), and the policy itself stays small.
 *
 * `enableDefaultDeny: {egress: false, ingress: false}` (Cilium 1.15+): without it, a
 * policy with egress rules switches the selected pods to egress default-deny, and a
 * deny-only policy would then cut all their egress. Older Cilium ignores the field, so
 * on those versions pair this with an allow-all egress policy.
 *
 * Pods are selected with `endpointSelector`: scope.workloadSelector's labels as they are
 * (Cilium matches plain keys against pod labels), and scope.namespaceSelector through the
 * labels Cilium puts on every endpoint: `k8s:io.kubernetes.pod.namespace` for the
 * namespace name (kubernetes.io/metadata.name), and
 * `k8s:io.cilium.k8s.namespace.labels.<key>` for any other namespace label.
 *
 * Capacity: each CIDR in a policy takes an entry in the BPF policy map of every selected
 * endpoint (bpf-policy-map-max, 16384 by default). Lists beyond a few thousand CIDRs need
 * that limit raised; aggregation already keeps the count as low as the list allows.
 */
import { defineEgressDenyRenderer } from '../egress-renderer.js';
import { objectName, type RendererLimits } from '../../core/render.js';
import { requirements } from '../../core/selectors.js';
import type { Renderer } from '../../core/types.js';
import { cidrSetDrafts } from '../cidrs.js';
import type { ActionRequest } from '../../../crds/index.js';

export const CILIUM_ID = 'network:cilium';
const GROUP_API_VERSION = 'cilium.io/v2alpha1';
const GROUP_KIND = 'CiliumCIDRGroup';
const POLICY_API_VERSION = 'cilium.io/v2';
const POLICY_KIND = 'CiliumClusterwideNetworkPolicy';

const GROUP = { apiVersion: GROUP_API_VERSION, kind: GROUP_KIND, field: 'externalCIDRs' };

export const NAMESPACE_NAME_LABEL = 'k8s:io.kubernetes.pod.namespace';
export const NAMESPACE_LABEL_PREFIX = 'k8s:io.cilium.k8s.namespace.labels.';

export function createCiliumRenderer(limits: RendererLimits = {}): Renderer {
  return defineEgressDenyRenderer(
    {
      info: {
        id: CILIUM_ID,
        description:
          'CiliumCIDRGroups (sharded by size) referenced by one CiliumClusterwideNetworkPolicy egressDeny; denies win over every allow.',
        params: [],
        example: { type: 'EgressDeny', params: {} },
        // Groups first: apply creates them before the policy refers to them, and remove deletes the policy first.
        kinds: [
          { apiVersion: GROUP_API_VERSION, kind: GROUP_KIND, namespaced: false },
          { apiVersion: POLICY_API_VERSION, kind: POLICY_KIND, namespaced: false },
        ],
      },
      drafts(request, all, maxObjectBytes) {
        const base = `forestall-${request.name}`;
        const groups = cidrSetDrafts(all, base, GROUP, maxObjectBytes);
        const policy = {
          apiVersion: POLICY_API_VERSION,
          kind: POLICY_KIND,
          name: objectName(base),
          body: {
            spec: {
              description: `Forestall action ${request.name}: deny egress to ${all.length} CIDRs in ${groups.length} CiliumCIDRGroups`,
              endpointSelector: endpointSelector(request),
              enableDefaultDeny: { egress: false, ingress: false },
              egressDeny: [{ toCIDRSet: groups.map((group) => ({ cidrGroupRef: group.name })) }],
            },
          },
        };
        return [...groups, policy];
      },
    },
    limits,
  );
}

/** The scope as one Cilium endpoint selector: pod labels as given, namespace labels through Cilium's endpoint labels. */
export function endpointSelector(request: ActionRequest): Record<string, unknown> {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: { key: string; operator: string; values?: string[] }[] = [];
  const add = (key: string, operator: string, values: string[]) => {
    if (operator === 'In' && values.length === 1 && matchLabels[key] === undefined)
      matchLabels[key] = values[0]!;
    else matchExpressions.push({ key, operator, ...(values.length > 0 ? { values } : {}) });
  };
  for (const r of requirements(request.scope.workloadSelector)) add(r.key, r.operator, r.values);
  for (const r of requirements(request.scope.namespaceSelector)) {
    add(
      r.key === 'kubernetes.io/metadata.name'
        ? NAMESPACE_NAME_LABEL
        : `${NAMESPACE_LABEL_PREFIX}${r.key}`,
      r.operator,
      r.values,
    );
  }
  return {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
}

export const ciliumRenderer = createCiliumRenderer();
