import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import { checkAddress, checkTarget, validateSsrfPolicy } from './ssrf.js';
import type { Resolver } from './ssrf.js';

describe('checkAddress', () => {
  it.each([
    ['169.254.169.254', 'cloud-metadata'],
    ['::ffff:169.254.169.254', 'cloud-metadata'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['169.254.1.1', 'link-local'],
    ['fe80::abcd', 'link-local'],
    ['239.1.1.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['10.20.30.40', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['100.127.0.1', 'shared'],
    ['240.0.0.1', 'reserved'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['64:ff9b::a9fe:a9fe', 'cloud-metadata'],
    ['2001:0:4136:e378:8000:63bf:5601:5601', 'cloud-metadata'],
    ['2002:0a00:0001::1', 'private'],
  ])('GIVEN %s and the default policy WHEN checked THEN it is refused as %s', (address, reason) => {
    expect(checkAddress(address, {})?.reason).toBe(reason);
  });

  it.each(['8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'GIVEN the public address %s WHEN checked THEN it is allowed',
    (address) => {
      expect(checkAddress(address, {})).toBeUndefined();
    },
  );

  it('GIVEN cluster CIDRs WHEN an address inside one is checked THEN the cluster range is named, even for a public range', () => {
    const policy = { clusterCidrs: ['10.96.0.0/12', '34.118.224.0/20'] };
    expect(checkAddress('10.96.0.1', policy)).toMatchObject({
      reason: 'cluster',
      range: '10.96.0.0/12',
    });
    expect(checkAddress('34.118.230.5', policy)).toMatchObject({
      reason: 'cluster',
      range: '34.118.224.0/20',
    });
  });

  it('GIVEN an allow CIDR WHEN an address inside it is checked THEN it is allowed, and its IPv4-mapped form too', () => {
    const policy = { allow: ['10.1.0.0/16'] };
    expect(checkAddress('10.1.2.3', policy)).toBeUndefined();
    expect(checkAddress('::ffff:10.1.2.3', policy)).toBeUndefined();
    expect(checkAddress('10.2.0.1', policy)?.reason).toBe('private');
  });

  it('GIVEN a host-name allow entry WHEN that host resolves to private or metadata addresses THEN private is allowed and metadata is not', () => {
    const policy = { allow: ['*.corp.example'] };
    expect(checkAddress('10.1.2.3', policy, 'feeds.corp.example')).toBeUndefined();
    expect(checkAddress('10.1.2.3', policy, 'feeds.other.example')?.reason).toBe('private');
    expect(checkAddress('169.254.169.254', policy, 'feeds.corp.example')?.reason).toBe(
      'cloud-metadata',
    );
    expect(checkAddress('169.254.169.254', { allow: ['169.254.169.254/32'] })).toBeUndefined();
  });

  it('GIVEN malformed policy entries WHEN the policy is validated THEN FST_HTTP_INVALID_REQUEST names the entry', () => {
    expect(() => validateSsrfPolicy({ clusterCidrs: ['10.0.0.0/40'] })).toThrow(
      /cluster CIDR "10.0.0.0\/40"/,
    );
    expect(() => validateSsrfPolicy({ allow: ['http://x/'] })).toThrow(
      /allow entry "http:\/\/x\/"/,
    );
    expect(() =>
      validateSsrfPolicy({ allow: ['10.0.0.0/8', 'feeds.example.org', '*.example.net'] }),
    ).not.toThrow();
  });
});

describe('checkTarget', () => {
  const resolver =
    (answer: string[]): Resolver =>
    async () =>
      answer.map((address) => ({
        address,
        family: address.includes(':') ? (6 as const) : (4 as const),
      }));

  it('GIVEN a name resolving to public addresses WHEN checked THEN its lookup answers only those, without DNS', async () => {
    const target = await checkTarget(new URL('https://feeds.example.org/x'), {
      resolve: resolver(['203.0.114.1', '2606:4700::1']),
    });
    const all = await new Promise<unknown>((resolve, reject) =>
      target.lookup('feeds.example.org', { all: true }, (err, addresses) =>
        err !== null ? reject(err) : resolve(addresses),
      ),
    );
    expect(all).toEqual([
      { address: '203.0.114.1', family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
    const v6 = await new Promise<unknown>((resolve, reject) =>
      target.lookup('feeds.example.org', { family: 6 }, (err, address) =>
        err !== null ? reject(err) : resolve(address),
      ),
    );
    expect(v6).toBe('2606:4700::1');
    const other = await new Promise<unknown>((resolve) =>
      target.lookup('elsewhere.example', {}, (err) => resolve(err?.code)),
    );
    expect(other).toBe('ENOTFOUND');
  });

  it('GIVEN a name with one bad address among good ones WHEN checked THEN FST_HTTP_SSRF_BLOCKED names the bad one', async () => {
    const err = await checkTarget(new URL('http://feeds.example.org/'), {
      resolve: resolver(['203.0.114.1', '10.0.0.7']),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).code).toBe('FST_HTTP_SSRF_BLOCKED');
    expect((err as HttpError).message).toContain('resolved to 10.0.0.7, which is a private');
  });

  it('GIVEN a resolver that finds nothing WHEN checked THEN FST_HTTP_NETWORK', async () => {
    const err = await checkTarget(new URL('http://feeds.example.org/'), {
      resolve: resolver([]),
    }).catch((e: unknown) => e);
    expect((err as HttpError).code).toBe('FST_HTTP_NETWORK');
  });
});
