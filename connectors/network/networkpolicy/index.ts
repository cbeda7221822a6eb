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
import {
  MAX_OBJECT_BYTES,
  assertWithinBudget,
  invalidRequest,
  manifestBytes,
  objectName,
  synthesize,
  type RendererLimits,
} from '../../core/render.js';
import { plainSelector } from '../../core/selectors.js';
import type { Manifest, Renderer } from '../../core/types.js';
import { checkCidrRequest, type AggregatedCidrs } from '../cidrs.js';
import { ISOLATE_PARAMS, checkIsolateRequest, isolateAnnotations, isolateSpec } from './isolate.js';
import type { ActionRequest } from '../../../crds/index.js';

export const NETWORKPOLICY_ID = 'network:networkpolicy';
const API_VERSION = 'networking.k8s.io/v1';
const KIND = 'NetworkPolicy';

/** Room kept for metadata (names, labels, annotations) when the size of the spec is checked. */
const METADATA_ALLOWANCE = 4096;

export function createNetworkPolicyRenderer(limits: RendererLimits = {}): Renderer {
  const maxObjectBytes = limits.maxObjectBytes ?? MAX_OBJECT_BYTES;

  function spec(request: ActionRequest, cidrs: AggregatedCidrs): Record<string, unknown> {
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

  function check(request: ActionRequest): { problems: string[]; cidrs: AggregatedCidrs } {
    const { problems, cidrs } = checkCidrRequest(renderer, request);
    if (problems.length === 0 && cidrs.ipv4.length + cidrs.ipv6.length > 0) {
      const bytes = manifestBytes({ spec: spec(request, cidrs) }) + METADATA_ALLOWANCE;
      if (bytes > maxObjectBytes) {
        problems.push(
          `the NetworkPolicy would be about ${Math.ceil(bytes / 1024)} KiB for ${cidrs.ipv4.length + cidrs.ipv6.length} CIDRs, over the ${Math.floor(maxObjectBytes / 1024)} KiB budget of one object; ` +
            'NetworkPolicies cannot be split (a second policy would allow what the first blocks), so use network:cilium or network:calico, which shard large lists',
        );
      }
    }
    return { problems, cidrs };
  }

  function renderIsolate(request: ActionRequest): Manifest[] {
    const problems = checkIsolateRequest(renderer, request);
    if (problems.length > 0) throw invalidRequest(NETWORKPOLICY_ID, request.name, problems);
    // Every CVE patched: no object, so applying the action lifts the isolation.
    if (request.values.length === 0) return [];
    const namespace = request.targets![0]!.namespace!;
    const [manifest] = synthesize(request, [
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: objectName(`forestall-${request.name}`),
        namespace,
        annotations: isolateAnnotations(request),
        body: { spec: isolateSpec(request) },
      },
    ]);
    assertWithinBudget(manifest!, maxObjectBytes);
    return [manifest!];
  }

  const renderer: Renderer = {
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
    validate: (request) =>
      request.type === 'Isolate' ? checkIsolateRequest(renderer, request) : check(request).problems,
    render(request): Manifest[] {
      if (request.type === 'Isolate') return renderIsolate(request);
      const { problems, cidrs } = check(request);
      if (problems.length > 0) throw invalidRequest(NETWORKPOLICY_ID, request.name, problems);
      // Nothing to block, or no namespace in scope: no object, so that an action whose
      // values (or namespaces) all went away lifts cleanly.
      if (cidrs.ipv4.length + cidrs.ipv6.length === 0 || request.scope.namespaces.length === 0)
        return [];
      const body = { spec: spec(request, cidrs) };
      const name = objectName(`forestall-${request.name}`);
      const manifests = synthesize(
        request,
        request.scope.namespaces.map((namespace) => ({
          apiVersion: API_VERSION,
          kind: KIND,
          name,
          namespace,
          body,
        })),
      );
      for (const manifest of manifests) assertWithinBudget(manifest, maxObjectBytes);
      return manifests;
    },
  };
  return renderer;
}

export const networkPolicyRenderer = createNetworkPolicyRenderer();
