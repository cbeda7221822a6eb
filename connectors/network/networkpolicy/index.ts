/**
 * network:networkpolicy: EgressDeny and Isolate as Kubernetes NetworkPolicies
 * (networking.k8s.io/v1), which every CNI that enforces policy understands. Isolate (one
 * ingress policy per vulnerable workload) is in isolate.ts, with its contract and limits;
 * this file holds EgressDeny and the renderer that serves both types.
 *
 * EgressDeny: NetworkPolicy has no deny rule, so the deny is written as an allow with
 * holes: one object per namespace in scope.namespaces (none when it is empty), selecting
 * the pods of scope.workloadSelector (empty: every pod), with policyTypes [Egress] and
 * one egress rule allowing
 *   - 0.0.0.0/0 except the blocked IPv4 CIDRs,
 *   - ::/0 except the blocked IPv6 CIDRs,
 *   - every pod in every namespace (`namespaceSelector: {}`), so the selected pods keep
 *     reaching cluster services and cluster DNS whatever the CNI does with pod IPs in
 *     ipBlocks.
 *
 * Limits of the approach, which are why network:cilium, network:calico and
 * network:clusternetworkpolicy exist:
 *   - NetworkPolicies are additive. Any other policy that selects the same pods and
 *     allows egress (an "allow all egress" policy, a policy allowing 0.0.0.0/0, an
 *     allow to one of the blocked addresses) widens egress again, and the block no
 *     longer holds for those destinations. Forestall cannot see or prevent that.
 *   - Selecting a pod for Egress puts it in egress default-deny for everything this
 *     policy (and others) do not allow; here that is only the blocked addresses, but it
 *     is a change of mode for pods that had no egress policy before.
 *   - It cannot shard: a second object allowing 0.0.0.0/0 with other exceptions would
 *     allow what the first one blocks. So one object must hold every CIDR, and
 *     validate() refuses a list whose object would pass the size budget.
 *   - `except` entries must be strict subsets of the ipBlock's cidr, so a request that
 *     covers all of 0.0.0.0/0 or ::/0 cannot be expressed and is refused.
 */
import { defineRenderer, oversizeProblems } from '../../core/define-renderer.js';
import { objectName, type ObjectDraft, type RendererLimits } from '../../core/render.js';
import { plainSelector } from '../../core/selectors.js';
import type { Renderer } from '../../core/types.js';
import { checkCidrRequest, type AggregatedCidrs } from '../cidrs.js';
import { ISOLATE_PARAMS, checkIsolateRequest, isolateAnnotations, isolateSpec } from './isolate.js';
import type { ActionRequest } from '../../../crds/index.js';

export const NETWORKPOLICY_ID = 'network:networkpolicy';
const API_VERSION = 'networking.k8s.io/v1';
const KIND = 'NetworkPolicy';

const NO_CIDRS: AggregatedCidrs = { ipv4: [], ipv6: [], problems: [] };

export function createNetworkPolicyRenderer(limits: RendererLimits = {}): Renderer {
  return defineRenderer(
    {
      info: {
        id: NETWORKPOLICY_ID,
        layer: 'network',
        supports: ['EgressDeny', 'Isolate'],
        description:
          'Kubernetes NetworkPolicies: EgressDeny allows all egress except the blocked CIDRs, one per namespace; Isolate allows a workload ingress only from its namespace ' +
          'and listed namespaces (additive: other allow policies on the same pods widen both).',
        params: ISOLATE_PARAMS,
        example: {
          type: 'Isolate',
          params: { allowSameNamespace: false, allowNamespaces: ['monitoring'] },
        },
        kinds: [{ apiVersion: API_VERSION, kind: KIND, namespaced: true }],
      },
      check: (renderer, request, maxObjectBytes) =>
        request.type === 'Isolate'
          ? { problems: checkIsolateRequest(renderer, request), cidrs: NO_CIDRS }
          : checkEgressDeny(renderer, request, maxObjectBytes),
      drafts: (request, { cidrs }) =>
        request.type === 'Isolate' ? isolateDrafts(request) : egressDenyDrafts(request, cidrs),
    },
    limits,
  );
}

function egressDenySpec(request: ActionRequest, cidrs: AggregatedCidrs): Record<string, unknown> {
  return {
    podSelector: plainSelector(request.scope.workloadSelector),
    policyTypes: ['Egress'],
    egress: [
      {
        to: [
          {
            ipBlock: {
              cidr: '0.0.0.0/0',
              ...(cidrs.ipv4.length > 0 ? { except: cidrs.ipv4 } : {}),
            },
          },
          { ipBlock: { cidr: '::/0', ...(cidrs.ipv6.length > 0 ? { except: cidrs.ipv6 } : {}) } },
          { namespaceSelector: {} },
        ],
      },
    ],
  };
}

function checkEgressDeny(
  renderer: Renderer,
  request: ActionRequest,
  maxObjectBytes: number,
): { problems: string[]; cidrs: AggregatedCidrs } {
  const { problems, cidrs } = checkCidrRequest(renderer, request);
  const count = cidrs.ipv4.length + cidrs.ipv6.length;
  if (problems.length === 0 && count > 0) {
    problems.push(
      ...oversizeProblems({ spec: egressDenySpec(request, cidrs) }, maxObjectBytes, {
        subject: 'the NetworkPolicy',
        counted: `${count} CIDRs`,
        advice:
          'NetworkPolicies cannot be split (a second policy would allow what the first blocks), so use network:cilium or network:calico, which shard large lists',
      }),
    );
  }
  return { problems, cidrs };
}

/** One object per namespace in scope, all alike. */
function egressDenyDrafts(request: ActionRequest, cidrs: AggregatedCidrs): ObjectDraft[] {
  // Nothing to block, or no namespace in scope: no object, so that an action whose
  // values (or namespaces) all went away lifts cleanly.
  if (cidrs.ipv4.length + cidrs.ipv6.length === 0) return [];
  const body = { spec: egressDenySpec(request, cidrs) };
  const name = objectName(`forestall-${request.name}`);
  return request.scope.namespaces.map((namespace) => ({
    apiVersion: API_VERSION,
    kind: KIND,
    name,
    namespace,
    body,
  }));
}

function isolateDrafts(request: ActionRequest): ObjectDraft[] {
  // Every CVE patched: no object, so applying the action lifts the isolation.
  if (request.values.length === 0) return [];
  return [
    {
      apiVersion: API_VERSION,
      kind: KIND,
      name: objectName(`forestall-${request.name}`),
      namespace: request.targets![0]!.namespace!,
      annotations: isolateAnnotations(request),
      body: { spec: isolateSpec(request) },
    },
  ];
}

export const networkPolicyRenderer = createNetworkPolicyRenderer();
