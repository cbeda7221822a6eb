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
 *   answers only the exact names listed (no subdomains). The `reload` plugin's checksum
 *   covers imported snippets, so CoreDNS picks up a changed snippet by itself
 *   (test/e2e/dns-block).
 *
 * Mounting: add the ConfigMap as a volume of the CoreDNS Deployment at
 * /etc/coredns/custom (or as a source of a projected volume there, next to
 * coredns-custom), and `import /etc/coredns/custom/*.override` inside `.:53 { }` if the
 * Corefile does not have it yet. connectors/README.md shows the full change.
 *
 * One ConfigMap per action, never sharded: CoreDNS reads what is mounted, and a list
 * over the size budget is refused by validate().
 */
import { paramValue } from '../../core/params.js';
import { objectName, type RendererLimits } from '../../core/render.js';
import type { ParamSpec, Renderer } from '../../core/types.js';
import { defineDnsConfigMapRenderer } from '../configmap-renderer.js';

export const COREDNS_ID = 'dns:coredns';
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
  return defineDnsConfigMapRenderer(
    {
      info: {
        id: COREDNS_ID,
        description:
          'ConfigMap with a CoreDNS template snippet (NXDOMAIN for each domain and its subdomains) and a hosts-format list, for the coredns-custom import.',
        params: [NAMESPACE, HOSTS_FILE],
        example: { type: 'DNSBlock', params: { namespace: 'kube-system', hostsFile: true } },
      },
      namespace: NAMESPACE,
      name: (request) => objectName(`forestall-dnsblock-${request.name}`, undefined, NAME_MAX),
      data: (request, name, domains) => ({
        [`${name}.override`]: corefileSnippet(request.name, domains),
        ...(paramValue(request.params, HOSTS_FILE)
          ? { [`${name}.hosts`]: hostsFile(request.name, domains) }
          : {}),
      }),
      oversize: {
        subject: 'the CoreDNS ConfigMap',
        advice:
          'set params.hostsFile to false to halve it, or split the domains over several policies',
      },
    },
    limits,
  );
}

export const corednsRenderer = createCorednsRenderer();
