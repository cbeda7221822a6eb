import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { KubeClient } from '../../controller/runtime/client.js';
import { ForestallError } from '../../controller/runtime/errors.js';
import type {
  KubernetesObject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Container,
  V1CustomResourceDefinition,
  V1Deployment,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ControlPlane } from '../harness/control-plane.js';
import { ENVTEST_ASSETS_ENV, REPO_ROOT } from '../harness/envtest-assets.js';

// The chart test: static checks with the real helm binary (lint, schema, render),
// then every rendered object is sent to a real kube-apiserver. A render that helm
// accepts but the API server would reject (a misspelt field, a wrong type, an
// invalid label, a pod that the restricted Pod Security Standard refuses) fails
// here instead of on a user's `helm install`.
//
// helm comes from the envtest assets directory (built by test/envtest/build.sh in
// the integration globalSetup). If it is missing the tests fail, never skip: a
// skipped chart test looks green and proves nothing.

const CHART = join(REPO_ROOT, 'charts/forestall');
const RELEASE = 'forestall';
const NAMESPACE = 'forestall-system';
const FIELD_MANAGER = 'forestall-test';
const GROUP = 'forestall.io';
const KINDS = ['threatfeeds', 'exposurepolicies', 'preemptiveactions', 'threatexceptions'] as const;
/** The kinds whose objects carry the controller's finalizer (ThreatExceptions carry none). */
const FINALIZED = KINDS.filter((k) => k !== 'threatexceptions');
const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;
// Render for the Kubernetes version the control plane is built at, so the rendered
// manifests are the ones that cluster would get (`helm install` asks the cluster).
const KUBE_VERSION = readFileSync(join(REPO_ROOT, 'test/envtest/KUBE_VERSION'), 'utf8').trim();

/** A rendered object: what every Kubernetes object has, plus its kind-specific body. */
type Manifest = KubernetesObject & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

function resolveHelm(): string {
  const assets = inject('envtestAssets') ?? process.env[ENVTEST_ASSETS_ENV];
  if (assets === undefined || assets === '') {
    throw new Error(
      `No envtest assets directory: neither inject('envtestAssets') nor ${ENVTEST_ASSETS_ENV} is set. Run this file in the 'integration' project.`,
    );
  }
  const helm = join(assets, 'helm');
  // Throws ENOENT/EACCES, which fails every test of the file.
  accessSync(helm, constants.X_OK);
  return helm;
}

let helmBin = '';
let helmHome = '';

/** Runs helm in the repository root. A non-zero exit is a result; failing to run helm at all throws. */
function helm(...args: string[]): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      helmBin,
      args,
      {
        cwd: REPO_ROOT,
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
        // A private helm home: the test neither reads nor writes the user's repositories, plugins or cache.
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
          KUBECONFIG: join(helmHome, 'no-cluster.kubeconfig'),
        },
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
        } else if (typeof error.code === 'number') {
          resolve({ code: error.code, stdout, stderr });
        } else {
          reject(new Error(`helm ${args.join(' ')} could not run: ${error.message}\n${stderr}`));
        }
      },
    );
  });
}

/** `helm template` for the release, namespace and Kubernetes version every test uses. */
function template(...extra: string[]): Promise<HelmResult> {
  return helm(
    'template',
    RELEASE,
    CHART,
    '--namespace',
    NAMESPACE,
    '--kube-version',
    KUBE_VERSION,
    ...extra,
  );
}

/** Renders the chart and parses every document; throws if helm fails. */
async function render(...extra: string[]): Promise<Manifest[]> {
  const result = await template(...extra);
  if (result.code !== 0) {
    throw new Error(
      `helm template ${extra.join(' ')} failed (exit ${result.code}):\n${result.stderr}`,
    );
  }
  return parseManifests(result.stdout);
}

function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      throw new Error(`helm rendered invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    // Templates that render nothing leave a document holding only a comment.
    if (value === null || value === undefined) continue;
    manifests.push(value as Manifest);
  }
  return manifests;
}

function only<T>(manifests: Manifest[], kind: string): T & Manifest {
  const matches = manifests.filter((m) => m.kind === kind);
  expect(
    matches.map((m) => `${m.kind}/${m.metadata.name}`),
    `exactly one ${kind}`,
  ).toHaveLength(1);
  return matches[0] as T & Manifest;
}

/** The HTTP code and the API server's Status message of a failed request. */
function describeApiError(err: unknown): string {
  if (err instanceof ForestallError) return `HTTP ${err.status}: ${err.message}`;
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let message = typeof body === 'string' ? body : JSON.stringify(body);
    try {
      const status: unknown = JSON.parse(message);
      if (
        typeof status === 'object' &&
        status !== null &&
        typeof (status as { message?: unknown }).message === 'string'
      ) {
        message = (status as { message: string }).message;
      }
    } catch {
      // Not a Status object; keep the raw body.
    }
    return `HTTP ${err.code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Sorted copies, so rule comparisons do not depend on the order in the template. */
function normaliseRules(rules: V1PolicyRule[] | undefined): V1PolicyRule[] {
  return (rules ?? []).map((rule) => ({
    apiGroups: [...(rule.apiGroups ?? [])].sort(),
    resources: [...(rule.resources ?? [])].sort(),
    verbs: [...(rule.verbs ?? [])].sort(),
    ...(rule.resourceNames === undefined ? {} : { resourceNames: [...rule.resourceNames].sort() }),
  }));
}

/** Every (group, resource, verb) a set of rules grants, as "group/resource:verb" strings. */
function grants(rules: V1PolicyRule[] | undefined): string[] {
  const out: string[] = [];
  for (const rule of rules ?? []) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs ?? []) out.push(`${group}/${resource}:${verb}`);
      }
    }
  }
  return out.sort();
}

/** The one object of a kind with that name. */
function named<T>(manifests: Manifest[], kind: string, name: string): T & Manifest {
  const matches = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  expect(matches, `exactly one ${kind}/${name}`).toHaveLength(1);
  return matches[0] as T & Manifest;
}

function controllerContainer(deployment: V1Deployment): V1Container {
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'controller');
  if (container === undefined)
    throw new Error('The Deployment has no container named "controller".');
  return container;
}

beforeAll(() => {
  helmBin = resolveHelm();
  helmHome = mkdtempSync(join(tmpdir(), 'forestall-helm-'));
});

afterAll(() => {
  if (helmHome !== '') rmSync(helmHome, { recursive: true, force: true });
});

describe('GIVEN the forestall chart and the real helm binary', () => {
  it('WHEN linted strictly with the default values THEN helm reports no error or warning', async () => {
    const result = await helm('lint', '--strict', CHART, '--namespace', NAMESPACE);

    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(result.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
  });

  it('WHEN linted with logLevel=loud THEN lint fails and names the logLevel schema violation', async () => {
    const result = await helm('lint', '--strict', CHART, '--set', 'logLevel=loud');

    expect(result.code).not.toBe(0);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toMatch(/schema/i);
    expect(output).toMatch(/logLevel/);
    expect(output).toMatch(/debug.*info.*warn.*error/);
  });

  it('WHEN given an unknown top-level value THEN the schema rejects it (additionalProperties false)', async () => {
    const result = await template('--set', 'replicas=3');

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/additional propert.*'replicas'/i);
  });

  it('WHEN given a mistyped nested value THEN the schema rejects it', async () => {
    const result = await template('--set', 'leaderElection.leaseDuration=soon');

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\/leaderElection\/leaseDuration.*'soon'.*pattern/);
  });

  it('WHEN several replicas run without leader election THEN rendering fails with the reason', async () => {
    const result = await template(
      '--set',
      'replicaCount=2',
      '--set',
      'leaderElection.enabled=false',
    );

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/replicaCount > 1 requires leaderElection\.enabled=true/);
  });
});

describe('GIVEN the chart rendered with default values and --include-crds', () => {
  let manifests: Manifest[] = [];

  beforeAll(async () => {
    manifests = await render('--include-crds');
  });

  it('THEN it renders exactly the expected kinds', () => {
    const kinds = manifests.map((m) => m.kind).sort();

    expect(kinds).toEqual(
      [
        'ClusterRole',
        // rbac.reviewerRoles: the exception-reviewer and viewer roles, for people.
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Role',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
  });

  it('THEN the CRDs are the four cluster-scoped forestall.io kinds (generated by `npm run generate`)', () => {
    const crds = manifests.filter(
      (m): m is Manifest & V1CustomResourceDefinition => m.kind === 'CustomResourceDefinition',
    );

    expect(
      crds.map((crd) => crd.metadata.name).sort(),
      'charts/forestall/crds/ must hold the generated CRDs',
    ).toEqual(KINDS.map((plural) => `${plural}.${GROUP}`).sort());
    for (const crd of crds) {
      expect(crd.spec.group).toBe(GROUP);
      expect(crd.spec.scope, crd.metadata.name).toBe('Cluster');
    }
    expect(crds.map((crd) => crd.spec.names.kind).sort()).toEqual([
      'ExposurePolicy',
      'PreemptiveAction',
      'ThreatException',
      'ThreatFeed',
    ]);
  });

  it('THEN every namespaced object is in the release namespace (but the DNS and cluster-ranges Roles) and every object carries the standard labels', () => {
    const clusterScoped = new Set([
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
    ]);
    const elsewhere: Record<string, string> = {
      [`${RELEASE}-dns`]: 'kube-system',
      [`${RELEASE}-cluster-ranges`]: 'default',
    };
    for (const m of manifests.filter((m) => m.kind !== 'CustomResourceDefinition')) {
      const id = `${m.kind}/${m.metadata.name}`;
      const namespace = /^Role(Binding)?$/.test(m.kind)
        ? (elsewhere[m.metadata.name] ?? NAMESPACE)
        : NAMESPACE;
      expect(m.metadata.namespace, id).toBe(clusterScoped.has(m.kind) ? undefined : namespace);
      expect(m.metadata.labels, id).toMatchObject({
        'app.kubernetes.io/name': 'forestall',
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/version': '0.1.0',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/part-of': 'forestall',
        'helm.sh/chart': 'forestall-0.1.0',
      });
    }
  });

  it('THEN the Deployment runs 2 leader-electing replicas of the appVersion image with the documented arguments', () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const container = controllerContainer(deployment);

    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(container.image).toBe('ghcr.io/forestall/forestall:0.1.0');
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    expect(container.command).toBeUndefined();
    expect(container.args).toEqual([
      'controller',
      '--leader-elect=true',
      '--namespace=$(POD_NAMESPACE)',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
      '--log-level=info',
      '--default-connector=dns=dns:coredns,network=network:networkpolicy',
      '--pull-request-poll-interval=30s',
      '--dns-namespace=kube-system',
      '--cluster-domain=cluster.local',
      '--lease-duration=10s',
      '--renew-deadline=7s',
      '--retry-period=2s',
      '--lease-owner-deployment=forestall',
    ]);
    expect(container.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    expect(container.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { memory: '768Mi' },
    });
  });

  it('THEN the pod meets the restricted Pod Security Standard with a read-only root filesystem and a /tmp emptyDir', () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const pod = deployment.spec?.template.spec;
    const container = controllerContainer(deployment);

    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod?.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(pod?.automountServiceAccountToken).toBe(true);
    expect(pod?.terminationGracePeriodSeconds).toBe(30);
    expect(pod?.serviceAccountName).toBe(
      only<V1ServiceAccount>(manifests, 'ServiceAccount').metadata.name,
    );
  });

  it('THEN replicas spread softly across nodes, selecting exactly the chart pods', () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const pod = deployment.spec?.template.spec;
    const selector = deployment.spec?.selector.matchLabels;

    expect(selector).toEqual({
      'app.kubernetes.io/name': 'forestall',
      'app.kubernetes.io/instance': RELEASE,
      'app.kubernetes.io/component': 'controller',
    });
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(selector ?? {});
    expect(
      pod?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    ).toBeUndefined();
    expect(pod?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toEqual(
      [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selector },
          },
        },
      ],
    );
    expect(pod?.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector },
      },
    ]);
  });

  it('THEN the ClusterRole grants exactly the least-privilege rules the controller needs', () => {
    const clusterRole = named<V1ClusterRole>(manifests, 'ClusterRole', RELEASE);

    expect(normaliseRules(clusterRole.rules)).toEqual(
      normaliseRules([
        {
          apiGroups: [GROUP],
          resources: ['threatfeeds', 'exposurepolicies'],
          verbs: ['get', 'list', 'watch', 'update', 'patch'],
        },
        {
          apiGroups: [GROUP],
          resources: ['preemptiveactions'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        // ThreatExceptions belong to the security reviewers: read, and their status written.
        { apiGroups: [GROUP], resources: ['threatexceptions'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: [GROUP],
          resources: KINDS.map((k) => `${k}/status`),
          verbs: ['get', 'update', 'patch'],
        },
        {
          apiGroups: [GROUP],
          resources: FINALIZED.map((k) => `${k}/finalizers`),
          verbs: ['update'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['servicecidrs'], verbs: ['list'] },
        {
          apiGroups: ['apps'],
          resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['list', 'watch'] },
        {
          apiGroups: ['gateway.networking.k8s.io'],
          resources: [
            'gateways',
            'httproutes',
            'grpcroutes',
            'tlsroutes',
            'tcproutes',
            'udproutes',
          ],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['aquasecurity.github.io'],
          resources: ['vulnerabilityreports'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['wgpolicyk8s.io'],
          resources: ['clusterpolicyreports'],
          verbs: ['get', 'create', 'patch', 'delete'],
        },
        {
          apiGroups: ['networking.k8s.io'],
          resources: ['networkpolicies'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
        {
          apiGroups: ['policy.networking.k8s.io'],
          resources: ['clusternetworkpolicies'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
        {
          apiGroups: ['cilium.io'],
          resources: ['ciliumcidrgroups', 'ciliumclusterwidenetworkpolicies'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
        {
          apiGroups: ['projectcalico.org'],
          resources: ['globalnetworksets', 'globalnetworkpolicies'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
      ]),
    );
    // No wildcard, and nothing that reaches Secrets, ConfigMaps or EndpointSlices cluster-wide or lets the controller grant itself more.
    const all = grants(clusterRole.rules);
    expect(all.filter((g) => g.includes('*'))).toEqual([]);
    expect(
      all.filter((g) =>
        /secrets|configmaps|endpointslices|roles|rolebindings|:escalate|:bind|:impersonate/.test(g),
      ),
    ).toEqual([]);
    // The user-owned kinds are never created or deleted by the controller.
    expect(all).not.toContain(`${GROUP}/threatfeeds:delete`);
    expect(all).not.toContain(`${GROUP}/exposurepolicies:create`);
  });

  it('THEN the ClusterRole covers every rendered CRD and its subresources', () => {
    const all = grants(named<V1ClusterRole>(manifests, 'ClusterRole', RELEASE).rules);
    const crds = manifests.filter(
      (m): m is Manifest & V1CustomResourceDefinition => m.kind === 'CustomResourceDefinition',
    );

    for (const crd of crds) {
      const plural = crd.spec.names.plural;
      expect(all).toEqual(
        expect.arrayContaining([
          `${GROUP}/${plural}:watch`,
          `${GROUP}/${plural}/status:patch`,
          ...((FINALIZED as readonly string[]).includes(plural)
            ? [`${GROUP}/${plural}/finalizers:update`]
            : []),
        ]),
      );
    }
  });

  it('THEN the namespaced Role grants leader election, snapshot ConfigMaps and reading feed Secrets only', () => {
    const role = named<V1Role>(manifests, 'Role', RELEASE);

    expect(normaliseRules(role.rules)).toEqual(
      normaliseRules([
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'create', 'update'],
        },
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      ]),
    );
  });

  it('THEN both bindings bind their role to the chart ServiceAccount in the release namespace', () => {
    const serviceAccount = only<V1ServiceAccount>(manifests, 'ServiceAccount');
    const subject = {
      kind: 'ServiceAccount',
      name: serviceAccount.metadata.name,
      namespace: NAMESPACE,
    };
    const clusterRoleBinding = only<V1ClusterRoleBinding>(manifests, 'ClusterRoleBinding');

    expect(clusterRoleBinding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: RELEASE,
    });
    expect(clusterRoleBinding.subjects).toEqual([subject]);
    for (const name of [RELEASE, `${RELEASE}-dns`, `${RELEASE}-cluster-ranges`]) {
      const roleBinding = named<V1RoleBinding>(manifests, 'RoleBinding', name);
      const role = named<V1Role>(manifests, 'Role', name);
      expect(roleBinding.metadata.namespace, name).toBe(role.metadata.namespace);
      expect(roleBinding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name,
      });
      expect(roleBinding.subjects).toEqual([subject]);
    }
  });

  it('THEN the reviewer ClusterRoles let people own ThreatExceptions and decide on actions, and nothing else', () => {
    const reviewer = named<V1ClusterRole>(
      manifests,
      'ClusterRole',
      `${RELEASE}-exception-reviewer`,
    );
    expect(normaliseRules(reviewer.rules)).toEqual(
      normaliseRules([
        {
          apiGroups: [GROUP],
          resources: ['threatexceptions'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        {
          apiGroups: [GROUP],
          resources: ['preemptiveactions'],
          verbs: ['get', 'list', 'watch', 'patch'],
        },
        {
          apiGroups: [GROUP],
          resources: ['threatfeeds', 'exposurepolicies'],
          verbs: ['get', 'list', 'watch'],
        },
      ]),
    );
    const viewer = named<V1ClusterRole>(manifests, 'ClusterRole', `${RELEASE}-viewer`);
    expect(grants(viewer.rules).every((g) => /:(get|list|watch)$/.test(g))).toBe(true);
    // Nothing binds them: the platform team chooses who reviews.
    expect(manifests.filter((m) => m.kind === 'ClusterRoleBinding')).toHaveLength(1);
  });

  it('THEN DNS block-list ConfigMaps are writable only in kube-system, and EndpointSlices listable only in default', () => {
    const dns = named<V1Role>(manifests, 'Role', `${RELEASE}-dns`);
    expect(dns.metadata.namespace).toBe('kube-system');
    expect(normaliseRules(dns.rules)).toEqual(
      normaliseRules([
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
      ]),
    );
    const ranges = named<V1Role>(manifests, 'Role', `${RELEASE}-cluster-ranges`);
    expect(ranges.metadata.namespace).toBe('default');
    expect(normaliseRules(ranges.rules)).toEqual(
      normaliseRules([
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
      ]),
    );
  });

  it('THEN a NetworkPolicy admits only the metrics and probe ports and lets out only DNS, the API server and https', () => {
    const policy = only<V1NetworkPolicy>(manifests, 'NetworkPolicy');
    expect(policy.spec?.podSelector?.matchLabels).toEqual(
      only<V1Deployment>(manifests, 'Deployment').spec?.selector.matchLabels,
    );
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.ingress).toEqual([
      {
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 8081, protocol: 'TCP' },
        ],
      },
    ]);
    expect(policy.spec?.egress).toEqual([
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
      { ports: [{ port: 443, protocol: 'TCP' }] },
    ]);
  });

  it('THEN the metrics Service exposes port 8080 as http-metrics and the PDB keeps one replica', () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const service = only<V1Service>(manifests, 'Service');
    const pdb = only<V1PodDisruptionBudget>(manifests, 'PodDisruptionBudget');

    expect(service.spec?.type).toBe('ClusterIP');
    expect(service.spec?.ports).toEqual([
      { name: 'http-metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(pdb.spec?.selector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
  });
});

describe('GIVEN values that change what the chart renders', () => {
  it('WHEN replicaCount=1 THEN no PodDisruptionBudget is rendered (it would block every drain)', async () => {
    const manifests = await render('--set', 'replicaCount=1');

    expect(manifests.map((m) => m.kind)).not.toContain('PodDisruptionBudget');
    expect(only<V1Deployment>(manifests, 'Deployment').spec?.replicas).toBe(1);
  });

  it('WHEN the ServiceMonitor is enabled on a cluster without the Prometheus Operator THEN it is skipped', async () => {
    const manifests = await render('--set', 'metrics.serviceMonitor.enabled=true');

    expect(manifests.map((m) => m.kind)).not.toContain('ServiceMonitor');
  });

  it('WHEN the ServiceMonitor is enabled and monitoring.coreos.com/v1 is served THEN it scrapes the metrics port', async () => {
    const manifests = await render(
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--api-versions',
      'monitoring.coreos.com/v1/ServiceMonitor',
    );
    const monitor = only<{ spec: { endpoints: unknown[]; selector: unknown } }>(
      manifests,
      'ServiceMonitor',
    );

    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.namespace).toBe(NAMESPACE);
    expect(monitor.spec.endpoints).toEqual([
      { port: 'http-metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
    expect(monitor.spec.selector).toEqual({
      matchLabels: only<V1Deployment>(manifests, 'Deployment').spec?.selector.matchLabels,
    });
  });

  it('WHEN the ServiceMonitor is disabled even though the API is served THEN it is not rendered', async () => {
    const manifests = await render('--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor');

    expect(manifests.map((m) => m.kind)).not.toContain('ServiceMonitor');
  });

  it('WHEN the Git webhook is enabled THEN the controller listens on its port with the secret mounted read-only, and a Service routes to it', async () => {
    const manifests = await render(
      '--set',
      'git.webhook.enabled=true',
      '--set',
      'git.webhook.secretName=forge-hook',
    );
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const container = controllerContainer(deployment);
    expect(container.args).toEqual(
      expect.arrayContaining([
        '--git-webhook-bind-address=:9443',
        '--git-webhook-secret-file=/etc/forestall/git-webhook/secret',
      ]),
    );
    expect(container.ports).toContainEqual({
      name: 'git-webhook',
      containerPort: 9443,
      protocol: 'TCP',
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'git-webhook',
      mountPath: '/etc/forestall/git-webhook',
      readOnly: true,
    });
    expect(deployment.spec?.template.spec?.volumes).toContainEqual({
      name: 'git-webhook',
      secret: { secretName: 'forge-hook', items: [{ key: 'secret', path: 'secret' }] },
    });
    const service = manifests.find(
      (m) => m.kind === 'Service' && m.metadata?.name?.endsWith('-git-webhook'),
    ) as { spec?: { ports?: unknown[] } } | undefined;
    expect(service?.spec?.ports).toEqual([
      { name: 'git-webhook', port: 9443, targetPort: 'git-webhook', protocol: 'TCP' },
    ]);
    expect(
      only<V1NetworkPolicy>(manifests, 'NetworkPolicy').spec?.ingress?.[0]?.ports,
    ).toContainEqual({ port: 9443, protocol: 'TCP' });
  });

  it('WHEN never-block entries, extra volumes and mounts are set THEN the flag, the volume and the mount follow, and a comma inside an entry is refused', async () => {
    const manifests = await render(
      '--set',
      'guardrails.neverBlock={203.0.113.0/24,partner.example}',
      '--set-json',
      'extraVolumes=[{"name":"corp-ca","configMap":{"name":"corp-ca"}}]',
      '--set-json',
      'extraVolumeMounts=[{"name":"corp-ca","mountPath":"/etc/corp-ca","readOnly":true}]',
    );
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const container = controllerContainer(deployment);
    expect(container.args).toContain('--never-block=203.0.113.0/24,partner.example');
    expect(container.volumeMounts).toContainEqual({
      name: 'corp-ca',
      mountPath: '/etc/corp-ca',
      readOnly: true,
    });
    expect(deployment.spec?.template.spec?.volumes).toContainEqual({
      name: 'corp-ca',
      configMap: { name: 'corp-ca' },
    });
    // The default renders no --never-block at all.
    expect(
      controllerContainer(only<V1Deployment>(await render(), 'Deployment')).args?.some((a) =>
        a.startsWith('--never-block'),
      ),
    ).toBe(false);
    const comma = await helm(
      'template',
      'forestall',
      CHART,
      '--set-json',
      'guardrails.neverBlock=["a.example,b.example"]',
    );
    expect(comma.code).not.toBe(0);
    expect(comma.stderr).toMatch(/neverBlock/);
  });

  it('WHEN the Git webhook is enabled without a Secret THEN rendering fails and says what is missing', async () => {
    const result = await helm('template', 'forestall', CHART, '--set', 'git.webhook.enabled=true');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/git.webhook.enabled requires git.webhook.secretName/);
  });

  it('WHEN dns.namespace, feeds.configMapNamespaces and networkPolicy are set THEN the Roles, the flag and the policy follow', async () => {
    const manifests = await render(
      '--set',
      'dns.namespace=coredns',
      '--set',
      'feeds.configMapNamespaces={intel,forestall-system}',
    );
    expect(named<V1Role>(manifests, 'Role', `${RELEASE}-dns`).metadata.namespace).toBe('coredns');
    expect(controllerContainer(only<V1Deployment>(manifests, 'Deployment')).args).toContain(
      '--dns-namespace=coredns',
    );
    const feedRoles = manifests.filter(
      (m) => m.kind === 'Role' && m.metadata.name.startsWith(`${RELEASE}-feed-source-`),
    );
    // The release namespace is covered by the main Role already.
    expect(feedRoles.map((r) => [r.metadata.name, r.metadata.namespace])).toEqual([
      [`${RELEASE}-feed-source-intel`, 'intel'],
    ]);
    expect(normaliseRules((feedRoles[0] as V1Role).rules)).toEqual(
      normaliseRules([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]),
    );
    expect(
      (await render('--set', 'networkPolicy.enabled=false')).filter(
        (m) => m.kind === 'NetworkPolicy',
      ),
    ).toEqual([]);
  });

  it('WHEN an image digest is set THEN it pins the image', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const manifests = await render('--set', `image.digest=${digest}`);

    expect(controllerContainer(only<V1Deployment>(manifests, 'Deployment')).image).toBe(
      `ghcr.io/forestall/forestall@${digest}`,
    );
  });

  it('WHEN a proxy and a CA bundle are set (issue 16) THEN the controller gets both spellings of the proxy variables, NO_PROXY with the cluster-internal defaults, NODE_EXTRA_CA_CERTS on a read-only mount, and egress to the proxy port', async () => {
    const manifests = await render(
      '--set',
      'proxy.https=http://fst:pw@proxy.corp.example:3128',
      '--set',
      'proxy.http=http://proxy.corp.example:8080',
      '--set',
      'proxy.noProxy={.corp.example,10.20.0.0/16}',
      '--set',
      'clusterDomain=k8s.internal',
      '--set',
      'caBundle.configMap=corp-ca',
      '--set',
      'caBundle.key=bundle.pem',
    );
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const container = controllerContainer(deployment);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    const noProxy =
      'localhost,127.0.0.1,::1,.svc,.k8s.internal,kubernetes.default.svc,.corp.example,10.20.0.0/16';
    expect(env).toMatchObject({
      HTTPS_PROXY: 'http://fst:pw@proxy.corp.example:3128',
      https_proxy: 'http://fst:pw@proxy.corp.example:3128',
      HTTP_PROXY: 'http://proxy.corp.example:8080',
      http_proxy: 'http://proxy.corp.example:8080',
      NO_PROXY: noProxy,
      no_proxy: noProxy,
      NODE_EXTRA_CA_CERTS: '/etc/forestall/ca-bundle/bundle.pem',
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'ca-bundle',
      mountPath: '/etc/forestall/ca-bundle',
      readOnly: true,
    });
    expect(deployment.spec?.template.spec?.volumes).toContainEqual({
      name: 'ca-bundle',
      configMap: { name: 'corp-ca', items: [{ key: 'bundle.pem', path: 'bundle.pem' }] },
    });
    const policy = only<V1NetworkPolicy>(manifests, 'NetworkPolicy');
    expect(policy.spec?.egress).toContainEqual({
      ports: [
        { port: 3128, protocol: 'TCP' },
        { port: 8080, protocol: 'TCP' },
      ],
    });

    // A Secret instead of a ConfigMap; one proxy for both schemes opens one port.
    const fromSecret = await render(
      '--set',
      'caBundle.secret=corp-ca',
      '--set',
      'proxy.https=http://proxy:3128',
      '--set',
      'proxy.http=http://proxy:3128',
    );
    expect(
      only<V1Deployment>(fromSecret, 'Deployment').spec?.template.spec?.volumes,
    ).toContainEqual({
      name: 'ca-bundle',
      secret: { secretName: 'corp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    expect(only<V1NetworkPolicy>(fromSecret, 'NetworkPolicy').spec?.egress).toContainEqual({
      ports: [{ port: 3128, protocol: 'TCP' }],
    });

    // The default sets none of it.
    const defaults = await render();
    const defaultEnv = (
      controllerContainer(only<V1Deployment>(defaults, 'Deployment')).env ?? []
    ).map((e) => e.name);
    expect(defaultEnv.filter((n) => /proxy|extra_ca/i.test(n))).toEqual([]);
    expect(
      JSON.stringify(only<V1NetworkPolicy>(defaults, 'NetworkPolicy').spec?.egress),
    ).not.toMatch(/3128/);
  });

  it.each([
    [['proxy.https=proxy.corp:3128'], /proxy\/https/],
    [['proxy.https=http://proxy.corp'], /proxy\/https/],
    [['proxy.http=https://proxy.corp:3129'], /proxy\/http/],
    [['proxy.noProxy={a.example b.example}'], /noProxy/],
    [['caBundle.configMap=a', 'caBundle.secret=b'], /caBundle/],
  ])(
    'WHEN the proxy or CA values are malformed (%j) THEN helm refuses them',
    async (values, message) => {
      const result = await template(...values.flatMap((v) => ['--set', v]));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    },
  );
});

describe('GIVEN a real API server and the rendered chart', () => {
  let plane: ControlPlane | undefined;
  let objects: KubeClient;
  let manifests: Manifest[] = [];

  beforeAll(async () => {
    manifests = await render('--include-crds');
    plane = await ControlPlane.start({ crdDir: null });
    const kc = plane.kubeConfig();
    // Raw JSON, so the dry runs judge exactly what helm rendered (docs/adr/0002).
    objects = new KubeClient(kc, undefined, FIELD_MANAGER);
    // The namespace is created for real: admission rejects objects in a namespace
    // that does not exist, even on a dry run. It enforces the restricted Pod
    // Security Standard, which the chart claims to meet.
    await kc.makeApiClient(CoreV1Api).createNamespace({
      body: {
        metadata: {
          name: NAMESPACE,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      },
    });
    // CRDs are applied for real (and must become Established), as `helm install` does
    // before the templates; everything else is only dry-run below.
    const crds = manifests.filter((m) => m.kind === 'CustomResourceDefinition');
    await plane.applyCrds(
      crds as V1CustomResourceDefinition[],
      () => 'helm template --include-crds',
    );
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it('THEN the API server runs the Kubernetes version the chart was rendered for', async () => {
    const version = await plane?.kubeConfig().makeApiClient(VersionApi).getCode();

    expect(version?.gitVersion).toBe(KUBE_VERSION);
  });

  it('WHEN the CRDs are applied THEN the API server serves each forestall.io kind, cluster-scoped', async () => {
    const crds = manifests.filter(
      (m): m is Manifest & V1CustomResourceDefinition => m.kind === 'CustomResourceDefinition',
    );
    expect(crds.length, 'charts/forestall/crds/ must hold the generated CRDs').toBe(KINDS.length);

    for (const crd of crds) {
      const version = crd.spec.versions.find((v) => v.storage)?.name;
      const list = await listWhenServed(
        objects,
        `${GROUP}/${String(version)}`,
        crd.spec.names.kind,
      );
      expect(list.items, crd.metadata.name).toEqual([]);
    }
  });

  it('WHEN every other rendered object is applied server-side with dryRun=All THEN the API server accepts each one', async () => {
    const rest = manifests.filter((m) => m.kind !== 'CustomResourceDefinition');
    expect(rest.length).toBeGreaterThan(0);

    const rejected: string[] = [];
    for (const manifest of rest) {
      const id = `${manifest.kind}/${manifest.metadata.name}`;
      try {
        const result = await objects.apply(manifest, { dryRun: true });
        // The answer is the object as it would be stored: same identity, defaults filled in.
        expect(result.kind, id).toBe(manifest.kind);
        expect(result.metadata?.name, id).toBe(manifest.metadata.name);
        expect(result.metadata?.namespace, id).toBe(manifest.metadata.namespace);
      } catch (err) {
        rejected.push(`${id}: ${describeApiError(err)}`);
      }
    }

    expect(rejected).toEqual([]);
  });

  it('WHEN the dry runs are done THEN they persisted nothing', async () => {
    const deployments = await objects.list('apps/v1', 'Deployment', { namespace: NAMESPACE });
    const roles = await objects.list('rbac.authorization.k8s.io/v1', 'ClusterRole');

    expect(deployments.items).toEqual([]);
    expect(roles.items.map((r) => r.metadata?.name)).not.toContain(RELEASE);
  });

  it('WHEN a pod from the Deployment template is dry-run in a namespace enforcing restricted Pod Security THEN it is admitted', async () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const pod = podFromTemplate(deployment);

    await expect(objects.create(pod, { dryRun: true })).resolves.toMatchObject({ kind: 'Pod' });
  });

  it('WHEN the same pod allows privilege escalation THEN Pod Security admission rejects it (the check above can fail)', async () => {
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const pod = podFromTemplate(deployment);
    const container = pod.spec.containers[0];
    if (container === undefined) throw new Error('The pod template has no container.');
    container.securityContext = { ...container.securityContext, allowPrivilegeEscalation: true };

    const rejection = await objects.create(pod, { dryRun: true }).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(rejection).toBeInstanceOf(ForestallError);
    expect((rejection as ForestallError).status).toBe(403);
    expect(describeApiError(rejection)).toMatch(
      /violates PodSecurity "restricted:latest".*allowPrivilegeEscalation/,
    );
  });

  // Runs after the dry runs, which must find nothing persisted. helm itself now
  // installs the chart for real: it checks kubeVersion against the live server,
  // renders NOTES.txt with the cluster's capabilities, and creates every object
  // with its ownership annotations.
  it('WHEN helm installs and then uninstalls the release for real THEN both succeed and the CRDs survive uninstall', async () => {
    if (plane === undefined) throw new Error('The control plane did not start.');
    const kubeconfig = plane.writeKubeconfig(join(helmHome, 'envtest.kubeconfig'));
    const deploymentName = only(manifests, 'Deployment').metadata.name;

    const install = await helm(
      'install',
      RELEASE,
      CHART,
      '--namespace',
      NAMESPACE,
      '--kubeconfig',
      kubeconfig,
      '--set',
      'metrics.serviceMonitor.enabled=true',
    );

    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain(
      `Forestall 0.1.0 is installed as release "${RELEASE}" in namespace "${NAMESPACE}"`,
    );
    // The API server has no Prometheus Operator, so the ServiceMonitor is skipped and the notes say so.
    expect(install.stdout).toMatch(
      /WARNING: metrics\.serviceMonitor\.enabled is true, but this cluster does not serve/,
    );
    const installed = await objects.get('apps/v1', 'Deployment', deploymentName, NAMESPACE);
    expect(installed?.metadata?.annotations).toMatchObject({
      'meta.helm.sh/release-name': RELEASE,
      'meta.helm.sh/release-namespace': NAMESPACE,
    });

    const uninstall = await helm(
      'uninstall',
      RELEASE,
      '--namespace',
      NAMESPACE,
      '--kubeconfig',
      kubeconfig,
    );

    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect((await objects.list('apps/v1', 'Deployment', { namespace: NAMESPACE })).items).toEqual(
      [],
    );
    const crds = await objects.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
    expect(
      crds.items
        .map((crd) => crd.metadata?.name)
        .filter((name) => name?.endsWith(`.${GROUP}`))
        .sort(),
    ).toEqual(KINDS.map((plural) => `${plural}.${GROUP}`).sort());
  });
});

/** A Pod with the Deployment's template, for checking pod-level admission that a Deployment dry run does not run. */
function podFromTemplate(
  deployment: V1Deployment,
): KubernetesObject & { spec: { containers: V1Container[] } } {
  const template = deployment.spec?.template;
  if (template?.spec === undefined) throw new Error('The Deployment has no pod template.');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'forestall-pod-security-probe',
      namespace: NAMESPACE,
      labels: template.metadata?.labels ?? {},
    },
    spec: structuredClone(template.spec),
  };
}

/**
 * Lists a custom resource kind, retrying while the API server answers 429 "storage
 * is (re)initializing": Established means the kind is in discovery, and its watch
 * cache may still be filling for a moment after. Any other error fails at once.
 */
async function listWhenServed(
  objects: KubeClient,
  apiVersion: string,
  kind: string,
): Promise<{ items: KubernetesObject[] }> {
  const deadline = Date.now() + CRD_ESTABLISHED_TIMEOUT_MS;
  for (;;) {
    try {
      return await objects.list(apiVersion, kind);
    } catch (err) {
      if (!(err instanceof ForestallError) || err.status !== 429 || Date.now() >= deadline)
        throw err;
    }
    await sleep(200);
  }
}
