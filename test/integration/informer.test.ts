import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../controller/runtime/clock.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { Informer } from '../../controller/runtime/informer.js';
import { Metrics } from '../../controller/runtime/metrics.js';
import { InventoryCache } from '../../controller/inventory/cache.js';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { inputsCondition } from '../../controller/policy/reconciler.js';

// The informer's reflector paths against a real API server: a watch from a
// resourceVersion the server no longer serves gets 410 Gone and must relist, and
// objects deleted meanwhile must be reported as deleted.
let cp: ControlPlane;
let kc: KubeConfig;
const NS = 'informer-test';

beforeAll(async () => {
  // Compacting etcd every 2 s (the default is 5 min) makes old resourceVersions expire
  // as they do after a long outage. Without the watch cache, watches are served by
  // etcd, which answers an expired one with 410; the cache would widen its window.
  cp = await ControlPlane.start({
    crdDir: null,
    apiServerArgs: ['--watch-cache=false', '--etcd-compaction-interval=2s'],
  });
  kc = cp.kubeConfig();
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
});
afterAll(async () => cp?.stop());

describe('Informer', () => {
  it('GIVEN a watch from an expired resourceVersion THEN the server answers 410 and the informer relists and keeps watching', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'before' }, data: { a: '1' } },
    });
    const client = new KubeClient(kc);
    const metrics = new Metrics();
    let lists = 0;
    // Let two compactions pass so resourceVersion 1 is gone from etcd's history.
    await new Promise((r) => setTimeout(r, 5000));
    const informer = new Informer<V1ConfigMap>({
      kc,
      path: `/api/v1/namespaces/${NS}/configmaps`,
      clock: realClock,
      log: pino({ level: 'silent' }),
      metrics,
      list: async () => {
        lists += 1;
        const list = await client.list<V1ConfigMap>('v1', 'ConfigMap', { namespace: NS });
        // The first list claims resourceVersion 1: long compacted out of the API
        // server's watch window, exactly what an informer holds after a long outage.
        return (
          lists === 1 ? { ...list, metadata: { resourceVersion: '1' } } : list
        ) as KubernetesListObject<V1ConfigMap>;
      },
    });
    const seen: string[] = [];
    informer.on('add', (cm) => seen.push(`add ${cm.metadata?.name}`));
    informer.start();
    try {
      await eventually('a relist after 410 Gone', async () => {
        const gone = (await metrics.informerRestarts.get()).values.find(
          (v) => v.labels.reason === 'gone',
        );
        return (gone?.value ?? 0) >= 1 && lists >= 2;
      });
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: { metadata: { name: 'after' }, data: { a: '2' } },
      });
      await eventually(
        'the new ConfigMap in the cache',
        () => informer.get(`${NS}/after`) !== undefined,
      );
      expect(seen).toEqual(['add before', 'add after']);
    } finally {
      await informer.stop();
    }
  });

  it('GIVEN objects deleted while the informer was not watching THEN the relist reports them deleted', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of ['doomed', 'kept'])
      await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name } } });
    const client = new KubeClient(kc);
    let failNextWatch = false;
    const informer = new Informer<V1ConfigMap>({
      kc,
      path: `/api/v1/namespaces/${NS}/configmaps`,
      clock: realClock,
      log: pino({ level: 'silent' }),
      backoffMs: { base: 50, max: 200 },
      list: async () => {
        if (failNextWatch) {
          failNextWatch = false;
          throw new Error('simulated list failure');
        }
        return (await client.list<V1ConfigMap>('v1', 'ConfigMap', {
          namespace: NS,
        })) as KubernetesListObject<V1ConfigMap>;
      },
    });
    const deleted: string[] = [];
    informer.on('delete', (cm) => deleted.push(cm.metadata!.name!));
    informer.start();
    try {
      await eventually(
        'initial sync',
        () => informer.hasSynced() && informer.get(`${NS}/doomed`) !== undefined,
      );
      await informer.stop();
      await core.deleteNamespacedConfigMap({ name: 'doomed', namespace: NS });
      failNextWatch = true;
      informer.start();
      await eventually(
        'the deletion seen through a relist',
        () => deleted.includes('doomed'),
        10_000,
      );
      expect(informer.get(`${NS}/doomed`)).toBeUndefined();
      expect(informer.get(`${NS}/kept`)).toBeDefined();
    } finally {
      await informer.stop();
    }
  });

  it('GIVEN our own writes while the watch is not delivering THEN get() and list() return what the writes returned, and the watch takes over once it catches up', async () => {
    const client = new KubeClient(kc);
    const path = `/api/v1/namespaces/${NS}/configmaps`;
    const informer = new Informer<V1ConfigMap>({
      kc,
      path,
      clock: realClock,
      log: pino({ level: 'silent' }),
      list: async () =>
        (await client.list<V1ConfigMap>('v1', 'ConfigMap', {
          namespace: NS,
        })) as KubernetesListObject<V1ConfigMap>,
      writes: { client, apiVersion: 'v1', kind: 'ConfigMap' },
    });
    const cm = (name: string, value: string): V1ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NS },
      data: { value },
    });
    await client.apply(cm('ryw', 'first'));
    informer.start();
    await eventually('initial sync', () => informer.get(`${NS}/ryw`)?.data?.value === 'first');
    // No watch from here on: only our writes can change what the informer shows.
    await informer.stop();
    const updated = await client.apply(cm('ryw', 'second'));
    const created = await client.apply(cm('ryw-new', 'created'));
    // A dry run is not a write: the informer must not show it.
    await client.apply(cm('ryw', 'dry'), { dryRun: true });

    expect(informer.get(`${NS}/ryw`)?.data?.value).toBe('second');
    expect(informer.get(`${NS}/ryw`)?.metadata?.resourceVersion).toBe(
      updated.metadata?.resourceVersion,
    );
    expect(informer.get(`${NS}/ryw-new`)?.data?.value).toBe('created');
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(
      expect.arrayContaining(['ryw', 'ryw-new']),
    );
    expect(created.metadata?.resourceVersion).toBeDefined();

    // Someone else's later write reaches the informer through the watch and wins.
    const core = kc.makeApiClient(CoreV1Api);
    await core.patchNamespacedConfigMap({
      name: 'ryw',
      namespace: NS,
      body: [{ op: 'replace', path: '/data/value', value: 'theirs' }],
    });
    informer.start();
    try {
      await eventually(
        'the watch catches up',
        () => informer.get(`${NS}/ryw`)?.data?.value === 'theirs',
      );
    } finally {
      await informer.stop();
    }
  });
  it('GIVEN an optional kind whose CRD the server does not serve THEN it counts as empty, each retry is a not-served restart, and nothing is logged above debug', async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    const metrics = new Metrics();
    const informer = new Informer({
      kc,
      path: '/apis/gateway.networking.k8s.io/v1/gateways',
      optional: true,
      clock: realClock,
      log,
      metrics,
      backoffMs: { base: 50, max: 100 },
      // What InventoryCache's list does for an optional kind that answers 404.
      list: async () => ({ apiVersion: 'v1', kind: 'List', items: [], metadata: {} }),
    });
    informer.start();
    try {
      await eventually('three not-served restarts', async () => {
        const restarts = (await metrics.informerRestarts.get()).values.find(
          (v) => v.labels.reason === 'not-served',
        );
        return (restarts?.value ?? 0) >= 3;
      });
      expect(informer.hasSynced()).toBe(true);
      expect(informer.list()).toEqual([]);
      expect(lines.filter((l) => l.level > 20)).toEqual([]);
      expect(lines.some((l) => l.msg === 'Not served (CRD not installed); retrying')).toBe(true);
    } finally {
      await informer.stop();
    }
  });
});

describe('InventoryCache optional inputs', () => {
  it('GIVEN no Gateway API or Trivy CRDs THEN each is said once at info with what it means and its gauge is 0; WHEN the Trivy CRD is installed THEN it is watched with no restart and its gauge is 1', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const metrics = new Metrics();
    const client = new KubeClient(kc);
    const inventory = new InventoryCache({ kc, client, clock: realClock, log, metrics });
    const served = async (kind: string) =>
      (await metrics.optionalInputServed.get()).values.find((v) => v.labels.kind === kind)?.value;
    await inventory.start();
    try {
      const absent = () =>
        lines.filter(
          (l) => l.msg === 'Optional input not served (CRD not installed); counted as empty',
        );
      // Seven optional kinds: Gateway, five route kinds, VulnerabilityReport; each said once,
      // however often the informer retried meanwhile.
      await eventually('two retries of the unserved VulnerabilityReport watch', async () => {
        const restarts = (await metrics.informerRestarts.get()).values.find(
          (v) => v.labels.resource === 'vulnerabilityreports' && v.labels.reason === 'not-served',
        );
        return (restarts?.value ?? 0) >= 2;
      });
      expect(
        absent()
          .map((l) => l.kind)
          .sort(),
      ).toEqual([
        'GRPCRoute',
        'Gateway',
        'HTTPRoute',
        'TCPRoute',
        'TLSRoute',
        'UDPRoute',
        'VulnerabilityReport',
      ]);
      expect(absent().find((l) => l.kind === 'VulnerabilityReport')?.means).toMatch(
        /Isolate policies find no vulnerable workload/,
      );
      expect(lines.filter((l) => (l.level as number) > 30)).toEqual([]);
      expect(await served('VulnerabilityReport')).toBe(0);
      // What an Isolate policy's InputsServed condition says.
      expect(
        inventory
          .absentInputs()
          .map((a) => a.kind)
          .sort(),
      ).toEqual(
        absent()
          .map((l) => l.kind)
          .sort(),
      );
      const condition = inputsCondition(inventory.absentInputs());
      expect(condition).toMatchObject({ status: 'False', reason: 'OptionalInputsAbsent' });
      expect(condition.message).toContain(
        'VulnerabilityReport not served (CRD not installed): no Trivy Operator VulnerabilityReports: Isolate policies find no vulnerable workload',
      );
      const moved: string[] = [];
      inventory.onChange((group) => moved.push(group));

      await cp.installThirdPartyCrds();
      await eventually(
        'the VulnerabilityReport input served',
        async () => (await served('VulnerabilityReport')) === 1,
        60_000,
        200,
      );
      expect(
        lines.some(
          (l) =>
            l.msg === 'Optional input now served; watching it' && l.kind === 'VulnerabilityReport',
        ),
      ).toBe(true);
      // The policies that read exposure are told, so their condition follows.
      expect(moved).toContain('exposure');
      expect(inventory.absentInputs().map((a) => a.kind)).not.toContain('VulnerabilityReport');
    } finally {
      await inventory.stop();
    }
  });
});
