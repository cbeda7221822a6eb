import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  CONNECTOR_IDS,
  MAX_OBJECT_BYTES,
  actionSelector,
  connectorFor,
  manifestBytes,
  refOf,
  rendererFor,
  writeKustomization,
  type ClusterAccess,
  type Connector,
  type Manifest,
} from '../../connectors/index.js';
import { kubeClusterAccess } from '../../controller/connectors/cluster-access.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { ControlPlane, THIRD_PARTY_CRDS } from '../harness/control-plane.js';
import { envtestBinary, REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import type { ActionRequest, ObjectRef } from '../../crds/index.js';

// The shared connector contract, run against every connector and every action type it
// enforces, on a real API server with the Forestall CRDs and the third-party CRDs of
// test/crds/third-party installed: apply twice equals apply once, the plan after apply is
// empty, a dry run writes nothing, an update converges (pruning objects no longer
// needed), remove deletes everything, and every rendered object is accepted by the
// server and built by `kubectl kustomize`.

const feeds = join(REPO_ROOT, '../shared/feeds');
const ipsum = readFileSync(join(feeds, 'ipsum/ipsum-2026-08-22.txt'), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.split('\t')[0]!);
const ipv6 = (
  JSON.parse(readFileSync(join(feeds, 'warninglists/public-dns-v6.json'), 'utf8')) as {
    list: string[];
  }
).list;
const domains = (
  JSON.parse(readFileSync(join(feeds, 'warninglists/tranco10k.json'), 'utf8')) as { list: string[] }
).list;

let cp: ControlPlane;
let client: KubeClient;
let access: ClusterAccess;

beforeAll(async () => {
  cp = await ControlPlane.start();
  await cp.installCrds(THIRD_PARTY_CRDS);
  client = new KubeClient(cp.kubeConfig());
  access = kubeClusterAccess(client);
  for (const name of ['payments', 'shop', 'dns'])
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  // A new CRD is Established before its storage answers lists (HTTP 429 "storage is
  // (re)initializing" for a moment); wait for that, so the contract sees a settled server.
  for (const id of CONNECTOR_IDS) {
    for (const k of rendererFor(id).kinds)
      await eventually(
        `${k.kind} to be listable`,
        async () => (await access.list(k.apiVersion, k.kind, 'forestall.io/none=none'), true),
      );
  }
});
afterAll(async () => cp?.stop());

const egress = (
  name: string,
  values: string[],
  over: Partial<ActionRequest> = {},
): ActionRequest => ({
  name,
  policy: 'block-ipsum',
  type: 'EgressDeny',
  values,
  scope: {
    namespaces: ['payments', 'shop'],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
    workloadSelector: { matchLabels: { app: 'checkout' } },
  },
  params: {},
  expiresAt: '2026-09-01T00:00:00Z',
  ...over,
});
const dnsBlock = (
  name: string,
  values: string[],
  params: Record<string, unknown> = {},
): ActionRequest => ({
  name,
  policy: 'block-c2-domains',
  type: 'DNSBlock',
  values,
  scope: { namespaces: [] },
  params,
});
/** An Isolate of the Deployment `web` in `namespace`, for KEV CVEs, until patched (no expiry). */
const isolate = (
  name: string,
  values: string[],
  namespace = 'shop',
  params: Record<string, unknown> = { allowNamespaces: ['monitoring'] },
): ActionRequest => ({
  name,
  policy: 'kev-isolate',
  type: 'Isolate',
  values,
  targets: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace }],
  scope: {
    namespaces: [namespace],
    workloadSelector: { matchLabels: { app: 'web', 'app.kubernetes.io/component': 'frontend' } },
  },
  params,
});

interface ContractCase {
  id: string;
  /** Shown in the suite's name when a connector has a case per action type. */
  title?: string;
  /** The first render: big enough that the sharding connectors write several shards. */
  first: ActionRequest;
  /** A changed request whose render needs fewer objects, so applying it must prune. */
  second: ActionRequest;
}

const CASES: ContractCase[] = [
  {
    id: 'network:networkpolicy',
    first: egress('np-block', [...ipsum.slice(0, 14_000), ...ipv6]),
    second: egress('np-block', ipsum.slice(0, 3000), { scope: { namespaces: ['shop'] } }),
  },
  // One object per workload, so the smaller render is the workload's policy in another
  // namespace: the old one must be pruned. Lifting (no CVE left) is checked below.
  {
    id: 'network:networkpolicy',
    title: 'network:networkpolicy Isolate',
    first: isolate('np-isolate', ['CVE-2023-44487', 'CVE-2024-3400']),
    second: isolate('np-isolate', ['CVE-2024-3400'], 'payments', {
      allowSameNamespace: false,
      allowNamespaces: ['monitoring', 'shop'],
    }),
  },
  {
    id: 'network:clusternetworkpolicy',
    first: egress('cnp-block', [...ipsum, ...ipv6], { params: { priority: 20 } }),
    second: egress('cnp-block', ipsum.slice(0, 14_000)),
  },
  {
    id: 'network:cilium',
    first: egress('cilium-block', [...ipsum, ...ipv6]),
    second: egress('cilium-block', ipsum.slice(0, 14_000)),
  },
  {
    id: 'network:calico',
    first: egress('calico-block', [...ipsum, ...ipv6], { params: { order: 50 } }),
    second: egress('calico-block', ipsum.slice(0, 14_000)),
  },
  {
    id: 'dns:coredns',
    first: dnsBlock('coredns-block', domains),
    second: dnsBlock('coredns-block', domains.slice(0, 500), {
      namespace: 'dns',
      hostsFile: false,
    }),
  },
  {
    id: 'dns:rpz',
    first: dnsBlock('rpz-block', domains),
    second: dnsBlock('rpz-block', domains.slice(0, 500), { namespace: 'dns', ttl: 60 }),
  },
];

/** Every object of the connector's kinds labelled with the action, as the server has them. */
async function liveObjects(id: string, actionName: string): Promise<Manifest[]> {
  const lists = await Promise.all(
    rendererFor(id).kinds.map((k) => access.list(k.apiVersion, k.kind, actionSelector(actionName))),
  );
  return lists.flat();
}
const key = (ref: ObjectRef) => `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
const keys = (refs: ObjectRef[]) => refs.map(key).sort();
const versions = async (id: string, name: string) =>
  Object.fromEntries(
    (await liveObjects(id, name)).map((m) => [key(refOf(m)), m.metadata.resourceVersion]),
  );

/** kubectl, built with the control-plane binaries from the same Kubernetes module. */
const kubectl = () => envtestBinary(inject('envtestAssets'), 'kubectl');

describe.each(CASES.map((c) => ({ ...c, title: c.title ?? c.id })))(
  'connector contract: $title',
  ({ id, first, second }) => {
    let connector: Connector;
    beforeAll(() => {
      connector = connectorFor(id, access);
    });

    it('GIVEN a fresh action WHEN applied as a dry run THEN every object is reported as a create and nothing is written', async () => {
      const rendered = rendererFor(id).render(first);
      const outcome = await connector.apply(first, { dryRun: true });
      expect(outcome.changes.every((c) => c.op === 'create')).toBe(true);
      expect(keys(outcome.changes.map((c) => c.ref))).toEqual(keys(rendered.map(refOf)));
      expect(await liveObjects(id, first.name)).toEqual([]);
    });

    it('GIVEN a fresh action WHEN applied THEN the server accepts every rendered object, each under the size budget', async () => {
      const rendered = rendererFor(id).render(first);
      if (id !== 'network:networkpolicy' && id.startsWith('network:'))
        expect(rendered.length).toBeGreaterThan(2); // really sharded
      const outcome = await connector.apply(first);
      expect(outcome.changes.map((c) => c.op)).toEqual(rendered.map(() => 'create'));
      expect(keys(outcome.objects)).toEqual(keys(rendered.map(refOf)));
      const live = await liveObjects(id, first.name);
      expect(keys(live.map(refOf))).toEqual(keys(rendered.map(refOf)));
      for (const m of live)
        expect(manifestBytes(m), key(refOf(m))).toBeLessThan(MAX_OBJECT_BYTES + 64 * 1024); // what we sent plus managedFields
    });

    it('GIVEN an applied action WHEN applied again THEN no change is reported and no object is written (resourceVersions unchanged)', async () => {
      const before = await versions(id, first.name);
      const outcome = await connector.apply(first);
      expect(outcome.changes).toEqual([]);
      expect(await versions(id, first.name)).toEqual(before);
    });

    it('GIVEN an applied action THEN its plan is empty', async () => {
      expect(await connector.plan(first)).toEqual([]);
    });

    it('GIVEN an object edited by someone else THEN the plan shows the update and apply restores it', async () => {
      const [target] = await liveObjects(id, first.name);
      const ref = refOf(target!);
      const intruder = new KubeClient(cp.kubeConfig(), undefined, 'intruder');
      await intruder.apply({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: {
          name: ref.name,
          namespace: ref.namespace,
          annotations: { 'forestall.io/render-hash': 'tampered' },
        },
      });
      expect(await connector.plan(first)).toEqual([{ op: 'update', ref }]);
      expect((await connector.apply(first)).changes).toEqual([{ op: 'update', ref }]);
      expect(await connector.plan(first)).toEqual([]);
    });

    it('GIVEN an applied action WHEN removed as a dry run THEN every object is reported and every object is still there', async () => {
      const before = await versions(id, first.name);
      const outcome = await connector.remove(first.name, { dryRun: true });
      expect(outcome.changes.every((c) => c.op === 'delete')).toBe(true);
      expect(keys(outcome.changes.map((c) => c.ref))).toEqual(Object.keys(before).sort());
      expect(await versions(id, first.name)).toEqual(before);
    });

    it('GIVEN a changed, smaller request WHEN applied THEN the live objects converge on the new render, pruning what is no longer rendered', async () => {
      const rendered = rendererFor(id).render(second);
      const before = keys((await liveObjects(id, first.name)).map(refOf));
      expect(rendered.length).toBeLessThanOrEqual(before.length);
      const outcome = await connector.apply(second);
      const deleted = outcome.changes.filter((c) => c.op === 'delete').map((c) => key(c.ref));
      expect(deleted.length).toBeGreaterThan(0);
      expect(deleted.sort()).toEqual(before.filter((k) => !keys(rendered.map(refOf)).includes(k)));
      const live = await liveObjects(id, second.name);
      expect(keys(live.map(refOf))).toEqual(keys(rendered.map(refOf)));
      for (const m of rendered) {
        const found = live.find((l) => key(refOf(l)) === key(refOf(m)))!;
        for (const field of Object.keys(m).filter(
          (k) => !['apiVersion', 'kind', 'metadata'].includes(k),
        ))
          expect(found[field]).toEqual(m[field]);
      }
      expect(await connector.plan(second)).toEqual([]);
      expect((await connector.apply(second)).changes).toEqual([]);
    });

    it('GIVEN the rendered manifests written as a kustomization THEN `kubectl kustomize` builds exactly those objects', () => {
      const rendered = rendererFor(id).render(second);
      const dir = mkdtempSync(join(tmpdir(), 'forestall-kustomize-'));
      try {
        writeKustomization(dir, rendered);
        const out = execFileSync(kubectl(), ['kustomize', dir], {
          encoding: 'utf8',
          maxBuffer: 256 * 1024 * 1024,
        });
        const built = parseAllDocuments(out).map((d) => d.toJS() as Manifest);
        expect(keys(built.map(refOf))).toEqual(keys(rendered.map(refOf)));
        for (const m of rendered)
          expect(built.find((b) => key(refOf(b)) === key(refOf(m)))).toEqual(m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('GIVEN an applied action WHEN removed THEN no labelled object is left, and removing again changes nothing', async () => {
      const before = keys((await liveObjects(id, second.name)).map(refOf));
      const outcome = await connector.remove(second.name);
      expect(keys(outcome.changes.map((c) => c.ref))).toEqual(before);
      await eventually(
        'every object to be gone',
        async () => (await liveObjects(id, second.name)).length === 0,
      );
      expect((await connector.remove(second.name)).changes).toEqual([]);
    });
  },
);

describe('network:networkpolicy Isolate on a real API server', () => {
  const peers = (m: Manifest | undefined) =>
    (m?.spec as { ingress?: { from: unknown[] }[] } | undefined)?.ingress;

  it('GIVEN an applied Isolate THEN the server keeps every rendered field (the empty podSelector peer included) WHEN its CVEs are patched THEN applying lifts it', async () => {
    const connector = connectorFor('network:networkpolicy', access);
    const request = isolate('np-isolate-lift', ['CVE-2024-3400']);
    const [rendered] = rendererFor('network:networkpolicy').render(request);
    await connector.apply(request);
    const live = await access.get(refOf(rendered!));
    expect(live?.spec).toEqual(rendered!.spec);
    expect(peers(live)).toEqual([
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
    ]);
    expect(live?.metadata.annotations).toMatchObject({
      'forestall.io/cves': 'CVE-2024-3400',
      'forestall.io/target': 'Deployment/web',
    });

    const patched = { ...request, values: [] };
    expect(await connector.plan(patched)).toEqual([{ op: 'delete', ref: refOf(rendered!) }]);
    expect((await connector.apply(patched)).changes).toEqual([
      { op: 'delete', ref: refOf(rendered!) },
    ]);
    await eventually(
      'the isolation to be lifted',
      async () => (await liveObjects('network:networkpolicy', request.name)).length === 0,
    );
    expect(await connector.plan(patched)).toEqual([]);
  });

  it('GIVEN an Isolate allowing nothing THEN the policy has no ingress rule, and the plan after apply is empty (no rule, not an empty list the server drops)', async () => {
    const connector = connectorFor('network:networkpolicy', access);
    const request = isolate('np-isolate-all', ['CVE-2024-3400'], 'shop', {
      allowSameNamespace: false,
    });
    await connector.apply(request);
    const [live] = await liveObjects('network:networkpolicy', request.name);
    expect(live?.spec).toEqual({
      podSelector: { matchLabels: { app: 'web', 'app.kubernetes.io/component': 'frontend' } },
      policyTypes: ['Ingress'],
    });
    expect(await connector.plan(request)).toEqual([]);
    await connector.remove(request.name);
  });
});

describe('kubeClusterAccess', () => {
  it('GIVEN more labelled objects than a list page holds, in several namespaces THEN list returns them all, typed', async () => {
    const labels = { 'forestall.io/test': 'paging' };
    for (let i = 0; i < 130; i++) {
      await client.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `page-${i}`, namespace: i % 2 === 0 ? 'shop' : 'payments', labels },
        data: { i: String(i) },
      });
    }
    const listed = await access.list('v1', 'ConfigMap', 'forestall.io/test=paging');
    expect(listed).toHaveLength(130);
    expect(new Set(listed.map((m) => m.metadata.namespace))).toEqual(new Set(['shop', 'payments']));
    expect(listed.every((m) => m.apiVersion === 'v1' && m.kind === 'ConfigMap')).toBe(true);
  });

  it('GIVEN dry runs THEN apply and delete are checked by the server and write nothing', async () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'dry', namespace: 'shop' },
      data: { a: '1' },
    };
    const returned = await access.apply(object, { dryRun: true });
    expect(returned.metadata.name).toBe('dry');
    expect(
      await access.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' }),
    ).toBeUndefined();
    await access.apply(object);
    await access.delete(
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' },
      { dryRun: true },
    );
    expect(
      (await access.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' }))
        ?.data,
    ).toEqual({ a: '1' });
    await access.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' });
    await access.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' }); // already gone: fine
    expect(
      await access.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'dry' }),
    ).toBeUndefined();
  });

  it("GIVEN kinds served or not THEN served() says so; a rejected object surfaces the server's message", async () => {
    expect(await access.served('v1', 'ConfigMap')).toBe(true);
    expect(await access.served('cilium.io/v2alpha1', 'CiliumCIDRGroup')).toBe(true);
    expect(await access.served('v1', 'NoSuchKind')).toBe(false);
    expect(await access.served('nothing.example.com/v1', 'Thing')).toBe(false);
    const bad = {
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'too-many' },
      spec: {
        tier: 'Admin',
        priority: 1,
        subject: { namespaces: {} },
        egress: [
          {
            action: 'Deny',
            to: [{ networks: Array.from({ length: 26 }, (_, i) => `10.0.${i}.0/24`) }],
          },
        ],
      },
    };
    await expect(access.apply(bad)).rejects.toThrow(/must have at most 25 items/);
  });
});

describe('a connector whose CRDs are not installed', () => {
  it('GIVEN the CiliumCIDRGroup CRD removed THEN plan and apply fail with FST_CONNECTOR_KIND_NOT_SERVED naming the kind, and remove still succeeds', async () => {
    await client.delete({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'ciliumcidrgroups.cilium.io' },
    });
    // A fresh client: the shared one has cached discovery that still lists the kind.
    const fresh = () => kubeClusterAccess(new KubeClient(cp.kubeConfig()));
    await eventually(
      'CiliumCIDRGroup to leave discovery',
      async () => !(await fresh().served('cilium.io/v2alpha1', 'CiliumCIDRGroup')),
    );
    const connector = connectorFor('network:cilium', fresh());
    const request = egress('cilium-missing', ipsum.slice(0, 100));
    // One at a time: a second promise created up front could reject before it is awaited.
    for (const attempt of [() => connector.plan(request), () => connector.apply(request)]) {
      await expect(attempt()).rejects.toThrow(
        expect.objectContaining({
          code: 'FST_CONNECTOR_KIND_NOT_SERVED',
          errorClass: 'terminal',
          message:
            'network:cilium cannot enforce action cilium-missing: the API server does not serve CiliumCIDRGroup (cilium.io/v2alpha1); the CustomResourceDefinition is missing. Install the enforcement point (its CRDs) or choose another connector.',
        }),
      );
    }
    expect(await connector.remove('cilium-missing')).toEqual({ changes: [], objects: [] });
  });
});

// Keep the connector list and the contract cases in step: a new connector, or a new action
// type of a connector, must join the suite.
it('covers every registered connector and every action type each enforces', () => {
  const covered = CASES.map((c) => `${c.id} ${c.first.type}`).sort();
  expect(covered).toEqual(
    CONNECTOR_IDS.flatMap((id) => rendererFor(id).supports.map((type) => `${id} ${type}`)).sort(),
  );
});
