import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { emit } from '../../../bench/report.js';
import { KINDS, LABEL_MANAGED_BY, MANAGED_BY } from '../../../crds/index.js';
import { eventually } from '../../harness/eventually.js';
import { e2eNode } from '../cluster.js';
import { secondsSince } from '../node.js';

// The chart, installed by the real helm from the locally built image on the real
// node, under the restricted Pod Security level; see README.md beside this file.
const node = e2eNode();
const { kubectl, helm } = node;
const NAMESPACE = 'forestall-e2e-install';
const RELEASE = 'forestall';
// controller/config.ts: the default --leader-election-id; the chart passes none.
const LEASE = 'forestall-controller';
/** The namespaced kinds the chart and the controller write, searched for leftovers by label. */
const NAMESPACED_KINDS =
  'all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,' +
  'poddisruptionbudgets,leases';
/** The same with the chart's cluster-scoped kinds. */
const LABELLED_KINDS = `${NAMESPACED_KINDS},clusterroles,clusterrolebindings`;

interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

interface PodView {
  name: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
}

async function pods(): Promise<PodView[]> {
  const list = JSON.parse(
    await kubectl([
      '-n',
      NAMESPACE,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'json',
    ]),
  ) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { phase: string; conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    phase: p.status.phase,
    ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: p.metadata.deletionTimestamp !== undefined,
  }));
}

async function leaseHolder(): Promise<string> {
  return (
    await kubectl(['-n', NAMESPACE, 'get', 'lease', LEASE, '-o', 'jsonpath={.spec.holderIdentity}'])
  ).trim();
}

/** `kind/name` lines for the given refs that still exist. */
async function remaining(refs: readonly ObjectRef[]): Promise<string[]> {
  const left: string[] = [];
  for (const ref of refs) {
    const ns = ref.namespace ? ['-n', ref.namespace] : [];
    const out = await kubectl([
      ...ns,
      'get',
      ref.kind,
      ref.name,
      '--ignore-not-found',
      '-o',
      'name',
    ]);
    if (out.trim())
      left.push(`${ref.kind}/${ref.name}${ref.namespace ? ` in ${ref.namespace}` : ''}`);
  }
  return left;
}

describe('install: helm install of charts/forestall on the real node', () => {
  let manifest: ObjectRef[] = [];

  beforeAll(async () => {
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: NAMESPACE,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      }),
    );
    // A pod created before the namespace's default ServiceAccount exists is refused
    // (test/node/README.md, trap 5); the chart's own ServiceAccount does not race it,
    // but the dry-run pod below uses the default one.
    await kubectl([
      '-n',
      NAMESPACE,
      'wait',
      '--for=create',
      'serviceaccount/default',
      '--timeout=30s',
    ]);
  });

  afterAll(async () => {
    // Whatever the tests left (a failed test stops before uninstalling).
    await node.uninstallChart(RELEASE, NAMESPACE);
    await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true']);
  });

  it('runs two replicas Running and Ready under the restricted Pod Security level', async () => {
    // GIVEN the namespace enforces "restricted": a privileged pod is refused there
    const privileged = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged', namespace: NAMESPACE },
      spec: {
        containers: [
          { name: 'c', image: node.busyboxImage, securityContext: { privileged: true } },
        ],
      },
    });
    await expect(kubectl(['apply', '--dry-run=server', '-f', '-'], privileged)).rejects.toThrow(
      /violates PodSecurity "restricted:latest"/,
    );

    // WHEN the chart is installed with the image the globalSetup imported
    const t = Date.now();
    await node.installChart(RELEASE, NAMESPACE);
    manifest = parseAllDocuments(await helm(['get', 'manifest', RELEASE, '-n', NAMESPACE]))
      .map(
        (doc) => doc.toJS() as { kind?: string; metadata?: { name: string; namespace?: string } },
      )
      .filter((o) => o?.kind && o.metadata)
      .map((o) => ({
        kind: o.kind!,
        name: o.metadata!.name,
        // Namespaced objects render their namespace (the chart sets it on each).
        namespace: o.metadata!.namespace,
      }));

    // THEN two pods of the release are Running and Ready
    const ready = await eventually(
      'two Running and Ready forestall pods',
      async () => {
        const list = await pods();
        return list.length === 2 && list.every((p) => p.phase === 'Running' && p.ready) && list;
      },
      180_000,
      500,
    );
    emit('e2e helm install to two pods Ready', secondsSince(t), 's', {}, 2);
    expect(ready.map((p) => p.phase)).toEqual(['Running', 'Running']);
    // and one of them leads
    const holder = await eventually('a Lease holder', async () => (await leaseHolder()) || false);
    expect(ready.map((p) => p.name)).toContain(holder);
  });

  it('hands the Lease to another pod within 15 s when the leader pod is deleted', async () => {
    // GIVEN the leader
    const leader = await leaseHolder();
    expect((await pods()).map((p) => p.name)).toContain(leader);

    // WHEN its pod is deleted (SIGTERM, as a drain or rollout does)
    const t = Date.now();
    await kubectl(['-n', NAMESPACE, 'delete', 'pod', leader, '--wait=false']);

    // THEN another pod holds the Lease within 15 s
    const next = await eventually(
      'another pod holding the Lease',
      async () => {
        const holder = await leaseHolder();
        return holder !== '' && holder !== leader && holder;
      },
      30_000,
      100,
    );
    const seconds = secondsSince(t);
    emit('e2e leader handover', seconds, 's', { from: leader, to: next }, 2);
    expect(seconds).toBeLessThanOrEqual(15);
    expect((await pods()).find((p) => p.name === next)?.deleting).toBe(false);
    // and the Deployment is back to two Ready replicas
    await eventually(
      'two Ready pods again',
      async () => {
        const list = (await pods()).filter((p) => !p.deleting);
        return list.length === 2 && list.every((p) => p.ready);
      },
      180_000,
      500,
    );
  });

  it('leaves no Forestall object behind after helm uninstall and CRD cleanup', async () => {
    // GIVEN what the release created (namespaced and cluster-scoped) and its CRDs
    expect(manifest.length).toBeGreaterThan(0);
    const crds = (await kubectl(['get', 'crd', '-o', 'name']))
      .split('\n')
      .filter((n) => n.endsWith('.forestall.io'));
    // every Forestall kind, ThreatException included
    expect(crds.length).toBe(KINDS.length);

    // WHEN the release is uninstalled and the CRDs (which helm never deletes) removed
    await node.uninstallChart(RELEASE, NAMESPACE);

    // THEN none of the release's objects remains, nor a CRD or API of forestall.io
    expect(await remaining(manifest)).toEqual([]);
    expect(
      (await kubectl(['get', 'crd', '-o', 'name']))
        .split('\n')
        .filter((n) => n.includes('forestall.io')),
    ).toEqual([]);
    await eventually(
      'the forestall.io API group gone from discovery',
      async () => !(await kubectl(['api-versions'])).includes('forestall.io'),
      30_000,
      500,
    );
    // nor any object labelled as the release's, in any namespace or cluster-wide
    const labelled = await kubectl([
      'get',
      LABELLED_KINDS,
      '-A',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(labelled.trim()).toBe('');
    // and no pod of it runs on (terminating pods are gone once the uninstall waited)
    await eventually('no forestall pod', async () => (await pods()).length === 0, 60_000, 500);
    // nor the Lease the controller made at run time: it names the Deployment as its
    // owner (--lease-owner-deployment), so the garbage collector deletes it
    await eventually(
      'no Lease left in the release namespace',
      async () => (await kubectl(['-n', NAMESPACE, 'get', 'leases', '-o', 'name'])).trim() === '',
      60_000,
      500,
    );
    // nor anything else Forestall wrote there: the chart labels its objects
    // app.kubernetes.io/part-of=forestall, and so do the controller's feed snapshots
    // (controller/stores/snapshot-store.ts); everything else the controller writes
    // carries app.kubernetes.io/managed-by=forestall (crds/domain.ts)
    for (const selector of [
      `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      'app.kubernetes.io/part-of=forestall',
    ]) {
      const owned = await kubectl([
        '-n',
        NAMESPACE,
        'get',
        NAMESPACED_KINDS,
        '-l',
        selector,
        '-o',
        'name',
      ]);
      expect(owned.trim(), `objects labelled ${selector} in ${NAMESPACE}`).toBe('');
    }
    // and the only ConfigMap or Secret left is the CA bundle the controller-manager
    // publishes into every namespace (kube-root-ca.crt); helm's release Secret is gone
    const stored = (await kubectl(['-n', NAMESPACE, 'get', 'configmaps,secrets', '-o', 'name']))
      .split('\n')
      .filter((line) => line !== '' && line !== 'configmap/kube-root-ca.crt');
    expect(stored).toEqual([]);
  });
});
