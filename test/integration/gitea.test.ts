import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import { startGitea, type GiteaServer } from '../harness/gitea-server.js';

// The forge harness itself: a real Gitea (built from its Go module by
// test/gitea/build.sh) on loopback, driven the way Forestall's GitOps delivery will
// drive it: a repository, a branch pushed with git over HTTP using the token, a pull
// request opened and merged through the REST API, the merge visible on the base branch.
const PINNED_VERSION = readFileSync(join(REPO_ROOT, 'test/gitea/GITEA_VERSION'), 'utf8')
  .trim()
  .replace(/^v/, '');
const REPO = 'gitops';
const BRANCH = 'forestall/block-203-0-113-7';
const MANIFEST = 'clusters/prod/forestall/block-203-0-113-7.yaml';

let gitea: GiteaServer;
let scratch: string;

beforeAll(async () => {
  gitea = await startGitea();
  scratch = mkdtempSync(join(tmpdir(), 'forestall-gitea-clone-'));
});

afterAll(async () => {
  await gitea?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/**
 * A git client that never prompts (a refused credential must fail the command, not
 * hang it) and ignores the developer's ~/.gitconfig and its credential helpers.
 */
function git(dir?: string): SimpleGit {
  return simpleGit({ baseDir: dir ?? scratch, allowEnvironment: ['GIT_TERMINAL_PROMPT'] }).env({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: scratch,
    GIT_TERMINAL_PROMPT: '0',
  });
}

interface PullRequest {
  number: number;
  state: string;
  merged: boolean;
  mergeable: boolean;
  merge_commit_sha: string | null;
  head: { ref: string; sha: string };
  base: { ref: string };
}

describe('Gitea test forge', () => {
  it('GIVEN the harness THEN the pinned Gitea answers on loopback and the token is really checked', async () => {
    expect(gitea.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gitea.version).toBe(PINNED_VERSION);

    const version = await fetch(`${gitea.apiUrl}/version`);
    expect(version.status).toBe(200);
    expect(await version.json()).toEqual({ version: PINNED_VERSION });

    const me = await gitea.api<{ login: string; is_admin: boolean }>('GET', '/user');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ login: gitea.username, is_admin: true });
    // Without the token, and with a wrong one, the same call is refused.
    expect((await fetch(`${gitea.apiUrl}/user`)).status).toBe(401);
    expect(
      (
        await fetch(`${gitea.apiUrl}/user`, {
          headers: { authorization: `token ${'0'.repeat(40)}` },
        })
      ).status,
    ).toBe(401);
  });

  it('GIVEN createRepo with autoInit THEN the repository exists with its default branch and a first commit', async () => {
    const repo = await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
    expect(repo).toMatchObject({
      name: REPO,
      full_name: `${gitea.username}/${REPO}`,
      default_branch: 'main',
      empty: false,
    });

    const branch = await gitea.api<{ name: string; commit: { id: string } }>(
      'GET',
      `/repos/${gitea.username}/${REPO}/branches/main`,
    );
    expect(branch.status).toBe(200);
    expect(branch.body.commit.id).toMatch(/^[0-9a-f]{40}$/);
    // The name is taken now: a second create is a conflict, not a silent success.
    await expect(gitea.createRepo(REPO)).rejects.toThrow(/HTTP 409/);
  });

  it('GIVEN a clone over HTTP with the token WHEN a branch is committed and pushed THEN Gitea has that commit', async () => {
    const clone = join(scratch, 'clone');
    await git().clone(gitea.cloneUrl(REPO), clone);
    const repo = git(clone);
    await repo
      .addConfig('user.name', 'Forestall')
      .addConfig('user.email', 'forestall@forestall.invalid');
    await repo.checkoutLocalBranch(BRANCH);
    const manifestPath = join(clone, MANIFEST);
    mkdirSync(dirname(manifestPath), { recursive: true });
    writeFileSync(
      manifestPath,
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: block-203-0-113-7\n',
    );
    await repo.add(MANIFEST).commit('Block 203.0.113.7 (forestall action block-203-0-113-7)');
    await repo.push('origin', BRANCH, ['--set-upstream']);
    const local = (await repo.revparse(['HEAD'])).trim();

    const remote = await gitea.api<{ commit: { id: string } }>(
      'GET',
      `/repos/${gitea.username}/${REPO}/branches/${encodeURIComponent(BRANCH)}`,
    );
    expect(remote.status).toBe(200);
    expect(remote.body.commit.id).toBe(local);
  });

  it('GIVEN a push with a wrong token THEN git over HTTP refuses it', async () => {
    const clone = join(scratch, 'clone');
    const wrong = gitea.cloneUrl(REPO).replace(gitea.token, 'f'.repeat(40));
    await expect(git(clone).push(wrong, `${BRANCH}:refs/heads/intruder`)).rejects.toThrow(
      /Authentication failed|401|403/,
    );
    const branch = await gitea.api('GET', `/repos/${gitea.username}/${REPO}/branches/intruder`);
    expect(branch.status).toBe(404);
  });

  it('GIVEN the pushed branch WHEN a pull request is opened and merged through the API THEN main contains the commit', async () => {
    const clone = join(scratch, 'clone');
    const pushed = (await git(clone).revparse([BRANCH])).trim();
    const opened = await gitea.api<PullRequest>('POST', `/repos/${gitea.username}/${REPO}/pulls`, {
      head: BRANCH,
      base: 'main',
      title: 'Block 203.0.113.7',
      body: 'Proposed by Forestall: the action exceeds the auto-approval threshold.',
    });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({
      state: 'open',
      merged: false,
      head: { ref: BRANCH, sha: pushed },
      base: { ref: 'main' },
    });
    const index = opened.body.number;

    // Mergeability is computed by a background queue; merging before it is known
    // answers 405, so wait for it as any client of a real Gitea must.
    await eventually(
      'the pull request to be mergeable',
      async () => {
        const pr = await gitea.api<PullRequest>(
          'GET',
          `/repos/${gitea.username}/${REPO}/pulls/${index}`,
        );
        return pr.body.mergeable;
      },
      30_000,
      200,
    );

    const merge = await gitea.api('POST', `/repos/${gitea.username}/${REPO}/pulls/${index}/merge`, {
      Do: 'merge',
      merge_message_field: `Merge pull request #${index}`,
    });
    expect(merge.status, merge.text).toBe(200);

    const merged = await gitea.api<PullRequest>(
      'GET',
      `/repos/${gitea.username}/${REPO}/pulls/${index}`,
    );
    expect(merged.body).toMatchObject({ state: 'closed', merged: true });
    expect(merged.body.merge_commit_sha).toMatch(/^[0-9a-f]{40}$/);
    // A second merge of the same pull request is refused rather than repeated.
    expect(
      (
        await gitea.api('POST', `/repos/${gitea.username}/${REPO}/pulls/${index}/merge`, {
          Do: 'merge',
        })
      ).status,
    ).not.toBe(200);

    // Seen from git: main now points at the merge commit, and the pushed commit is in its history.
    const repo = git(clone);
    await repo.fetch('origin', 'main');
    const main = (await repo.revparse(['origin/main'])).trim();
    expect(main).toBe(merged.body.merge_commit_sha);
    await expect(repo.raw(['merge-base', '--is-ancestor', pushed, 'origin/main'])).resolves.toBe(
      '',
    );
    expect(await repo.show([`origin/main:${MANIFEST}`])).toContain('name: block-203-0-113-7');

    // And seen from the API: the file is on main.
    const file = await gitea.api<{ path: string }>(
      'GET',
      `/repos/${gitea.username}/${REPO}/contents/${MANIFEST}?ref=main`,
    );
    expect(file.status).toBe(200);
    expect(file.body.path).toBe(MANIFEST);
  });

  it('GIVEN a binary that does not exist THEN startGitea fails loudly instead of skipping', async () => {
    await expect(startGitea({ binary: join(scratch, 'no-such-gitea') })).rejects.toThrow(
      /cannot run .*no-such-gitea/,
    );
  });
});
