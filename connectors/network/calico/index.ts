/**
 * network:calico: EgressDeny as Calico GlobalNetworkSets (projectcalico.org/v3) holding
 * the blocked CIDRs, and one GlobalNetworkPolicy that denies egress to them.
 *
 * The sets carry the action's label (forestall.io/action), and the policy's first egress
 * rule is `action: Deny, destination: {selector: "forestall.io/action == '<action>'"}`,
 * so it covers however many sets the list was sharded into (GlobalNetworkSet.spec.nets
 * has no item limit upstream; only the object size binds).
 *
 * Tiers and order. Calico evaluates tiers in order, and within a tier the policies by
 * `order` (params.order, default 100; lower first). If a policy in a tier selects a pod
 * and no rule in that tier matches, the tier's end drops the packet. So the policy ends
 * with `action: Pass`: whatever is not blocked goes on to the next tier, where the
 * cluster's own Calico and Kubernetes NetworkPolicies decide as before.
 *
 * That only works outside the `default` tier: Kubernetes NetworkPolicies live in the
 * default tier (at order 1000), and a Pass there would skip them, while no final rule at
 * all would let the end of the tier drop all other egress. So the policy goes into its
 * own tier, params.tier (default `forestall`), which must exist: create it once with a
 * Tier object ordered before `default` (the README shows one). Policy names in a tier
 * other than default carry the tier's name as a prefix (`forestall.forestall-<action>`),
 * which older Calico requires and newer Calico accepts.
 *
 * Pods are chosen with `selector` (scope.workloadSelector as a Calico selector
 * expression; all() when absent) and `namespaceSelector` (scope.namespaceSelector over
 * namespace labels; all() when absent). Setting namespaceSelector keeps host endpoints
 * out: only workload endpoints (pods) are selected.
 */
import { defineEgressDenyRenderer } from '../egress-renderer.js';
import { paramValue } from '../../core/params.js';
import {
  labelValue,
  objectName,
  type ObjectDraft,
  type RendererLimits,
} from '../../core/render.js';
import { requirements } from '../../core/selectors.js';
import { type ParamSpec, type Renderer } from '../../core/types.js';
import { cidrSetDrafts } from '../cidrs.js';
import { type ActionRequest, LABEL_ACTION, type LabelSelector } from '../../../crds/index.js';

export const CALICO_ID = 'network:calico';
const API_VERSION = 'projectcalico.org/v3';
const SET_KIND = 'GlobalNetworkSet';
const POLICY_KIND = 'GlobalNetworkPolicy';
const SET = { apiVersion: API_VERSION, kind: SET_KIND, field: 'nets' };

const TIER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const TIER: ParamSpec & { default: string } = {
  name: 'tier',
  type: 'string',
  default: 'forestall',
  description:
    'The Calico tier of the policy; must exist, must not be "default" (a Pass there would skip the Kubernetes NetworkPolicies).',
};
const ORDER: ParamSpec & { default: number } = {
  name: 'order',
  type: 'number',
  minimum: 0,
  default: 100,
  description: 'Order of the policy within its tier; lower is evaluated first.',
};

export function createCalicoRenderer(limits: RendererLimits = {}): Renderer {
  return defineEgressDenyRenderer(
    {
      info: {
        id: CALICO_ID,
        description:
          'Calico GlobalNetworkSets (sharded by size) and a GlobalNetworkPolicy in its own tier: Deny to the sets, then Pass to the next tier.',
        params: [TIER, ORDER],
        example: { type: 'EgressDeny', params: { tier: 'forestall', order: 100 } },
        kinds: [
          { apiVersion: API_VERSION, kind: SET_KIND, namespaced: false },
          { apiVersion: API_VERSION, kind: POLICY_KIND, namespaced: false },
        ],
      },
      paramProblems: tierProblems,
      drafts(request, all, maxObjectBytes) {
        const base = `forestall-${request.name}`;
        const sets = cidrSetDrafts(all, base, SET, maxObjectBytes);
        return [...sets, policyDraft(request, base)];
      },
    },
    limits,
  );
}

/** A tier the policy can live in: its own, so that the final Pass skips nothing. */
function tierProblems(request: ActionRequest): string[] {
  const tier = request.params.tier;
  if (typeof tier !== 'string') return [];
  if (tier === 'default')
    return [
      'params.tier must not be "default": a final Pass there would skip the Kubernetes NetworkPolicies, and without one the end of the tier would drop all other egress; use a tier of its own',
    ];
  if (tier.length > 63 || !TIER_NAME.test(tier))
    return [`params.tier is not a valid tier name: "${tier}"`];
  return [];
}

/** The policy: Deny to every set of the action (by its label), then Pass to the next tier. */
function policyDraft(request: ActionRequest, base: string): ObjectDraft {
  const tier = paramValue(request.params, TIER);
  return {
    apiVersion: API_VERSION,
    kind: POLICY_KIND,
    name: `${tier}.${objectName(base, undefined, 253 - tier.length - 1)}`,
    body: {
      spec: {
        tier,
        order: paramValue(request.params, ORDER),
        selector: calicoSelector(request.scope.workloadSelector),
        namespaceSelector: calicoSelector(request.scope.namespaceSelector),
        types: ['Egress'],
        egress: [
          {
            action: 'Deny',
            destination: { selector: `${LABEL_ACTION} == '${labelValue(request.name)}'` },
          },
          { action: 'Pass' },
        ],
      },
    },
  };
}

/**
 * A Kubernetes label selector as a Calico selector expression: `k == 'v'`,
 * `k in {'a', 'b'}`, `k not in {...}`, `has(k)`, `!has(k)`, joined with &&; `all()` when
 * it selects everything. Keys and values were checked against the label syntax
 * (checkSelector), so they cannot contain quotes or braces.
 */
export function calicoSelector(selector: LabelSelector | undefined): string {
  const terms = requirements(selector).map(({ key, operator, values }) => {
    const set = `{${values.map((v) => `'${v}'`).join(', ')}}`;
    switch (operator) {
      case 'In':
        return values.length === 1 ? `${key} == '${values[0]}'` : `${key} in ${set}`;
      case 'NotIn':
        return `${key} not in ${set}`;
      case 'Exists':
        return `has(${key})`;
      case 'DoesNotExist':
        return `!has(${key})`;
    }
  });
  return terms.length > 0 ? terms.join(' && ') : 'all()';
}

export const calicoRenderer = createCalicoRenderer();
