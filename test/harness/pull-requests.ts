import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { inject } from 'vitest';
import { envtestBinary } from './envtest-assets.js';
import { eventually } from './eventually.js';
import type { GiteaServer } from './gitea-server.js';

// What a reviewer and Argo CD do with the pull requests the controller opens on Gitea:
// the Git delivery tests each merged and built them the same way.

/** Waits until Gitea has computed that pull request `number` of `repo` can be merged. */
export function mergeable(gitea: GiteaServer, repo: string, number: number): Promise<true> {
  return eventually(
    'mergeable',
    async () =>
      (
        await gitea.api<{ mergeable: boolean }>(
          'GET',
          `/repos/${gitea.username}/${repo}/pulls/${number}`,
        )
      ).body.mergeable,
    30_000,
    200,
  );
}

/** Merges pull request `number` of `repo` as a reviewer would; the HTTP status Gitea answered. */
export async function merge(gitea: GiteaServer, repo: string, number: number): Promise<number> {
  const path = `/repos/${gitea.username}/${repo}/pulls/${number}/merge`;
  return (await gitea.api('POST', path, { Do: 'merge' })).status;
}

/**
 * `kubectl kustomize` of `path` on main of `repo`, as Argo CD or Flux builds it; with
 * the envtest kubectl unless `kubectl` names another.
 */
export async function kustomizeMain(
  gitea: GiteaServer,
  repo: string,
  path: string,
  kubectl = envtestBinary(inject('envtestAssets'), 'kubectl'),
) {
  const clone = mkdtempSync(join(tmpdir(), 'forestall-argo-'));
  try {
    await simpleGit().clone(gitea.cloneUrl(repo), clone);
    return execFileSync(kubectl, ['kustomize', join(clone, path)], { encoding: 'utf8' });
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
}
