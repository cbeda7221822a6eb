import { describe, expect, it } from 'vitest';
import { egressRequest, ipsumAddresses } from '../test-support.js';
import { MAX_OBJECT_BYTES, manifestBytes } from '../../core/render.js';
import type { Manifest } from '../../core/types.js';
import { aggregateCidrs } from '../cidrs.js';
import {
  CNP_LIMITS,
  clusterNetworkPolicyRenderer as renderer,
  createClusterNetworkPolicyRenderer,
} from './index.js';

const ipsum = ipsumAddresses();

const request = egressRequest(['payments', 'shop']);

interface Spec {
  tier: string;
  priority: number;
  subject: Record<string, unknown>;
  egress: { name: string; action: string; to: { networks: string[] }[] }[];
}
const specOf = (m: Manifest) => m.spec as Spec;
const networksOf = (manifests: Manifest[]) =>
  manifests.flatMap((m) => specOf(m).egress.flatMap((r) => r.to.flatMap((p) => p.networks)));

/** Every upstream item limit and the size budget hold for every object. */
function expectWithinLimits(manifests: Manifest[], maxBytes = MAX_OBJECT_BYTES): void {
  for (const m of manifests) {
    const { egress } = specOf(m);
    expect(egress.length).toBeLessThanOrEqual(CNP_LIMITS.rulesPerObject);
    for (const rule of egress) {
      expect(rule.action).toBe('Deny');
      expect(rule.name.length).toBeLessThanOrEqual(100);
      expect(rule.to.length).toBeGreaterThanOrEqual(1);
      expect(rule.to.length).toBeLessThanOrEqual(CNP_LIMITS.peersPerRule);
      for (const peer of rule.to) {
        expect(Object.keys(peer)).toEqual(['networks']);
        expect(peer.networks.length).toBeGreaterThanOrEqual(1);
        expect(peer.networks.length).toBeLessThanOrEqual(CNP_LIMITS.cidrsPerPeer);
      }
    }
    expect(manifestBytes(m)).toBeLessThanOrEqual(maxBytes);
  }
}

describe('network:clusternetworkpolicy', () => {
  it('GIVEN a small request THEN one Admin-tier object at priority 10 denying the CIDRs for every pod of every namespace', () => {
    const manifests = renderer.render(request());
    expect(manifests).toHaveLength(1);
    expect(manifests[0]).toMatchSnapshot();
    expect(manifests[0]!.metadata.name).toBe('forestall-block-ipsum-7f3a-0');
    expect(specOf(manifests[0]!)).toEqual({
      tier: 'Admin',
      priority: 10,
      subject: { namespaces: {} },
      egress: [
        {
          name: 'forestall-deny-0',
          action: 'Deny',
          to: [{ networks: ['198.51.100.0/24', '203.0.113.9/32', '2001:db8::/32'] }],
        },
      ],
    });
  });

  it('GIVEN a workload selector, a namespace selector and params THEN the subject selects pods in those namespaces, with the given tier and priority', () => {
    const [manifest] = renderer.render(
      request({
        scope: {
          namespaces: ['shop'],
          namespaceSelector: { matchLabels: { env: 'prod' } },
          workloadSelector: {
            matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }],
          },
        },
        params: { tier: 'Baseline', priority: 500 },
      }),
    );
    expect(specOf(manifest!).subject).toEqual({
      pods: {
        namespaceSelector: { matchLabels: { env: 'prod' } },
        podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] },
      },
    });
    expect(specOf(manifest!).tier).toBe('Baseline');
    expect(specOf(manifest!).priority).toBe(500);
  });

  it('GIVEN 14,000 IPsum addresses THEN one object, its rules and peers at the 25-item limits, holding exactly the minimal cover', () => {
    const values = ipsum.slice(0, 14_000);
    const manifests = renderer.render(request({ values }));
    const cover = aggregateCidrs(values).ipv4;
    expect(manifests).toHaveLength(1); // 11,617 CIDRs < 15,625 per object
    expect(networksOf(manifests)).toEqual(cover);
    const { egress } = specOf(manifests[0]!);
    expect(egress).toHaveLength(Math.ceil(cover.length / 625));
    expect(egress[0]!.to).toHaveLength(25);
    expect(egress[0]!.to[0]!.networks).toHaveLength(25);
    expectWithinLimits(manifests);
  });

  it('GIVEN all 120,430 IPsum addresses THEN shards of similar size, every one within the 25/25/25 limits and the budget', () => {
    const manifests = renderer.render(request({ values: ipsum }));
    const cover = aggregateCidrs(ipsum).ipv4;
    expect(manifests).toHaveLength(Math.ceil(cover.length / 15_625)); // 95,644 CIDRs: 7 objects
    expect(manifests.map((m) => m.metadata.name)).toEqual(
      manifests.map((_, i) => `forestall-block-ipsum-7f3a-${i}`),
    );
    expect(networksOf(manifests)).toEqual(cover);
    // Balanced by bytes (CIDR strings differ in length), not filled to the brim with a small last one.
    const sizes = manifests.map((m) => manifestBytes(m));
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(Math.max(...sizes) / 100);
    expectWithinLimits(manifests);
  });

  it('GIVEN a small size budget THEN the budget, not the item limit, decides the shards', () => {
    const small = createClusterNetworkPolicyRenderer({ maxObjectBytes: 64 * 1024 });
    const values = ipsum.slice(0, 14_000);
    const manifests = small.render(request({ values }));
    expect(manifests.length).toBeGreaterThan(1);
    expect(networksOf(manifests)).toEqual(aggregateCidrs(values).ipv4);
    expectWithinLimits(manifests, 64 * 1024);
  });

  it('GIVEN long IPv6 CIDRs THEN they are carried after the IPv4 ones, within the limits', () => {
    const v6 = Array.from(
      { length: 700 },
      (_, i) => `2001:db8:${(i * 2).toString(16)}:1234:5678:9abc:def0:${(i + 1).toString(16)}/127`,
    );
    const manifests = renderer.render(request({ values: ['192.0.2.1', ...v6] }));
    const networks = networksOf(manifests);
    expect(networks[0]).toBe('192.0.2.1/32');
    expect(networks).toHaveLength(701);
    expectWithinLimits(manifests);
  });

  it('GIVEN bad params THEN validate names them; the defaults need none', () => {
    expect(renderer.validate(request({ params: { priority: 1001, tier: 'Developer' } }))).toEqual([
      'params.priority must be at most 1000, not 1001',
      'params.tier must be one of Admin, Baseline, not "Developer"',
    ]);
    expect(renderer.validate(request({ params: { priority: 2.5 } }))).toEqual([
      'params.priority must be a whole number, not 2.5',
    ]);
    expect(renderer.validate(request({ params: { prority: 5 } }))).toEqual([
      'params.prority is not a parameter of this connector (known: tier, priority)',
    ]);
    expect(renderer.validate(request())).toEqual([]);
  });

  it('GIVEN the same request twice THEN identical output', () => {
    const values = ipsum.slice(0, 5000);
    expect(JSON.stringify(renderer.render(request({ values: [...values].reverse() })))).toBe(
      JSON.stringify(renderer.render(request({ values }))),
    );
  });
});
