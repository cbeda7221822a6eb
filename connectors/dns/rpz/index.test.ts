import { describe, expect, it } from 'vitest';
import { RPZ_KEY, rpzRenderer as renderer, zoneFile, zoneSerial } from './index.js';
import type { ActionRequest } from '../../../crds/index.js';

const request = (over: Partial<ActionRequest> = {}): ActionRequest => ({
  name: 'block-c2-domains-91ab',
  policy: 'block-c2-domains',
  type: 'DNSBlock',
  values: ['evil.example', 'cdn.evil.example', 'bad.example', '_dmarc.phish.example'],
  scope: { namespaces: [] },
  params: {},
  ...over,
});

describe('dns:rpz', () => {
  it('GIVEN domains THEN a ConfigMap whose forestall.rpz key is a response policy zone with NXDOMAIN for each domain and its subdomains', () => {
    const manifests = renderer.render(request());
    expect(manifests).toHaveLength(1);
    expect(manifests[0]).toMatchSnapshot();
    expect(manifests[0]!.metadata).toMatchObject({
      name: 'forestall-rpz-block-c2-domains-91ab',
      namespace: 'kube-system',
    });
    const zone = (manifests[0]!.data as Record<string, string>)[RPZ_KEY]!;
    const serial = zoneSerial(
      '_dmarc.phish.example CNAME .\n*._dmarc.phish.example CNAME .\nbad.example CNAME .\n*.bad.example CNAME .\nevil.example CNAME .\n*.evil.example CNAME .\n',
    );
    expect(zone).toBe(
      [
        '; Forestall DNSBlock block-c2-domains-91ab: response policy zone, NXDOMAIN for 3 domains and every name under them.',
        '$TTL 300',
        `@ IN SOA localhost. hostmaster.localhost. ( ${serial} 3600 600 604800 300 )`,
        '@ IN NS localhost.',
        '_dmarc.phish.example CNAME .',
        '*._dmarc.phish.example CNAME .',
        'bad.example CNAME .',
        '*.bad.example CNAME .',
        'evil.example CNAME .',
        '*.evil.example CNAME .',
        '',
      ].join('\n'),
    );
  });

  it('GIVEN the same list THEN the same serial; another list THEN another serial, always within 1..2^32-1', () => {
    const a = zoneFile('x', ['a.example', 'b.example'], 300);
    expect(zoneFile('x', ['a.example', 'b.example'], 300)).toBe(a);
    const serialOf = (zone: string) => Number(/SOA \S+ \S+ \( (\d+) /.exec(zone)![1]);
    const other = serialOf(zoneFile('x', ['a.example', 'c.example'], 300));
    expect(other).not.toBe(serialOf(a));
    for (const s of [serialOf(a), other]) {
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(0xffffffff);
    }
  });

  it('GIVEN params THEN the TTL and namespace are used; out-of-range values are refused', () => {
    const [manifest] = renderer.render(request({ params: { ttl: 60, namespace: 'resolvers' } }));
    expect(manifest!.metadata.namespace).toBe('resolvers');
    expect((manifest!.data as Record<string, string>)[RPZ_KEY]).toContain('$TTL 60\n');
    expect(renderer.validate(request({ params: { ttl: 0 } }))).toEqual([
      'params.ttl must be at least 1, not 0',
    ]);
    expect(renderer.validate(request({ type: 'EgressDeny' }))).toEqual([
      'type EgressDeny is not enforced by dns:rpz (it enforces DNSBlock)',
    ]);
  });

  it('GIVEN no domains THEN nothing is rendered', () => {
    expect(renderer.render(request({ values: [] }))).toEqual([]);
  });
});
