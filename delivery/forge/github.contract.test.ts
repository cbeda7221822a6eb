import { beforeAll, describe, expect, it } from 'vitest';
import {
  example,
  GitHubContract,
  recordingFetch,
  type CannedResponse,
  type RecordedRequest,
} from '../../test/contract/github-openapi.js';
import { ForgeError } from './errors.js';
import { GitHubForge } from './github.js';
import { parseRepoUrl } from './repo-url.js';

// Contract tests: every request GitHubForge makes must be one GitHub's published
// OpenAPI description accepts, and the client must read the responses GitHub describes.
// Canned responses are the description's own examples with a few fields set, and are
// validated against the response schema before they are returned.

const TOKEN = 'ghp_contractTestToken0123456789abcdef';

let contract: GitHubContract;
beforeAll(() => {
  contract = new GitHubContract();
}, 60_000);

type Pull = Record<string, unknown> & {
  head: Record<string, unknown>;
  base: Record<string, unknown>;
};

function pull(
  name: 'pull-request' | 'pull-request-simple',
  fields: {
    number: number;
    head: string;
    state?: 'open' | 'closed';
    merged?: boolean;
    body?: string;
    title?: string;
  },
): Pull {
  const pr =
    name === 'pull-request'
      ? example<Pull>('pull-request')
      : example<Pull[]>('pull-request-simple-items')[0]!;
  pr.number = fields.number;
  pr.html_url = `https://github.com/acme/policies/pull/${fields.number}`;
  pr.state = fields.state ?? 'open';
  pr.title = fields.title ?? 'forestall: enforce EgressDeny for block-c2 (2 indicators)';
  pr.body = fields.body ?? 'body';
  pr.head = { ...pr.head, ref: fields.head, sha: '1111111111111111111111111111111111111111' };
  pr.base = { ...pr.base, ref: 'main' };
  // The examples' requested_teams lack `type`, which the schema requires; we request no teams here.
  pr.requested_teams = [];
  if (name === 'pull-request') {
    pr.merged = fields.merged ?? false;
    pr.merged_at = fields.merged ? '2025-06-01T12:00:00Z' : null;
    pr.merge_commit_sha = '2222222222222222222222222222222222222222';
  } else {
    pr.merged_at = fields.merged ? '2025-06-01T12:00:00Z' : null;
  }
  return pr;
}

function forgeWith(
  responder: (r: RecordedRequest) => CannedResponse,
  baseUrl = 'https://api.github.com',
) {
  const recorder = recordingFetch(contract, baseUrl, responder);
  const forge = new GitHubForge({
    repo: parseRepoUrl('https://github.com/acme/policies.git'),
    token: TOKEN,
    baseUrl,
    fetch: recorder.fetch,
    // Write spacing (1-3 s between content-creating requests) only slows these tests down.
    throttle: false,
    retries: 0,
  });
  return { forge, ...recorder };
}

/** Answers by operation id; an unexpected operation gets a 500 and shows up in the test's assertions. */
function byOperation(handlers: Record<string, (r: RecordedRequest) => CannedResponse>) {
  return (r: RecordedRequest): CannedResponse => {
    const handler = r.operationId ? handlers[r.operationId] : undefined;
    return handler
      ? handler(r)
      : { status: 500, body: { message: `unexpected ${r.operationId ?? r.path}` } };
  };
}

describe("GitHubForge against GitHub's OpenAPI description", () => {
  it('GIVEN an open pull request for the head THEN findOpenPullRequest asks pulls/list with owner:branch and state=open', async () => {
    const { forge, requests, problems } = forgeWith(
      byOperation({
        'pulls/list': () => ({
          status: 200,
          body: [pull('pull-request-simple', { number: 7, head: 'forestall/block-c2-egressdeny' })],
        }),
      }),
    );
    const pr = await forge.findOpenPullRequest('forestall/block-c2-egressdeny');
    expect(problems).toEqual([]);
    expect(requests.map((r) => r.operationId)).toEqual(['pulls/list']);
    expect(requests[0]!.query).toMatchObject({
      state: 'open',
      head: 'acme:forestall/block-c2-egressdeny',
    });
    expect(requests[0]!.pathParams).toEqual({ owner: 'acme', repo: 'policies' });
    expect(pr).toMatchObject({
      number: 7,
      state: 'Open',
      head: 'forestall/block-c2-egressdeny',
      headSha: '1111111111111111111111111111111111111111',
      base: 'main',
    });
    expect(pr?.mergeCommitSha).toBeUndefined();
  });

  it('GIVEN no open pull request, or only one from another branch THEN findOpenPullRequest finds none', async () => {
    const { forge, problems } = forgeWith(
      byOperation({
        'pulls/list': () => ({
          status: 200,
          body: [pull('pull-request-simple', { number: 8, head: 'forestall/other' })],
        }),
      }),
    );
    expect(await forge.findOpenPullRequest('forestall/block-c2-egressdeny')).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('GIVEN a merged and a closed pull request for the head THEN findClosedPullRequests asks pulls/list with state=closed, newest first, and reads merged_at', async () => {
    const merged = {
      ...pull('pull-request-simple', { number: 11, head: 'forestall/block-c2-egressdeny' }),
      state: 'closed',
      merged_at: '2026-11-20T10:00:00Z',
    };
    const closed = {
      ...pull('pull-request-simple', { number: 10, head: 'forestall/block-c2-egressdeny' }),
      state: 'closed',
      merged_at: null,
    };
    const other = {
      ...pull('pull-request-simple', { number: 12, head: 'forestall/other' }),
      state: 'closed',
      merged_at: null,
    };
    const { forge, requests, problems } = forgeWith(
      byOperation({ 'pulls/list': () => ({ status: 200, body: [merged, other, closed] }) }),
    );
    const found = await forge.findClosedPullRequests('forestall/block-c2-egressdeny');
    expect(problems).toEqual([]);
    expect(requests[0]!.query).toMatchObject({
      state: 'closed',
      head: 'acme:forestall/block-c2-egressdeny',
      sort: 'updated',
      direction: 'desc',
    });
    expect(found.map((p) => [p.number, p.state])).toEqual([
      [11, 'Merged'],
      [10, 'Closed'],
    ]);
  });

  it('GIVEN labels and reviewers THEN openPullRequest creates, labels and requests reviews with valid requests, and sends the token only as auth', async () => {
    const { forge, requests, problems } = forgeWith(
      byOperation({
        'pulls/create': (r) => ({
          status: 201,
          body: pull('pull-request', { number: 9, head: (r.body as { head: string }).head }),
        }),
        'issues/add-labels': () => ({ status: 200, body: example('label-items') }),
        'pulls/request-reviewers': () => ({
          status: 201,
          body: pull('pull-request-simple', { number: 9, head: 'forestall/block-c2-egressdeny' }),
        }),
      }),
    );
    const pr = await forge.openPullRequest({
      head: 'forestall/block-c2-egressdeny',
      base: 'main',
      title: 'forestall: enforce EgressDeny for block-c2 (2 indicators)',
      body: 'the body',
      labels: ['forestall', 'forestall/approval'],
      reviewers: ['@alice', 'acme/secops', 'alice'],
    });
    expect(problems).toEqual([]);
    expect(requests.map((r) => r.operationId)).toEqual([
      'pulls/create',
      'issues/add-labels',
      'pulls/request-reviewers',
    ]);
    expect(requests[0]!.body).toEqual({
      head: 'forestall/block-c2-egressdeny',
      base: 'main',
      title: 'forestall: enforce EgressDeny for block-c2 (2 indicators)',
      body: 'the body',
      maintainer_can_modify: false,
    });
    expect(requests[1]!.body).toEqual({ labels: ['forestall', 'forestall/approval'] });
    expect(requests[1]!.pathParams).toMatchObject({ issue_number: '9' });
    expect(requests[2]!.body).toEqual({ reviewers: ['alice'], team_reviewers: ['secops'] });
    expect(pr).toMatchObject({ number: 9, state: 'Open', warnings: [] });
    for (const r of requests) {
      expect(r.headers.authorization).toBe(`token ${TOKEN}`);
      expect(JSON.stringify({ ...r, headers: {} })).not.toContain(TOKEN);
    }
  });

  it('GIVEN GitHub says the pull request already exists (a retry after a lost response) THEN openPullRequest returns the existing one', async () => {
    const { forge, requests, problems } = forgeWith(
      byOperation({
        'pulls/create': () => ({
          status: 422,
          body: {
            message: 'Validation Failed',
            errors: [
              {
                resource: 'PullRequest',
                code: 'custom',
                message: 'A pull request already exists for acme:forestall/x.',
              },
            ],
            documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
          },
        }),
        'pulls/list': () => ({
          status: 200,
          body: [pull('pull-request-simple', { number: 3, head: 'forestall/x' })],
        }),
      }),
    );
    const pr = await forge.openPullRequest({
      head: 'forestall/x',
      base: 'main',
      title: 't',
      body: 'b',
    });
    expect(problems).toEqual([]);
    expect(requests.map((r) => r.operationId)).toEqual(['pulls/create', 'pulls/list']);
    expect(pr.number).toBe(3);
  });

  it('GIVEN labelling is refused THEN the pull request still opens and the failure is a warning', async () => {
    const { forge, problems } = forgeWith(
      byOperation({
        'pulls/create': () => ({
          status: 201,
          body: pull('pull-request', { number: 4, head: 'forestall/x' }),
        }),
        'issues/add-labels': () => ({
          status: 404,
          body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
        }),
      }),
    );
    const pr = await forge.openPullRequest({
      head: 'forestall/x',
      base: 'main',
      title: 't',
      body: 'b',
      labels: ['forestall'],
    });
    expect(problems).toEqual([]);
    expect(pr.number).toBe(4);
    expect(pr.warnings).toEqual([
      expect.stringMatching(
        /^labels not added: GitHub acme\/policies: label pull request #4: HTTP 404/,
      ),
    ]);
  });

  it('GIVEN an update, a merged get, a comment and a close THEN each is the described operation with a valid body', async () => {
    const { forge, requests, problems } = forgeWith(
      byOperation({
        'pulls/update': (r) => {
          const change = r.body as { title?: string; body?: string; state?: 'closed' };
          return {
            status: 200,
            body: pull('pull-request', {
              number: 5,
              head: 'forestall/x',
              ...(change.state ? { state: 'closed' } : {}),
              ...(change.title ? { title: change.title } : {}),
              ...(change.body ? { body: change.body } : {}),
            }),
          };
        },
        'pulls/get': () => ({
          status: 200,
          body: pull('pull-request', {
            number: 5,
            head: 'forestall/x',
            state: 'closed',
            merged: true,
          }),
        }),
        'issues/create-comment': () => ({ status: 201, body: example('issue-comment') }),
      }),
    );
    const updated = await forge.updatePullRequest(5, { title: 'new title', body: 'new body' });
    const merged = await forge.getPullRequest(5);
    await forge.comment(5, 'Observed in the cluster; the action is Enforced.');
    const closed = await forge.closePullRequest(5);
    expect(problems).toEqual([]);
    expect(requests.map((r) => `${r.operationId} ${JSON.stringify(r.body ?? null)}`)).toEqual([
      'pulls/update {"title":"new title","body":"new body"}',
      'pulls/get null',
      'issues/create-comment {"body":"Observed in the cluster; the action is Enforced."}',
      'pulls/update {"state":"closed"}',
    ]);
    expect(updated).toMatchObject({ title: 'new title', body: 'new body', state: 'Open' });
    expect(merged).toMatchObject({
      state: 'Merged',
      mergeCommitSha: '2222222222222222222222222222222222222222',
    });
    expect(closed.state).toBe('Closed');
    expect(closed.mergeCommitSha).toBeUndefined();
  });

  it('GIVEN GitHub Enterprise THEN requests go below its /api/v3 base and still match the description', async () => {
    const { forge, requests, problems } = forgeWith(
      byOperation({
        'pulls/get': () => ({
          status: 200,
          body: pull('pull-request', { number: 1, head: 'forestall/x' }),
        }),
      }),
      'https://ghe.corp.example/api/v3',
    );
    await forge.getPullRequest(1);
    expect(problems).toEqual([]);
    expect(requests[0]!.path).toBe('/repos/acme/policies/pulls/1');
  });

  it('GIVEN a 404 THEN the error is FST_FORGE_NOT_FOUND and terminal', async () => {
    const { forge, problems } = forgeWith(
      byOperation({
        'pulls/get': () => ({
          status: 404,
          body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
        }),
      }),
    );
    const err = await forge.getPullRequest(99).catch((e: unknown) => e);
    expect(problems).toEqual([]);
    expect(err).toBeInstanceOf(ForgeError);
    expect(err).toMatchObject({ code: 'FST_FORGE_NOT_FOUND', errorClass: 'terminal', status: 404 });
  });
});

describe('the contract check itself', () => {
  it('GIVEN requests GitHub would refuse THEN it reports them (so the tests above can fail)', () => {
    const bad = (r: Partial<RecordedRequest>): string[] =>
      contract.check({
        method: 'POST',
        path: '/repos/acme/policies/pulls',
        query: {},
        headers: { 'content-type': 'application/json' },
        body: undefined,
        ...r,
      });
    expect(bad({ body: { head: 'x', base: 'main', title: 42 } })).toEqual([
      expect.stringMatching(/request body: \/title must be string/),
    ]);
    expect(bad({ path: '/repos/acme/policies/pull' })).toEqual([
      expect.stringMatching(/matches no operation/),
    ]);
    expect(bad({ method: 'GET', query: { state: 'merged' } })).toEqual([
      expect.stringMatching(
        /query parameter state="merged": .*must be equal to one of the allowed values/,
      ),
    ]);
    expect(bad({ method: 'GET', query: { branch: 'x' } })).toEqual([
      expect.stringMatching(/query parameter branch is not defined/),
    ]);
    expect(
      bad({ method: 'GET', path: '/repos/acme/policies/pulls/seven', body: undefined }),
    ).toEqual([expect.stringMatching(/path parameter pull_number="seven": .*must be integer/)]);
    expect(bad({ path: '/repos/acme/policies/issues/1/comments', body: {} })).toEqual([
      expect.stringMatching(/must have required property 'body'/),
    ]);
    expect(contract.checkResponse('pulls/get', { status: 200, body: { number: 1 } })).toEqual([
      expect.stringMatching(/response pulls\/get 200: .*must have required property/),
    ]);
  });
});
