import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../controller/runtime/client.js';
import { runReport } from '../../cli/report.js';
import { runInProcess } from '../../cli/test-support.js';
import type { NavigatorLayer } from '../../report/attack/index.js';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { exposurePolicy, preemptiveAction } from '../harness/objects.js';
import { threatFeed } from '../harness/threat-feeds.js';

// `forestall report attack --kubeconfig`: the layer of a real API server's
// PreemptiveActions, read as the user's kubeconfig allows. No controller runs: the
// actions and their phases are written by hand, so each case states the world it reads.
let cp: ControlPlane;
let client: KubeClient;
let kubeconfig: string;

async function report(...args: string[]) {
  const argv = ['attack', '--kubeconfig', kubeconfig, ...args];
  const { code, stdout, stderr } = await runInProcess(runReport, argv);
  return { code, stderr, layer: JSON.parse(stdout || '{}') as NavigatorLayer };
}

/** A PreemptiveAction of `policy` in `phase`, as the controllers would leave it. */
async function action(name: string, policy: string, type: string, layer: string, phase: string) {
  await client.apply(
    preemptiveAction(name, {
      policyRef: { name: policy },
      type,
      layer,
      indicators: { count: 1, values: ['45.95.169.10'] },
    }),
  );
  await client.applyStatus({
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name },
    status: { phase },
  } as KubernetesObject & { status: unknown });
}

beforeAll(async () => {
  cp = await ControlPlane.start();
  client = new KubeClient(cp.kubeConfig());
  kubeconfig = cp.writeKubeconfig();
  // A CRD's storage answers 429 for a moment after it is established.
  for (const kind of ['PreemptiveAction', 'ExposurePolicy', 'ThreatFeed', 'ThreatException'])
    await eventually(`${kind} served`, () =>
      client.list('forestall.io/v1alpha1', kind).then(
        () => true,
        () => false,
      ),
    );
});

afterAll(async () => {
  await cp?.stop();
});

describe('forestall report attack --kubeconfig', () => {
  it('GIVEN a cluster with no feeds and no actions THEN the layer is valid and empty, and says so', async () => {
    const r = await report();
    expect(r.code).toBe(0);
    expect(r.layer.techniques).toEqual([]);
    expect(r.layer.description).toContain(
      'The cluster has no ThreatFeeds, so no policy has indicators to act on. Nothing is enforced: there are no actions.',
    );
    expect(r.stderr).toContain('The cluster has no ThreatFeeds');
  });

  it('GIVEN every action expired or lifted THEN nothing is covered, even with --planned, and the phases are named', async () => {
    await client.apply(
      threatFeed('blocklist', {
        format: 'lines',
        source: { http: { url: 'https://feeds.example.org/blocklist.txt' } },
      }),
    );
    await client.apply(
      exposurePolicy('c2', {
        feeds: { names: ['blocklist'] },
        actions: [{ type: 'EgressDeny' }],
      }),
    );
    await action('c2-old', 'c2', 'EgressDeny', 'network', 'Expired');
    await action('c2-lifted', 'c2', 'EgressDeny', 'network', 'Lifted');
    const r = await report('--planned');
    expect(r.code).toBe(0);
    expect(r.layer.techniques).toEqual([]);
    expect(r.layer.description).toContain(
      'Nothing is enforced or planned: none of the 2 actions is (Expired 1, Lifted 1).',
    );
    expect(r.stderr).toContain('0 techniques covered by 0 enforced or planned actions (of 2)');
  });

  it('GIVEN an enforced egress block and a proposed isolation THEN the enforced one scores, and --planned adds the other, each naming its policy and feeds', async () => {
    await action('c2-egressdeny', 'c2', 'EgressDeny', 'network', 'Enforced');
    await action('kev-isolate', 'kev', 'Isolate', 'network', 'Proposed');

    const enforced = await report();
    expect(enforced.code).toBe(0);
    const t1071 = enforced.layer.techniques.find((t) => t.techniqueID === 'T1071.001')!;
    expect(t1071.comment).toBe(
      'Mitigated by 1 action: c2/c2-egressdeny (EgressDeny, Enforced; M1037 Filter Network Traffic). Feeds: blocklist.',
    );
    // T1046 Network Service Discovery: only M1030, the isolation's.
    expect(enforced.layer.techniques.find((t) => t.techniqueID === 'T1046')).toBeUndefined();
    expect(enforced.stderr).toContain('covered by 1 enforced action (of 4)');

    const planned = await report('--planned');
    const t1046 = planned.layer.techniques.find((t) => t.techniqueID === 'T1046')!;
    // The kev policy does not exist: a hand-written action records no feeds.
    expect(t1046.comment).toBe(
      'Mitigated by 1 action: kev/kev-isolate (Isolate, Proposed; M1030 Network Segmentation). Feeds: none recorded.',
    );
    expect(planned.layer.techniques.find((t) => t.techniqueID === 'T1190')!.score).toBe(2);
  });

  it('GIVEN an unknown context THEN it is bad usage naming it', async () => {
    const r = await report('--context', 'nowhere');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--context nowhere: no such context in the kubeconfig');
  });
});
