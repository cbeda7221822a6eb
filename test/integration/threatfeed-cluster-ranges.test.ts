import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actAsServiceAccount, chartRbac } from '../harness/chart-rbac.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { installLoopbackFence } from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { startFeedCluster, type threatFeedApi, replaceConfigMap } from '../harness/threat-feeds.js';
import { condition as cond } from '../harness/objects.js';

// Issue 13, item 2: "When the cluster's own ranges cannot be read, ingestion carries on
// without them." The controller runs here as the Helm chart's ServiceAccount with the
// chart's RBAC applied for real, minus the permission to list Nodes, so the ranges are
// unreadable the way a narrowed or broken ClusterRole makes them. The sync must fail
// closed: Degraded with FST_FEED_CLUSTER_RANGES's message, the last-known-good snapshot
// kept, nothing ingested without the ranges.
const NS = 'forestall-system';
let cp: ControlPlane;
let kc: KubeConfig;
let blindKc: KubeConfig;
let feeds: ReturnType<typeof threatFeedApi>;
let core: CoreV1Api;

/** A feed of the small-feed ConfigMap, whose second address is in the Node's pod range. */
const smallFeed = (name: string) =>
  feeds.create(name, {
    format: 'lines',
    source: { configMapRef: { name: 'small-feed', key: 'feed.txt' } },
  });

beforeAll(async () => {
  ({ cp, kc, core, feeds } = await startFeedCluster(NS, {
    'small-feed': { 'feed.txt': '77.90.185.20\n45.148.10.240\n' },
  }));
  // A Node whose pod range is public: the range the guardrails would lose.
  await core.createNode({
    body: {
      metadata: { name: 'n1' },
      spec: { podCIDR: '45.148.10.0/24', podCIDRs: ['45.148.10.0/24'] },
    },
  });

  const objects = await chartRbac(NS);
  const role = objects.find((o) => o.kind === 'ClusterRole') as {
    rules: { resources?: string[] }[];
  };
  const before = role.rules.length;
  role.rules = role.rules.filter((r) => !r.resources?.includes('nodes'));
  expect(role.rules.length).toBe(before - 1);
  blindKc = await actAsServiceAccount(cp, NS, objects);
});

afterAll(async () => {
  await cp?.stop();
});

describe('issue 13, item 2: when the cluster ranges cannot be read, ingestion carries on without them', () => {
  it('GIVEN a controller that may not list Nodes THEN a new feed is not ingested: Degraded names the ranges and the missing permission', async () => {
    const mgr = await startManager(blindKc);
    try {
      await smallFeed('fresh');
      const f = await feeds.degraded('fresh', 30_000);
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
      await smallFeed('kept');
      const synced = await feeds.synced('kept', 30_000);
      // The node's address is protected while the ranges can be read.
      expect(synced.status).toMatchObject({ indicatorCount: 1, dropped: { cluster: 1 } });
    } finally {
      await admin.stop();
    }

    const blind = await startManager(blindKc);
    try {
      // New content (an unchanged source needs no guardrails: nothing is ingested), and a
      // spec change to sync now rather than at the refresh interval.
      await replaceConfigMap(core, NS, 'small-feed', {
        'feed.txt': '77.90.185.20\n45.148.10.240\n193.47.62.69\n',
      });
      await feeds.patchSpec('kept', { confidence: { default: 60 } });
      const f = await feeds.degraded('kept', 30_000, 2);
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
      await feeds.create('inside-the-cluster', {
        format: 'lines',
        source: { http: { url: 'https://45.148.10.7/feed.txt' } },
      });
      const f = await feeds.degraded('inside-the-cluster', 30_000);
      expect(cond(f, 'Degraded')?.message).toMatch(/45\.148\.10\.7.*cluster/i);
      expect(fence.violations).toEqual([]);
    } finally {
      await admin.stop();
      fence.uninstall();
    }
  });
});
