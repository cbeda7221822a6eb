import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ControlPlane } from '../harness/control-plane.js';
import { REPO_ROOT } from '../harness/envtest-assets.js';

// The harness itself is under test here: if these fail, every other integration
// test's result is meaningless, so they check the properties the others rely on
// (a real API server of the pinned version, a working garbage collector, and
// state that survives an API server restart).

const PINNED_KUBE_VERSION = readFileSync(
  join(REPO_ROOT, 'test/envtest/KUBE_VERSION'),
  'utf8',
).trim();
const NAMESPACE = 'harness-check';

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

describe('GIVEN a control plane with etcd, kube-apiserver and kube-controller-manager', () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    const assetsDir = inject('envtestAssets');
    // The globalSetup throws if the build fails; this guards against running the
    // file outside the integration project, where nothing would provide the path.
    expect(assetsDir, 'envtestAssets not provided: run with --project integration').toBeTruthy();
    plane = await ControlPlane.start({ controllerManager: true, crdDir: null, assetsDir });
    console.info(`Control plane ready in ${plane.startTimings.totalMs} ms`, plane.startTimings);
    await plane
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NAMESPACE } } });
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it(`WHEN /version is read THEN it reports the pinned ${PINNED_KUBE_VERSION}`, async () => {
    expect(PINNED_KUBE_VERSION).toBe('v1.34.4');
    const version = await plane.kubeConfig().makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(PINNED_KUBE_VERSION);
  });

  it('WHEN another process uses the written kubeconfig THEN it authenticates as admin against the same server', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.writeKubeconfig());
    expect(kc.getCurrentCluster()?.server).toBe(plane.apiServerUrl);
    const namespace = await kc.makeApiClient(CoreV1Api).readNamespace({ name: NAMESPACE });
    expect(namespace.metadata?.name).toBe(NAMESPACE);
  });

  it('WHEN the owner of a ConfigMap is deleted THEN the garbage collector deletes the dependent within 30 s', async () => {
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: NAMESPACE,
      body: { metadata: { name: 'owner' }, data: { role: 'owner' } },
    });
    const ownerUid = owner.metadata?.uid;
    expect(ownerUid).toBeTruthy();
    await core.createNamespacedConfigMap({
      namespace: NAMESPACE,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: ownerUid ?? '' },
          ],
        },
        data: { role: 'dependent' },
      },
    });

    await core.deleteNamespacedConfigMap({ namespace: NAMESPACE, name: 'owner' });

    // Only the garbage collector deletes the dependent: the API server merely
    // removes the owner (background propagation), so this fails without it.
    await vi.waitFor(
      async () => {
        const gone = await core
          .readNamespacedConfigMap({ namespace: NAMESPACE, name: 'dependent' })
          .then(
            () => false,
            (err: unknown) => {
              if (isNotFound(err)) return true;
              throw err;
            },
          );
        if (!gone) throw new Error('dependent ConfigMap still exists');
      },
      { timeout: 30_000, interval: 250 },
    );
  });

  it('WHEN the API server restarts THEN an object written before the restart is read back from etcd', async () => {
    const before = await plane
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({
        namespace: NAMESPACE,
        body: { metadata: { name: 'survivor' }, data: { written: 'before restart' } },
      });

    await plane.restartApiServer();

    // A fresh client: connections pooled before the restart are dead.
    const after = await plane
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace: NAMESPACE, name: 'survivor' });
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(after.data).toEqual({ written: 'before restart' });
  });
});
