import { describe, expect, it } from 'vitest';
import { exposureFromObjects, INTERNAL_LOAD_BALANCER_ANNOTATIONS } from './exposure.js';
import { inventoryFromObjects } from './inventory.js';
import {
  deployment,
  gateway,
  httpRoute,
  ingress,
  namespace,
  pod,
  service,
} from './test-support.js';
import type { WorkloadExposure } from './types.js';

/** The exposure of the one workload `ns/Kind/name` among `objects`. */
function exposureOf(objects: unknown[], key = 'shop/Deployment/web'): WorkloadExposure {
  const w = exposureFromObjects(objects).workloads.get(key);
  if (!w) throw new Error(`no workload ${key}`);
  return w;
}

const web = deployment('shop', 'web', { labels: { app: 'web', tier: 'frontend' } });

describe('exposureFromObjects: Services', () => {
  it.each([
    [
      'LoadBalancer',
      { type: 'LoadBalancer' },
      [{ kind: 'LoadBalancer', via: 'Service shop/web (LoadBalancer)' }],
    ],
    ['NodePort', { type: 'NodePort' }, [{ kind: 'NodePort', via: 'Service shop/web (NodePort)' }]],
    [
      'ClusterIP with externalIPs',
      { externalIPs: ['203.0.113.10', '203.0.113.11'] },
      [{ kind: 'ExternalIP', via: 'Service shop/web (externalIPs 203.0.113.10, 203.0.113.11)' }],
    ],
  ])(
    'GIVEN a %s Service selecting the pods THEN the workload is internet-facing through it',
    (_what, opts, paths) => {
      const w = exposureOf([web, service('shop', 'web', opts)]);
      expect(w.internetFacing).toBe(true);
      expect(w.exposure).toEqual(paths);
    },
  );

  it('GIVEN a ClusterIP Service THEN the workload is not internet-facing', () => {
    expect(exposureOf([web, service('shop', 'web')])).toMatchObject({
      internetFacing: false,
      exposure: [],
    });
  });

  it.each(
    INTERNAL_LOAD_BALANCER_ANNOTATIONS.map(([key, value]) => [
      key,
      value === 'internal' ? 'Internal' : value,
    ]),
  )(
    'GIVEN a LoadBalancer annotated %s: %s THEN it is internal and the workload is not internet-facing',
    (key, value) => {
      const w = exposureOf([
        web,
        service('shop', 'web', { type: 'LoadBalancer', annotations: { [key!]: value! } }),
      ]);
      expect(w).toMatchObject({ internetFacing: false, exposure: [] });
    },
  );

  it('GIVEN an internal LoadBalancer that also has externalIPs THEN the external IPs still expose it', () => {
    const w = exposureOf([
      web,
      service('shop', 'web', {
        type: 'LoadBalancer',
        annotations: { 'service.beta.kubernetes.io/azure-load-balancer-internal': 'true' },
        externalIPs: ['203.0.113.10'],
      }),
    ]);
    expect(w.exposure.map((p) => p.kind)).toEqual(['ExternalIP']);
  });

  it.each([
    ['a selector with a label the pods lack', { tier: 'frontend', app: 'other' }],
    ['no selector (endpoints managed by hand)', {}],
  ])(
    'GIVEN a LoadBalancer Service with %s THEN it does not expose the workload',
    (_what, selector) => {
      expect(
        exposureOf([web, service('shop', 'web', { type: 'LoadBalancer', selector })])
          .internetFacing,
      ).toBe(false);
    },
  );

  it('GIVEN a LoadBalancer Service in another namespace with a matching selector THEN it does not expose the workload', () => {
    expect(
      exposureOf([web, service('other', 'web', { type: 'LoadBalancer', selector: { app: 'web' } })])
        .internetFacing,
    ).toBe(false);
  });

  it('GIVEN a Service selecting a subset of the pod labels THEN it exposes the workload', () => {
    expect(
      exposureOf([
        web,
        service('shop', 'lb', { type: 'LoadBalancer', selector: { tier: 'frontend' } }),
      ]).exposure,
    ).toEqual([{ kind: 'LoadBalancer', via: 'Service shop/lb (LoadBalancer)' }]);
  });
});

describe('exposureFromObjects: Ingress', () => {
  it('GIVEN an Ingress rule naming a ClusterIP Service that selects the pods THEN the path names the Ingress, the host and the Service port', () => {
    const w = exposureOf([
      web,
      service('shop', 'web'),
      ingress('shop', 'storefront', [
        { host: 'shop.example.com', service: 'web', port: 80 },
        { service: 'web', port: 'http' },
      ]),
    ]);
    expect(w.internetFacing).toBe(true);
    expect(w.exposure).toEqual([
      { kind: 'Ingress', via: 'Ingress shop/storefront (any host) → Service web:http' },
      { kind: 'Ingress', via: 'Ingress shop/storefront (host shop.example.com) → Service web:80' },
    ]);
  });

  it('GIVEN an Ingress default backend THEN it exposes the Service behind it', () => {
    expect(
      exposureOf([
        web,
        service('shop', 'web'),
        ingress('shop', 'catch-all', [], { service: 'web', port: 80 }),
      ]).exposure,
    ).toEqual([
      { kind: 'Ingress', via: 'Ingress shop/catch-all (default backend) → Service web:80' },
    ]);
  });

  it('GIVEN an Ingress naming a Service that does not exist, or one in another namespace THEN nothing is exposed', () => {
    expect(exposureOf([web, ingress('shop', 'i', [{ service: 'nope' }])]).internetFacing).toBe(
      false,
    );
    expect(
      exposureOf([web, service('shop', 'web'), ingress('other', 'i', [{ service: 'web' }])])
        .internetFacing,
    ).toBe(false);
  });
});

describe('exposureFromObjects: Gateway API', () => {
  const backend = [{ name: 'web', port: 8080 }];

  it('GIVEN an HTTPRoute attached to a Gateway in its own namespace THEN the path runs Gateway ← route → Service', () => {
    const w = exposureOf([
      web,
      service('shop', 'web'),
      gateway('shop', 'gw'),
      httpRoute('shop', 'web', [{ name: 'gw' }], backend),
    ]);
    expect(w.exposure).toEqual([
      { kind: 'Gateway', via: 'Gateway shop/gw ← HTTPRoute shop/web → Service web:8080' },
    ]);
  });

  it("GIVEN a Gateway in another namespace THEN the route attaches only when a listener admits routes from the route's namespace", () => {
    const objects = (allowedRoutes?: Record<string, unknown>) => [
      namespace('shop', { 'gateway-access': 'public' }),
      web,
      service('shop', 'web'),
      gateway('infra', 'public', allowedRoutes),
      httpRoute('shop', 'web', [{ name: 'public', namespace: 'infra' }], backend),
    ];
    const via = 'Gateway infra/public ← HTTPRoute shop/web → Service web:8080';
    // allowedRoutes defaults to namespaces from Same.
    expect(exposureOf(objects()).internetFacing).toBe(false);
    expect(exposureOf(objects({ namespaces: { from: 'All' } })).exposure).toEqual([
      { kind: 'Gateway', via },
    ]);
    expect(
      exposureOf(
        objects({
          namespaces: {
            from: 'Selector',
            selector: { matchLabels: { 'gateway-access': 'public' } },
          },
        }),
      ).internetFacing,
    ).toBe(true);
    expect(
      exposureOf(
        objects({
          namespaces: {
            from: 'Selector',
            selector: { matchLabels: { 'gateway-access': 'private' } },
          },
        }),
      ).internetFacing,
    ).toBe(false);
    // The API server's kubernetes.io/metadata.name label is there even when the Namespace object is not.
    expect(
      exposureOf(
        objects({
          namespaces: {
            from: 'Selector',
            selector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
          },
        }),
      ).internetFacing,
    ).toBe(true);
    expect(
      exposureOf(objects({ namespaces: { from: 'All' }, kinds: [{ kind: 'GRPCRoute' }] }))
        .internetFacing,
    ).toBe(false);
  });

  it('GIVEN a parentRef naming a listener the Gateway lacks, or a Gateway that does not exist THEN the route exposes nothing', () => {
    expect(
      exposureOf([
        web,
        service('shop', 'web'),
        gateway('shop', 'gw'),
        httpRoute('shop', 'web', [{ name: 'gw', sectionName: 'http' }], backend),
      ]).internetFacing,
    ).toBe(false);
    expect(
      exposureOf([web, service('shop', 'web'), httpRoute('shop', 'web', [{ name: 'gw' }], backend)])
        .internetFacing,
    ).toBe(false);
  });

  it('GIVEN a GRPCRoute whose backendRef names a Service in another namespace THEN the path names that namespace', () => {
    const w = exposureOf([
      web,
      service('shop', 'web'),
      gateway('edge', 'gw', { namespaces: { from: 'All' } }),
      httpRoute(
        'edge',
        'api',
        [{ name: 'gw' }],
        [{ name: 'web', namespace: 'shop', port: 9090 }],
        'GRPCRoute',
      ),
    ]);
    expect(w.exposure).toEqual([
      { kind: 'Gateway', via: 'Gateway edge/gw ← GRPCRoute edge/api → Service shop/web:9090' },
    ]);
  });

  it('GIVEN a backendRef of another kind THEN it is not a Service', () => {
    expect(
      exposureOf([
        web,
        service('shop', 'web'),
        gateway('shop', 'gw'),
        httpRoute(
          'shop',
          'web',
          [{ name: 'gw' }],
          [{ name: 'web', kind: 'ServiceImport', group: 'multicluster.x-k8s.io' }],
        ),
      ]).internetFacing,
    ).toBe(false);
  });
});

describe('exposureFromObjects: override annotation', () => {
  const annotated = (value: string) =>
    deployment('shop', 'web', { annotations: { 'forestall.io/internet-facing': value } });

  it('GIVEN "false" on a workload behind a LoadBalancer THEN it is not internet-facing, and the path is still listed', () => {
    const w = exposureOf([annotated('false'), service('shop', 'web', { type: 'LoadBalancer' })]);
    expect(w.internetFacing).toBe(false);
    expect(w.exposure.map((p) => p.kind)).toEqual(['LoadBalancer']);
  });

  it('GIVEN "true" on a workload nothing exposes THEN it is internet-facing, and the annotation is its path', () => {
    expect(exposureOf([annotated('true')])).toMatchObject({
      internetFacing: true,
      exposure: [
        {
          kind: 'Annotation',
          via: 'annotation forestall.io/internet-facing: "true" on Deployment shop/web',
        },
      ],
    });
  });

  it('GIVEN another value THEN it is ignored with a warning naming the workload', () => {
    const result = exposureFromObjects([
      annotated('yes'),
      service('shop', 'web', { type: 'NodePort' }),
    ]);
    expect(result.workloads.get('shop/Deployment/web')!.internetFacing).toBe(true);
    expect(result.warnings).toEqual([
      'Deployment shop/web: annotation forestall.io/internet-facing is "yes", not "true" or "false"; it is ignored',
    ]);
  });
});

describe('exposureFromObjects: workloads and images', () => {
  it('GIVEN every workload kind THEN each has its containers and init containers; owned Pods are not workloads', () => {
    const result = exposureFromObjects([
      deployment('shop', 'web', {
        images: { nginx: 'nginx:1.27.3', sidecar: 'envoyproxy/envoy:v1.31.0' },
        initImages: { migrate: 'registry.example.org/shop/migrate:3' },
      }),
      deployment('shop', 'db', { kind: 'StatefulSet', image: 'postgres:16.6' }),
      deployment('kube-system', 'agent', {
        kind: 'DaemonSet',
        image: 'registry.k8s.io/kube-proxy:v1.33.1',
      }),
      pod('shop', 'debug', { image: 'busybox' }),
      pod('shop', 'web-abc-123', { owner: { kind: 'ReplicaSet', name: 'web-abc' } }),
      { kind: 'ConfigMap', metadata: { name: 'x', namespace: 'shop' } },
      'not an object',
      null,
    ]);
    expect([...result.workloads.keys()].sort()).toEqual([
      'kube-system/DaemonSet/agent',
      'shop/Deployment/web',
      'shop/Pod/debug',
      'shop/StatefulSet/db',
    ]);
    expect(result.workloads.get('shop/Deployment/web')!.images).toEqual([
      { container: 'nginx', image: 'nginx:1.27.3', init: false },
      { container: 'sidecar', image: 'envoyproxy/envoy:v1.31.0', init: false },
      { container: 'migrate', image: 'registry.example.org/shop/migrate:3', init: true },
    ]);
    expect(result.workloads.get('shop/Pod/debug')!.images).toEqual([
      { container: 'debug', image: 'busybox', init: false },
    ]);
  });

  it('GIVEN malformed objects THEN they are skipped, not thrown on', () => {
    const result = exposureFromObjects([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's', namespace: 'shop' },
        spec: { selector: 'app=web', externalIPs: 'x' },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'i', namespace: 'shop' },
        spec: { rules: [{ http: { paths: 'x' } }, null] },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'r', namespace: 'shop' },
        spec: { parentRefs: [null, 'x'] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { template: { spec: { containers: [{ name: 'c' }, 'x'] } } },
      },
    ]);
    expect(result.workloads.get('shop/Deployment/web')).toMatchObject({
      internetFacing: false,
      images: [],
    });
  });

  it('GIVEN inventoryFromObjects THEN the inventory carries the exposure of the same objects', () => {
    const inventory = inventoryFromObjects([web, service('shop', 'web', { type: 'LoadBalancer' })]);
    expect(inventory.exposure?.workloads.get('shop/Deployment/web')?.internetFacing).toBe(true);
  });
});
