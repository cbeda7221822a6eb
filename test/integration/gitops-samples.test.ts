import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { runValidate } from '../../cli/validate.js';
import { runInProcess, type CommandRun } from '../../cli/test-support.js';
import { envtestBinary } from '../harness/envtest-assets.js';

/**
 * The GitOps samples in examples/gitops/ as Argo CD and Flux would receive them: each
 * folder is a kustomization, built here by the real `kubectl kustomize` (the kubectl
 * that test/envtest/build.sh builds; a missing one fails the suite, never skips it).
 * The Argo CD and Flux CRDs are not installed: what is checked is what the build gives,
 * the kinds, apiVersions and the fields Forestall's Git delivery depends on.
 */
const exec = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const ACTIONS_PATH = 'clusters/prod/forestall';
const POLICIES_PATH = 'clusters/prod/forestall-policies';
const REPO_URL = 'https://git.example.org/platform/security-policy.git';
/** Each sample syncs two paths of the repository, under the same two names. */
const SYNCED = [
  ['forestall-policies', POLICIES_PATH],
  ['forestall-actions', ACTIONS_PATH],
] as const;

interface Built {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
}

async function kustomize(dir: string): Promise<Built[]> {
  const kubectl = envtestBinary(inject('envtestAssets'), 'kubectl');
  const { stdout } = await exec(kubectl, ['kustomize', `${REPO}${dir}`]);
  return parseAllDocuments(stdout).map((d) => d.toJS() as Built);
}

const byName = (objects: Built[], name: string) => {
  const found = objects.find((o) => o.metadata.name === name);
  expect(found, `an object named ${name}`).toBeDefined();
  return found!;
};

/** Runs `forestall validate PATH` in-process: exit code, standard output and error. */
function validate(path: string): Promise<CommandRun> {
  return runInProcess(runValidate, [`${REPO}${path}`]);
}

describe('examples/gitops/argocd', () => {
  it('GIVEN the folder WHEN kubectl kustomize builds it THEN there are two Applications, for the policies and for the actions path, pruning and self-healing', async () => {
    const objects = await kustomize('examples/gitops/argocd');
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      'argoproj.io/v1alpha1 Application',
      'argoproj.io/v1alpha1 Application',
    ]);
    for (const [name, path] of SYNCED) {
      const app = byName(objects, name);
      expect(app.metadata.namespace).toBe('argocd');
      expect(app.spec).toMatchObject({
        project: 'default',
        source: { repoURL: REPO_URL, targetRevision: 'main', path },
        destination: { server: 'https://kubernetes.default.svc' },
        // Removal pull requests delete an action's directory; without prune its objects
        // stay, and the action waits in Enforced for them to leave the cluster.
        syncPolicy: { automated: { prune: true, selfHeal: true } },
      });
    }
    // Rendered objects may exceed the 256 KiB that client-side apply's annotation allows.
    expect(
      (byName(objects, 'forestall-actions').spec.syncPolicy as { syncOptions?: string[] })
        .syncOptions,
    ).toEqual(['ServerSideApply=true']);
  });
});

describe('examples/gitops/flux', () => {
  it('GIVEN the folder WHEN kubectl kustomize builds it THEN a GitRepository and two Kustomizations of it sync the policies and the actions path with prune', async () => {
    const objects = await kustomize('examples/gitops/flux');
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`).sort()).toEqual([
      'kustomize.toolkit.fluxcd.io/v1 Kustomization',
      'kustomize.toolkit.fluxcd.io/v1 Kustomization',
      'source.toolkit.fluxcd.io/v1 GitRepository',
    ]);
    const source = byName(objects, 'security-policy');
    expect(source.kind).toBe('GitRepository');
    expect(source.metadata.namespace).toBe('flux-system');
    expect(source.spec).toEqual({ interval: '1m', url: REPO_URL, ref: { branch: 'main' } });
    for (const [name, path] of SYNCED) {
      const kustomization = byName(objects, name);
      expect(kustomization.metadata.namespace).toBe('flux-system');
      expect(kustomization.spec).toEqual({
        interval: '10m',
        sourceRef: { kind: 'GitRepository', name: 'security-policy' },
        path: `./${path}`,
        prune: true,
      });
    }
  });
});

describe('forestall validate on the samples', () => {
  it('GIVEN examples/gitops THEN no object is taken for a Forestall one, so validate (and plan) pass over them', async () => {
    const r = await validate('examples/gitops');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0 valid, 0 invalid\n');
    expect(r.code).toBe(0);
  });

  it('GIVEN the quick start YAML in docs/quickstart THEN its ThreatFeed and ExposurePolicy are valid and the kind config is skipped', async () => {
    const r = await validate('docs/quickstart');
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('ThreatFeed/quickstart-blocklist: valid');
    expect(r.stdout).toContain('ExposurePolicy/quickstart-egress-deny: valid');
    expect(r.stdout).toContain('2 valid, 0 invalid');
    expect(r.code).toBe(0);
  });
});
