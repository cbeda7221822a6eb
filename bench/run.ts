/**
 * Benchmarks, printed as JSON lines {"name","value","unit"} (npm run bench).
 * Timings live here, never in tests. Today: the control plane the tests use, and the
 * ThreatFeed controller's reconcile latency and resync cost on a real API server.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ControlPlane } from '../test/harness/control-plane.js';
import { startManager } from '../test/harness/in-process-manager.js';
import { emit, percentile } from './report.js';

async function controlPlaneStart(): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const cp = await ControlPlane.start();
    times.push(cp.startTimings.totalMs);
    await cp.stop();
  }
  times.sort((a, b) => a - b);
  emit('control_plane_cached_start', times[1]!, 'ms', {
    runs: 3,
    includes: 'etcd + kube-apiserver /readyz + CRDs Established',
  });
}

async function reconcile(): Promise<void> {
  const cp = await ControlPlane.start();
  const kc = cp.kubeConfig();
  const resyncMs = 2000;
  const mgr = await startManager(kc, { resyncPeriodMs: resyncMs });
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'forestall-system' } } });
  await core.createNamespacedConfigMap({
    namespace: 'forestall-system',
    body: { metadata: { name: 'bench-feed' }, data: { 'feed.txt': '77.90.185.20\n2.57.122.53\n' } },
  });
  const ref = { group: 'forestall.io', version: 'v1alpha1', plural: 'threatfeeds' };
  const n = 50;
  const latencies: number[] = [];
  try {
    // The API server's first write to a just-established CRD waits for its storage
    // (about 2 s here); that is not the controller's latency, so a warm-up object
    // (index -1) is created first and not counted.
    for (let i = -1; i < n; i++) {
      const name = `bench-${i}`;
      const t0 = performance.now();
      await custom.createClusterCustomObject({
        ...ref,
        body: {
          apiVersion: 'forestall.io/v1alpha1',
          kind: 'ThreatFeed',
          metadata: { name },
          spec: {
            format: 'lines',
            source: { configMapRef: { name: 'bench-feed', key: 'feed.txt' } },
          },
        },
      });
      for (;;) {
        const f = (await custom.getClusterCustomObject({ ...ref, name })) as {
          status?: { observedGeneration?: number };
        };
        if (f.status?.observedGeneration === 1) break;
        await sleep(5);
      }
      if (i >= 0) latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    emit('threatfeed_writes_per_new_object', (await mgr.writes()) / (n + 1), 'writes', {
      objects: n + 1,
      note: 'finalizer patch + snapshot ConfigMaps (head + 1 chunk) + status apply',
    });
    emit('threatfeed_create_to_status_p50', percentile(latencies, 50), 'ms', { objects: n });
    emit('threatfeed_create_to_status_p99', percentile(latencies, 99), 'ms', { objects: n });
    await sleep(1000);
    const before = await mgr.writes();
    await sleep(resyncMs * 3);
    emit('threatfeed_resync_writes', (await mgr.writes()) - before, 'writes', {
      objects: n,
      resyncs: 3,
    });
  } finally {
    await mgr.stop();
    await cp.stop();
  }
}

await controlPlaneStart();
await reconcile();
