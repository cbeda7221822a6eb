/**
 * The shape the set-based network connectors share (Calico, Cilium, ClusterNetworkPolicy):
 * EgressDeny only, the request's addresses aggregated to a minimal CIDR cover
 * (checkCidrRequest), and objects only when there is at least one CIDR to deny.
 */
import { checkRequest } from '../core/checks.js';
import { defineRenderer } from '../core/define-renderer.js';
import type { ObjectDraft, RendererLimits } from '../core/render.js';
import type { Renderer } from '../core/types.js';
import { checkCidrRequest } from './cidrs.js';
import type { ActionRequest } from '../../crds/index.js';

export interface EgressDenyParts {
  info: Omit<Renderer, 'validate' | 'render' | 'layer' | 'supports'>;
  /** Problems of the connector's own params, beyond the checks every connector makes. */
  paramProblems?(request: ActionRequest): string[];
  /** The objects denying `cidrs` (IPv4 first, then IPv6; never empty). */
  drafts(request: ActionRequest, cidrs: readonly string[], maxObjectBytes: number): ObjectDraft[];
}

export function defineEgressDenyRenderer(
  parts: EgressDenyParts,
  limits: RendererLimits = {},
): Renderer {
  return defineRenderer(
    {
      info: { ...parts.info, layer: 'network', supports: ['EgressDeny'] },
      check: (renderer, request) =>
        checkCidrRequest(renderer, request, [
          ...checkRequest(renderer, request),
          ...(parts.paramProblems?.(request) ?? []),
        ]),
      drafts(request, { cidrs }, maxObjectBytes) {
        const all = [...cidrs.ipv4, ...cidrs.ipv6];
        return all.length === 0 ? [] : parts.drafts(request, all, maxObjectBytes);
      },
    },
    limits,
  );
}
