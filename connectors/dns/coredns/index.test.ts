import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_OBJECT_BYTES, manifestBytes } from '../../core/render.js';
import { corefileSnippet, corednsRenderer as renderer, createCorednsRenderer } from './index.js';
import type { ActionRequest } from '../../../crds/index.js';

// Real domain names (MISP's Tranco top 10k warninglist), used here only as a large, realistic list.
const tranco = (
  JSON.parse(
    readFileSync(
      new URL('../../../../shared/feeds/warninglists/tranco10k.json', import.meta.url),
      'utf8',
    ),
  ) as { list: string[] }
).list;

const request = (over: Partial<ActionRequest> = {}): ActionRequest => ({
  name: 'block-c2-domains-91ab',
  policy: 'block-c2-domains',
  type: 'DNSBlock',
  values: ['evil.example', 'C2.Bad.Example.', 'cdn.evil.example', 'bad.example'],
  scope: { namespaces: [] },
  params: {},
  ...over,
});

describe('dns:coredns', () => {
  it('GIVEN domains THEN a ConfigMap in kube-system with a template snippet and a hosts list, subdomains of listed domains folded in', () => {
    const manifests = renderer.render(request());
    expect(manifests).toHaveLength(1);
    expect(manifests[0]).toMatchSnapshot();
    const { metadata, data } = manifests[0] as unknown as {
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    expect(metadata).toMatchObject({
      name: 'forestall-dnsblock-block-c2-domains-91ab',
      namespace: 'kube-system',
    });
    expect(data['forestall-dnsblock-block-c2-domains-91ab.override']).toBe(
      [
        '# Forestall DNSBlock block-c2-domains-91ab: NXDOMAIN for 2 domains and every name under them.',
        'template ANY ANY bad.example evil.example {',
        '    rcode NXDOMAIN',
        '}',
        '',
      ].join('\n'),
    );
    expect(data['forestall-dnsblock-block-c2-domains-91ab.hosts']).toBe(
      [
        '# Forestall DNSBlock block-c2-domains-91ab: exact names only (the hosts plugin does not match subdomains).',
        '0.0.0.0 bad.example',
        ':: bad.example',
        '0.0.0.0 evil.example',
        ':: evil.example',
        '',
      ].join('\n'),
    );
  });

  it('GIVEN params THEN the namespace is taken and the hosts key can be left out', () => {
    const [manifest] = renderer.render(request({ params: { namespace: 'dns', hostsFile: false } }));
    expect(manifest!.metadata.namespace).toBe('dns');
    expect(Object.keys(manifest!.data as object)).toEqual([
      'forestall-dnsblock-block-c2-domains-91ab.override',
    ]);
    expect(
      renderer.validate(request({ params: { hostsFile: 'no', namespace: 'Kube System' } })),
    ).toEqual([
      'params.hostsFile must be true or false, not "no"',
      'params.namespace is not a namespace name: "Kube System"',
    ]);
  });

  it('GIVEN 10,000 real domains THEN template blocks of 32 zones each, and the ConfigMap within the budget', () => {
    const [manifest] = renderer.render(request({ values: tranco }));
    const snippet = (manifest!.data as Record<string, string>)[
      'forestall-dnsblock-block-c2-domains-91ab.override'
    ]!;
    const blocks = snippet.split('\n').filter((l) => l.startsWith('template ANY ANY '));
    expect(blocks.length).toBe(
      Math.ceil(blocks.flatMap((b) => b.split(' ').slice(3, -1)).length / 32),
    );
    expect(blocks.every((b) => b.endsWith(' {') && b.split(' ').length - 4 <= 32)).toBe(true);
    expect(manifestBytes(manifest)).toBeLessThanOrEqual(MAX_OBJECT_BYTES);
  });

  it('GIVEN more domains than one ConfigMap holds THEN validate refuses and suggests the way out', () => {
    const small = createCorednsRenderer({ maxObjectBytes: 64 * 1024 });
    const problems = small.validate(request({ values: tranco }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^the CoreDNS ConfigMap would be about \d+ KiB for \d+ domains, over the 64 KiB budget of one object; set params.hostsFile to false/,
    );
  });

  it('GIVEN values that would inject Corefile syntax, or a whole TLD THEN validate refuses them', () => {
    expect(
      renderer.validate(
        request({
          values: ['evil.example {\n}', 'a b.example', 'bad_-.example.', 'com', '-x.example'],
        }),
      ),
    ).toEqual([
      'values[0] "evil.example {\n}", values[1] "a b.example", values[2] "bad_-.example.", values[4] "-x.example" are not domain names (letters, digits, hyphens and underscores in dot-separated labels; IDNs in their xn-- form)',
      'values[3] "com" is a top-level domain; blocking a whole TLD is refused',
    ]);
  });

  it('GIVEN the same domains in another order THEN the same snippet', () => {
    expect(corefileSnippet('a', ['b.example', 'a.example'])).toBe(
      corefileSnippet('a', ['b.example', 'a.example']),
    );
    expect(JSON.stringify(renderer.render(request({ values: [...tranco].reverse() })))).toBe(
      JSON.stringify(renderer.render(request({ values: tranco }))),
    );
  });
});
