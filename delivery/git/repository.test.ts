import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderActions } from '../../connectors/core/render.js';
import { networkPolicyRenderer } from '../../connectors/network/networkpolicy/index.js';
import type { Manifest } from '../../connectors/core/types.js';
import { GitDeliveryError } from './errors.js';
import type { ActionSummary } from './message.js';
import { GitRepository, type GitRepositoryOptions, type WriteActionRequest } from './repository.js';
import type { ActionRequest } from '../../crds/index.js';
import { allText, gitAs } from './test-support.js';

/**
 * Real git against bare repositories on disk: the "server" is a bare repository, "other
 * people" are separate clones that push to it. Nothing is faked; what is asserted is the
 * state of the server's refs and trees.
 */
const TOKEN = 'ghp_TestTokenThatMustNeverLeak0123456789';
const AUTHOR = { name: 'Forestall', email: 'forestall@example.invalid' };

let root: string;
let remote: string;
let other: string;

/** git as another person would run it. */
const git = gitAs('Other', 'other@example.invalid', () => root);

function request(name: string, values: string[], namespaces = ['shop']): ActionRequest {
  return {
    name,
    policy: 'block-c2',
    type: 'EgressDeny',
    values,
    scope: { namespaces },
    params: {},
    expiresAt: '2026-09-01T00:00:00Z',
  };
}

function render(name: string, values: string[], namespaces?: string[]): Manifest[] {
  return renderActions([
    { renderer: networkPolicyRenderer, request: request(name, values, namespaces) },
  ]);
}

function summary(name: string, indicators: number): ActionSummary {
  return {
    name,
    type: 'EgressDeny',
    indicators,
    policy: 'block-c2',
    feeds: ['ipsum'],
    confidence: 90,
    reason: 'blast radius over the autoApprove limit',
  };
}

/** A write of action <name> under deploy/: its summary and its rendered NetworkPolicies. */
function actionWrite(
  name: string,
  indicators: number,
  values: string[],
  namespaces?: string[],
): WriteActionRequest {
  return {
    action: summary(name, indicators),
    path: 'deploy',
    manifests: render(name, values, namespaces),
  };
}

function options(
  workDir: string,
  overrides: Partial<GitRepositoryOptions> = {},
): GitRepositoryOptions {
  return {
    url: remote,
    workDir,
    auth: { token: TOKEN, username: 'x-access-token' },
    baseBranch: 'main',
    author: AUTHOR,
    env: process.env,
    ...overrides,
  };
}

/** The repository, cloned into <root>/work with the default options. */
function openRepo(): Promise<GitRepository> {
  return GitRepository.open(options(join(root, 'work')));
}

/** Files of a commit on the server, repository-relative. */
async function treeFiles(ref: string): Promise<string[]> {
  return (await git(remote, 'ls-tree', '-r', '--name-only', ref)).split('\n').filter(Boolean);
}

async function show(ref: string, path: string): Promise<string> {
  return git(remote, 'show', `${ref}:${path}`);
}

async function head(ref: string): Promise<string | undefined> {
  try {
    return await git(remote, 'rev-parse', '--verify', '--quiet', `refs/heads/${ref}`);
  } catch {
    return undefined;
  }
}

/** Commits another clone to main (or any branch) and pushes it. */
async function pushFromElsewhere(
  branch: string,
  files: Record<string, string>,
  message: string,
): Promise<string> {
  await git(other, 'fetch', 'origin');
  const exists = (await git(other, 'ls-remote', '--heads', 'origin', branch)) !== '';
  await git(other, 'checkout', '-q', '-B', branch, exists ? `origin/${branch}` : 'origin/main');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(other, path, '..'), { recursive: true });
    writeFileSync(join(other, path), text);
  }
  await git(other, 'add', '--all');
  await git(other, 'commit', '-q', '-m', message);
  await git(other, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
  return git(other, 'rev-parse', 'HEAD');
}

beforeAll(() => {
  // Real git is a prerequisite, not an option: fail loudly when it is missing.
  expect(execFileSync('git', ['--version'], { encoding: 'utf8' })).toMatch(/^git version 2\./);
});

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'forestall-git-'));
  remote = join(root, 'remote.git');
  other = join(root, 'other');
  await git(root, 'init', '-q', '--bare', '-b', 'main', remote);
  await git(root, 'clone', '-q', remote, other);
  await git(other, 'checkout', '-q', '-b', 'main');
  writeFileSync(join(other, 'README.md'), '# policy repository\n');
  await git(other, 'add', '--all');
  await git(other, 'commit', '-q', '-m', 'seed');
  await git(other, 'push', '-q', 'origin', 'main');
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('writeActionBranch', () => {
  it('GIVEN a new action WHEN written THEN forestall/<action> is pushed with one commit on main holding the action directory and the parent kustomization', async () => {
    const repo = await openRepo();
    const main = await head('main');

    const result = await repo.writeActionBranch({
      action: summary('block-c2-egressdeny', 2),
      path: 'clusters/prod/forestall',
      manifests: render('block-c2-egressdeny', ['198.51.100.0/24', '203.0.113.7']),
    });

    expect(result).toMatchObject({
      branch: 'forestall/block-c2-egressdeny',
      changed: true,
      pushed: true,
      rebuilt: false,
      alreadyInBase: false,
      base: main,
    });
    expect(await head('forestall/block-c2-egressdeny')).toBe(result.commit);
    expect(await git(remote, 'rev-parse', `${result.commit}^`)).toBe(main);
    expect(await treeFiles(result.commit)).toEqual([
      'README.md',
      'clusters/prod/forestall/block-c2-egressdeny/kustomization.yaml',
      'clusters/prod/forestall/block-c2-egressdeny/networkpolicy.networking.k8s.io_shop_forestall-block-c2-egressdeny.yaml',
      'clusters/prod/forestall/kustomization.yaml',
    ]);
    expect(parse(await show(result.commit, 'clusters/prod/forestall/kustomization.yaml'))).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: ['block-c2-egressdeny'],
    });
    const message = await git(remote, 'log', '-1', '--format=%B', result.commit);
    expect(message.split('\n')[0]).toBe(
      'forestall: add block-c2-egressdeny (EgressDeny, 2 indicators)',
    );
    expect(message).toContain('Policy: block-c2');
    expect(message).toContain('Review: blast radius over the autoApprove limit');
    expect(await git(remote, 'log', '-1', '--format=%an <%ae>', result.commit)).toBe(
      'Forestall <forestall@example.invalid>',
    );
  });

  it('GIVEN the branch already holds the render WHEN written again, also from a fresh clone after a restart THEN nothing is committed or pushed', async () => {
    const manifests = render('block-c2-egressdeny', ['203.0.113.7']);
    const write = { action: summary('block-c2-egressdeny', 1), path: 'deploy', manifests };
    const repo = await openRepo();
    const first = await repo.writeActionBranch(write);

    const again = await repo.writeActionBranch(write);
    const reopened = await (await openRepo()).writeActionBranch(write);
    const fresh = await (
      await GitRepository.open(options(join(root, 'work-after-restart')))
    ).writeActionBranch(write);

    for (const result of [again, reopened, fresh])
      expect(result).toMatchObject({
        commit: first.commit,
        changed: false,
        pushed: false,
        alreadyInBase: false,
      });
    expect(await head('forestall/block-c2-egressdeny')).toBe(first.commit);
    expect(
      await git(remote, 'rev-list', '--count', 'refs/heads/forestall/block-c2-egressdeny'),
    ).toBe('2');
  });

  it('GIVEN changed manifests WHEN written THEN a new commit goes on top of the same branch and the object no longer rendered is gone', async () => {
    const repo = await openRepo();
    const first = await repo.writeActionBranch(
      actionWrite('a1', 1, ['203.0.113.7'], ['shop', 'web']),
    );

    const second = await repo.writeActionBranch(
      actionWrite('a1', 2, ['203.0.113.7', '203.0.113.8'], ['shop']),
    );

    expect(second).toMatchObject({ changed: true, pushed: true, rebuilt: false });
    expect(second.commit).not.toBe(first.commit);
    expect(await git(remote, 'rev-parse', `${second.commit}^`)).toBe(first.commit);
    expect(await head('forestall/a1')).toBe(second.commit);
    const files = await treeFiles(second.commit);
    expect(files).toContain('deploy/a1/networkpolicy.networking.k8s.io_shop_forestall-a1.yaml');
    expect(files).not.toContain('deploy/a1/networkpolicy.networking.k8s.io_web_forestall-a1.yaml');
    expect(
      await show(second.commit, 'deploy/a1/networkpolicy.networking.k8s.io_shop_forestall-a1.yaml'),
    ).toContain('203.0.113.8/32');
  });

  it('GIVEN main moved under the path (another action merged) WHEN written again THEN the branch is rebuilt on the new main, not merged, and lists both actions', async () => {
    const repo = await openRepo();
    const write = actionWrite('a1', 1, ['203.0.113.7']);
    const first = await repo.writeActionBranch(write);
    const otherAction = render('a2', ['192.0.2.1']);
    const scratch = join(root, 'scratch');
    // What a merged pull request of another action leaves on main.
    const { writeKustomization } = await import('../../connectors/core/render.js');
    writeKustomization(join(scratch, 'a2'), otherAction);
    const files: Record<string, string> = {
      'deploy/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - a2\n',
    };
    for (const file of readdirSync(join(scratch, 'a2')))
      files[`deploy/a2/${file}`] = readFileSync(join(scratch, 'a2', file), 'utf8');
    const movedMain = await pushFromElsewhere('main', files, 'merge a2');

    const result = await repo.writeActionBranch(write);

    expect(result).toMatchObject({ changed: true, pushed: true, rebuilt: true, base: movedMain });
    expect(await git(remote, 'rev-parse', `${result.commit}^`)).toBe(movedMain);
    expect(
      await git(remote, 'rev-list', '--merges', '--count', `${movedMain}..${result.commit}`),
    ).toBe('0');
    expect(
      await git(remote, 'merge-base', '--is-ancestor', first.commit, result.commit).then(
        () => true,
        () => false,
      ),
    ).toBe(false);
    expect(parse(await show(result.commit, 'deploy/kustomization.yaml'))).toMatchObject({
      resources: ['a1', 'a2'],
    });
    // And now it is stable again.
    expect(await repo.writeActionBranch(write)).toMatchObject({
      commit: result.commit,
      changed: false,
      pushed: false,
    });
  });

  it('GIVEN main moved elsewhere (files the branch does not touch) WHEN written again THEN the branch is left as it is: no force-push that would dismiss reviews', async () => {
    const repo = await openRepo();
    const write = actionWrite('a1', 1, ['203.0.113.7']);
    const first = await repo.writeActionBranch(write);
    await pushFromElsewhere('main', { 'docs/runbook.md': 'unrelated\n' }, 'docs');

    const result = await repo.writeActionBranch(write);

    expect(result).toMatchObject({
      commit: first.commit,
      changed: false,
      pushed: false,
      rebuilt: false,
    });
    expect(await head('forestall/a1')).toBe(first.commit);
  });

  it('GIVEN someone pushed to the action branch after our fetch WHEN we push THEN the lease fails with FST_GIT_PUSH_REJECTED (transient), their commit survives, and a retry builds on it', async () => {
    const repo = await openRepo();
    const first = await repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7']));
    const update = actionWrite('a1', 2, ['203.0.113.7', '203.0.113.9']);
    const prepared = await repo.prepareActionBranch(update);
    expect(prepared).toMatchObject({ changed: true, expected: first.commit });
    const theirs = await pushFromElsewhere(
      'forestall/a1',
      { 'deploy/NOTES.md': 'reviewer note\n' },
      'reviewer edit',
    );

    const error = await repo.push(prepared).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(GitDeliveryError);
    expect(error).toMatchObject({ code: 'FST_GIT_PUSH_REJECTED', errorClass: 'transient' });
    expect(await head('forestall/a1')).toBe(theirs);

    const retried = await repo.writeActionBranch(update);
    expect(retried).toMatchObject({ changed: true, pushed: true });
    expect(await git(remote, 'rev-parse', `${retried.commit}^`)).toBe(theirs);
    expect(await treeFiles(retried.commit)).toContain('deploy/NOTES.md');
  });

  it('GIVEN the branch did not exist at our fetch but was created before our push WHEN we push THEN the lease (expect absent) fails with FST_GIT_PUSH_REJECTED', async () => {
    const repo = await openRepo();
    const prepared = await repo.prepareActionBranch(actionWrite('a1', 1, ['203.0.113.7']));
    expect(prepared.expected).toBeUndefined();
    const theirs = await pushFromElsewhere(
      'forestall/a1',
      { 'deploy/x.txt': 'x\n' },
      'racing replica',
    );

    await expect(repo.push(prepared)).rejects.toMatchObject({ code: 'FST_GIT_PUSH_REJECTED' });
    expect(await head('forestall/a1')).toBe(theirs);
  });

  it('GIVEN main already holds exactly the render WHEN written THEN nothing is proposed: alreadyInBase, no branch', async () => {
    const repo = await openRepo();
    const write = actionWrite('a1', 1, ['203.0.113.7']);
    const proposed = await repo.writeActionBranch(write);
    await git(other, 'fetch', '-q', 'origin');
    await git(other, 'checkout', '-q', 'main');
    await git(other, 'merge', '-q', '--ff-only', 'origin/forestall/a1');
    await git(other, 'push', '-q', 'origin', 'main', ':forestall/a1');

    const result = await repo.writeActionBranch(write);

    expect(result).toMatchObject({
      changed: false,
      pushed: false,
      alreadyInBase: true,
      commit: proposed.commit,
      base: proposed.commit,
    });
    expect(await head('forestall/a1')).toBeUndefined();
  });

  it('GIVEN a base branch that does not exist WHEN written THEN FST_GIT_BASE_NOT_FOUND (terminal)', async () => {
    const repo = await GitRepository.open(
      options(join(root, 'work'), { baseBranch: 'production' }),
    );
    await expect(
      repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7'])),
    ).rejects.toMatchObject({ code: 'FST_GIT_BASE_NOT_FOUND', errorClass: 'terminal' });
  });

  it('GIVEN the repository root as the path WHEN written THEN the root kustomization lists the action and keeps what a person listed', async () => {
    await pushFromElsewhere(
      'main',
      {
        'kustomization.yaml':
          'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - base.yaml\n',
        'base.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n',
      },
      'root kustomization',
    );
    const repo = await openRepo();

    const result = await repo.writeActionBranch({
      action: summary('a1', 1),
      path: '.',
      manifests: render('a1', ['203.0.113.7']),
    });

    expect(parse(await show(result.commit, 'kustomization.yaml'))).toMatchObject({
      resources: ['a1', 'base.yaml'],
    });
    expect(await git(remote, 'log', '-1', '--format=%s', result.commit)).toBe(
      'forestall: add a1 (EgressDeny, 1 indicator)',
    );
  });
});

describe('removalBranch', () => {
  it('GIVEN an action merged to main WHEN its removal is proposed THEN forestall-removal/<action> deletes its directory and drops it from the parent kustomization', async () => {
    const repo = await openRepo();
    await repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7']));
    await repo.writeActionBranch(actionWrite('a2', 1, ['192.0.2.1']));
    expect(await repo.isMerged('forestall/a1')).toBe(false);
    await git(other, 'fetch', '-q', 'origin');
    await git(other, 'checkout', '-q', 'main');
    await git(other, 'merge', '-q', '--ff-only', 'origin/forestall/a1');
    await git(other, 'merge', '-q', '--no-edit', '-X', 'theirs', 'origin/forestall/a2');
    // Both branches add deploy/kustomization.yaml; after the merge it must list both.
    writeFileSync(
      join(other, 'deploy/kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - a1\n  - a2\n',
    );
    await git(other, 'commit', '-q', '--all', '-m', 'list both');
    await git(other, 'push', '-q', 'origin', 'main');
    expect(await repo.isMerged('forestall/a1')).toBe(true);
    expect(await repo.remoteBranchHead('forestall/a1')).toBe(await head('forestall/a1'));

    const removal = await repo.removalBranch({
      action: summary('a1', 1),
      path: 'deploy',
      message: 'Expired at 2026-09-01T00:00:00Z.',
    });

    expect(removal).toMatchObject({ branch: 'forestall-removal/a1', changed: true, pushed: true });
    expect(await head('forestall-removal/a1')).toBe(removal.commit);
    const files = await treeFiles(removal.commit);
    expect(files.filter((f) => f.startsWith('deploy/a1/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('deploy/a2/')).length).toBeGreaterThan(0);
    expect(parse(await show(removal.commit, 'deploy/kustomization.yaml'))).toMatchObject({
      resources: ['a2'],
    });
    const message = await git(remote, 'log', '-1', '--format=%B', removal.commit);
    expect(message.split('\n')[0]).toBe('forestall: remove a1 (EgressDeny, 1 indicator)');
    expect(message).toContain('Expired at 2026-09-01T00:00:00Z.');
    expect(await repo.removalBranch({ action: summary('a1', 1), path: 'deploy' })).toMatchObject({
      changed: false,
      pushed: false,
      commit: removal.commit,
    });
  });

  it('GIVEN an action that is not on main WHEN its removal is proposed THEN nothing is pushed (alreadyInBase)', async () => {
    const repo = await openRepo();
    const result = await repo.removalBranch({ action: summary('never-merged', 1), path: 'deploy' });
    expect(result).toMatchObject({ changed: false, pushed: false, alreadyInBase: true });
    expect(await repo.remoteBranchHead('forestall-removal/never-merged')).toBeUndefined();
  });
});

describe('work directory and secrets', () => {
  it('GIVEN a token WHEN the repository is cloned, written and pushed THEN the token is nowhere in the work directory (.git/config included) nor in the remote URL', async () => {
    const workDir = join(root, 'work');
    const repo = await GitRepository.open(options(workDir));
    await repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7']));

    const everything = allText(workDir);
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    expect(readFileSync(join(workDir, 'repo/.git/config'), 'utf8')).not.toMatch(
      /extraheader|authorization/i,
    );
    expect(await git(join(workDir, 'repo'), 'remote', 'get-url', 'origin')).toBe(remote);
  });

  it('GIVEN a work directory left half-made by a crash WHEN opened THEN it is recloned and works', async () => {
    const workDir = join(root, 'work');
    mkdirSync(join(workDir, 'repo/.git'), { recursive: true });
    writeFileSync(join(workDir, 'repo/.git/HEAD'), 'garbage');

    const repo = await GitRepository.open(options(workDir));

    expect(await repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7']))).toMatchObject({
      pushed: true,
    });
  });

  it('GIVEN local edits left in the clone WHEN written THEN they are discarded, never committed', async () => {
    const workDir = join(root, 'work');
    const repo = await GitRepository.open(options(workDir));
    writeFileSync(join(repo.dir, 'stray.txt'), 'left over\n');
    mkdirSync(join(repo.dir, 'deploy/a1'), { recursive: true });
    writeFileSync(join(repo.dir, 'deploy/a1/stray.yaml'), 'kind: Nope\n');

    const result = await repo.writeActionBranch(actionWrite('a1', 1, ['203.0.113.7']));

    expect((await treeFiles(result.commit)).filter((f) => f.includes('stray'))).toEqual([]);
  });

  it.each([
    ['a URL with credentials', { url: `https://x-access-token:${TOKEN}@git.example/org/repo.git` }],
    ['a remote helper', { url: 'ext::sh -c touch% /tmp/pwned' }],
    ['an option-like URL', { url: '--upload-pack=touch /tmp/pwned' }],
    ['a token over plain http to a remote host', { url: 'http://git.example/org/repo.git' }],
    ['a base branch that looks like an option', { baseBranch: '--orphan' }],
  ])(
    'GIVEN %s WHEN opened THEN FST_GIT_INVALID_REQUEST, with no secret in the message',
    async (_label, overrides) => {
      const error = await GitRepository.open(options(join(root, 'work'), overrides)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'FST_GIT_INVALID_REQUEST', errorClass: 'terminal' });
      expect((error as Error).message).not.toContain(TOKEN);
    },
  );

  it('GIVEN a token over plain http that the caller checked against the outbound policy WHEN opened THEN it is not refused as insecure, and git tries the remote', async () => {
    // 127.0.0.2 is loopback, but not a name the built-in loopback rule knows: only
    // plainHttpAllowed lets the token go there. Nothing listens on port 1.
    const url = 'http://127.0.0.2:1/org/repo.git';
    const refused = await GitRepository.open(options(join(root, 'work'), { url })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'FST_GIT_INVALID_REQUEST' });
    expect((refused as Error).message).toMatch(/only sent over https/);

    const tried = await GitRepository.open(
      options(join(root, 'work2'), { url, plainHttpAllowed: true }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(tried).toBeInstanceOf(Error);
    expect(tried).not.toMatchObject({ code: 'FST_GIT_INVALID_REQUEST' });
    expect((tried as Error).message).not.toContain(TOKEN);
  });

  it.each([
    ['a path outside the repository', { path: '../elsewhere' }],
    ['a path inside .git', { path: '.git/hooks' }],
    ['an action name with a slash', { name: 'a/b' }],
  ])(
    'GIVEN %s WHEN written THEN FST_GIT_INVALID_REQUEST and nothing is pushed',
    async (_label, bad: { path?: string; name?: string }) => {
      const repo = await openRepo();
      const name = bad.name ?? 'a1';
      await expect(
        repo.writeActionBranch({
          action: summary(name, 1),
          path: bad.path ?? 'deploy',
          manifests: render('a1', ['203.0.113.7']),
        }),
      ).rejects.toMatchObject({ code: 'FST_GIT_INVALID_REQUEST' });
      expect((await git(remote, 'for-each-ref', '--format=%(refname)')).split('\n')).toEqual([
        'refs/heads/main',
      ]);
    },
  );

  it('GIVEN an ssh key WHEN opened THEN the key is written 0600 under <workDir>/ssh, outside the clone, and never into .git/config', async () => {
    const workDir = join(root, 'work');
    const key =
      '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----';
    // A local URL does not use ssh, which lets the layout be checked without an ssh server;
    // auth.test.ts drives the real ssh client.
    const repo = await GitRepository.open(options(workDir, { auth: { sshPrivateKey: key } }));

    expect(statSync(join(workDir, 'ssh/id_forestall')).mode & 0o777).toBe(0o600);
    expect(statSync(join(workDir, 'ssh')).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(workDir, 'ssh/id_forestall'), 'utf8')).toBe(`${key}\n`);
    expect(repo.dir).toBe(join(workDir, 'repo'));
    expect(allText(repo.dir)).not.toContain('not-a-real-key');
  });
});
