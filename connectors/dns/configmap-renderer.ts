/**
 * The shape both DNS connectors share: DNSBlock (layer dns) as one ConfigMap per action, in the
 * namespace params.namespace names, holding the blocklist in the resolver's own format.
 * Never sharded (the resolver reads what is mounted), so a list whose ConfigMap would pass
 * the size budget is refused by validate().
 */
import { checkNamespaceParam, checkRequest } from '../core/checks.js';
import { defineRenderer, oversizeProblems } from '../core/define-renderer.js';
import { paramValue } from '../core/params.js';
import type { RendererLimits } from '../core/render.js';
import type { ParamSpec, Renderer } from '../core/types.js';
import { normaliseDomains } from './domains.js';
import type { ActionRequest } from '../../crds/index.js';

export interface DnsConfigMapParts {
  info: Omit<Renderer, 'validate' | 'render' | 'kinds' | 'layer' | 'supports'>;
  /** The param naming the ConfigMap's namespace; one of info.params. */
  namespace: ParamSpec & { default: string };
  name(request: ActionRequest): string;
  /** The ConfigMap's data for a valid request with at least one domain. */
  data(request: ActionRequest, name: string, domains: readonly string[]): Record<string, string>;
  /** How the refusal of a list too large for one object reads. */
  oversize: { subject: string; advice: string };
}

export function defineDnsConfigMapRenderer(
  parts: DnsConfigMapParts,
  limits: RendererLimits = {},
): Renderer {
  return defineRenderer(
    {
      info: {
        ...parts.info,
        layer: 'dns',
        supports: ['DNSBlock'],
        kinds: [{ apiVersion: 'v1', kind: 'ConfigMap', namespaced: true }],
      },
      check(renderer, request, maxObjectBytes) {
        const problems = checkRequest(renderer, request);
        problems.push(...checkNamespaceParam(request.params.namespace, 'params.namespace'));
        const { domains, problems: domainProblems } = normaliseDomains(request.values);
        problems.push(...domainProblems);
        const name = parts.name(request);
        let data: Record<string, string> = {};
        if (problems.length === 0 && domains.length > 0) {
          data = parts.data(request, name, domains);
          problems.push(
            ...oversizeProblems({ data }, maxObjectBytes, {
              ...parts.oversize,
              counted: `${domains.length} domains`,
            }),
          );
        }
        return { problems, domains, name, data };
      },
      drafts: (request, { domains, name, data }) =>
        domains.length === 0
          ? []
          : [
              {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                name,
                namespace: paramValue(request.params, parts.namespace),
                body: { data },
              },
            ],
    },
    limits,
  );
}
