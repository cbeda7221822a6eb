import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PreemptiveAction, ThreatFeed } from '../../crds/index.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { ControlPlane } from '../harness/control-plane.js';
import { envtestBinary, REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import { exposurePolicy, preemptiveAction } from '../harness/objects.js';
import { threatFeed } from '../harness/threat-feeds.js';

// The CRD upgrade path of docs/upgrading.md on a real API server: the previous
// release's CRDs (test/crds/previous), objects stored under them with status, then
// `kubectl apply --server-side --force-conflicts -f charts/forestall/crds/` with the
// real kubectl. Nothing stored may be lost, the new kind must be served, and the new
// fields accepted. (`helm upgrade` never changes CRDs in a chart's crds/ folder.)
let cp: ControlPlane;
let client: KubeClient;

beforeAll(async () => {
  cp = await ControlPlane.start({ crdDir: join(REPO_ROOT, 'test/crds/previous') });
  client = new KubeClient(cp.kubeConfig());
}, 120_000);
afterAll(async () => cp?.stop());

const get = <T extends KubernetesObject>(kind: string, name: string) =>
  client.get<T>('forestall.io/v1alpha1', kind, name);

describe('upgrading the CRDs from the previous release', () => {
  it('GIVEN objects stored under the previous CRDs WHEN the documented kubectl apply runs THEN they are intact, ThreatException is served and the new fields are accepted', async () => {
    const served = await client.call<{ resources: { kind: string }[] }>(
      'GET',
      '/apis/forestall.io/v1alpha1',
    );
    expect(served.resources.map((r) => r.kind)).not.toContain('ThreatException');

    await client.apply(
      threatFeed('ipsum', {
        format: 'lines',
        source: { http: { url: 'https://feeds.example.org/ipsum.txt' } },
      }),
    );
    await client.applyStatus({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ThreatFeed',
      metadata: { name: 'ipsum' },
      status: { indicatorCount: 42, lastSyncTime: '2026-12-01T00:00:00Z' },
    } as KubernetesObject & { status: unknown });
    await client.apply(
      exposurePolicy('deny', {
        feeds: { names: ['ipsum'] },
        actions: [{ type: 'EgressDeny' }],
        mode: 'Enforce',
      }),
    );
    await client.apply(
      preemptiveAction('by-hand', {
        type: 'EgressDeny',
        layer: 'network',
        indicators: { count: 1, values: ['45.95.169.10'] },
      }),
    );
    const before = {
      feed: await get<ThreatFeed>('ThreatFeed', 'ipsum'),
      action: await get<PreemptiveAction>('PreemptiveAction', 'by-hand'),
    };

    const kubectl = envtestBinary(inject('envtestAssets'), 'kubectl');
    const kubeconfig = cp.writeKubeconfig();
    const { stdout } = await promisify(execFile)(kubectl, [
      '--kubeconfig',
      kubeconfig,
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(REPO_ROOT, 'charts/forestall/crds/'),
    ]);
    expect(stdout).toContain(
      'customresourcedefinition.apiextensions.k8s.io/threatexceptions.forestall.io serverside-applied',
    );
    await promisify(execFile)(kubectl, [
      '--kubeconfig',
      kubeconfig,
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/threatexceptions.forestall.io',
    ]);

    const feed = await get<ThreatFeed>('ThreatFeed', 'ipsum');
    expect(feed?.spec).toEqual(before.feed?.spec);
    expect(feed?.status).toEqual(before.feed?.status);
    expect((await get<PreemptiveAction>('PreemptiveAction', 'by-hand'))?.spec).toEqual(
      before.action?.spec,
    );
    expect(await get('ExposurePolicy', 'deny')).toBeDefined();

    // The new kind and the new fields.
    await eventually('ThreatException served', async () => {
      await client.apply({
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatException',
        metadata: { name: 'fp' },
        spec: { values: ['45.95.169.10'], reason: 'false positive', owner: 'secops' },
      } as KubernetesObject);
      return true;
    });
    const updated = await client.apply({
      ...preemptiveAction('by-hand', {
        ...before.action!.spec,
        exceptions: [{ name: 'fp', indicators: 1 }],
      }),
    } as KubernetesObject);
    expect((updated as PreemptiveAction).spec.exceptions).toEqual([{ name: 'fp', indicators: 1 }]);
  });
});
