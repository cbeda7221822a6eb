import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { actAsServiceAccount, chartRbac, RBAC_KINDS } from '../harness/chart-rbac.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { ControllerProcess } from '../harness/controller-process.js';
import { eventually } from '../harness/eventually.js';
import { startFeedCluster, threatFeedApi } from '../harness/threat-feeds.js';

// Two and then three real controller processes share one Lease. They run as the Helm
// chart's ServiceAccount with the chart's RBAC applied for real, so a permission the
// chart forgot fails this test. Lease timings are the defaults the chart ships.
const NS = 'forestall-system';
const LEASE = 'forestall-controller';
let cp: ControlPlane;
let kc: KubeConfig;
let saKubeconfig: string;
const procs: ControllerProcess[] = [];

beforeAll(async () => {
  // The controller-manager's garbage collector deletes a Lease whose owner is gone.
  ({ cp, kc } = await startFeedCluster(
    NS,
    { 'small-feed': { 'feed.txt': '77.90.185.20\n' } },
    { controllerManager: true },
  ));
  // Apply the chart's identity and RBAC for real; leave out the Deployment (no kubelet here).
  const objects = await chartRbac(NS);
  // Every kind is there (the chart has several Roles: the release namespace, the DNS
  // namespace and `default` for the API server's EndpointSlices).
  expect([...new Set(objects.map((o) => o.kind))].sort()).toEqual([...RBAC_KINDS].sort());
  const saKc = await actAsServiceAccount(cp, NS, objects);
  saKubeconfig = join(cp.dir, 'controller-sa.kubeconfig');
  writeFileSync(saKubeconfig, saKc.exportConfig(), { mode: 0o600 });
});

// On failure, show what each controller process logged: the test is about them.
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    for (const p of procs) console.error(`--- ${p.identity} ---\n${p.tail(30)}`);
  }
});

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await cp?.stop();
});

const holder = async () =>
  (await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: NS }))
    .spec?.holderIdentity;
function start(identity: string, extraArgs: string[] = []): ControllerProcess {
  const p = new ControllerProcess(identity, saKubeconfig, extraArgs);
  procs.push(p);
  return p;
}

async function metric(p: ControllerProcess, name: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.port()}/metrics`);
  return (await res.text())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

/** Signals the leader and returns how long until `next` holds the lease (printed as a JSON line). */
async function stopAndTimeTakeover(
  leader: ControllerProcess,
  signal: NodeJS.Signals,
  next: ControllerProcess,
): Promise<number> {
  const stoppedAt = Date.now();
  leader.kill(signal);
  await eventually(
    `${next.identity} to hold the lease`,
    async () => (await holder()) === next.identity,
    15_000,
    50,
  );
  const takeoverMs = Date.now() - stoppedAt;
  console.log(
    JSON.stringify({
      name: `leader_takeover_after_${signal.toLowerCase()}`,
      value: takeoverMs,
      unit: 'ms',
    }),
  );
  return takeoverMs;
}

async function createFeed(name: string) {
  const feeds = threatFeedApi(kc);
  await feeds.create(name, {
    format: 'lines',
    source: { configMapRef: { name: 'small-feed', key: 'feed.txt' } },
  });
  return feeds.until(name, `${name} reconciled`, (f) => f.status?.observedGeneration === 1, 30_000);
}

describe('leader election across controller processes', () => {
  let a: ControllerProcess;
  let b: ControllerProcess;

  it('GIVEN two processes THEN exactly one leads and reconciles, and the standby is ready but idle', async () => {
    a = start('ctrl-a');
    await eventually(
      'ctrl-a to hold the lease',
      async () => (await holder().catch(() => undefined)) === 'ctrl-a',
      30_000,
    );
    b = start('ctrl-b');
    await eventually(
      'ctrl-b to wait for the lease',
      () => b.logged('Waiting for leader lease') && b.port() !== undefined,
      30_000,
    );
    await createFeed('feed-1');
    expect(await holder()).toBe('ctrl-a');
    expect(await metric(a, 'forestall_leader_election_is_leader')).toBe(
      'forestall_leader_election_is_leader 1',
    );
    expect(await metric(b, 'forestall_leader_election_is_leader')).toBe(
      'forestall_leader_election_is_leader 0',
    );
    expect(
      await metric(a, 'forestall_reconcile_total{controller="threatfeed",result="success"}'),
    ).toMatch(/ [1-9]\d*$/);
    expect(await metric(b, 'forestall_reconcile_total')).toBe('');
    expect((await fetch(`http://127.0.0.1:${b.port()}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${b.port()}/healthz`)).status).toBe(200);
  });

  it('GIVEN the leader gets SIGTERM THEN it releases the lease, exits 0, and the standby takes over within 15 s', async () => {
    expect(await stopAndTimeTakeover(a, 'SIGTERM', b)).toBeLessThan(15_000);
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.logged('Released leader lease')).toBe(true);
    await createFeed('feed-2');
  });

  it('GIVEN the leader is killed without warning THEN a standby takes over once the lease expires, within 15 s', async () => {
    const c = start('ctrl-c');
    await eventually(
      'ctrl-c to wait for the lease',
      () => c.logged('Waiting for leader lease'),
      30_000,
    );
    expect(await stopAndTimeTakeover(b, 'SIGKILL', c)).toBeLessThan(15_000);
    await createFeed('feed-3');
    expect(c.logs.filter((l) => l.level === 50)).toEqual([]);
  });
});

describe('the Lease owned by the controller Deployment', () => {
  it('GIVEN --lease-owner-deployment THEN the Lease names that Deployment as its owner, and is garbage-collected with it', async () => {
    // Only this test's process runs: the others are done.
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    const apps = kc.makeApiClient(AppsV1Api);
    const deployment = await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'forestall' },
        spec: {
          selector: { matchLabels: { app: 'forestall' } },
          template: {
            metadata: { labels: { app: 'forestall' } },
            spec: { containers: [{ name: 'controller', image: 'localhost/forestall:test' }] },
          },
        },
      },
    });
    const lease = 'owned-lease';
    const d = start('ctrl-d', [
      '--leader-election-id',
      lease,
      '--lease-owner-deployment',
      'forestall',
    ]);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const owners = await eventually(
      'the Lease with its owner',
      async () => {
        const l = await coordination.readNamespacedLease({ name: lease, namespace: NS });
        return l.spec?.holderIdentity === 'ctrl-d' && l.metadata?.ownerReferences;
      },
      30_000,
    );
    expect(owners).toEqual([
      expect.objectContaining({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'forestall',
        uid: deployment.metadata!.uid,
      }),
    ]);
    expect(
      d.logged('Cannot read the lease owner; the Lease stays after the Deployment is deleted'),
    ).toBe(false);

    // WHEN the controller is gone and its Deployment deleted (helm uninstall)
    d.kill('SIGKILL');
    await d.exited;
    await apps.deleteNamespacedDeployment({ name: 'forestall', namespace: NS });
    // THEN the garbage collector deletes the Lease
    await eventually(
      'the Lease deleted',
      async () =>
        !(await coordination.listNamespacedLease({ namespace: NS })).items.some(
          (l) => l.metadata?.name === lease,
        ),
      60_000,
      250,
    );
  });
});
