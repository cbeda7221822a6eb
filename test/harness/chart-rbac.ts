import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { inject } from 'vitest';
import { KubeClient } from '../../controller/runtime/client.js';
import type { ControlPlane } from './control-plane.js';
import { REPO_ROOT } from './envtest-assets.js';

// The tests that run the controller as the Helm chart's ServiceAccount render and apply
// the chart's RBAC the same way; one copy keeps them testing the same permissions.

export const RBAC_KINDS = [
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
] as const;

/** The chart's ServiceAccount and RBAC objects, rendered with default values by the real helm. */
export async function chartRbac(namespace: string): Promise<Record<string, unknown>[]> {
  const helm = join(inject('envtestAssets'), 'helm');
  const { stdout } = await promisify(execFile)(helm, [
    'template',
    'forestall',
    join(REPO_ROOT, 'charts/forestall'),
    '--namespace',
    namespace,
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter((o) => o && (RBAC_KINDS as readonly string[]).includes(o.kind as string));
}

/** Applies `objects` for real and returns a client configuration acting as their ServiceAccount. */
export async function actAsServiceAccount(
  cp: ControlPlane,
  namespace: string,
  objects: Record<string, unknown>[],
): Promise<KubeConfig> {
  const kc = cp.kubeConfig();
  const client = new KubeClient(kc, undefined, 'forestall-test');
  for (const o of objects) await client.apply(o as never);
  const sa = objects.find((o) => o.kind === 'ServiceAccount') as { metadata: { name: string } };
  const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: sa.metadata.name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const saKc = new KubeConfig();
  saKc.loadFromOptions({
    clusters: [
      {
        name: 'envtest',
        server: cp.apiServerUrl,
        caData: kc.getCurrentCluster()!.caData,
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'sa', token: token.status!.token }],
    contexts: [{ name: 'sa', cluster: 'envtest', user: 'sa' }],
    currentContext: 'sa',
  });
  return saKc;
}
