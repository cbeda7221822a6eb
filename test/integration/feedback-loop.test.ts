import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_DECISION,
  type ExposurePolicy,
  type PreemptiveAction,
  type ThreatException,
  type ThreatFeed,
} from '../../crds/index.js';
import type { KubeClient } from '../../controller/runtime/client.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import type { LoopbackFence } from '../harness/feed-server.js';
import { startFencedCluster } from '../harness/fenced-cluster.js';
import { startManager } from '../harness/in-process-manager.js';
import { configMapFeed } from '../harness/threat-feeds.js';
import { configMap, egressDenySpec, exposurePolicy } from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';
import { runReport } from '../../cli/report.js';
import { runInProcess } from '../../cli/test-support.js';

// The feedback loop and the exposure window on a real API server with the real
// controllers: an enforced action records its exposure window (status, the policy's
// percentiles, the forestall_exposure_window_seconds histogram); a person's lift and a
// ThreatException lower the feed's source confidence in its status; the policy then
// sends the feed's next action to review and says which feedback caused that; the
// ledger survives a restart of the controller.
const NS = 'forestall-system';
const API = 'forestall.io/v1alpha1';
// Public addresses only a test network uses (documentation ranges are refused).
const FIRST = ['45.95.169.10', '45.95.169.20'];
const SECOND = [...FIRST, '185.220.101.4'];

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;

const getAction = (name: string) => client.get<PreemptiveAction>(API, 'PreemptiveAction', name);
const getFeed = (name: string) => client.get<ThreatFeed>(API, 'ThreatFeed', name);
const getPolicy = (name: string) => client.get<ExposurePolicy>(API, 'ExposurePolicy', name);

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean) {
  return eventually(
    what,
    async () => {
      const v = await read();
      if (!ok(v)) throw new Error(`${what}: not yet: ${JSON.stringify(v)?.slice(0, 2000)}`);
      return v;
    },
    30_000,
  );
}

beforeAll(async () => {
  ({ fence, cp, kc, client } = await startFencedCluster([NS, 'team-a']));
  await client.apply(configMap(NS, 'noisy', { 'list.txt': FIRST.join('\n') }));
  await client.apply(
    configMapFeed('noisy', NS, 'list.txt', { refreshInterval: '1s', confidence: { default: 90 } }),
  );
  mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 0 });
  await client.apply(
    exposurePolicy(
      'deny',
      egressDenySpec('noisy', 'team-a', {
        autoApprove: 'action.sourceConfidence >= 50',
        // Every sync here changes a third or more of the feed: only the confidence holds actions back.
        guardrails: { minSourceConfidence: 90, maxFeedChangePercent: 100 },
      }),
    ),
  );
}, 120_000);

afterAll(() => stopFenced(fence, mgr, cp));

describe('the feedback loop and the exposure window', () => {
  it('GIVEN an action enforced automatically THEN it records its publication, its exposure window, the policy percentiles and the histogram', async () => {
    // The first plan may come before the feed's status says when it changed; the
    // publication (and so the window) follows on the next evaluation.
    const action = await waitFor(
      'deny-egressdeny Enforced with its exposure window',
      () => getAction('deny-egressdeny'),
      (a) => a?.status?.phase === 'Enforced' && a.status.exposureWindowSeconds !== undefined,
    );
    const feed = await getFeed('noisy');
    // A lines feed gives no dates: the feed change that brought the addresses is the publication.
    expect(action!.spec.publishedAt).toBeDefined();
    expect(Date.parse(action!.spec.publishedAt!)).toBe(Date.parse(feed!.status!.lastChangeTime!));
    expect(action!.spec.feeds).toEqual(['noisy']);
    const window = action!.status!.exposureWindowSeconds!;
    expect(window).toBeGreaterThanOrEqual(0);
    expect(window).toBeCloseTo(
      (Date.parse(action!.status!.enforcedAt!) - Date.parse(action!.spec.publishedAt!)) / 1000,
      3,
    );
    const policy = await waitFor(
      'policy exposureWindow',
      () => getPolicy('deny'),
      (p) => p?.status?.exposureWindow?.count === 1,
    );
    expect(policy!.status!.exposureWindow!.p50Seconds).toBe(window);
    const histogram = await mgr.metrics.registry
      .getSingleMetric('forestall_exposure_window_seconds')!
      .get();
    const count = histogram.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'forestall_exposure_window_seconds_count',
    );
    expect(count?.labels).toEqual({ layer: 'network' });
    expect(count?.value).toBe(1);
  });

  it('GIVEN a person lifts the action (a false positive) THEN the feed status shows confidence 85, the count and the event', async () => {
    const action = (await getAction('deny-egressdeny'))!;
    // What `forestall lift` writes: the decision annotation, guarded by resourceVersion.
    await client.call(
      'PATCH',
      await client.path(API, 'PreemptiveAction', undefined, 'deny-egressdeny'),
      {
        body: {
          metadata: {
            resourceVersion: action.metadata?.resourceVersion,
            annotations: {
              [ANNOTATION_DECISION]: JSON.stringify({
                verb: 'lift',
                digest: action.spec.indicators.digest,
                by: 'alice',
                at: new Date().toISOString(),
                reason: 'false positive: partner CDN',
              }),
            },
          },
        },
        contentType: 'application/merge-patch+json',
      },
    );
    await waitFor(
      'deny-egressdeny Lifted',
      () => getAction('deny-egressdeny'),
      (a) => a?.status?.phase === 'Lifted' && a.status.liftedAt !== undefined,
    );
    const feed = await waitFor(
      'noisy sourceConfidence',
      () => getFeed('noisy'),
      (f) => f?.status?.sourceConfidence?.counts?.lifted === 1,
    );
    const ledger = feed!.status!.sourceConfidence!;
    expect(ledger.effective).toBe(85);
    expect(ledger.adjustment).toBe(-15);
    expect(ledger.events).toMatchObject([
      { kind: 'lifted', action: 'deny-egressdeny', policy: 'deny', delta: -15 },
    ]);
    // The feed controller keeps syncing every second and leaves the ledger alone.
    const synced = feed!.status!.lastSyncTime;
    await waitFor(
      'noisy synced again',
      () => getFeed('noisy'),
      (f) => f?.status?.lastSyncTime !== synced,
    );
    expect((await getFeed('noisy'))!.status!.sourceConfidence).toEqual(ledger);
  });

  it('GIVEN the feed below the policy minimum THEN its next action goes to review, naming the feedback, and the policy lists the feed', async () => {
    await client.apply(configMap(NS, 'noisy', { 'list.txt': SECOND.join('\n') }));
    const action = await waitFor(
      'deny-egressdeny with three addresses',
      () => getAction('deny-egressdeny'),
      (a) => a?.spec.indicators.count === 3 && a.status?.phase === 'Proposed',
    );
    expect(action!.spec.approval?.required).toBe(true);
    expect(action!.spec.approval?.reason).toContain(
      'feed noisy has source confidence 85, below spec.guardrails.minSourceConfidence 90',
    );
    expect(action!.spec.approval?.reason).toContain('1 lifted');
    const policy = await waitFor(
      'policy lowConfidenceFeeds',
      () => getPolicy('deny'),
      (p) => (p?.status?.lowConfidenceFeeds ?? []).length === 1,
    );
    expect(policy!.status!.lowConfidenceFeeds).toEqual([
      expect.objectContaining({ feed: 'noisy', effective: 85, minimum: 90 }),
    ]);
    expect(policy!.status!.lowConfidenceFeeds![0]!.feedback).toMatch(
      /^1 lifted; last: lifted deny-egressdeny \(policy deny\) at /,
    );
  });

  it('GIVEN a ThreatException against one of its addresses THEN the feed is charged once (-5) and the exception says so', async () => {
    await client.apply({
      apiVersion: API,
      kind: 'ThreatException',
      metadata: { name: 'partner-cdn' },
      spec: { values: ['185.220.101.4'], reason: 'partner CDN', owner: 'secops@example.com' },
    } as KubernetesObject);
    const exception = await waitFor(
      'partner-cdn charged noisy',
      () => client.get<ThreatException>(API, 'ThreatException', 'partner-cdn'),
      (e) => (e?.status?.chargedFeeds ?? []).includes('noisy'),
    );
    expect(exception!.status!.chargedFeeds).toEqual(['noisy']);
    const ledger = (await getFeed('noisy'))!.status!.sourceConfidence!;
    expect(ledger.counts).toMatchObject({ lifted: 1, excepted: 1 });
    expect(ledger.effective).toBe(80);
    expect(ledger.events?.map((e) => e.kind)).toEqual(['lifted', 'excepted']);
  });

  it('GIVEN the controller restarts THEN the ledger is still there and the action still waits for review', async () => {
    await mgr.stop();
    mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 0 });
    // A reconcile after the restart re-evaluates; the ledger is read from status again.
    await client.apply(
      configMap(NS, 'noisy', { 'list.txt': [...SECOND, '91.92.240.7'].join('\n') }),
    );
    const action = await waitFor(
      'deny-egressdeny re-planned after the restart',
      () => getAction('deny-egressdeny'),
      (a) =>
        a?.spec.indicators.count === 3 &&
        a.spec.approval?.reason?.includes('80') === true &&
        a.status?.phase === 'Proposed',
    );
    // 185.220.101.4 is excepted; 91.92.240.7 joined.
    expect(action!.status?.phase).toBe('Proposed');
    expect(action!.spec.approval?.reason).toContain('1 excepted, 1 lifted');
    const ledger = (await getFeed('noisy'))!.status!.sourceConfidence!;
    expect(ledger.counts).toMatchObject({ lifted: 1, excepted: 1 });
    // The restarted controller exports it again from status at the next sync.
    await waitFor(
      'forestall_feed_source_confidence{feed="noisy"} 80',
      async () =>
        (await mgr.metrics.registry.getSingleMetric('forestall_feed_source_confidence')!.get())
          .values,
      (values) => values.some((v) => v.labels.feed === 'noisy' && v.value === 80),
    );
  });

  it('GIVEN this cluster THEN forestall report readiness --kubeconfig shows the loop, the feeds tuned and the observed windows', async () => {
    // A second source whose action stays enforced: its times are observed now (the
    // noisy feed's action is in a new episode, waiting for review).
    await client.apply(configMap(NS, 'trusted', { 'list.txt': '193.142.146.35' }));
    await client.apply(
      configMapFeed('trusted', NS, 'list.txt', {
        refreshInterval: '1h',
        confidence: { default: 95 },
      }),
    );
    await client.apply(exposurePolicy('deny-trusted', egressDenySpec('trusted', 'team-a')));
    await waitFor(
      'deny-trusted-egressdeny Enforced with its window',
      () => getAction('deny-trusted-egressdeny'),
      (a) => a?.status?.exposureWindowSeconds !== undefined,
    );
    const kubeconfig = cp.writeKubeconfig();
    const run = (...args: string[]) =>
      runInProcess(runReport, ['readiness', '--kubeconfig', kubeconfig, ...args]);
    const json = await run('--json');
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as {
      level: number;
      source: string;
      feeds: { name: string; fresh: boolean; sourceConfidence?: { effective: number } }[];
      feedback: Record<string, number>;
      exposureWindow?: { count: number };
      timeToEnforce?: { count: number };
      exceptions: number;
    };
    expect(r.source).toBe('cluster');
    expect(typeof r.level).toBe('number');
    expect(r.feeds).toEqual([
      expect.objectContaining({
        name: 'noisy',
        fresh: true,
        sourceConfidence: expect.objectContaining({ effective: 80 }),
      }),
      expect.objectContaining({ name: 'trusted', fresh: true }),
    ]);
    expect(r.feeds[1]!.sourceConfidence).toBeUndefined();
    expect(r.feedback).toEqual({
      rejected: 0,
      excepted: 1,
      lifted: 1,
      expiredClean: 0,
      feedsAdjusted: 1,
    });
    expect(r.exposureWindow?.count).toBe(1);
    expect(r.timeToEnforce?.count).toBe(1);
    expect(r.exceptions).toBe(1);
    const text = await run();
    expect(text.stdout).toMatch(/^Forestall readiness: level \d of 5/);
    expect(text.stdout).toContain('1 excepted, 1 lifted');
    // For the closing note: the report of this scenario.
    await writeFile(join(tmpdir(), 'forestall-readiness-feedback-loop.txt'), text.stdout);
  });
});
