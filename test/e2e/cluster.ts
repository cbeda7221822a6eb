import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { inject } from 'vitest';
import { eventually } from '../harness/eventually.js';
import { type E2eNode, NODE_SCRIPTS, run, runOk } from './node.js';

// For test files only: inject() works in test workers, not in the globalSetup, which
// imports node.ts.

/** Tools bound to the node the globalSetup started; for test files. */
export interface E2eCluster extends E2eNode {
  kubectl: (args: readonly string[], input?: string) => Promise<string>;
  helm: (args: readonly string[]) => Promise<string>;
  /** `helm install` of charts/forestall with the imported image and `--set` values. */
  installChart: (release: string, namespace: string, values?: readonly string[]) => Promise<string>;
  /**
   * Deletes every Forestall object while the controller still runs (their finalizers
   * need it: deleted after it, they would hang), then `helm uninstall` (when
   * installed), then the CRDs, which helm never deletes.
   */
  uninstallChart: (release: string, namespace: string) => Promise<void>;
  /**
   * One controller replica of the chart (no PodDisruptionBudget) with the `--set`
   * values, in a namespace of its own; waits for its rollout.
   */
  installController: (
    release: string,
    namespace: string,
    values: readonly string[],
  ) => Promise<void>;
  /**
   * uninstallChart of the release in `namespaces.controller`, then deletes all the
   * case's namespaces and waits for them to go.
   */
  removeCase: (
    release: string,
    namespaces: { controller: string } & Record<string, string>,
  ) => Promise<void>;
  /** Chart values that let the controller fetch plain http from the feed server in `namespace` (feedServer). */
  inClusterFeedValues: (namespace: string) => string[];
  /**
   * What Forestall did, for a failure message: its objects (phase and conditions), the
   * NetworkPolicies in `namespaces`, and the tail of the controller's log in `controllerNs`.
   */
  forestallState: (controllerNs: string, namespaces: readonly string[]) => Promise<string>;
  /** Waits for the pod to be Ready. */
  podReady: (namespace: string, pod: string) => Promise<void>;
  /** `kubectl apply` of the objects, as one List. */
  apply: (objects: readonly object[]) => Promise<void>;
  /** A namespace with the labels, once its default ServiceAccount exists. */
  newNamespace: (name: string, labels?: Record<string, string>) => Promise<void>;
  /** A pod of the busybox test image running `sh -c script`, labelled app=<name>. */
  busyboxPod: (namespace: string, name: string, script: string) => object;
  /**
   * A feed server in `namespace`: busybox httpd serving `/lines` (the given lines at
   * first) from the pod `feed`, behind the Service `feed` on port 8080, logging each
   * request (`-vv`) so that `kubectl logs --timestamps` dates the controller's fetches.
   * Returns the URL the controller fetches.
   */
  feedServer: (namespace: string, lines: readonly string[]) => Promise<string>;
  /**
   * The /proc/uptime second of the feed server's first request for `/lines` at or
   * after `since` (uptime seconds), from its log.
   */
  firstFetchAfter: (namespace: string, since: number, timeoutMs: number) => Promise<number>;
  /**
   * GET / of `host`:`port` from a pod (busybox nc, HTTP/1.0): the last line of the
   * answer ("ok" from the test servers), or '' when the connection fails or times out.
   */
  httpFromPod: (namespace: string, pod: string, host: string, port?: number) => Promise<string>;
  /** test/node/test-host.sh up|down: a test host outside the cluster; `up` returns its address. */
  testHost: (cmd: 'up' | 'down', index: number) => Promise<string>;
  /** Runs a command in a test host's network namespace; its stdout, whatever its exit. */
  inTestHost: (index: number, args: readonly string[]) => Promise<string>;
  /** The node's address (kubelet --node-ip; NodePorts listen there). */
  nodeIp: string;
  /** Replaces the feed server's `/lines` atomically. */
  setFeed: (namespace: string, lines: readonly string[]) => Promise<void>;
}

/** The node the globalSetup started, with its tools; for test files. */
export function e2eNode(): E2eCluster {
  const node = inject('e2eNode');
  const kubectl = (args: readonly string[], input?: string) =>
    runOk(join(node.envtestAssets, 'kubectl'), ['--kubeconfig', node.kubeconfig, ...args], {
      input,
    });
  const helm = (args: readonly string[]) =>
    runOk(join(node.envtestAssets, 'helm'), ['--kubeconfig', node.kubeconfig, ...args]);
  const apply = async (objects: readonly object[]): Promise<void> => {
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
  };
  const busyboxPod = (namespace: string, name: string, script: string): object => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name,
          image: node.busyboxImage,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', script],
        },
      ],
    },
  });
  const feedFile = (lines: readonly string[]): string =>
    lines.map((line) => `'${line.replace(/'/g, `'\\''`)}'`).join(' ');
  const podReady = async (namespace: string, pod: string): Promise<void> => {
    await kubectl([
      '-n',
      namespace,
      'wait',
      '--for=condition=Ready',
      `pod/${pod}`,
      '--timeout=60s',
    ]);
  };
  const self: Omit<E2eCluster, 'installController' | 'removeCase'> = {
    ...node,
    kubectl,
    helm,
    apply,
    podReady,
    forestallState: async (controllerNs, namespaces) => {
      const parts: string[] = [];
      const section = async (title: string, args: readonly string[]): Promise<void> => {
        const out = await run(join(node.envtestAssets, 'kubectl'), [
          '--kubeconfig',
          node.kubeconfig,
          ...args,
        ]);
        parts.push(`--- ${title}\n${out.stdout}${out.stderr}`);
      };
      await section('Forestall objects', [
        'get',
        'threatfeeds,exposurepolicies,preemptiveactions',
        '-o',
        'custom-columns=KIND:.kind,NAME:.metadata.name,PHASE:.status.phase,CONDITIONS:.status.conditions[*].message',
      ]);
      for (const ns of namespaces) {
        await section(`NetworkPolicies in ${ns}`, [
          '-n',
          ns,
          'get',
          'networkpolicies',
          '-o',
          'yaml',
        ]);
      }
      await section('controller log', [
        '-n',
        controllerNs,
        'logs',
        '-l',
        'app.kubernetes.io/name=forestall',
        '--tail=40',
      ]);
      return parts.join('\n');
    },
    inClusterFeedValues: (namespace: string) => [
      `outbound.allow={10.96.0.0/16,feed.${namespace}.svc.cluster.local}`,
      'networkPolicy.httpsPorts={443,8080}',
    ],
    busyboxPod,
    newNamespace: async (name, labels = {}) => {
      await apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }]);
      // A pod created before the default ServiceAccount exists is refused (trap 5).
      await kubectl([
        '-n',
        name,
        'wait',
        '--for=create',
        'serviceaccount/default',
        '--timeout=30s',
      ]);
    },
    feedServer: async (namespace, lines) => {
      await apply([
        busyboxPod(
          namespace,
          'feed',
          `printf '%s\\n' ${feedFile(lines)} > /www/lines && exec httpd -f -vv -p 8080 -h /www`,
        ),
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'feed', namespace },
          spec: { selector: { app: 'feed' }, ports: [{ port: 8080, targetPort: 8080 }] },
        },
      ]);
      await kubectl([
        '-n',
        namespace,
        'wait',
        '--for=condition=Ready',
        'pod/feed',
        '--timeout=60s',
      ]);
      return `http://feed.${namespace}.svc.cluster.local:8080/lines`;
    },
    httpFromPod: async (namespace, pod, host, port = 8080) =>
      (
        await kubectl([
          '-n',
          namespace,
          'exec',
          pod,
          '--',
          'sh',
          '-c',
          // busybox's static wget crashes (SIGSEGV) in pods; nc speaks HTTP/1.0 well enough.
          `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc ${host} ${port} 2>/dev/null | tail -1`,
        ])
      ).trim(),
    testHost: async (cmd, index) => (await runOk('bash', [TEST_HOST, cmd, String(index)])).trim(),
    inTestHost: async (index, args) =>
      (await run('bash', [TEST_HOST, 'run', String(index), ...args])).stdout,
    nodeIp: /^NODE_IP=(.*)$/m.exec(readFileSync(join(node.nodeDir, 'env'), 'utf8'))?.[1] ?? '',
    firstFetchAfter: (namespace, since, timeoutMs) =>
      eventually(
        `a fetch of the feed in ${namespace} after uptime ${since}`,
        async () => {
          const log = await kubectl(['-n', namespace, 'logs', 'feed', '--timestamps']);
          for (const line of log.split('\n')) {
            const [stamp, ...rest] = line.split(' ');
            if (!stamp || !rest.join(' ').includes('url:/lines')) continue;
            const at = (Date.parse(stamp) - BOOT_MS) / 1000;
            if (at >= since) return at;
          }
          return false;
        },
        timeoutMs,
        500,
      ),
    setFeed: async (namespace, lines) => {
      await kubectl(
        [
          '-n',
          namespace,
          'exec',
          '-i',
          'feed',
          '--',
          'sh',
          '-c',
          'cat > /www/lines.new && mv /www/lines.new /www/lines',
        ],
        `${lines.join('\n')}\n`,
      );
    },
    installChart: (release, namespace, values = []) =>
      helm([
        'install',
        release,
        CHART,
        '-n',
        namespace,
        ...[
          `image.repository=${node.image.repository}`,
          `image.tag=${node.image.tag}`,
          'image.pullPolicy=Never',
          ...values,
        ].flatMap((v) => ['--set', v]),
      ]),
    uninstallChart: async (release, namespace) => {
      const crds = await kubectl(['get', 'crd', '-o', 'name']);
      if (crds.includes('.forestall.io')) {
        await kubectl([
          'delete',
          'exposurepolicies,threatfeeds,preemptiveactions,threatexceptions',
          '--all',
          '--wait=true',
          '--timeout=120s',
        ]);
      }
      await helm(['uninstall', release, '-n', namespace, '--ignore-not-found', '--wait']);
      await kubectl(['delete', '-f', join(CHART, 'crds'), '--ignore-not-found', '--wait=true']);
    },
  };
  return {
    ...self,
    installController: async (release, namespace, values) => {
      await self.installChart(release, namespace, [
        'replicaCount=1',
        'podDisruptionBudget.enabled=false',
        ...values,
      ]);
      await kubectl(['-n', namespace, 'rollout', 'status', 'deploy', '--timeout=180s']);
    },
    removeCase: async (release, namespaces) => {
      await self.uninstallChart(release, namespaces.controller);
      for (const ns of Object.values(namespaces)) {
        await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true']);
      }
    },
  };
}

export const CHART = join(REPO_ROOT, 'charts/forestall');
const TEST_HOST = join(NODE_SCRIPTS, 'test-host.sh');

/** The host's /proc/uptime, the clock the probes' log lines use (pods share it). */
export function uptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** The host's boot time in epoch milliseconds: converts wall-clock times to uptime. */
const BOOT_MS = Date.now() - uptime() * 1000;
