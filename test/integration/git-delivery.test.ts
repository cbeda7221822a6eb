import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { RENDERERS, renderActions, type Manifest, type Renderer } from '../../connectors/index.js';
import { GitRepository } from '../../delivery/git/index.js';
import { envtestBinary } from '../harness/envtest-assets.js';
import type { ActionRequest } from '../../crds/index.js';
import { gitAs } from '../../delivery/git/test-support.js';

/**
 * What Argo CD and Flux do with a Forestall branch: `kubectl kustomize <path>` on the
 * branch's tree must build exactly the objects of every action on it, and after a
 * removal branch, exactly the others. The server is a bare repository on disk, written by
 * real git; kubectl comes from the envtest assets (a missing kubectl fails the suite).
 */
const exec = promisify(execFile);
const PATH = 'clusters/prod/forestall';

let root: string;
let remote: string;

/** git as another person would run it. */
const git = gitAs('Reviewer', 'reviewer@example.invalid', () => root);

function render(renderer: Renderer, name: string, values: string[]): Manifest[] {
  const request: ActionRequest = {
    name,
    policy: 'block-c2',
    type: 'EgressDeny',
    values,
    scope: { namespaces: ['shop', 'web'] },
    params: {},
  };
  return renderActions([{ renderer, request }]);
}

const key = (o: Manifest) =>
  `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

/** Checks out `branch` from the server and builds `<PATH>` with kubectl kustomize. */
async function build(branch: string): Promise<string[]> {
  const checkout = join(root, `checkout-${branch.replace(/\//g, '-')}`);
  await git(root, 'clone', '-q', '--branch', branch, remote, checkout);
  const kubectl = envtestBinary(inject('envtestAssets'), 'kubectl');
  const { stdout } = await exec(kubectl, ['kustomize', join(checkout, PATH)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((d) => key(d.toJS() as Manifest))
    .sort();
}

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'forestall-git-delivery-'));
  remote = join(root, 'remote.git');
  await git(root, 'init', '-q', '--bare', '-b', 'main', remote);
  const seed = join(root, 'seed');
  await git(root, 'clone', '-q', remote, seed);
  await git(seed, 'checkout', '-q', '-b', 'main');
  await git(seed, 'commit', '-q', '--allow-empty', '-m', 'seed');
  await git(seed, 'push', '-q', 'origin', 'main');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Git delivery builds with kubectl kustomize', () => {
  it('GIVEN one action merged and another proposed WHEN the branches are built THEN each builds every action on it, and the removal branch builds only what remains', async () => {
    const np = RENDERERS['network:networkpolicy']!;
    const cilium = RENDERERS['network:cilium']!;
    const a1 = render(np, 'block-c2-egressdeny', ['198.51.100.0/24', '203.0.113.7']);
    const a2 = render(cilium, 'block-c2-egressdeny-1', ['192.0.2.0/24']);
    const repo = await GitRepository.open({
      url: remote,
      workDir: join(root, 'work'),
      auth: { token: 'never-sent-over-file-transport' },
      baseBranch: 'main',
      author: { name: 'Forestall', email: 'forestall@example.invalid' },
      env: process.env,
    });

    await repo.writeActionBranch({
      action: { name: 'block-c2-egressdeny', type: 'EgressDeny', indicators: 2 },
      path: PATH,
      manifests: a1,
    });
    expect(await build('forestall/block-c2-egressdeny')).toEqual(a1.map(key).sort());

    // The reviewer merges the first pull request.
    const reviewer = join(root, 'reviewer');
    await git(root, 'clone', '-q', remote, reviewer);
    await git(
      reviewer,
      'merge',
      '-q',
      '--no-ff',
      '--no-edit',
      'origin/forestall/block-c2-egressdeny',
    );
    await git(reviewer, 'push', '-q', 'origin', 'main');

    await repo.writeActionBranch({
      action: { name: 'block-c2-egressdeny-1', type: 'EgressDeny', indicators: 1 },
      path: PATH,
      manifests: a2,
    });
    expect(await build('forestall/block-c2-egressdeny-1')).toEqual([...a1, ...a2].map(key).sort());
    expect(a2.some((m) => m.kind === 'CiliumClusterwideNetworkPolicy')).toBe(true);

    await repo.removalBranch({
      action: { name: 'block-c2-egressdeny', type: 'EgressDeny', indicators: 2 },
      path: PATH,
    });
    expect(await build('forestall-removal/block-c2-egressdeny')).toEqual([]);
    expect(await build('main')).toEqual(a1.map(key).sort());
  });
});
