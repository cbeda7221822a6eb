import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ThreatFeed } from '../../crds/index.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { ControlPlane } from '../harness/control-plane.js';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import { installLoopbackFence } from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';

// Issue 13, item 2: "When the cluster's own ranges cannot be read, ingestion carries on
// without them." The controller runs here as the Helm chart's ServiceAccount with the
// chart's RBAC applied for real, minus the permission to list Nodes, so the ranges are
// unreadable the way a narrowed or broken ClusterRole makes them. The sync must fail
// closed: Degraded with FST_FEED_CLUSTER_RANGES's message, the last-known-good snapshot
// kept, nothing ingested without the ranges.
const NS = 'forestall-system';
const ref = { group: 'forestall.io', version: 'v1alpha1', plural: 'threatfeeds' };
let cp: ControlPlane;
let kc: KubeConfig;
let blindKc: KubeConfig;
let custom: CustomObjectsApi;
let core: CoreV1Api;

const read = async (name: string) =>
  (await custom.getClusterCustomObject({ ...ref, name })) as ThreatFeed;
const cond = (f: ThreatFeed, type: string) => f.status?.conditions?.find((c) => c.type === type);

async function chartRbac(): Promise<Record<string, unknown>[]> {
  const helm = join(inject('envtestAssets'), 'helm');
  const { stdout } = await promisify(execFile)(helm, [
    'template',
    'forestall',
    join(REPO_ROOT, 'charts/forestall'),
    '--namespace',
    NS,
  ]);
  const kinds = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter((o) => o && kinds.includes(o.kind as string));
}

beforeAll(async () => {
  cp = await ControlPlane.start();
  kc = cp.kubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedConfigMap({
    namespace: NS,
    body: {
      metadata: { name: 'small-feed' },
      data: { 'feed.txt': '77.90.185.20\n45.148.10.240\n' },
    },
  });
  // A Node whose pod range is public: the range the guardrails would lose.
  await core.createNode({
    body: {
      metadata: { name: 'n1' },
      spec: { podCIDR: '45.148.10.0/24', podCIDRs: ['45.148.10.0/24'] },
    },
  });

  const client = new KubeClient(kc, undefined, 'forestall-test');
  const objects = await chartRbac();
  const role = objects.find((o) => o.kind === 'ClusterRole') as {
    rules: { resources?: string[] }[];
  };
  const before = role.rules.length;
  role.rules = role.rules.filter((r) => !r.resources?.includes('nodes'));
  expect(role.rules.length).toBe(before - 1);
  for (const o of objects) await client.apply(o as never);
  const sa = objects.find((o) => o.kind === 'ServiceAccount') as { metadata: { name: string } };
  const token = await core.createNamespacedServiceAccountToken({
    name: sa.metadata.name,
    namespace: NS,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  blindKc = new KubeConfig();
  blindKc.loadFromOptions({
    clusters: [
      {
        name: 'envtest',
        server: cp.apiServerUrl,
        caData: kc.getCurrentCluster()!.caData,
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'sa', token: token.status!.token }],
    contexts: [{ name: 'sa', cluster: 'envtest', user: 'sa' }],
    currentContext: 'sa',
  });
});

afterAll(async () => {
  await cp?.stop();
});

describe('issue 13, item 2: when the cluster ranges cannot be read, ingestion carries on without them', () => {
  it('GIVEN a controller that may not list Nodes THEN a new feed is not ingested: Degraded names the ranges and the missing permission', async () => {
    const mgr = await startManager(blindKc);
    try {
      await custom.createClusterCustomObject({
        ...ref,
        body: {
          apiVersion: 'forestall.io/v1alpha1',
          kind: 'ThreatFeed',
          metadata: { name: 'fresh' },
          spec: {
            format: 'lines',
            source: { configMapRef: { name: 'small-feed', key: 'feed.txt' } },
          },
        },
      });
      const f = await eventually(
        'fresh Degraded',
        async () => {
          const f = await read('fresh');
          return cond(f, 'Degraded')?.status === 'True' && f;
        },
        30_000,
      );
      expect(cond(f, 'Degraded')?.message).toMatch(
        /^Could not read the cluster's own ranges, .*refusing to ingest.*nodes \(HTTP 403\)/,
      );
      expect(cond(f, 'Ready')).toMatchObject({ status: 'False' });
      expect(f.status?.indicatorCount).toBeUndefined();
    } finally {
      await mgr.stop();
    }
  });

  it('GIVEN a feed synced with its ranges WHEN a controller that may not list Nodes syncs it again THEN it is Degraded and the snapshot stays', async () => {
    const admin = await startManager(kc);
    try {
      await custom.createClusterCustomObject({
        ...ref,
        body: {
          apiVersion: 'forestall.io/v1alpha1',
          kind: 'ThreatFeed',
          metadata: { name: 'kept' },
          spec: {
            format: 'lines',
            source: { configMapRef: { name: 'small-feed', key: 'feed.txt' } },
          },
        },
      });
      const synced = await eventually(
        'kept synced',
        async () => {
          const f = await read('kept');
          return f.status?.indicatorCount !== undefined && f;
        },
        30_000,
      );
      // The node's address is protected while the ranges can be read.
      expect(synced.status).toMatchObject({ indicatorCount: 1, dropped: { cluster: 1 } });
    } finally {
      await admin.stop();
    }

    const blind = await startManager(blindKc);
    try {
      // New content (an unchanged source needs no guardrails: nothing is ingested), and a
      // spec change to sync now rather than at the refresh interval.
      await core.replaceNamespacedConfigMap({
        name: 'small-feed',
        namespace: NS,
        body: {
          metadata: { name: 'small-feed' },
          data: { 'feed.txt': '77.90.185.20\n45.148.10.240\n193.47.62.69\n' },
        },
      });
      await custom.patchClusterCustomObject(
        { ...ref, name: 'kept', body: { spec: { confidence: { default: 60 } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const f = await eventually(
        'kept Degraded',
        async () => {
          const f = await read('kept');
          return f.status?.observedGeneration === 2 && cond(f, 'Degraded')?.status === 'True' && f;
        },
        30_000,
      );
      expect(cond(f, 'Degraded')?.message).toMatch(/cluster's own ranges.*nodes \(HTTP 403\)/);
      expect(cond(f, 'Ready')).toMatchObject({
        status: 'True',
        message: expect.stringMatching(/last-known-good snapshot of 1 indicators/),
      });
      expect(f.status).toMatchObject({ indicatorCount: 1, dropped: { cluster: 1 } });
      expect(blind.snapshots.peek('kept')?.indicators.map((i) => i.value)).toEqual([
        '77.90.185.20',
      ]);
    } finally {
      await blind.stop();
    }
  });
});

describe('issue 14: one immutable outbound policy, built from the ranges the controller read', () => {
  it("GIVEN a Node whose pod range is public WHEN a feed's URL points into it THEN the sync is refused as the cluster's own range and nothing connects", async () => {
    // Were the guard to miss it, the connection would leave the machine: the fence
    // refuses any socket to a non-loopback address and records it.
    const fence = installLoopbackFence();
    const admin = await startManager(kc);
    try {
      await custom.createClusterCustomObject({
        ...ref,
        body: {
          apiVersion: 'forestall.io/v1alpha1',
          kind: 'ThreatFeed',
          metadata: { name: 'inside-the-cluster' },
          spec: { format: 'lines', source: { http: { url: 'https://45.148.10.7/feed.txt' } } },
        },
      });
      const f = await eventually(
        'inside-the-cluster Degraded',
        async () => {
          const f = await read('inside-the-cluster');
          return cond(f, 'Degraded')?.status === 'True' && f;
        },
        30_000,
      );
      expect(cond(f, 'Degraded')?.message).toMatch(/45\.148\.10\.7.*cluster/i);
      expect(fence.violations).toEqual([]);
    } finally {
      await admin.stop();
      fence.uninstall();
    }
  });
});
