import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../controller/runtime/client.js';
import { statusOf } from '../../controller/runtime/errors.js';
import { INVENTORY_KINDS } from '../../policies/index.js';
import { ControlPlane } from '../harness/control-plane.js';
import { ENVTEST_ASSETS_ENV, REPO_ROOT } from '../harness/envtest-assets.js';
import { secret } from '../harness/objects.js';

// Least privilege, proved on a real API server with real RBAC: the chart is rendered
// with the real helm binary, its ServiceAccount and RBAC objects are applied, and
// every request below is made AS that ServiceAccount (Impersonate-User), so the API
// server's authorizer, not a reading of the YAML, decides what the controller may do.
// Each refusal is paired with the neighbouring request the controller needs, which
// must succeed: a refusal alone could come from a broken impersonation.

const CHART = join(REPO_ROOT, 'charts/forestall');
const KUBE_VERSION = readFileSync(join(REPO_ROOT, 'test/envtest/KUBE_VERSION'), 'utf8').trim();
const exec = promisify(execFile);

type Manifest = KubernetesObject & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
};

let plane: ControlPlane;
let admin: KubeClient;
let helmHome: string;

/** helm template for a release, as `helm install` would render it for this cluster's version. */
async function render(release: string, namespace: string, ...extra: string[]): Promise<Manifest[]> {
  const assets = inject('envtestAssets') ?? process.env[ENVTEST_ASSETS_ENV];
  if (!assets)
    throw new Error(
      `No envtest assets directory (${ENVTEST_ASSETS_ENV}); run this file in the integration project`,
    );
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'c'),
    HELM_CONFIG_HOME: join(helmHome, 'f'),
    HELM_DATA_HOME: join(helmHome, 'd'),
  };
  const { stdout } = await exec(
    join(assets, 'helm'),
    [
      'template',
      release,
      CHART,
      '--namespace',
      namespace,
      '--kube-version',
      KUBE_VERSION,
      ...extra,
    ],
    {
      cwd: REPO_ROOT,
      env,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest)
    .filter((m) => m !== null && m !== undefined);
}

/** Applies the ServiceAccount and every RBAC object of a render, for real. */
async function installRbac(manifests: Manifest[]): Promise<{ user: string }> {
  const kinds = new Set([
    'ServiceAccount',
    'ClusterRole',
    'ClusterRoleBinding',
    'Role',
    'RoleBinding',
  ]);
  const rbac = manifests.filter((m) => kinds.has(m.kind));
  for (const m of rbac) await admin.apply(m);
  const sa = rbac.find((m) => m.kind === 'ServiceAccount')!;
  return { user: `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}` };
}

/** A client that acts as `user` (the admin's credentials plus the Impersonate-User header). */
function actingAs(user: string): KubeClient {
  const base = plane.kubeConfig();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.clusters,
    contexts: base.contexts,
    currentContext: base.currentContext,
    users: base.users.map((u) => ({ ...u, impersonateUser: user })),
  });
  return new KubeClient(kc);
}

/** 'allowed' when the API server let the request through (a 404 is past authorization), 'forbidden' on 403. */
async function outcome(request: () => Promise<unknown>): Promise<string> {
  try {
    await request();
    return 'allowed';
  } catch (err) {
    const status = statusOf(err);
    if (status === 403) return 'forbidden';
    if (status === 404) return 'allowed';
    throw err;
  }
}

const configMap = (namespace: string, name: string): Manifest =>
  ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: { k: 'v' },
  }) as Manifest;

/** create, patch (server-side apply) and delete of one ConfigMap, as the client. */
async function configMapWrites(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  // The patch and delete are judged on an object that exists, made by the admin when the client may not create it.
  const create = await outcome(() => client.create(configMap(namespace, name)));
  if (create !== 'allowed') await admin.create(configMap(namespace, name));
  const patch = await outcome(() =>
    client.apply({ ...configMap(namespace, name), data: { k: 'patched' } } as Manifest),
  );
  const del = await outcome(() => client.delete(configMap(namespace, name)));
  if (del !== 'allowed') await admin.delete(configMap(namespace, name));
  return { create, patch, delete: del };
}

const ALL_ALLOWED = { create: 'allowed', patch: 'allowed', delete: 'allowed' };
const ALL_FORBIDDEN = { create: 'forbidden', patch: 'forbidden', delete: 'forbidden' };

beforeAll(async () => {
  helmHome = mkdtempSync(join(tmpdir(), 'forestall-rbac-helm-'));
  plane = await ControlPlane.start({ crdDir: null });
  admin = new KubeClient(plane.kubeConfig());
  for (const name of ['forestall-system', 'forestall-two', 'payments', 'coredns']) {
    await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  await admin.apply(secret('payments', 'db', { password: 'p' }));
  await admin.apply(secret('forestall-system', 'forestall-git', { token: 't' }));
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
});

describe('GIVEN the chart with default values, its RBAC applied, and requests made as its ServiceAccount', () => {
  let sa: KubeClient;
  let user: string;

  beforeAll(async () => {
    ({ user } = await installRbac(await render('forestall', 'forestall-system')));
    sa = actingAs(user);
  }, 60_000);

  it('THEN the API server sees the ServiceAccount, not the admin (impersonation is in effect)', async () => {
    const review = (await sa.create({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
      metadata: {},
    } as KubernetesObject)) as { status?: { userInfo?: { username?: string } } };
    expect(review.status?.userInfo?.username).toBe(
      'system:serviceaccount:forestall-system:forestall',
    );
  });

  it('THEN ConfigMaps are written in kube-system (the DNS namespace) and the release namespace, and nowhere else', async () => {
    expect(await configMapWrites(sa, 'kube-system', 'forestall-dnsblock-x')).toEqual(ALL_ALLOWED);
    expect(await configMapWrites(sa, 'forestall-system', 'forestall-feed-x')).toEqual(ALL_ALLOWED);
    expect(await configMapWrites(sa, 'payments', 'forestall-dnsblock-x')).toEqual(ALL_FORBIDDEN);
    expect(await configMapWrites(sa, 'default', 'forestall-dnsblock-x')).toEqual(ALL_FORBIDDEN);
    expect(await outcome(() => sa.list('v1', 'ConfigMap'))).toBe('forbidden');
  });

  it('THEN Secrets are read only by name in the release namespace: never listed, never elsewhere', async () => {
    expect(await outcome(() => sa.get('v1', 'Secret', 'forestall-git', 'forestall-system'))).toBe(
      'allowed',
    );
    expect(await outcome(() => sa.get('v1', 'Secret', 'db', 'payments'))).toBe('forbidden');
    expect(await outcome(() => sa.get('v1', 'Secret', 'anything', 'kube-system'))).toBe(
      'forbidden',
    );
    expect(await outcome(() => sa.list('v1', 'Secret', { namespace: 'forestall-system' }))).toBe(
      'forbidden',
    );
    expect(await outcome(() => sa.list('v1', 'Secret'))).toBe('forbidden');
  });

  it('THEN EndpointSlices are listed in default (the kubernetes Service) only, not cluster-wide', async () => {
    const selector = {
      namespace: 'default',
      labelSelector: 'kubernetes.io/service-name=kubernetes',
    };
    expect(await outcome(() => sa.list('discovery.k8s.io/v1', 'EndpointSlice', selector))).toBe(
      'allowed',
    );
    expect(await outcome(() => sa.list('discovery.k8s.io/v1', 'EndpointSlice'))).toBe('forbidden');
    expect(
      await outcome(() =>
        sa.list('discovery.k8s.io/v1', 'EndpointSlice', { namespace: 'kube-system' }),
      ),
    ).toBe('forbidden');
  });

  it('THEN it may list and watch every kind the controller watches for the inventory, and the CLI reads', async () => {
    // Asked of the authorizer (SelfSubjectAccessReview), since these CRDs are not installed here.
    const may = async (group: string, resource: string, verb: string) => {
      const review = (await sa.create({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        metadata: {},
        spec: { resourceAttributes: { group, resource, verb } },
      } as KubernetesObject)) as { status?: { allowed?: boolean } };
      return review.status?.allowed === true;
    };
    const watched = INVENTORY_KINDS.filter((k) => k.watched);
    expect(watched.map((k) => k.kind)).toEqual(
      expect.arrayContaining(['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute']),
    );
    for (const k of watched) {
      const group = k.apiVersion.includes('/') ? k.apiVersion.split('/')[0]! : '';
      for (const verb of ['list', 'watch'])
        expect({ kind: k.kind, verb, allowed: await may(group, k.plural, verb) }).toEqual({
          kind: k.kind,
          verb,
          allowed: true,
        });
    }
    // The review can say no: the controller never watches Pods or Secrets cluster-wide.
    expect(await may('', 'pods', 'watch')).toBe(false);
    expect(await may('', 'secrets', 'list')).toBe(false);
  });

  it('THEN it can neither grant itself more nor touch RBAC', async () => {
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'more', namespace: 'forestall-system' },
      rules: [],
    } as Manifest;
    expect(await outcome(() => sa.create(role))).toBe('forbidden');
  });
});

describe('GIVEN a second release whose DNS namespace is coredns', () => {
  let sa: KubeClient;

  beforeAll(async () => {
    const { user } = await installRbac(
      await render('other', 'forestall-two', '--set', 'dns.namespace=coredns'),
    );
    sa = actingAs(user);
  }, 60_000);

  it('THEN its ConfigMap writes go to coredns and its own namespace, and kube-system is refused', async () => {
    expect(await configMapWrites(sa, 'coredns', 'forestall-rpz-x')).toEqual(ALL_ALLOWED);
    expect(await configMapWrites(sa, 'forestall-two', 'forestall-feed-x')).toEqual(ALL_ALLOWED);
    expect(await configMapWrites(sa, 'kube-system', 'forestall-rpz-x')).toEqual(ALL_FORBIDDEN);
    expect(await configMapWrites(sa, 'payments', 'forestall-rpz-x')).toEqual(ALL_FORBIDDEN);
  });

  it("THEN it cannot read the first release's Secrets", async () => {
    expect(await outcome(() => sa.get('v1', 'Secret', 'forestall-git', 'forestall-system'))).toBe(
      'forbidden',
    );
  });
});
