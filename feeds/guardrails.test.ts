import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec, ThreatFeedSpec } from '../crds/generated/types.js';
import { Ipv4Set } from '../lib/net.js';
import { defaultGuardrailConfig, Guardrails } from './guardrails.js';
import type { IndicatorType } from './indicator.js';
import { infrastructureHosts } from './infrastructure.js';
import { normalise } from './normalise.js';
import { parseIpv4 } from '../lib/ip.js';

const CLUSTER_SERVICE_IP = '10.96.0.10';
const guardrails = new Guardrails(
  defaultGuardrailConfig({
    clusterCidrs: ['10.96.0.0/12', '34.118.224.0/20'],
    infrastructureHosts: [
      'git.example.org',
      'idp.example.net',
      'raw.githubusercontent.com',
      '198.18.7.7',
    ],
  }),
);

/** What happens to a raw feed value: normalised as ingest() does, then judged. */
function judge(
  raw: string,
  hint?: IndicatorType,
): { type: string; value: string; dropped?: string } {
  const n = normalise(raw, hint);
  if ('error' in n) throw new Error(n.error);
  const dropped = guardrails.check(n);
  return { ...n, ...(dropped ? { dropped } : {}) };
}

describe('issue 13, item 2: IPv4 carried inside IPv6 passes every guardrail', () => {
  it.each([
    ['::ffff:169.254.169.254', 'cloud-metadata'],
    [`::ffff:${CLUSTER_SERVICE_IP}`, 'cluster'],
    ['64:ff9b::a9fe:a9fe', 'cloud-metadata'],
    ['64:ff9b::a9fe:a9fe/128', 'cloud-metadata'],
    [`64:ff9b::${CLUSTER_SERVICE_IP}`, 'cluster'],
    ['2002:a9fe:a9fe::/48', 'cloud-metadata'],
    ['2002:a9fe:a9fe::1', 'cloud-metadata'],
    ['2001:0:4136:e378:8000:63bf:5601:5601', 'cloud-metadata'], // Teredo client 169.254.169.254
    ['2001:0:a9fe:a9fe::1', 'cloud-metadata'], // Teredo server 169.254.169.254
    ['::169.254.169.254', 'cloud-metadata'], // IPv4-compatible
    ['64:ff9b:1:a9fe:a9:fe00::', 'cloud-metadata'], // local-use NAT64, RFC 6052 /48 format
  ])('GIVEN %s THEN it is dropped as %s, judged as its IPv4', (raw, reason) => {
    expect(judge(raw).dropped).toBe(reason);
  });

  it('GIVEN ::ffff:0.0.0.0/96 (all of IPv4) THEN it is normalised to 0.0.0.0/0 and dropped as too-broad', () => {
    expect(judge('::ffff:0.0.0.0/96')).toEqual({
      type: 'cidr',
      value: '0.0.0.0/0',
      dropped: 'too-broad',
    });
  });

  it('GIVEN an IPv6 range that reaches all of IPv4 through an embedding THEN it is too-broad', () => {
    expect(judge('64:ff9b::/96').dropped).toBe('too-broad');
    expect(judge('::/64').dropped).toBe('too-broad');
    expect(judge('2002::/16').dropped).toBe('too-broad');
  });

  it('GIVEN ::ffff:5.6.7.8 THEN it is the IPv4 value 5.6.7.8, so it deduplicates with 5.6.7.8', () => {
    expect(judge('::ffff:5.6.7.8')).toEqual({ type: 'ipv4', value: '5.6.7.8' });
    expect(judge('::ffff:5.6.7.8', 'ipv6')).toEqual({ type: 'ipv4', value: '5.6.7.8' });
    expect(judge('::ffff:5.6.7.0/120')).toEqual({ type: 'cidr', value: '5.6.7.0/24' });
  });

  it('GIVEN NAT64, 6to4 and Teredo values of a public address THEN they stay IPv6 values and are kept', () => {
    expect(judge('64:ff9b::5.6.7.8')).toEqual({ type: 'ipv6', value: '64:ff9b::506:708' });
    expect(judge('2002:506:708::/48')).toEqual({ type: 'cidr', value: '2002:506:708::/48' });
  });
});

describe('issue 13, item 2: a range that contains a protected range passes', () => {
  it.each([
    ['8.0.0.0/8', 'never-block:public-dns-v4'], // holds 8.8.8.8
    ['172.0.0.0/8', 'never-block:public-dns-v4'], // holds resolvers, and 172.16.0.0/12 (below)
    ['169.0.0.0/8', 'cloud-metadata'], // holds 169.254.169.254
    ['10.0.0.0/8', 'cluster'], // holds the service range 10.96.0.0/12
    ['34.118.0.0/16', 'cluster'], // holds a public service range
    ['198.18.0.0/16', 'infrastructure'], // holds a feed host's IP
    ['2606:4700::/32', 'never-block:public-dns-v6'], // holds 2606:4700:4700::1111
  ])('GIVEN %s THEN it is dropped whole as %s (drop, not split)', (raw, reason) => {
    expect(judge(raw).dropped).toBe(reason);
  });

  it('GIVEN 172.0.0.0/8 and a never-block list of 172.16.0.0/12 only THEN the list drops it: every list judges by overlap', () => {
    const g = new Guardrails({
      ranges: [{ reason: 'never-block:rfc1918', cidrs: ['172.16.0.0/12'] }],
      domains: [],
      publicSuffixes: false,
      hashes: [],
      minPrefixV4: 8,
      minPrefixV6: 32,
    });
    expect(g.check({ type: 'cidr', value: '172.0.0.0/8' })).toBe('never-block:rfc1918');
    expect(g.check({ type: 'cidr', value: '172.32.0.0/11' })).toBeUndefined();
  });

  it('GIVEN a range clear of every protected one THEN it is kept', () => {
    expect(judge('55.0.0.0/8').dropped).toBeUndefined();
    expect(judge('2.57.122.0/24').dropped).toBeUndefined();
  });

  it('GIVEN single addresses THEN the fast path drops exactly what check() drops', () => {
    const values = [
      '8.8.8.8',
      '5.6.7.8',
      '10.96.0.10',
      '169.254.169.254',
      '203.0.113.9',
      '198.18.7.7',
      '55.1.2.3',
    ];
    const set = new Ipv4Set(values.length);
    for (const v of values) set.addAddress(parseIpv4(v)!);
    const dropped: Record<string, number> = {};
    const kept = guardrails.filterIpv4Addresses(set, dropped);
    expect(kept.addressCount()).toBe(
      values.filter((v) => !guardrails.check({ type: 'ipv4', value: v })).length,
    );
    expect(dropped).toEqual({
      'never-block:public-dns-v4': 1,
      cluster: 1,
      'cloud-metadata': 1,
      documentation: 1,
      infrastructure: 1,
    });
  });
});

describe('issue 13, item 2: domains are matched exactly', () => {
  it.each([
    ['cluster.local', 'cluster'],
    ['svc.cluster.local', 'cluster'],
    ['kubernetes.default.svc.cluster.local', 'cluster'],
    ['co.uk', 'public-suffix'],
    ['com.au', 'public-suffix'],
    ['github.io', 'public-suffix'], // private section of the PSL
    ['git.example.org', 'infrastructure'], // the forge
    ['example.org', 'infrastructure'], // its parent
    ['api.git.example.org', 'infrastructure'], // its child
    ['idp.example.net', 'infrastructure'], // the identity provider
    ['raw.githubusercontent.com', 'infrastructure'], // a feed host
    ['githubusercontent.com', 'public-suffix'], // its parent, in the PSL's private section
    ['google.com', 'never-block:tranco10k'],
    ['https://kubernetes.default.svc.cluster.local/api', 'cluster'],
    ['http://[64:ff9b::a9fe:a9fe]/latest/meta-data', 'cloud-metadata'],
  ])('GIVEN %s THEN it is dropped as %s', (raw, reason) => {
    expect(judge(raw).dropped).toBe(reason);
  });

  it.each([
    'evil.github.io',
    'evil.co.uk',
    'evil.blogspot.com',
    'login.google.com.evil.example',
    'gitexample.org',
    'evil.pastebin.com',
  ])(
    'GIVEN %s (a child of a public suffix or a popular site, or a lookalike) THEN it stays blockable',
    (raw) => {
      expect(judge(raw).dropped).toBeUndefined();
    },
  );

  it('GIVEN another cluster domain THEN that one is protected instead', () => {
    const g = new Guardrails(defaultGuardrailConfig({ clusterDomain: 'corp.internal' }));
    expect(g.check({ type: 'domain', value: 'svc.corp.internal' })).toBe('cluster');
    expect(g.check({ type: 'domain', value: 'svc.cluster.local' })).toBeUndefined();
  });
});

describe('issue 13, item 2: 2001:db8::/32 is kept while 203.0.113.0/24 is dropped', () => {
  it.each([
    '192.0.2.0/24',
    '198.51.100.7',
    '203.0.113.0/24',
    '2001:db8::/32',
    '2001:db8::1',
    '3fff::/32',
    '3fff:1::1',
  ])(
    'GIVEN the documentation value %s THEN it is dropped as documentation, in both families',
    (raw) => {
      expect(judge(raw).dropped).toBe('documentation');
    },
  );
});

describe('infrastructureHosts', () => {
  it('GIVEN ThreatFeeds and ExposurePolicies THEN every host they name is collected, lower-case and once', () => {
    const feeds: { spec: ThreatFeedSpec }[] = [
      {
        spec: {
          source: {
            http: {
              url: 'https://RAW.githubusercontent.com/x/ipsum.txt',
              tls: { serverName: 'feeds.example' },
            },
          },
          format: 'lines',
        },
      },
      {
        spec: {
          source: { taxii: { apiRoot: 'https://taxii.example.org/api1/', collection: 'c' } },
          format: 'stix',
        },
      },
      { spec: { source: { http: { url: 'https://[2001:db8::5]/feed' } }, format: 'lines' } },
    ];
    const policies: { spec: ExposurePolicySpec }[] = [
      {
        spec: {
          feeds: {},
          actions: [{ type: 'EgressDeny' }],
          git: {
            url: 'git@git.example.org:platform/policy.git',
            forge: { type: 'Gitea', apiUrl: 'https://forge-api.example.org/api/v1' },
          },
        },
      },
      {
        spec: {
          feeds: {},
          actions: [
            {
              type: 'IdentitySuspend',
              connector: 'identity:okta',
              params: { url: 'https://acme.okta.com' },
            },
          ],
          git: { url: 'ssh://git@ssh.example.com:2222/x.git' },
        },
      },
    ];
    expect(infrastructureHosts(feeds, policies)).toEqual([
      '2001:db8::5',
      'acme.okta.com',
      'feeds.example',
      'forge-api.example.org',
      'git.example.org',
      'raw.githubusercontent.com',
      'ssh.example.com',
      'taxii.example.org',
    ]);
  });
});
