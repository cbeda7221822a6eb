import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';

// docs/security/restrict-authors.yaml, the example ValidatingAdmissionPolicy of
// docs/security.md, on a real API server: a user who may create Forestall objects
// cannot turn on automatic enforcement, administrators and the controller can.
const group = 'forestall.io';
const version = 'v1alpha1';
const POLICY_FILE = join(
  import.meta.dirname,
  '..',
  '..',
  'docs',
  'security',
  'restrict-authors.yaml',
);

let cp: ControlPlane;
let admin: KubeConfig;

/** The admin's connection, acting as `user` through impersonation (real RBAC and admission apply). */
function as(user: string): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromString(admin.exportConfig());
  kc.users = [{ ...kc.getCurrentUser()!, impersonateUser: user }];
  return kc.makeApiClient(CustomObjectsApi);
}

const policy = (name: string, mode: string) => ({
  apiVersion: `${group}/${version}`,
  kind: 'ExposurePolicy',
  metadata: { name },
  spec: { feeds: { names: ['ipsum'] }, mode, actions: [{ type: 'EgressDeny' }] },
});
const action = (name: string, approval: Record<string, unknown>) => ({
  apiVersion: `${group}/${version}`,
  kind: 'PreemptiveAction',
  metadata: { name },
  spec: {
    type: 'EgressDeny',
    layer: 'network',
    indicators: { count: 1, values: ['203.0.113.9'] },
    approval,
  },
});

/** The refusal message of a create, or undefined when it was accepted. */
async function refusal(
  api: CustomObjectsApi,
  plural: string,
  body: Record<string, unknown>,
): Promise<string | undefined> {
  try {
    await api.createClusterCustomObject({ group, version, plural, body });
    return undefined;
  } catch (err) {
    const e = err as { code?: number; body?: string };
    return `${e.code}: ${(JSON.parse(e.body ?? '{}') as { message?: string }).message}`;
  }
}

beforeAll(async () => {
  cp = await ControlPlane.start();
  admin = cp.kubeConfig();
  const objects = admin.makeApiClient(KubernetesObjectApi);
  for (const doc of parseAllDocuments(readFileSync(POLICY_FILE, 'utf8'))) {
    await objects.create(doc.toJS() as KubernetesObject);
  }
  // alice may write every Forestall kind: RBAC alone would let her enforce anything.
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createClusterRole({
    body: {
      metadata: { name: 'forestall-author' },
      rules: [
        {
          apiGroups: [group],
          resources: ['exposurepolicies', 'preemptiveactions'],
          verbs: ['get', 'list', 'create', 'update', 'patch'],
        },
      ],
    },
  });
  for (const [name, subject] of [
    ['alice', { kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    ['controller', { kind: 'ServiceAccount', name: 'forestall', namespace: 'forestall-system' }],
  ] as const) {
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `forestall-author-${name}` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'forestall-author',
        },
        subjects: [subject],
      },
    });
  }
  // Admission policies are loaded asynchronously: wait until the binding is in force.
  await eventually('the admission policy to refuse an Enforce policy', async () =>
    (
      await refusal(as('alice'), 'exposurepolicies', policy(`probe-${Date.now()}`, 'Enforce'))
    )?.includes('forestall:admins'),
  );
});
afterAll(async () => cp?.stop());

describe('GIVEN the restrict-authors admission policy and a user allowed by RBAC to write Forestall objects', () => {
  it('WHEN she creates a policy in Audit or Propose mode THEN it is accepted', async () => {
    expect(
      await refusal(as('alice'), 'exposurepolicies', policy('audit', 'Audit')),
    ).toBeUndefined();
    expect(
      await refusal(as('alice'), 'exposurepolicies', policy('propose', 'Propose')),
    ).toBeUndefined();
  });

  it('WHEN she creates a policy in Enforce mode THEN the API server refuses it, naming the field and the group', async () => {
    const message = await refusal(as('alice'), 'exposurepolicies', policy('enforce', 'Enforce'));
    expect(message).toMatch(/^403: .*only members of forestall:admins may set spec\.mode: Enforce/);
  });

  it('WHEN she switches her Propose policy to Enforce THEN the update is refused', async () => {
    const api = as('alice');
    const current = (await api.getClusterCustomObject({
      group,
      version,
      plural: 'exposurepolicies',
      name: 'propose',
    })) as { spec: { mode: string } };
    current.spec.mode = 'Enforce';
    await expect(
      api.replaceClusterCustomObject({
        group,
        version,
        plural: 'exposurepolicies',
        name: 'propose',
        body: current,
      }),
    ).rejects.toMatchObject({ code: 403 });
  });

  it('WHEN she writes an action without approval THEN it is refused; with approval required it is accepted', async () => {
    expect(
      await refusal(as('alice'), 'preemptiveactions', action('unreviewed', { required: false })),
    ).toMatch(/^403: .*spec\.approval\.required: false/);
    expect(await refusal(as('alice'), 'preemptiveactions', action('reviewed', {}))).toBeUndefined();
  });

  it('WHEN an administrator or the controller does the same THEN it is accepted', async () => {
    const adminApi = admin.makeApiClient(CustomObjectsApi);
    expect(
      await refusal(adminApi, 'exposurepolicies', policy('admin-enforce', 'Enforce')),
    ).toBeUndefined();
    const controller = as('system:serviceaccount:forestall-system:forestall');
    expect(
      await refusal(controller, 'preemptiveactions', action('auto-approved', { required: false })),
    ).toBeUndefined();
  });
});
