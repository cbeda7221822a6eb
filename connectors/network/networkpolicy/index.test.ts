import { describe, expect, it } from 'vitest';
import { egressRequest, ipsumAddresses, publicDnsV6 } from '../test-support.js';
import { aggregateCidrs } from '../cidrs.js';
import { parseCidr } from '../../../lib/net.js';
import { MAX_OBJECT_BYTES, manifestBytes } from '../../core/render.js';
import type { Manifest } from '../../core/types.js';
import { networkPolicyRenderer as renderer } from './index.js';

// Real feed content (shared/feeds): the IPsum snapshot and MISP's public resolver IPv6 addresses.
const ipsum = ipsumAddresses();
const ipv6 = publicDnsV6();

const request = egressRequest(['payments', 'shop']);

type Peer = { ipBlock?: { cidr: string; except?: string[] }; namespaceSelector?: object };
const peersOf = (m: Manifest) => (m.spec as { egress: { to: Peer[] }[] }).egress[0]!.to;

describe('network:networkpolicy', () => {
  it('GIVEN a small request THEN one NetworkPolicy per namespace allowing all egress but the blocked CIDRs, plus in-cluster traffic', () => {
    const manifests = renderer.render(
      request({
        scope: {
          namespaces: ['payments', 'shop'],
          workloadSelector: { matchLabels: { app: 'checkout' } },
        },
      }),
    );
    expect(manifests.map((m) => `${m.metadata.namespace}/${m.metadata.name}`)).toEqual([
      'payments/forestall-block-ipsum-7f3a',
      'shop/forestall-block-ipsum-7f3a',
    ]);
    expect(manifests[0]).toMatchSnapshot();
    expect(manifests[0]!.spec).toEqual({
      podSelector: { matchLabels: { app: 'checkout' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            { ipBlock: { cidr: '0.0.0.0/0', except: ['198.51.100.0/24', '203.0.113.9/32'] } },
            { ipBlock: { cidr: '::/0', except: ['2001:db8::/32'] } },
            { namespaceSelector: {} },
          ],
        },
      ],
    });
  });

  it('GIVEN no workload selector and no IPv6 THEN every pod is selected and ::/0 is allowed whole', () => {
    const [manifest] = renderer.render(
      request({ values: ['203.0.113.9'], scope: { namespaces: ['shop'] } }),
    );
    expect((manifest!.spec as { podSelector: object }).podSelector).toEqual({});
    expect(peersOf(manifest!)[1]).toEqual({ ipBlock: { cidr: '::/0' } });
  });

  it('GIVEN 14,000 IPsum addresses and public resolver IPv6 addresses THEN the excepts are their minimal cover, each a strict subset, and the object fits the budget', () => {
    const values = [...ipsum.slice(0, 14_000), ...ipv6];
    const manifests = renderer.render(request({ values }));
    expect(manifests).toHaveLength(2);
    const expected = aggregateCidrs(values);
    const [v4, v6] = peersOf(manifests[0]!);
    expect(v4!.ipBlock!.except).toEqual(expected.ipv4);
    expect(v6!.ipBlock!.except).toEqual(expected.ipv6);
    expect(expected.ipv4.length).toBeGreaterThan(11_000); // adjacent addresses merged: fewer CIDRs than addresses
    expect(expected.ipv4.length).toBeLessThan(14_000);
    for (const cidr of [...v4!.ipBlock!.except!, ...v6!.ipBlock!.except!])
      expect(parseCidr(cidr)!.prefix).toBeGreaterThan(0);
    for (const m of manifests) expect(manifestBytes(m)).toBeLessThan(MAX_OBJECT_BYTES);
  });

  it('GIVEN the same values in another order THEN the output is byte for byte the same', () => {
    const values = ipsum.slice(0, 2000);
    const shuffled = [...values].reverse();
    expect(JSON.stringify(renderer.render(request({ values: shuffled })))).toBe(
      JSON.stringify(renderer.render(request({ values }))),
    );
  });

  it('GIVEN all 120,430 IPsum addresses THEN validate refuses: one object cannot hold them and NetworkPolicies cannot shard', () => {
    const problems = renderer.validate(request({ values: ipsum }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^the NetworkPolicy would be about \d+ KiB for 95644 CIDRs, over the 900 KiB budget of one object; NetworkPolicies cannot be split .* use network:cilium or network:calico/,
    );
    expect(() => renderer.render(request({ values: ipsum }))).toThrow(
      expect.objectContaining({ code: 'FST_CONNECTOR_INVALID_REQUEST' }),
    );
  });

  it('GIVEN values covering all of 0.0.0.0/0 or ::/0 THEN validate refuses (an except must be a strict subset)', () => {
    expect(renderer.validate(request({ values: ['0.0.0.0/0'] }))).toEqual([
      'values cover all of 0.0.0.0/0, which would cut every IPv4 destination; refusing',
    ]);
    expect(renderer.validate(request({ values: ['::/1', '8000::/1'] }))).toEqual([
      'values cover all of ::/0, which would cut every IPv6 destination; refusing',
    ]);
  });

  it('GIVEN a bad request THEN validate names every problem', () => {
    expect(renderer.validate(request({ values: ['nope'], params: { priority: 3 } }))).toEqual([
      'params.priority is not a parameter of this connector (it takes none for EgressDeny)',
      'values[0] "nope" is not an IP address or CIDR',
    ]);
    // The values of a type the connector does not enforce are not parsed as addresses.
    expect(
      renderer.validate(
        request({
          type: 'DNSBlock',
          values: ['nope'],
          scope: { namespaces: [] },
          params: { priority: 3 },
        }),
      ),
    ).toEqual([
      'type DNSBlock is not enforced by network:networkpolicy (it enforces EgressDeny, Isolate)',
      'params.priority is not a parameter of this connector (it takes none for DNSBlock)',
    ]);
    // Isolate's params are refused on EgressDeny rather than ignored.
    expect(
      renderer.validate(
        request({ params: { allowNamespaces: ['monitoring'], allowSameNamespace: false } }),
      ),
    ).toEqual([
      'params.allowNamespaces is a parameter for Isolate only, not for EgressDeny',
      'params.allowSameNamespace is a parameter for Isolate only, not for EgressDeny',
    ]);
    expect(
      renderer.validate(
        request({
          scope: {
            namespaces: ['Not_A_Namespace'],
            workloadSelector: { matchLabels: { app: 'a b' } },
          },
        }),
      ),
    ).toEqual([
      'scope.workloadSelector.matchLabels["app"] is not a valid label value: "a b"',
      'scope.namespaces[0] is not a namespace name: "Not_A_Namespace"',
    ]);
  });

  it('GIVEN no values, or no namespace in scope THEN nothing is rendered, so a lifted action leaves no object', () => {
    expect(renderer.validate(request({ values: [] }))).toEqual([]);
    expect(renderer.render(request({ values: [] }))).toEqual([]);
    expect(renderer.validate(request({ scope: { namespaces: [] } }))).toEqual([]);
    expect(renderer.render(request({ scope: { namespaces: [] } }))).toEqual([]);
  });
});
