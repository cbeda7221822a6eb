import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, ApiextensionsV1Api, KubeConfig } from '@kubernetes/client-node';
import type { KubernetesObject, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { KubeClient } from '../../controller/runtime/client.js';
import {
  ENVTEST_ASSETS_ENV,
  REPO_ROOT,
  assertEnvtestAssets,
  buildEnvtestAssetsSync,
} from './envtest-assets.js';
import { eventually } from './eventually.js';
import { onProcessExit, startOrphanWatchdog } from './exit-cleanup.js';
import { freeLoopbackPorts } from './free-port.js';
import { httpGet } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';

/** The CRDs of other projects the tests use (Calico, Cilium, Gateway API, Trivy, …). */
export const THIRD_PARTY_CRDS = join(REPO_ROOT, 'test/crds/third-party');

export interface ControlPlaneOptions {
  /**
   * Also run kube-controller-manager with the garbage collector and the
   * namespace and service-account controllers. Off by default: most tests need
   * only the API server, and each extra process competes for the two CPUs of CI.
   * Turn it on to test ownerReference cleanup or namespace deletion.
   */
  controllerManager?: boolean;
  /**
   * Directory whose `*.yaml` CustomResourceDefinitions are installed once the API
   * server is ready. Defaults to `<repo>/crds/generated`; `null` installs none.
   */
  crdDir?: string | null;
  /** Extra kube-apiserver flags, appended last so they override the defaults. */
  apiServerArgs?: string[];
  /**
   * Directory with the binaries. Defaults to $FORESTALL_ENVTEST_ASSETS (set by
   * the integration globalSetup), else the output of `test/envtest/build.sh`.
   */
  assetsDir?: string;
}

/** Milliseconds each phase of the last start took, for reporting harness overhead. */
export interface ControlPlaneStartTimings {
  etcdMs: number;
  apiServerMs: number;
  /** Absent when the controller-manager was not requested. */
  controllerManagerMs?: number;
  /** Absent when no CRDs were installed. */
  crdsMs?: number;
  totalMs: number;
}

export const DEFAULT_CRD_DIR = join(REPO_ROOT, 'crds/generated');

const ADMIN_USER = 'admin';
const CONTROLLER_MANAGER_USER = 'system:kube-controller-manager';
const FIELD_MANAGER = 'forestall-test-harness';
const CLUSTER_NAME = 'forestall-envtest';

const ETCD_READY_TIMEOUT_MS = 30_000;
const API_SERVER_READY_TIMEOUT_MS = 60_000;
const CONTROLLER_MANAGER_READY_TIMEOUT_MS = 60_000;
const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;

/**
 * The controllers the integration tests rely on: ownerReference garbage
 * collection, namespace deletion (which empties the namespace first), and the
 * default ServiceAccount with its token. Everything else (deployments, nodes,
 * endpoints) is left out: there are no kubelets, and each extra controller adds
 * start-up time and log noise.
 */
const CONTROLLERS = ['garbagecollector', 'namespace', 'serviceaccount', 'serviceaccount-token'];

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
}

/**
 * A real Kubernetes control plane (etcd, kube-apiserver and optionally
 * kube-controller-manager) running as child processes on loopback ports, in a
 * temporary directory that `stop()` removes.
 *
 * It follows controller-runtime's envtest: no kubelet, no scheduler, no Docker,
 * the real API server with its real admission, validation and RBAC. Clients act
 * as `admin` in `system:masters` through a static bearer token, so tests can
 * also create narrower identities and check RBAC for real.
 *
 * Lifetime: one instance per test file (beforeAll/afterAll). Every child is
 * killed when the test process exits, even if `stop()` is never called.
 */
export class ControlPlane {
  /** Wall-clock milliseconds of the most recent successful `start()` in this process. */
  static lastStartMs: number | undefined;

  readonly apiServerUrl: string;
  readonly kubeconfigPath: string;
  readonly token: string;
  readonly dir: string;
  readonly startTimings: ControlPlaneStartTimings = { etcdMs: 0, apiServerMs: 0, totalMs: 0 };

  private readonly assetsDir: string;
  private extraApiServerArgs: string[] = [];
  private readonly ports: Ports;
  private readonly pkiDir: string;
  private readonly controllerManagerToken: string;
  private caPem: string | undefined;
  private etcd: ManagedProcess | undefined;
  private apiServer: ManagedProcess | undefined;
  private controllerManager: ManagedProcess | undefined;
  private stopped = false;
  private readonly forgetDirCleanup: () => void;
  private readonly stopWatchdog: () => void;

  private constructor(assetsDir: string, dir: string, ports: Ports) {
    this.assetsDir = assetsDir;
    this.dir = dir;
    this.ports = ports;
    this.pkiDir = join(dir, 'pki');
    this.apiServerUrl = `https://127.0.0.1:${ports.apiServer}`;
    this.kubeconfigPath = join(dir, 'admin.kubeconfig');
    this.token = randomBytes(32).toString('hex');
    this.controllerManagerToken = randomBytes(32).toString('hex');
    this.forgetDirCleanup = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
    this.stopWatchdog = startOrphanWatchdog(dir);
  }

  /**
   * Starts etcd, then the API server (waiting for /readyz), then, if asked, the
   * controller-manager (waiting for /healthz), then installs the CRDs. If any
   * step fails, everything already started is stopped and the error names the
   * failing process with the tail of its log.
   */
  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const began = performance.now();
    const assetsDir = assertEnvtestAssets(
      opts.assetsDir ?? nonEmpty(process.env[ENVTEST_ASSETS_ENV]) ?? buildEnvtestAssetsSync(),
      opts.controllerManager === true
        ? ['etcd', 'kube-apiserver', 'kube-controller-manager']
        : ['etcd', 'kube-apiserver'],
    );
    const [etcdClient, etcdPeer, apiServer, controllerManager] = await freeLoopbackPorts(4);
    if (
      etcdClient === undefined ||
      etcdPeer === undefined ||
      apiServer === undefined ||
      controllerManager === undefined
    ) {
      throw new Error('Could not allocate four loopback ports.');
    }
    // Created only once nothing else can throw before the constructor registers its cleanup.
    const dir = mkdtempSync(join(tmpdir(), 'forestall-control-plane-'));
    const plane = new ControlPlane(assetsDir, dir, {
      etcdClient,
      etcdPeer,
      apiServer,
      controllerManager,
    });
    plane.extraApiServerArgs = opts.apiServerArgs ?? [];
    try {
      await plane.boot(opts, began);
    } catch (err) {
      await plane.stop();
      throw err;
    }
    return plane;
  }

  /** A client configuration for the admin user, trusting only this API server's certificate. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: CLUSTER_NAME,
          server: this.apiServerUrl,
          caData: base64(this.servingCa()),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: ADMIN_USER, token: this.token }],
      contexts: [{ name: CLUSTER_NAME, cluster: CLUSTER_NAME, user: ADMIN_USER }],
      currentContext: CLUSTER_NAME,
    });
    return kc;
  }

  /**
   * Writes an admin kubeconfig with the CA embedded, for processes that cannot
   * share this object (a controller started as a child process, helm, kubectl).
   * Returns the path. Mode 0600, because helm warns about readable kubeconfigs.
   */
  writeKubeconfig(path: string = this.kubeconfigPath): string {
    writeFileSync(path, this.renderKubeconfig(ADMIN_USER, this.token), { mode: 0o600 });
    return path;
  }

  /** Stops the API server only; etcd (and the data) and the controller-manager keep running. */
  async stopApiServer(): Promise<void> {
    await this.apiServer?.stop();
    this.apiServer = undefined;
  }

  /**
   * Starts the API server on the same port with the same etcd and serving
   * certificate, and resolves once /readyz is 200. Existing KubeConfig objects
   * stay valid, though clients may see one failed request on a pooled connection.
   */
  async startApiServer(): Promise<void> {
    if (this.stopped) throw new Error('This control plane has been stopped.');
    if (this.apiServer?.running === true) return;
    await this.launchApiServer();
  }

  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /**
   * Applies (server-side, forced) every CustomResourceDefinition found in the
   * `*.yaml` / `*.yml` files of `dir`, ignoring other kinds, and resolves once all
   * are Established, so the caller can create custom resources at once. A
   * missing directory is an error; an empty one installs nothing.
   */
  async installCrds(dir: string): Promise<void> {
    if (!existsSync(dir)) {
      throw new Error(
        `CRD directory ${dir} does not exist. Generate the CRDs first (npm run generate), or pass crdDir: null to install none.`,
      );
    }
    const crds = readCrds(dir);
    await this.applyCrds(
      crds.map(({ crd }) => crd),
      (i) => crds[i]!.source,
    );
  }

  /**
   * Installs the third-party CRDs (THIRD_PARTY_CRDS), then waits until each kind of
   * `served` answers a list: a new CRD is Established a moment before its storage
   * serves (HTTP 429 "storage is (re)initializing").
   */
  async installThirdPartyCrds(
    served: readonly (readonly [apiVersion: string, kind: string])[] = [],
  ): Promise<void> {
    await this.installCrds(THIRD_PARTY_CRDS);
    const client = new KubeClient(this.kubeConfig());
    for (const [apiVersion, kind] of served)
      await eventually(`${kind} served`, () => client.list(apiVersion, kind).then(() => true));
  }

  /**
   * Applies the given CustomResourceDefinitions (server-side, forced) and resolves
   * once every one is Established. `sourceOf` names where each came from in errors.
   */
  async applyCrds(
    crds: V1CustomResourceDefinition[],
    sourceOf: (index: number) => string = () => 'the caller',
  ): Promise<void> {
    if (crds.length === 0) return;
    const kc = this.kubeConfig();
    // KubeClient sends the CRD's JSON as is; client-node's KubernetesObjectApi would drop
    // x-kubernetes-validations, default and enum on the way (docs/adr/0002).
    const client = new KubeClient(kc, undefined, FIELD_MANAGER);
    for (const [i, crd] of crds.entries()) {
      try {
        await client.apply(crd as never);
      } catch (err) {
        // The API server's validation message is the useful part; name the CRD and
        // where it came from so the generator can be fixed.
        throw new Error(
          `Applying CRD ${crd.metadata?.name} from ${sourceOf(i)} failed: ${describeError(err)}`,
          { cause: err },
        );
      }
    }
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await Promise.all(crds.map((crd) => waitUntilEstablished(extensions, crd.metadata!.name!)));
  }

  /**
   * Stops every process (controller-manager, API server, etcd: the reverse of
   * start order) with SIGTERM, escalating to SIGKILL after a few seconds, then
   * removes the directory. Safe to call twice and after a failed start.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.controllerManager?.stop();
    await this.apiServer?.stop();
    await this.etcd?.stop();
    this.controllerManager = undefined;
    this.apiServer = undefined;
    this.etcd = undefined;
    this.stopWatchdog();
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetDirCleanup();
  }

  private async boot(opts: ControlPlaneOptions, began: number): Promise<void> {
    mkdirSync(this.pkiDir, { mode: 0o700 });
    this.writeCredentials();

    let phase = performance.now();
    await this.launchEtcd();
    this.startTimings.etcdMs = elapsedSince(phase);

    phase = performance.now();
    await this.launchApiServer();
    this.startTimings.apiServerMs = elapsedSince(phase);
    this.writeKubeconfig();

    if (opts.controllerManager === true) {
      phase = performance.now();
      await this.launchControllerManager();
      this.startTimings.controllerManagerMs = elapsedSince(phase);
    }

    const crdDir = opts.crdDir === undefined ? DEFAULT_CRD_DIR : opts.crdDir;
    if (crdDir !== null) {
      phase = performance.now();
      await this.installCrds(crdDir);
      this.startTimings.crdsMs = elapsedSince(phase);
    }

    this.startTimings.totalMs = elapsedSince(began);
    ControlPlane.lastStartMs = this.startTimings.totalMs;
  }

  /** Static tokens and the service-account signing key pair, written before anything starts. */
  private writeCredentials(): void {
    // Format: token,user,uid,"group1,group2". The controller-manager gets its own
    // user name so that managedFields and audit show which component acted; it is
    // in system:masters because with --use-service-account-credentials=false one
    // identity must be allowed everything the garbage collector may delete.
    writeFileSync(
      join(this.pkiDir, 'tokens.csv'),
      [
        `${this.token},${ADMIN_USER},${ADMIN_USER},"system:masters"`,
        `${this.controllerManagerToken},${CONTROLLER_MANAGER_USER},kube-controller-manager,"system:masters"`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    writeFileSync(join(this.pkiDir, 'sa.key'), privateKey, { mode: 0o600 });
    writeFileSync(join(this.pkiDir, 'sa.pub'), publicKey);
  }

  private async launchEtcd(): Promise<void> {
    const clientUrl = `http://127.0.0.1:${this.ports.etcdClient}`;
    const peerUrl = `http://127.0.0.1:${this.ports.etcdPeer}`;
    this.etcd = ManagedProcess.spawn({
      name: 'etcd',
      binary: join(this.assetsDir, 'etcd'),
      dir: this.dir,
      args: [
        '--name=forestall',
        `--data-dir=${join(this.dir, 'etcd-data')}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=forestall=${peerUrl}`,
        '--initial-cluster-state=new',
        // Test data is thrown away with the directory; fsync only makes every
        // write slow on a shared CI disk.
        '--unsafe-no-fsync',
      ],
    });
    await this.etcd.waitUntilReady({
      description: `GET ${clientUrl}/health reports healthy`,
      timeoutMs: ETCD_READY_TIMEOUT_MS,
      check: async () => {
        const res = await httpGet(`${clientUrl}/health`);
        return {
          ready: res.status === 200 && res.body.includes('"true"'),
          detail: `HTTP ${res.status} ${res.body.trim()}`,
        };
      },
    });
  }

  private apiServerArgs(): string[] {
    const pki = this.pkiDir;
    return [
      `--etcd-servers=http://127.0.0.1:${this.ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${this.ports.apiServer}`,
      '--advertise-address=127.0.0.1',
      // The "kubernetes" Service's Endpoints would have to point at the advertise
      // address, and validation rejects loopback IPs there, so the default lease
      // reconciler logs an error every ten seconds. Nothing in a test needs those
      // Endpoints (there are no Pods to reach the API through the Service).
      '--endpoint-reconciler-type=none',
      // Without --tls-cert-file the API server writes a self-signed serving
      // certificate (with its CA appended) to <cert-dir>/apiserver.crt on first
      // start and reuses it afterwards, so a restart keeps the same CA.
      `--cert-dir=${pki}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // Node is harmless without kubelets and makes the chain match a real cluster.
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      // As in envtest: the ServiceAccount admission plugin rejects a Pod until the
      // namespace's "default" ServiceAccount exists. Without a controller-manager
      // it never does, and even with one, a Pod created right after its namespace
      // races the serviceaccount controller. Tests must not depend on that race.
      '--disable-admission-plugins=ServiceAccount',
      // Without it, an open watch (the controller-manager's, or an informer in
      // the test) keeps the HTTP/2 connection busy and shutdown waits out the
      // 60 s request timeout; with it, watches are ended after a second, so
      // restartApiServer() takes about a second instead of hitting the SIGKILL.
      '--shutdown-watch-termination-grace-period=1s',
      ...this.extraApiServerArgs,
    ];
  }

  private async launchApiServer(): Promise<void> {
    const apiServer = ManagedProcess.spawn({
      name: 'kube-apiserver',
      binary: join(this.assetsDir, 'kube-apiserver'),
      dir: this.dir,
      args: this.apiServerArgs(),
    });
    this.apiServer = apiServer;
    const certPath = join(this.pkiDir, 'apiserver.crt');
    await apiServer.waitUntilReady({
      description: `GET ${this.apiServerUrl}/readyz == 200`,
      timeoutMs: API_SERVER_READY_TIMEOUT_MS,
      check: async () => {
        if (!existsSync(certPath)) return { ready: false, detail: `${certPath} not written yet` };
        const res = await httpGet(`${this.apiServerUrl}/readyz`, {
          ca: readFileSync(certPath),
          token: this.token,
        });
        return {
          ready: res.status === 200,
          detail: `HTTP ${res.status} ${res.body.trim().split('\n').slice(-5).join(' | ')}`,
        };
      },
    });
    this.caPem = readFileSync(certPath, 'utf8');
  }

  private async launchControllerManager(): Promise<void> {
    const kubeconfig = join(this.dir, 'controller-manager.kubeconfig');
    writeFileSync(
      kubeconfig,
      this.renderKubeconfig(CONTROLLER_MANAGER_USER, this.controllerManagerToken),
      { mode: 0o600 },
    );
    const port = this.ports.controllerManager;
    this.controllerManager = ManagedProcess.spawn({
      name: 'kube-controller-manager',
      binary: join(this.assetsDir, 'kube-controller-manager'),
      dir: this.dir,
      args: [
        `--kubeconfig=${kubeconfig}`,
        // Delegated authn/authz for its own HTTPS endpoint, so a test can read
        // /metrics with the admin token; /healthz is always allowed anyway.
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        // Bearer tokens only: the client-CA lookup reads a ConfigMap that this API
        // server (no --client-ca-file) never writes, and would log an error per retry.
        '--authentication-skip-lookup=true',
        `--controllers=${CONTROLLERS.join(',')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--service-account-private-key-file=${join(this.pkiDir, 'sa.key')}`,
        `--root-ca-file=${join(this.pkiDir, 'apiserver.crt')}`,
        '--use-service-account-credentials=false',
      ],
    });
    await this.controllerManager.waitUntilReady({
      description: `GET https://127.0.0.1:${port}/healthz == 200`,
      timeoutMs: CONTROLLER_MANAGER_READY_TIMEOUT_MS,
      check: async () => {
        const res = await httpGet(`https://127.0.0.1:${port}/healthz`, {
          insecureSkipTlsVerify: true,
        });
        return { ready: res.status === 200, detail: `HTTP ${res.status} ${res.body.trim()}` };
      },
    });
  }

  private servingCa(): string {
    if (this.caPem === undefined) {
      throw new Error('The API server has not started yet, so its serving certificate is unknown.');
    }
    return this.caPem;
  }

  private renderKubeconfig(user: string, token: string): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: CLUSTER_NAME,
          cluster: {
            server: this.apiServerUrl,
            'certificate-authority-data': base64(this.servingCa()),
          },
        },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: CLUSTER_NAME, context: { cluster: CLUSTER_NAME, user } }],
      'current-context': CLUSTER_NAME,
    });
  }
}

type NamedCrd = V1CustomResourceDefinition & KubernetesObject & { metadata: { name: string } };

function readCrds(dir: string): { crd: NamedCrd; source: string }[] {
  const files = readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort();
  const crds: { crd: NamedCrd; source: string }[] = [];
  for (const file of files) {
    const path = join(dir, file);
    for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (doc.errors.length > 0) {
        throw new Error(
          `${path} is not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`,
        );
      }
      const value: unknown = doc.toJS();
      if (!isCrd(value)) continue;
      if (typeof value.metadata?.name !== 'string' || value.metadata.name === '') {
        throw new Error(`${path} holds a CustomResourceDefinition without metadata.name.`);
      }
      crds.push({ crd: value as NamedCrd, source: path });
    }
  }
  return crds;
}

function isCrd(value: unknown): value is V1CustomResourceDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'CustomResourceDefinition' &&
    (value as { apiVersion?: unknown }).apiVersion === 'apiextensions.k8s.io/v1'
  );
}

async function waitUntilEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  const deadline = Date.now() + CRD_ESTABLISHED_TIMEOUT_MS;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    const conditions = crd.status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() >= deadline) {
      const described = conditions
        .map((c) => `${c.type}=${c.status} (${c.reason ?? ''}: ${c.message ?? ''})`)
        .join('; ');
      throw new Error(
        `CRD ${name} was not Established within ${CRD_ESTABLISHED_TIMEOUT_MS} ms; conditions: ${described || 'none'}`,
      );
    }
    await sleep(100);
  }
}

function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const status = JSON.parse(body) as { message?: unknown };
        if (typeof status.message === 'string') return `HTTP ${err.code}: ${status.message}`;
      } catch {
        // Not a Status object; fall through to the raw body.
      }
      return `HTTP ${err.code}: ${body}`;
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function elapsedSince(start: number): number {
  return Math.round(performance.now() - start);
}
