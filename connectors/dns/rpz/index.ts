/**
 * dns:rpz: DNSBlock as a DNS response policy zone (RPZ) file, for resolvers outside
 * CoreDNS that implement RPZ: BIND 9 (`response-policy`), Unbound (`rpz:`), PowerDNS
 * Recursor (`rpzFile`), Knot Resolver.
 *
 * The zone lives in the ConfigMap `forestall-rpz-<action>` (namespace params.namespace,
 * default kube-system) under the key `forestall.rpz`; mount it into the resolver, or sync
 * it to where the resolver reads zone files. The file is
 *
 *     $TTL 300
 *     @ IN SOA localhost. hostmaster.localhost. ( <serial> 3600 600 604800 300 )
 *     @ IN NS localhost.
 *     evil.example CNAME .
 *     *.evil.example CNAME .
 *
 * Owner names are relative, so the zone's name comes from the resolver's configuration
 * (for example `rpz.forestall.`). `CNAME .` is the RPZ action "NXDOMAIN"; each domain gets
 * a second, wildcard record because RPZ names match exactly.
 *
 * The serial is derived from the records (the first 32 bits of their sha256), so the same
 * list always gives the same file, and a changed list a different serial. It is not
 * monotonic: secondaries that pull the zone by transfer should be configured to fetch
 * on every change (or load the file directly, as the ConfigMap mount does).
 *
 * One ConfigMap per action, never sharded; a list over the size budget is refused by
 * validate().
 */
import { createHash } from 'node:crypto';
import { paramValue } from '../../core/params.js';
import { objectName, type RendererLimits } from '../../core/render.js';
import type { ParamSpec, Renderer } from '../../core/types.js';
import { defineDnsConfigMapRenderer } from '../configmap-renderer.js';

export const RPZ_ID = 'dns:rpz';
export const RPZ_KEY = 'forestall.rpz';

const NAMESPACE: ParamSpec & { default: string } = {
  name: 'namespace',
  type: 'string',
  default: 'kube-system',
  description: 'Namespace of the ConfigMap holding the zone file.',
};
const TTL: ParamSpec & { default: number } = {
  name: 'ttl',
  type: 'integer',
  minimum: 1,
  maximum: 86400,
  default: 300,
  description: "TTL in seconds of the zone's records, and of the negative answers they cause.",
};

/** The zone file for `domains` (normalised, sorted). */
export function zoneFile(actionName: string, domains: readonly string[], ttl: number): string {
  const records: string[] = [];
  for (const domain of domains) records.push(`${domain} CNAME .`, `*.${domain} CNAME .`);
  const body = `${records.join('\n')}\n`;
  const serial = zoneSerial(body);
  return [
    `; Forestall DNSBlock ${actionName}: response policy zone, NXDOMAIN for ${domains.length} domains and every name under them.`,
    `$TTL ${ttl}`,
    `@ IN SOA localhost. hostmaster.localhost. ( ${serial} 3600 600 604800 ${ttl} )`,
    '@ IN NS localhost.',
    body,
  ].join('\n');
}

/** An SOA serial from the records: 1..2^32-1, the same for the same records. */
export function zoneSerial(records: string): number {
  const value = createHash('sha256').update(records).digest().readUInt32BE(0);
  return value === 0 ? 1 : value;
}

export function createRpzRenderer(limits: RendererLimits = {}): Renderer {
  return defineDnsConfigMapRenderer(
    {
      info: {
        id: RPZ_ID,
        description:
          'ConfigMap with a response policy zone file (CNAME . for each domain and its subdomains) for BIND, Unbound, PowerDNS and other RPZ resolvers.',
        params: [NAMESPACE, TTL],
        example: { type: 'DNSBlock', params: { namespace: 'kube-system', ttl: 300 } },
      },
      namespace: NAMESPACE,
      name: (request) => objectName(`forestall-rpz-${request.name}`),
      data: (request, _name, domains) => ({
        [RPZ_KEY]: zoneFile(request.name, domains, paramValue(request.params, TTL)),
      }),
      oversize: { subject: 'the zone file', advice: 'split the domains over several policies' },
    },
    limits,
  );
}

export const rpzRenderer = createRpzRenderer();
