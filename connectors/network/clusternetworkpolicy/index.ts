/**
 * network:clusternetworkpolicy: EgressDeny as ClusterNetworkPolicy objects
 * (policy.networking.k8s.io/v1alpha2, sigs.k8s.io/network-policy-api, the successor of
 * AdminNetworkPolicy and BaselineAdminNetworkPolicy).
 *
 * Each object has `tier` (params.tier: Admin, the default, is evaluated before every
 * NetworkPolicy and cannot be overridden by one; Baseline is evaluated after them),
 * `priority` (params.priority, 0..1000, lower first; default 10), a `subject` built from
 * the scope (namespaces selector, or pods {namespaceSelector, podSelector} when a
 * workload selector is given), and egress rules with action Deny whose `to` peers list
 * the blocked CIDRs under `networks`.
 *
 * Sharding follows the API's validation limits (clusternetworkpolicy_types.go, v1alpha2):
 * `networks` holds at most 25 CIDRs per peer, a rule's `to` at most 25 peers, and
 * `egress` at most 25 rules per object, so one object carries at most 15,625 CIDRs; and
 * no object may pass the size budget (MAX_OBJECT_BYTES). A longer list becomes several
 * objects with the same tier and priority, which is equivalent because every rule is a
 * Deny: the order between them cannot change the outcome.
 *
 * The API's own warning applies: a `networks` peer also matches in-cluster traffic, so a
 * blocked range that contains pod or service addresses cuts cluster traffic. The
 * guardrails keep cluster ranges out of the indicators before they get here.
 */
import { defineEgressDenyRenderer } from '../egress-renderer.js';
import { paramValue } from '../../core/params.js';
import { objectName, type ObjectDraft, type RendererLimits } from '../../core/render.js';
import { plainSelector, requirements } from '../../core/selectors.js';
import type { ParamSpec, Renderer } from '../../core/types.js';
import { chunk, jsonStringCost } from '../cidrs.js';
import type { ActionRequest } from '../../../crds/index.js';

export const CLUSTERNETWORKPOLICY_ID = 'network:clusternetworkpolicy';
const API_VERSION = 'policy.networking.k8s.io/v1alpha2';
const KIND = 'ClusterNetworkPolicy';

/** Upstream MaxItems of `networks` (per peer), `to` (per rule) and `egress` (per object). */
export const CNP_LIMITS = { cidrsPerPeer: 25, peersPerRule: 25, rulesPerObject: 25 } as const;

/** Room for metadata and subject when the CIDRs of one object are counted against the budget. */
const OBJECT_OVERHEAD = 8192;
/** Bytes a CIDR costs beyond its quoted string: its share of the peer and rule wrappers. */
const WRAPPER_COST_PER_CIDR = 2;

const TIER: ParamSpec & { default: string } = {
  name: 'tier',
  type: 'string',
  enum: ['Admin', 'Baseline'],
  default: 'Admin',
  description:
    'Admin: evaluated before NetworkPolicies, which cannot override it. Baseline: evaluated after them, as a default.',
};
const PRIORITY: ParamSpec & { default: number } = {
  name: 'priority',
  type: 'integer',
  minimum: 0,
  maximum: 1000,
  default: 10,
  description: 'Precedence within the tier, 0..1000; lower is evaluated first.',
};

export function createClusterNetworkPolicyRenderer(limits: RendererLimits = {}): Renderer {
  return defineEgressDenyRenderer(
    {
      info: {
        id: CLUSTERNETWORKPOLICY_ID,
        description:
          'ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) Deny rules, sharded at 25 CIDRs per peer, 25 peers per rule and 25 rules per object.',
        params: [TIER, PRIORITY],
        example: { type: 'EgressDeny', params: { tier: 'Admin', priority: 10 } },
        kinds: [{ apiVersion: API_VERSION, kind: KIND, namespaced: false }],
      },
      drafts: policyDrafts,
    },
    limits,
  );
}

/** The CIDRs as Deny rules, in as many objects as the upstream limits and the budget need. */
function policyDrafts(
  request: ActionRequest,
  all: readonly string[],
  maxObjectBytes: number,
): ObjectDraft[] {
  const tier = paramValue(request.params, TIER);
  const priority = paramValue(request.params, PRIORITY);
  const subject = subjectOf(request);
  const perObject = chunk(all, {
    maxItems: CNP_LIMITS.cidrsPerPeer * CNP_LIMITS.peersPerRule * CNP_LIMITS.rulesPerObject,
    maxBytes: maxObjectBytes - OBJECT_OVERHEAD,
    cost: (cidr) => jsonStringCost(cidr) + WRAPPER_COST_PER_CIDR,
    balanced: true,
  });
  const base = `forestall-${request.name}`;
  return perObject.map((objectCidrs, index) => {
    const peers = chunk(objectCidrs, { maxItems: CNP_LIMITS.cidrsPerPeer }).map((networks) => ({
      networks,
    }));
    const egress = chunk(peers, { maxItems: CNP_LIMITS.peersPerRule }).map((to, rule) => ({
      name: `forestall-deny-${rule}`,
      action: 'Deny',
      to,
    }));
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      name: objectName(base, String(index)),
      body: { spec: { tier, priority, subject, egress } },
    };
  });
}

/** Whose egress is cut: every pod of the selected namespaces, or the selected pods in them. */
function subjectOf(request: ActionRequest): Record<string, unknown> {
  const namespaces = plainSelector(request.scope.namespaceSelector);
  if (requirements(request.scope.workloadSelector).length === 0) return { namespaces };
  return {
    pods: {
      namespaceSelector: namespaces,
      podSelector: plainSelector(request.scope.workloadSelector),
    },
  };
}

export const clusterNetworkPolicyRenderer = createClusterNetworkPolicyRenderer();
