import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackFetch } from '../harness/outbound.js';
import {
  createForge,
  ForgeError,
  parseMarker,
  pullRequestBody,
  type Forge,
} from '../../delivery/forge/index.js';
import { eventually } from '../harness/eventually.js';
import { startGitea, type GiteaServer } from '../harness/gitea-server.js';

// GiteaForge against a real Gitea (built from its Go module, on loopback): the pull
// request lifecycle Git delivery relies on, and the errors a real Gitea gives.

const REPO = 'forge-gitops';
const HEAD = 'forestall/block-c2-egressdeny-3f2a';
const REVIEWER = 'secops-reviewer';

let gitea: GiteaServer;
let forge: Forge;
let repoPath: string;

/** A branch off main with one file, made through the API (the Git side is delivery/git's). */
async function branchWithFile(branch: string, path: string, content: string): Promise<void> {
  const res = await gitea.api('POST', `${repoPath}/contents/${path}`, {
    branch: 'main',
    new_branch: branch,
    message: `Add ${path}`,
    content: Buffer.from(content).toString('base64'),
  });
  expect(res.status, res.text).toBe(201);
}

const rendered = pullRequestBody({
  action: {
    name: 'block-c2-egressdeny-3f2a',
    policy: 'block-c2',
    type: 'EgressDeny',
    layer: 'network',
    connector: 'network:networkpolicy',
    digest: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    confidence: 90,
    blastRadius: { namespaces: 1, workloads: 2, pods: 4, users: 0, addresses: 2, production: true },
    reason: 'autoApprove returned false: blastRadius.production is true (spec.autoApprove)',
    feeds: ['ipsum'],
  },
  values: ['203.0.113.7', '203.0.113.9'],
  objects: [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: 'shop',
      name: 'forestall-block-c2',
    },
  ],
  expiresAt: '2030-01-01T00:00:00Z',
  path: 'clusters/prod/forestall',
  base: 'main',
});

beforeAll(async () => {
  gitea = await startGitea();
  await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
  repoPath = `/repos/${gitea.username}/${REPO}`;
  // A second user to review: Gitea refuses a review request to the pull request's author.
  const user = await gitea.api('POST', '/admin/users', {
    username: REVIEWER,
    email: `${REVIEWER}@forestall.invalid`,
    password: 'Reviewer-pw-123456',
    must_change_password: false,
  });
  expect(user.status, user.text).toBe(201);
  const collaborator = await gitea.api('PUT', `${repoPath}/collaborators/${REVIEWER}`, {
    permission: 'write',
  });
  expect(collaborator.status, collaborator.text).toBe(204);
  await branchWithFile(HEAD, 'clusters/prod/forestall/block-c2.yaml', 'kind: NetworkPolicy\n');
  // The spec's URL, as a user would write it; the API URL is derived from it.
  forge = createForge(
    { url: `${gitea.url}/${gitea.username}/${REPO}.git`, forge: { type: 'Gitea' } },
    { token: gitea.token, fetch: loopbackFetch },
  );
});

afterAll(async () => {
  await gitea?.stop();
});

describe('GiteaForge against a real Gitea', () => {
  let number: number;

  it('GIVEN no pull request for the branch THEN findOpenPullRequest finds none', async () => {
    expect(await forge.findOpenPullRequest(HEAD)).toBeUndefined();
  });

  it('GIVEN an action WHEN its pull request is opened with labels and a reviewer THEN Gitea has exactly that', async () => {
    const pr = await forge.openPullRequest({
      head: HEAD,
      base: 'main',
      title: rendered.title,
      body: rendered.body,
      labels: ['forestall', 'forestall/approval'],
      reviewers: [`@${REVIEWER}`],
    });
    expect(pr.warnings).toEqual([]);
    expect(pr).toMatchObject({
      state: 'Open',
      head: HEAD,
      base: 'main',
      title: rendered.title,
      body: rendered.body,
    });
    expect(pr.url).toBe(`${gitea.url}/${gitea.username}/${REPO}/pulls/${pr.number}`);
    number = pr.number;

    const labels = await gitea.api<{ name: string }[]>(
      'GET',
      `${repoPath}/issues/${number}/labels`,
    );
    expect(labels.body.map((l) => l.name).sort()).toEqual(['forestall', 'forestall/approval']);
    const raw = await gitea.api<{ requested_reviewers: { login: string }[] | null; body: string }>(
      'GET',
      `${repoPath}/pulls/${number}`,
    );
    expect(raw.body.requested_reviewers?.map((u) => u.login)).toEqual([REVIEWER]);
    expect(parseMarker(raw.body.body)).toEqual({
      action: 'block-c2-egressdeny-3f2a',
      digest: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      op: 'apply',
    });
  });

  it('GIVEN the pull request exists WHEN a restarted controller opens it again THEN it gets the same one, and labels are not duplicated', async () => {
    const restarted = createForge(
      {
        url: `${gitea.url}/${gitea.username}/${REPO}`,
        forge: { type: 'Gitea', apiUrl: gitea.apiUrl },
      },
      { token: gitea.token, fetch: loopbackFetch },
    );
    expect((await restarted.findOpenPullRequest(HEAD))?.number).toBe(number);
    const again = await restarted.openPullRequest({
      head: HEAD,
      base: 'main',
      title: rendered.title,
      body: rendered.body,
      labels: ['forestall'],
    });
    expect(again.number).toBe(number);
    const open = await gitea.api<unknown[]>('GET', `${repoPath}/pulls?state=all`);
    expect(open.body).toHaveLength(1);
    const repoLabels = await gitea.api<{ name: string }[]>('GET', `${repoPath}/labels`);
    expect(repoLabels.body.filter((l) => l.name === 'forestall')).toHaveLength(1);
  });

  it('GIVEN a re-render WHEN the pull request is updated and commented THEN Gitea shows the new text', async () => {
    const updated = await forge.updatePullRequest(number, {
      title: `${rendered.title} v2`,
      body: `${rendered.body}\nv2`,
    });
    expect(updated).toMatchObject({ number, title: `${rendered.title} v2`, state: 'Open' });
    expect((await forge.getPullRequest(number)).body).toBe(`${rendered.body}\nv2`);
    await forge.comment(number, 'Re-rendered: 1 indicator added.');
    const comments = await gitea.api<{ body: string }[]>(
      'GET',
      `${repoPath}/issues/${number}/comments`,
    );
    expect(comments.body.map((c) => c.body)).toContain('Re-rendered: 1 indicator added.');
  });

  it('GIVEN a reviewer merges it THEN getPullRequest says Merged with the merge commit on main', async () => {
    await eventually(
      'the pull request to be mergeable',
      async () => {
        const pr = await gitea.api<{ mergeable: boolean }>('GET', `${repoPath}/pulls/${number}`);
        return pr.body.mergeable;
      },
      30_000,
      200,
    );
    const merge = await gitea.api('POST', `${repoPath}/pulls/${number}/merge`, { Do: 'merge' });
    expect(merge.status, merge.text).toBe(200);
    const pr = await forge.getPullRequest(number);
    const main = await gitea.api<{ commit: { id: string } }>('GET', `${repoPath}/branches/main`);
    expect(pr).toMatchObject({ state: 'Merged', mergeCommitSha: main.body.commit.id });
    expect(await forge.findOpenPullRequest(HEAD)).toBeUndefined();
  });

  it('GIVEN another pull request WHEN it is closed without merging THEN it is Closed, and closing again succeeds', async () => {
    const head = 'forestall/remove-block-c2';
    await branchWithFile(head, 'clusters/prod/forestall/remove.txt', 'x\n');
    const pr = await forge.openPullRequest({
      head,
      base: 'main',
      title: 'forestall: remove EgressDeny for block-c2 (2 indicators)',
      body: 'b',
    });
    expect((await forge.closePullRequest(pr.number)).state).toBe('Closed');
    expect((await forge.closePullRequest(pr.number)).state).toBe('Closed');
    expect(await forge.getPullRequest(pr.number)).toMatchObject({ state: 'Closed' });
    expect((await forge.getPullRequest(pr.number)).mergeCommitSha).toBeUndefined();
    // Found again by its head, as a controller that lost its status finds it; the merged one by its own head.
    expect((await forge.findClosedPullRequests(head)).map((p) => [p.number, p.state])).toEqual([
      [pr.number, 'Closed'],
    ]);
    expect((await forge.findClosedPullRequests(HEAD)).map((p) => [p.number, p.state])).toEqual([
      [number, 'Merged'],
    ]);
    expect(await forge.findClosedPullRequests('forestall/never-proposed')).toEqual([]);
  });

  it('GIVEN a wrong token, a missing pull request, a missing repository and a missing base branch THEN each is the documented error', async () => {
    const wrongToken = 'f'.repeat(40);
    const badAuth = createForge(
      { url: `${gitea.url}/${gitea.username}/${REPO}`, forge: { type: 'Gitea' } },
      { token: wrongToken, fetch: loopbackFetch },
    );
    const auth = await badAuth.getPullRequest(number).catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(ForgeError);
    expect(auth).toMatchObject({ code: 'FST_FORGE_AUTH', errorClass: 'terminal', status: 401 });
    expect((auth as Error).message).not.toContain(wrongToken);

    await expect(forge.getPullRequest(9999)).rejects.toMatchObject({ code: 'FST_FORGE_NOT_FOUND' });
    const missingRepo = createForge(
      { url: `${gitea.url}/${gitea.username}/no-such-repo`, forge: { type: 'Gitea' } },
      { token: gitea.token, fetch: loopbackFetch },
    );
    await expect(missingRepo.findOpenPullRequest(HEAD)).rejects.toMatchObject({
      code: 'FST_FORGE_NOT_FOUND',
    });

    await branchWithFile('forestall/orphan', 'orphan.txt', 'x\n');
    const noBase = await forge
      .openPullRequest({ head: 'forestall/orphan', base: 'no-such-branch', title: 't', body: 'b' })
      .catch((e: unknown) => e);
    expect(noBase).toBeInstanceOf(ForgeError);
    // Gitea answers 404 for a base branch it does not have (GitHub: 422, FST_FORGE_REJECTED).
    expect(noBase).toMatchObject({ code: 'FST_FORGE_NOT_FOUND', errorClass: 'terminal' });
  });
});
