import { join } from 'node:path';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { inject } from 'vitest';
import { type E2eNode, runOk } from './node.js';

// For test files only: inject() works in test workers, not in the globalSetup, which
// imports node.ts.

/** Tools bound to the node the globalSetup started; for test files. */
export function e2eNode(): E2eNode & {
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
} {
  const node = inject('e2eNode');
  const kubectl = (args: readonly string[], input?: string) =>
    runOk(join(node.envtestAssets, 'kubectl'), ['--kubeconfig', node.kubeconfig, ...args], {
      input,
    });
  const helm = (args: readonly string[]) =>
    runOk(join(node.envtestAssets, 'helm'), ['--kubeconfig', node.kubeconfig, ...args]);
  return {
    ...node,
    kubectl,
    helm,
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
          'exposurepolicies,threatfeeds,preemptiveactions',
          '--all',
          '--wait=true',
          '--timeout=120s',
        ]);
      }
      await helm(['uninstall', release, '-n', namespace, '--ignore-not-found', '--wait']);
      await kubectl(['delete', '-f', join(CHART, 'crds'), '--ignore-not-found', '--wait=true']);
    },
  };
}

export const CHART = join(REPO_ROOT, 'charts/forestall');
