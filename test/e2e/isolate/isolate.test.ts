import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emit } from '../../../bench/report.js';
import { REPO_ROOT } from '../../harness/envtest-assets.js';
import { eventually } from '../../harness/eventually.js';
import { SHARED_FEEDS_DIR } from '../../harness/feed-server.js';
import { e2eNode, uptime } from '../cluster.js';
import { runOk } from '../node.js';

// A Trivy VulnerabilityReport with a KEV-listed CVE isolates the internet-facing
// workload it names (Isolate through network:networkpolicy, enforced by kube-router);
// see README.md here.
const node = e2eNode();
const { kubectl, apply, newNamespace, busyboxPod } = node;
const RELEASE = 'forestall-isolate';
const NS = { controller: 'forestall-e2e-isolate', app: 'forestall-e2e-app' };
const CVE = 'CVE-2021-44228';
/** The test host that plays a client on the Internet (test/node/test-host.sh). */
const OUTSIDE = 3;
const TRIVY_CRDS = join(REPO_ROOT, 'test/crds/third-party/trivy-operator.yaml');

/** A KEV catalog of one entry, CISA's own record of the CVE (../shared/feeds/kev). */
function kevCatalog(): string {
  const full = JSON.parse(
    readFileSync(join(SHARED_FEEDS_DIR, 'kev', 'kev-2025-07-14.json'), 'utf8'),
  ) as { vulnerabilities: { cveID: string }[] } & Record<string, unknown>;
  const entry = full.vulnerabilities.filter((v) => v.cveID === CVE);
  expect(entry).toHaveLength(1);
  return JSON.stringify({ ...full, count: 1, vulnerabilities: entry });
}

/**
 * Trivy's report for a ReplicaSet of the app: the image it runs (the report must name
 * the image the container runs, or Forestall ignores it as stale) and the CVE or none.
 */
function report(replicaSet: string, image: string, vulnerable: boolean): object {
  // localhost/forestall/busybox:<tag> -> registry localhost, repository forestall/busybox
  const [registry, ...path] = image.split('/');
  const [repository, tag] = path.join('/').split(':');
  return {
    apiVersion: 'aquasecurity.github.io/v1alpha1',
    kind: 'VulnerabilityReport',
    metadata: {
      name: `replicaset-${replicaSet}-web`,
      namespace: NS.app,
      labels: {
        'trivy-operator.resource.kind': 'ReplicaSet',
        'trivy-operator.resource.name': replicaSet,
        'trivy-operator.resource.namespace': NS.app,
        'trivy-operator.container.name': 'web',
      },
    },
    report: {
      registry: { server: registry },
      artifact: { repository, tag },
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: '0.58.1' },
      summary: {
        criticalCount: vulnerable ? 1 : 0,
        highCount: 0,
        mediumCount: 0,
        lowCount: 0,
        unknownCount: 0,
      },
      vulnerabilities: vulnerable
        ? [
            {
              vulnerabilityID: CVE,
              resource: 'org.apache.logging.log4j:log4j-core',
              installedVersion: '2.14.1',
              fixedVersion: '2.15.0',
              severity: 'CRITICAL',
              title: `${CVE} in log4j-core`,
            },
          ]
        : [],
    },
  };
}

/** The app: busybox httpd answering "ok" on 8080, running `image`. */
function deployment(image: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: NS.app },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'Never',
              command: [
                'sh',
                '-c',
                'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www',
              ],
            },
          ],
        },
      },
    },
  };
}

/** The app's current ReplicaSet (the one running `image`). */
async function replicaSetOf(image: string): Promise<string> {
  const out = await kubectl([
    '-n',
    NS.app,
    'get',
    'replicasets',
    '-l',
    'app=web',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} {.spec.template.spec.containers[0].image}{"\\n"}{end}',
  ]);
  const line = out.split('\n').find((l) => l.trim().endsWith(` ${image}`));
  if (!line) throw new Error(`no ReplicaSet of web runs ${image}: ${out}`);
  return line.split(' ')[0]!;
}

/** GET / of the app from outside the cluster (the test host, to the node's NodePort): its body, or ''. */
async function fromOutside(nodePort: number): Promise<string> {
  const result = await node.inTestHost(OUTSIDE, [
    'curl',
    '-sS',
    '--max-time',
    '2',
    `http://${node.nodeIp}:${nodePort}/`,
  ]);
  return result.trim();
}

/** GET / of the app's Service from a pod in the app's own namespace: its body, or ''. */
const fromNeighbour = (): Promise<string> =>
  node.httpFromPod(NS.app, 'neighbour', `web.${NS.app}.svc.cluster.local`);

/** Polls `check` every 250 ms for up to 2 minutes; the uptime second it first held. */
async function until(what: string, check: () => Promise<boolean>): Promise<number> {
  try {
    return await eventually(
      what,
      async () => {
        if (await check()) return uptime();
        throw new Error('not yet');
      },
      120_000,
      250,
    );
  } catch (err) {
    const state = await node.forestallState(NS.controller, [NS.app]);
    throw new Error(`${(err as Error).message}\n${state}`);
  }
}

describe('isolate: a KEV-listed CVE in a report cuts an internet-facing workload off from outside', () => {
  let nodePort = 0;

  beforeAll(async () => {
    await node.testHost('up', OUTSIDE);
    await kubectl(['apply', '--server-side', '-f', TRIVY_CRDS]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/vulnerabilityreports.aquasecurity.github.io',
      '--timeout=60s',
    ]);
    await newNamespace(NS.controller);
    await newNamespace(NS.app);
    await apply([
      deployment(node.busyboxImage),
      {
        // Local keeps the client's address (Cluster would masquerade it to the
        // node's, which kube-router lets through as the node's own traffic).
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NS.app },
        spec: {
          type: 'NodePort',
          externalTrafficPolicy: 'Local',
          selector: { app: 'web' },
          ports: [{ port: 8080, targetPort: 8080 }],
        },
      },
      busyboxPod(NS.app, 'neighbour', 'exec sleep 1d'),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kev', namespace: NS.controller },
        data: { 'catalog.json': kevCatalog() },
      },
    ]);
    await kubectl(['-n', NS.app, 'rollout', 'status', 'deployment/web', '--timeout=60s']);
    await kubectl([
      '-n',
      NS.app,
      'wait',
      '--for=condition=Ready',
      'pod/neighbour',
      '--timeout=60s',
    ]);
    nodePort = Number(
      await kubectl([
        '-n',
        NS.app,
        'get',
        'service',
        'web',
        '-o',
        'jsonpath={.spec.ports[0].nodePort}',
      ]),
    );
    await node.installController(RELEASE, NS.controller, ['connectors.enabled={networkpolicy}']);
  });

  afterAll(async () => {
    await node.removeCase(RELEASE, NS);
    await kubectl(['delete', '-f', TRIVY_CRDS, '--ignore-not-found', '--wait=true']);
    await node.testHost('down', OUTSIDE);
  });

  it('isolates it when the report lists the CVE, keeps its namespace in, and lifts it when patched', async () => {
    // GIVEN the app answers outside the cluster and inside its namespace
    expect(await fromOutside(nodePort)).toBe('ok');
    expect(await fromNeighbour()).toBe('ok');
    // and the KEV feed and a policy that isolates internet-facing workloads it lists
    await apply([
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatFeed',
        metadata: { name: 'e2e-kev' },
        spec: {
          source: { configMapRef: { name: 'kev', namespace: NS.controller, key: 'catalog.json' } },
          format: 'kev',
          refreshInterval: '10s',
        },
      },
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ExposurePolicy',
        metadata: { name: 'e2e-kev-isolate' },
        spec: {
          feeds: { names: ['e2e-kev'] },
          match: "indicator.type == 'cve'",
          scope: { exposure: 'InternetFacing' },
          actions: [{ type: 'Isolate', params: { allowSameNamespace: true } }],
          mode: 'Enforce',
          autoApprove: 'action.blastRadius.workloads == 1',
          expiry: 'UntilPatched',
        },
      },
    ]);
    await eventually(
      'the KEV feed synced',
      async () =>
        /True/.test(
          await kubectl([
            'get',
            'threatfeed/e2e-kev',
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ]),
        ),
      60_000,
      500,
    );
    expect(await fromOutside(nodePort)).toBe('ok');

    // WHEN Trivy reports the KEV-listed CVE in the app's image
    const reported = uptime();
    await apply([report(await replicaSetOf(node.busyboxImage), node.busyboxImage, true)]);
    // THEN the app no longer answers from outside
    const isolated = await until(
      'the app cut off from outside',
      async () => (await fromOutside(nodePort)) === '',
    );
    // and still answers inside its namespace
    expect(await fromNeighbour()).toBe('ok');
    const actions = await kubectl([
      'get',
      'preemptiveactions',
      '-o',
      'jsonpath={.items[*].status.phase}',
    ]);
    expect(actions).toContain('Enforced');
    console.log(`report -> isolated ${(isolated - reported).toFixed(2)} s`);
    emit('e2e vulnerability report to isolation from outside', isolated - reported, 's', {}, 2);

    // WHEN the patched image rolls out (the same busybox under a second tag, in the
    // node's containerd) and Trivy reports it clean
    const patchedImage = `${node.busyboxImage}-patched`;
    await runOk('ctr', [
      '--address',
      join(node.nodeDir, 'containerd/containerd.sock'),
      '-n',
      'k8s.io',
      'images',
      'tag',
      '--force',
      node.busyboxImage,
      patchedImage,
    ]);
    const patched = uptime();
    await apply([deployment(patchedImage)]);
    await kubectl(['-n', NS.app, 'rollout', 'status', 'deployment/web', '--timeout=60s']);
    await apply([report(await replicaSetOf(patchedImage), patchedImage, false)]);
    // THEN the app answers from outside again
    const lifted = await until(
      'the app reachable from outside again',
      async () => (await fromOutside(nodePort)) === 'ok',
    );
    expect(await fromNeighbour()).toBe('ok');
    emit('e2e patched rollout to reachable from outside', lifted - patched, 's', {}, 2);
  });
});
