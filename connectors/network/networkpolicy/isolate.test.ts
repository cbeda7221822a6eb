import { describe, expect, it } from 'vitest';
import { rendererFor } from '../../index.js';
import type { Manifest } from '../../core/types.js';
import { networkPolicyRenderer as renderer } from './index.js';
import type { ActionRequest } from '../../../crds/index.js';

const web = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' };

const isolate = (over: Partial<ActionRequest> = {}): ActionRequest => ({
  name: 'kev-isolate-shop-web-3c1d',
  policy: 'kev-isolate',
  type: 'Isolate',
  values: ['CVE-2024-3400'],
  targets: [web],
  scope: {
    namespaces: ['shop'],
    workloadSelector: { matchLabels: { app: 'web', tier: 'frontend' } },
  },
  params: {},
  expiresAt: '2026-09-01T00:00:00Z',
  ...over,
});

const specOf = (m: Manifest) =>
  m.spec as { podSelector: object; policyTypes: string[]; ingress?: { from: object[] }[] };
const cves = (n: number, year = 2024) =>
  Array.from({ length: n }, (_, i) => `CVE-${year}-${String(1000 + i * 997)}`).sort();

describe('network:networkpolicy Isolate', () => {
  it('GIVEN a Deployment with a KEV CVE and the monitoring namespace allowed THEN one NetworkPolicy in its namespace lets in only its namespace and monitoring', () => {
    const manifests = renderer.render(isolate({ params: { allowNamespaces: ['monitoring'] } }));
    expect(manifests).toHaveLength(1);
    const [policy] = manifests;
    expect(policy).toMatchSnapshot();
    expect([policy!.kind, policy!.metadata.namespace, policy!.metadata.name]).toEqual([
      'NetworkPolicy',
      'shop',
      'forestall-kev-isolate-shop-web-3c1d',
    ]);
    expect(policy!.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'forestall',
      'forestall.io/action': 'kev-isolate-shop-web-3c1d',
      'forestall.io/policy': 'kev-isolate',
    });
    expect(policy!.metadata.annotations).toMatchObject({
      'forestall.io/cves': 'CVE-2024-3400',
      'forestall.io/target': 'Deployment/web',
      'forestall.io/expires-at': '2026-09-01T00:00:00Z',
    });
    expect(policy!.spec).toEqual({
      podSelector: { matchLabels: { app: 'web', tier: 'frontend' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { podSelector: {} },
            {
              namespaceSelector: {
                matchExpressions: [
                  { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['monitoring'] },
                ],
              },
            },
          ],
        },
      ],
    });
  });

  it('GIVEN no params THEN the defaults: the same namespace only, no other namespace', () => {
    const [policy] = renderer.render(isolate());
    expect(specOf(policy!).ingress).toEqual([{ from: [{ podSelector: {} }] }]);
  });

  it('GIVEN allowSameNamespace false and namespaces listed twice and unsorted THEN only those namespaces, sorted once each', () => {
    const [policy] = renderer.render(
      isolate({
        params: {
          allowSameNamespace: false,
          allowNamespaces: ['monitoring', 'logging', 'monitoring'],
        },
      }),
    );
    expect(specOf(policy!).ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: {
              matchExpressions: [
                {
                  key: 'kubernetes.io/metadata.name',
                  operator: 'In',
                  values: ['logging', 'monitoring'],
                },
              ],
            },
          },
        ],
      },
    ]);
  });

  it('GIVEN allowSameNamespace false and no namespaces THEN no ingress rule at all (all ingress denied), not an empty list the server would drop', () => {
    const [policy] = renderer.render(isolate({ params: { allowSameNamespace: false } }));
    expect(specOf(policy!)).toEqual({
      podSelector: { matchLabels: { app: 'web', tier: 'frontend' } },
      policyTypes: ['Ingress'],
    });
    expect('ingress' in specOf(policy!)).toBe(false);
  });

  it('GIVEN a bare Pod target (apiVersion v1) and a selector with an In expression THEN it is isolated the same way', () => {
    const [policy] = renderer.render(
      isolate({
        targets: [{ apiVersion: 'v1', kind: 'Pod', name: 'debug-7d9f', namespace: 'tools' }],
        scope: {
          namespaces: ['tools'],
          workloadSelector: {
            matchExpressions: [{ key: 'run', operator: 'In', values: ['debug'] }],
          },
        },
      }),
    );
    expect(policy!.metadata.namespace).toBe('tools');
    expect(policy!.metadata.annotations!['forestall.io/target']).toBe('Pod/debug-7d9f');
    expect(specOf(policy!).podSelector).toEqual({
      matchExpressions: [{ key: 'run', operator: 'In', values: ['debug'] }],
    });
  });

  it("GIVEN an empty scope.namespaces THEN the NetworkPolicy still goes into the target's namespace", () => {
    const [policy] = renderer.render(
      isolate({ scope: { namespaces: [], workloadSelector: { matchLabels: { app: 'web' } } } }),
    );
    expect(policy!.metadata.namespace).toBe('shop');
  });

  it('GIVEN 25 CVEs THEN the annotation lists the first 20 in numeric order and counts the rest', () => {
    const values = ['CVE-2024-10000', 'CVE-2024-9999', 'CVE-2023-44487', ...cves(22)];
    const [policy] = renderer.render(isolate({ values }));
    const annotation = policy!.metadata.annotations!['forestall.io/cves']!;
    expect(annotation).toMatch(/^CVE-2023-44487,CVE-2024-1000,CVE-2024-1997,.*\(\+5 more\)$/);
    const listed = annotation.replace(/ \(\+5 more\)$/, '').split(',');
    expect(listed).toHaveLength(20);
    expect(new Set(listed).size).toBe(20);
    // 9999 sorts before 10000, by number not by text.
    const all = renderer.render(isolate({ values: ['CVE-2024-10000', 'CVE-2024-9999'] }))[0]!
      .metadata.annotations!['forestall.io/cves'];
    expect(all).toBe('CVE-2024-9999,CVE-2024-10000');
  });

  it('GIVEN the same request with values and namespaces in another order THEN the output is byte for byte the same; other params change the hash, not the name', () => {
    const values = cves(8);
    const a = renderer.render(
      isolate({ values, params: { allowNamespaces: ['monitoring', 'logging'] } }),
    );
    const b = renderer.render(
      isolate({
        values: [...values].reverse(),
        params: { allowNamespaces: ['logging', 'monitoring'] },
      }),
    );
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const c = renderer.render(isolate({ values, params: { allowNamespaces: ['monitoring'] } }));
    expect(c[0]!.metadata.name).toBe(a[0]!.metadata.name);
    expect(c[0]!.metadata.annotations!['forestall.io/render-hash']).not.toBe(
      a[0]!.metadata.annotations!['forestall.io/render-hash'],
    );
  });

  it('GIVEN no values (every CVE patched) THEN nothing is rendered, with or without a target, so applying it lifts the isolation', () => {
    expect(renderer.validate(isolate({ values: [] }))).toEqual([]);
    expect(renderer.render(isolate({ values: [] }))).toEqual([]);
    expect(
      renderer.validate(isolate({ values: [], targets: [], scope: { namespaces: [] } })),
    ).toEqual([]);
    expect(
      renderer.render(isolate({ values: [], targets: [], scope: { namespaces: [] } })),
    ).toEqual([]);
  });

  it('GIVEN no target or two targets THEN validate refuses: one NetworkPolicy per workload', () => {
    expect(renderer.validate(isolate({ targets: [] }))).toEqual([
      'targets must name exactly one workload for Isolate (one NetworkPolicy per workload), not 0',
    ]);
    expect(renderer.validate(isolate({ targets: undefined }))).toEqual([
      'targets must name exactly one workload for Isolate (one NetworkPolicy per workload), not 0',
    ]);
    expect(renderer.validate(isolate({ targets: [web, { ...web, name: 'api' }] }))).toEqual([
      'targets must name exactly one workload for Isolate (one NetworkPolicy per workload), not 2',
    ]);
    expect(() => renderer.render(isolate({ targets: [] }))).toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_INVALID_REQUEST',
        message: expect.stringContaining(
          'network:networkpolicy cannot enforce action kev-isolate-shop-web-3c1d: targets must name exactly one workload',
        ),
      }),
    );
  });

  it.each([
    ['absent', undefined],
    ['empty', {}],
    ['empty matchLabels', { matchLabels: {} }],
    [
      'only negative expressions',
      {
        matchExpressions: [
          { key: 'app', operator: 'NotIn' as const, values: ['db'] },
          { key: 'canary', operator: 'DoesNotExist' as const },
        ],
      },
    ],
  ])(
    'GIVEN a workload selector that is %s THEN validate refuses: isolating the whole namespace by accident must be impossible',
    (_, workloadSelector) => {
      const request = isolate({
        scope: { namespaces: ['shop'], ...(workloadSelector ? { workloadSelector } : {}) },
      });
      expect(renderer.validate(request)).toEqual([
        "scope.workloadSelector must select the target's pods by at least one label value (matchLabels, or an In expression); an empty or only negative selector would isolate every pod of the namespace, so it is refused",
      ]);
      expect(() => renderer.render(request)).toThrow(
        expect.objectContaining({ code: 'FST_CONNECTOR_INVALID_REQUEST' }),
      );
    },
  );

  it('GIVEN bad params THEN validate names each field: unknown keys, wrong types, namespace names that are not DNS-1123 labels, too many', () => {
    expect(
      renderer.validate(isolate({ params: { allowNamespace: ['monitoring'], priority: 3 } })),
    ).toEqual([
      'params.allowNamespace is not a parameter of this connector (known: allowSameNamespace, allowNamespaces)',
      'params.priority is not a parameter of this connector (known: allowSameNamespace, allowNamespaces)',
    ]);
    expect(
      renderer.validate(
        isolate({ params: { allowSameNamespace: 'yes', allowNamespaces: 'monitoring' } }),
      ),
    ).toEqual([
      'params.allowNamespaces must be a list of strings, not "monitoring"',
      'params.allowSameNamespace must be true or false, not "yes"',
    ]);
    expect(
      renderer.validate(
        isolate({
          params: {
            allowNamespaces: ['monitoring', 7, 'Monitoring', 'kube.system', 'a'.repeat(64), '-x'],
          },
        }),
      ),
    ).toEqual([
      'params.allowNamespaces[1] must be a string, not 7',
      'params.allowNamespaces[2] is not a namespace name (a DNS-1123 label: lower-case letters, digits and \'-\', at most 63 characters): "Monitoring"',
      'params.allowNamespaces[3] is not a namespace name (a DNS-1123 label: lower-case letters, digits and \'-\', at most 63 characters): "kube.system"',
      `params.allowNamespaces[4] is not a namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters): "${'a'.repeat(64)}"`,
      'params.allowNamespaces[5] is not a namespace name (a DNS-1123 label: lower-case letters, digits and \'-\', at most 63 characters): "-x"',
    ]);
    expect(
      renderer.validate(
        isolate({ params: { allowNamespaces: Array.from({ length: 101 }, (_, i) => `ns-${i}`) } }),
      ),
    ).toEqual(['params.allowNamespaces must have at most 100 items, not 101']);
    expect(
      renderer.validate(isolate({ params: { allowNamespaces: null, allowSameNamespace: null } })),
    ).toEqual([]); // null: the default
  });

  it('GIVEN values that are not CVE IDs THEN validate names them', () => {
    expect(renderer.validate(isolate({ values: ['CVE-2024-3400', '203.0.113.9'] }))).toEqual([
      'values[1] "203.0.113.9" is not a CVE ID (CVE-YYYY-NNNN)',
    ]);
    expect(
      renderer.validate(
        isolate({
          values: ['cve-2024-3400', 'CVE-24-1', 'CVE-2024-123', 'GHSA-xxxx', 'x', 'y', 'z'],
        }),
      ),
    ).toEqual([
      'values[0] "cve-2024-3400", values[1] "CVE-24-1", values[2] "CVE-2024-123", values[3] "GHSA-xxxx", values[4] "x" and 2 more are not CVE IDs (CVE-YYYY-NNNN)',
    ]);
  });

  it('GIVEN a bad target or a scope in another namespace THEN validate names the field', () => {
    expect(
      renderer.validate(
        isolate({
          targets: [{ apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'shop' }],
        }),
      ),
    ).toEqual([
      'targets[0].kind must be a workload kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, CronJob), not "Service"',
    ]);
    expect(
      renderer.validate(
        isolate({
          targets: [{ apiVersion: 'v1', kind: 'Deployment', name: 'Web_1', namespace: 'Shop' }],
          scope: { namespaces: [], workloadSelector: { matchLabels: { app: 'web' } } },
        }),
      ),
    ).toEqual([
      'targets[0].apiVersion must be apps/v1 for a Deployment, not "v1"',
      'targets[0].namespace is not a namespace name: "Shop"',
      'targets[0].name is not a valid object name: "Web_1"',
    ]);
    expect(
      renderer.validate(
        isolate({ targets: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }] }),
      ),
    ).toEqual([
      "targets[0].namespace is missing: Isolate writes its NetworkPolicy into the workload's namespace",
    ]);
    expect(
      renderer.validate(
        isolate({
          scope: {
            namespaces: ['payments', 'shop'],
            workloadSelector: { matchLabels: { app: 'web' } },
          },
        }),
      ),
    ).toEqual([
      'scope.namespaces must be empty or only the target\'s namespace "shop" (the NetworkPolicy goes there), not "payments", "shop"',
    ]);
  });

  it.each(['network:cilium', 'network:calico', 'network:clusternetworkpolicy'])(
    'GIVEN an Isolate for %s THEN it refuses with one sentence naming the types it enforces',
    (id) => {
      const other = rendererFor(id);
      expect(other.supports).not.toContain('Isolate');
      expect(other.validate(isolate())).toEqual([
        `type Isolate is not enforced by ${id} (it enforces EgressDeny)`,
      ]);
      expect(() => other.render(isolate())).toThrow(
        expect.objectContaining({
          code: 'FST_CONNECTOR_INVALID_REQUEST',
          message: `${id} cannot enforce action kev-isolate-shop-web-3c1d: type Isolate is not enforced by ${id} (it enforces EgressDeny)`,
        }),
      );
    },
  );
});
