/**
 * dns:coredns: DNSBlock as a ConfigMap that the cluster's CoreDNS reads. No network
 * policy API can deny a domain, so the block happens where pods resolve names.
 *
 * The ConfigMap `forestall-dnsblock-<action>` (namespace params.namespace, default
 * kube-system) has two keys:
 *
 *   `<configmap>.override`: a Corefile snippet for the `coredns-custom` pattern (AKS, k3s
 *   and others import `/etc/coredns/custom/*.override` inside the `.:53 { }` server
 *   block). It is made of `template` plugin blocks,
 *
 *       template ANY ANY evil.example bad.example {
 *           rcode NXDOMAIN
 *       }
 *
 *   The ZONE arguments of `template` scope it to those zones, so each listed domain and
 *   every name under it gets NXDOMAIN, for every class and type; queries for anything
 *   else go on to the next plugin. `template` runs before `hosts`, `kubernetes` and
 *   `forward` in CoreDNS's plugin order, so the block wins over upstream answers.
 *
 *   `<configmap>.hosts` (unless params.hostsFile is false): the same names in hosts-file
 *   format (`0.0.0.0 name` and `:: name`), for the `hosts` plugin:
 *   `hosts /etc/coredns/custom/<configmap>.hosts { fallthrough }`. The hosts plugin
 *   answers only the exact names listed (no subdomains), but re-reads its file by itself,
 *   while a change to an imported snippet waits for CoreDNS to reload its Corefile.
 *
 * Mounting: add the ConfigMap as a volume of the CoreDNS Deployment at
 * /etc/coredns/custom (or as a source of a projected volume there, next to
 * coredns-custom), and `import /etc/coredns/custom/*.override` inside `.:53 { }` if the
 * Corefile does not have it yet. connectors/README.md shows the full change.
 *
 * One ConfigMap per action, never sharded: CoreDNS reads what is mounted, and a list
 * over the size budget is refused by validate().
 */
import { checkNamespaceParam, checkRequest } from '../../core/checks.js';
import { paramValue } from '../../core/params.js';
import {
  MAX_OBJECT_BYTES,
  assertWithinBudget,
  invalidRequest,
  manifestBytes,
  objectName,
  synthesize,
  type RendererLimits,
} from '../../core/render.js';
import type { Manifest, ParamSpec, Renderer } from '../../core/types.js';
import { normaliseDomains } from '../domains.js';
import type { ActionRequest } from '../../../crds/index.js';

export const COREDNS_ID = 'dns:coredns';
const METADATA_ALLOWANCE = 4096;
/** Zones per `template` block: keeps the lines of the snippet readable. */
const ZONES_PER_TEMPLATE = 32;
/** ConfigMap name length that leaves room for the `.override` key suffix within 253 characters. */
const NAME_MAX = 240;

const NAMESPACE: ParamSpec & { default: string } = {
  name: 'namespace',
  type: 'string',
  default: 'kube-system',
  description: 'Namespace of the ConfigMap: the namespace CoreDNS runs in.',
};
const HOSTS_FILE: ParamSpec & { default: boolean } = {
  name: 'hostsFile',
  type: 'boolean',
  default: true,
  description: 'Also write the names in hosts-file format for the hosts plugin (exact names only).',
};

/** The Corefile snippet: NXDOMAIN for each domain and everything under it. */
export function corefileSnippet(actionName: string, domains: readonly string[]): string {
  const lines = [
    `# Forestall DNSBlock ${actionName}: NXDOMAIN for ${domains.length} domains and every name under them.`,
  ];
  for (let i = 0; i < domains.length; i += ZONES_PER_TEMPLATE) {
    lines.push(
      `template ANY ANY ${domains.slice(i, i + ZONES_PER_TEMPLATE).join(' ')} {`,
      '    rcode NXDOMAIN',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Hosts-file lines: every name to the unspecified address of both families. */
export function hostsFile(actionName: string, domains: readonly string[]): string {
  const lines = [
    `# Forestall DNSBlock ${actionName}: exact names only (the hosts plugin does not match subdomains).`,
  ];
  for (const domain of domains) lines.push(`0.0.0.0 ${domain}`, `:: ${domain}`);
  return `${lines.join('\n')}\n`;
}

export function createCorednsRenderer(limits: RendererLimits = {}): Renderer {
  const maxObjectBytes = limits.maxObjectBytes ?? MAX_OBJECT_BYTES;

  function data(
    request: ActionRequest,
    name: string,
    domains: readonly string[],
  ): Record<string, string> {
    return {
      [`${name}.override`]: corefileSnippet(request.name, domains),
      ...(paramValue(request.params, HOSTS_FILE)
        ? { [`${name}.hosts`]: hostsFile(request.name, domains) }
        : {}),
    };
  }

  function check(request: ActionRequest) {
    const problems = checkRequest(renderer, request);
    problems.push(...checkNamespaceParam(request.params.namespace, 'params.namespace'));
    const { domains, problems: domainProblems } = normaliseDomains(request.values);
    problems.push(...domainProblems);
    const name = objectName(`forestall-dnsblock-${request.name}`, undefined, NAME_MAX);
    if (problems.length === 0 && domains.length > 0) {
      const bytes = manifestBytes({ data: data(request, name, domains) }) + METADATA_ALLOWANCE;
      if (bytes > maxObjectBytes) {
        problems.push(
          `the CoreDNS ConfigMap would be about ${Math.ceil(bytes / 1024)} KiB for ${domains.length} domains, over the ${Math.floor(maxObjectBytes / 1024)} KiB budget of one object; ` +
            'set params.hostsFile to false to halve it, or split the domains over several policies',
        );
      }
    }
    return { problems, domains, name };
  }

  const renderer: Renderer = {
    id: COREDNS_ID,
    layer: 'dns',
    supports: ['DNSBlock'],
    description:
      'ConfigMap with a CoreDNS template snippet (NXDOMAIN for each domain and its subdomains) and a hosts-format list, for the coredns-custom import.',
    params: [NAMESPACE, HOSTS_FILE],
    example: { type: 'DNSBlock', params: { namespace: 'kube-system', hostsFile: true } },
    kinds: [{ apiVersion: 'v1', kind: 'ConfigMap', namespaced: true }],
    validate: (request) => check(request).problems,
    render(request): Manifest[] {
      const { problems, domains, name } = check(request);
      if (problems.length > 0) throw invalidRequest(COREDNS_ID, request.name, problems);
      if (domains.length === 0) return [];
      const manifests = synthesize(request, [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name,
          namespace: paramValue(request.params, NAMESPACE),
          body: { data: data(request, name, domains) },
        },
      ]);
      for (const manifest of manifests) assertWithinBudget(manifest, maxObjectBytes);
      return manifests;
    },
  };
  return renderer;
}

export const corednsRenderer = createCorednsRenderer();
