import { describe, expect, it } from 'vitest';
import { egressRequest, ipsumAddresses, publicDnsV6 } from '../test-support.js';
import { MAX_OBJECT_BYTES, manifestBytes } from '../../core/render.js';
import type { Manifest } from '../../core/types.js';
import { aggregateCidrs } from '../cidrs.js';
import { ciliumRenderer as renderer, createCiliumRenderer, endpointSelector } from './index.js';

const ipsum = ipsumAddresses();
const ipv6 = publicDnsV6();

const request = egressRequest([]);

const groups = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'CiliumCIDRGroup');
const policy = (manifests: Manifest[]) =>
  manifests.find((m) => m.kind === 'CiliumClusterwideNetworkPolicy')!;
const cidrsOf = (manifests: Manifest[]) =>
  groups(manifests).flatMap((g) => (g.spec as { externalCIDRs: string[] }).externalCIDRs);
const refsOf = (manifests: Manifest[]) =>
  (
    policy(manifests).spec as { egressDeny: { toCIDRSet: { cidrGroupRef: string }[] }[] }
  ).egressDeny[0]!.toCIDRSet.map((s) => s.cidrGroupRef);

describe('network:cilium', () => {
  it('GIVEN a small request THEN one CIDR group and a clusterwide policy whose egressDeny refers to it, without switching pods to default deny', () => {
    const manifests = renderer.render(request());
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'CiliumCIDRGroup/forestall-block-ipsum-7f3a-0',
      'CiliumClusterwideNetworkPolicy/forestall-block-ipsum-7f3a',
    ]);
    expect(manifests).toMatchSnapshot();
    expect(policy(manifests).spec).toEqual({
      description:
        'Forestall action block-ipsum-7f3a: deny egress to 3 CIDRs in 1 CiliumCIDRGroups',
      endpointSelector: {},
      enableDefaultDeny: { egress: false, ingress: false },
      egressDeny: [{ toCIDRSet: [{ cidrGroupRef: 'forestall-block-ipsum-7f3a-0' }] }],
    });
  });

  it("GIVEN namespace and workload selectors THEN pod labels stay as they are and namespace labels go through Cilium's endpoint labels", () => {
    expect(
      endpointSelector(
        request({
          scope: {
            namespaces: [],
            workloadSelector: {
              matchLabels: { app: 'checkout' },
              matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['batch'] }],
            },
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': 'shop', team: 'payments' },
              matchExpressions: [{ key: 'env', operator: 'Exists' }],
            },
          },
        }),
      ),
    ).toEqual({
      matchLabels: {
        app: 'checkout',
        'k8s:io.kubernetes.pod.namespace': 'shop',
        'k8s:io.cilium.k8s.namespace.labels.team': 'payments',
      },
      matchExpressions: [
        { key: 'tier', operator: 'NotIn', values: ['batch'] },
        { key: 'k8s:io.cilium.k8s.namespace.labels.env', operator: 'Exists' },
      ],
    });
  });

  it('GIVEN 14,000 IPsum addresses and IPv6 resolvers THEN one group holds their minimal cover, IPv4 first', () => {
    const values = [...ipsum.slice(0, 14_000), ...ipv6];
    const manifests = renderer.render(request({ values }));
    const cover = aggregateCidrs(values);
    expect(groups(manifests)).toHaveLength(1);
    expect(cidrsOf(manifests)).toEqual([...cover.ipv4, ...cover.ipv6]);
  });

  it('GIVEN all 120,430 IPsum addresses THEN groups of similar size under the budget, all referred to by the policy in order', () => {
    const manifests = renderer.render(request({ values: ipsum }));
    const found = groups(manifests);
    expect(found).toHaveLength(3); // 95,644 CIDRs, about 1.7 MiB
    expect(cidrsOf(manifests)).toEqual(aggregateCidrs(ipsum).ipv4);
    expect(refsOf(manifests)).toEqual(found.map((g) => g.metadata.name));
    const sizes = manifests.map((m) => manifestBytes(m));
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MAX_OBJECT_BYTES);
    const groupSizes = sizes.slice(0, 3);
    expect(Math.max(...groupSizes) - Math.min(...groupSizes)).toBeLessThan(1024);
  });

  it('GIVEN a small budget THEN more, smaller groups', () => {
    const manifests = createCiliumRenderer({ maxObjectBytes: 32 * 1024 }).render(
      request({ values: ipsum.slice(0, 14_000) }),
    );
    expect(groups(manifests).length).toBeGreaterThan(6);
    for (const m of manifests) expect(manifestBytes(m)).toBeLessThanOrEqual(32 * 1024);
    expect(refsOf(manifests)).toHaveLength(groups(manifests).length);
  });

  it('GIVEN bad input THEN validate names it', () => {
    expect(
      renderer.validate(request({ values: ['0.0.0.0/0', 'x'], params: { tier: 'Admin' } })),
    ).toEqual([
      'params.tier is not a parameter of this connector (it takes none)',
      'values[1] "x" is not an IP address or CIDR',
      'values cover all of 0.0.0.0/0, which would cut every IPv4 destination; refusing',
    ]);
  });
});
