import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { PreemptiveAction } from '../../crds/index.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { ControlPlane } from '../harness/control-plane.js';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import { installLoopbackFence, type LoopbackFence } from '../harness/feed-server.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { startGitea, type GiteaServer } from '../harness/gitea-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { credentialSecret, hostOf } from '../harness/credential-secret.js';
import { kustomizeMain, merge, mergeable } from '../harness/pull-requests.js';
import { configMapFeed } from '../harness/threat-feeds.js';
import { configMap, namespace, exposurePolicy } from '../harness/objects.js';

// Actions beyond the automatic threshold delivered as pull requests on a real Gitea
// (built from its Go module), with the real API server: one pull request per action,
// also across a controller restart; merging it and applying the merged tree with
// server-side apply, as Argo CD or Flux would, moves the action to Enforced; closing
// one moves its action to Rejected.
const NS = 'forestall-system';
const REPO = 'security-policy';
const IPSUM = join(REPO_ROOT, '../shared/feeds/ipsum/ipsum-2026-08-22.txt');
const top = readFileSync(IPSUM, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.split('\t') as [string, string])
  .filter(([, n]) => Number(n) >= 8);
/** The addresses of `top`, sorted, from `start` to before `end`: each test takes its own four. */
const topAddresses = (start: number, end: number) =>
  top
    .map(([ip]) => ip)
    .sort()
    .slice(start, end);

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let gitea: GiteaServer;
let fence: LoopbackFence;
let workRoot: string;
let mgr: Awaited<ReturnType<typeof startManager>>;

interface Pull {
  number: number;
  state: string;
  merged: boolean;
  mergeable: boolean;
  head: { ref: string };
  body: string;
  html_url: string;
}
const pulls = async (state: 'open' | 'closed' | 'all') =>
  (await gitea.api<Pull[]>('GET', `/repos/${gitea.username}/${REPO}/pulls?state=${state}&limit=50`))
    .body;
const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
// Four workers, the controller's default: a slow forge call for one action must not hold up the others' polls.
const start = () => startManager(kc, { namespace: NS, gitWorkRoot: workRoot, concurrency: 4 });

/** Moves an action's expiry to one second from now, so the test need not wait out its real one. */
async function expireInASecond(name: string): Promise<void> {
  const expiresAt = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  await client.call(
    'PATCH',
    await client.path('forestall.io/v1alpha1', 'PreemptiveAction', undefined, name),
    { body: { spec: { expiresAt } }, contentType: 'application/merge-patch+json' },
  );
}

/** The Calico network sets labelled as `action`'s: what Argo CD applied for it. */
const networkSetsOf = async (action: string) =>
  (
    await client.list('projectcalico.org/v3', 'GlobalNetworkSet', {
      labelSelector: `forestall.io/action=${action}`,
    })
  ).items;

interface PolicyOptions {
  feed?: string;
  suppressRejectedFor?: string;
  /** Forge API base URL; defaults to Gitea's own. */
  apiUrl?: string;
  /** The credentials Secret; defaults to forestall-git. */
  secret?: string;
  /** Enforce with autoApprove true instead of Propose. */
  auto?: boolean;
  recordAutoApproved?: boolean;
  reviewers?: string[];
  directRemoval?: boolean;
}

async function policy(
  name: string,
  connector: string,
  expiry = '24h',
  opts: PolicyOptions = {},
): Promise<void> {
  await client.apply(
    exposurePolicy(name, {
      feeds: { names: [opts.feed ?? 'ipsum'] },
      match: "indicator.type == 'ipv4'",
      actions: [{ type: 'EgressDeny', connector }],
      expiry,
      ...(opts.auto ? { mode: 'Enforce', autoApprove: 'true' } : { mode: 'Propose' }),
      git: {
        url: `${gitea.url}/${gitea.username}/${REPO}.git`,
        branch: 'main',
        path: 'clusters/test',
        credentialsSecretRef: { name: opts.secret ?? 'forestall-git' },
        forge: { type: 'Gitea', apiUrl: opts.apiUrl ?? gitea.apiUrl },
        ...(opts.suppressRejectedFor ? { suppressRejectedFor: opts.suppressRejectedFor } : {}),
        ...(opts.recordAutoApproved ? { recordAutoApproved: true } : {}),
        ...(opts.reviewers ? { reviewers: opts.reviewers } : {}),
        ...(opts.directRemoval ? { directRemoval: true } : {}),
      },
    }),
  );
}

/** Waits for the action to satisfy `check`; a timeout says where the action stands (phase, conditions, pull requests). */
async function actionState(
  name: string,
  what: string,
  check: (a: PreemptiveAction) => boolean,
  timeoutMs = 30_000,
): Promise<PreemptiveAction> {
  try {
    return await eventually(
      what,
      async () => {
        const a = await getAction(name);
        return a !== undefined && check(a) && a;
      },
      timeoutMs,
    );
  } catch (err) {
    const a = await getAction(name);
    const { conditions, phase, pullRequest, removalPullRequest } = a?.status ?? {};
    throw new Error(
      `${(err as Error).message}; ${name}: ${JSON.stringify({ phase, pullRequest, removalPullRequest, conditions: conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`) })}`,
    );
  }
}

/** The action's Ready condition once `pattern` matches its message (reason DeliveryFailed). */
async function deliveryFailure(action: string, pattern: RegExp): Promise<string> {
  return eventually(
    `${action} DeliveryFailed matching ${pattern}`,
    async () => {
      const ready = (await getAction(action))?.status?.conditions?.find((c) => c.type === 'Ready');
      return (
        ready?.reason === 'DeliveryFailed' && pattern.test(ready.message ?? '') && ready.message!
      );
    },
    60_000,
  );
}

/** Merges the action's pull request, then does what Argo CD or Flux would: build the action's directory on main and apply it server-side. */
async function mergeAndSync(action: string): Promise<KubernetesObject[]> {
  const number = await eventually(
    'a pull request',
    async () => (await getAction(action))?.status?.pullRequest?.number,
    60_000,
  );
  await mergeable(gitea, REPO, number);
  expect(await merge(gitea, REPO, number)).toBe(200);
  const built = await kustomizeMain(gitea, REPO, join('clusters/test', action));
  const objects = parseAllDocuments(built).map((d) => d.toJS() as KubernetesObject);
  const argo = new KubeClient(kc, undefined, 'argocd-controller');
  for (const o of objects) await argo.apply(o);
  return objects;
}

/** A ThreatFeed of its own (ConfigMap source, polled every second), so a test can change it without moving the others. */
async function feed(name: string, ips: readonly string[]): Promise<void> {
  await client.apply(configMap(NS, name, { 'ips.txt': ips.map((ip) => `${ip}\t9`).join('\n') }));
  await client.apply(
    configMapFeed(name, NS, 'ips.txt', {
      parser: { scoreColumn: 1 },
      refreshInterval: '1s',
      maxChangePercent: 100,
    }),
  );
}

beforeAll(async () => {
  fence = installLoopbackFence();
  workRoot = mkdtempSync(join(tmpdir(), 'forestall-git-work-'));
  gitea = await startGitea();
  await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
  // Reviewers: one named in the policy, one that CODEOWNERS gives the policy directory.
  for (const user of ['config-reviewer', 'security-reviewer']) {
    expect(
      (
        await gitea.api('POST', '/admin/users', {
          username: user,
          email: `${user}@forestall.invalid`,
          password: 'Reviewer-pw-123456',
          must_change_password: false,
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await gitea.api('PUT', `/repos/${gitea.username}/${REPO}/collaborators/${user}`, {
          permission: 'write',
        })
      ).status,
    ).toBe(204);
  }
  const codeowners = '*  @nobody-in-particular\n/clusters/test/  @security-reviewer\n';
  expect(
    (
      await gitea.api('POST', `/repos/${gitea.username}/${REPO}/contents/.github/CODEOWNERS`, {
        content: Buffer.from(codeowners).toString('base64'),
        message: 'CODEOWNERS',
        branch: 'main',
      })
    ).status,
  ).toBe(201);
  cp = await ControlPlane.start();
  await cp.installThirdPartyCrds([
    ['projectcalico.org/v3', 'GlobalNetworkSet'],
    ['projectcalico.org/v3', 'GlobalNetworkPolicy'],
    ['cilium.io/v2alpha1', 'CiliumCIDRGroup'],
    ['cilium.io/v2', 'CiliumClusterwideNetworkPolicy'],
  ]);
  kc = cp.kubeConfig();
  client = new KubeClient(kc);
  await client.apply(namespace(NS));
  await client.apply(
    credentialSecret('forestall-git', NS, { token: gitea.token, username: gitea.username }, [
      hostOf(gitea.url),
    ]),
  );
  await client.apply(
    configMap(NS, 'ipsum', { 'ipsum.txt': top.map(([ip, n]) => `${ip}\t${n}`).join('\n') }),
  );
  await client.apply(
    configMapFeed('ipsum', NS, 'ipsum.txt', {
      parser: { scoreColumn: 1 },
      refreshInterval: '1h',
    }),
  );
  mgr = await start();
}, 180_000);

afterAll(async () => {
  await mgr?.stop();
  await cp?.stop();
  await gitea?.stop();
  if (workRoot) rmSync(workRoot, { recursive: true, force: true });
  expect(fence.violations).toEqual([]);
  fence?.uninstall();
});

describe('Git delivery', () => {
  it('GIVEN a Propose policy with spec.git THEN exactly one pull request carries the action, with the body the reviewers need', async () => {
    await policy('c2-review', 'network:calico', '24h', { reviewers: ['config-reviewer'] });
    const action = await eventually(
      'a pull request on the action',
      async () => {
        const a = await getAction('c2-review-egressdeny');
        return a?.status?.pullRequest?.number !== undefined && a;
      },
      60_000,
    );
    expect(action.status).toMatchObject({ phase: 'Proposed', pullRequest: { state: 'Open' } });
    expect(action.status?.conditions?.find((c) => c.type === 'Approved')).toMatchObject({
      status: 'False',
      reason: 'AwaitingReview',
    });
    const open = (await pulls('open')).filter(
      (p) => p.head.ref === 'forestall/c2-review-egressdeny',
    );
    expect(open).toHaveLength(1);
    expect(open[0]!.number).toBe(action.status!.pullRequest!.number);
    expect(open[0]!.body).toContain(`forestall:action=c2-review-egressdeny`);
    expect(open[0]!.body).toMatch(/mode Propose: every action needs approval/);
    expect(open[0]!.body).toContain(top.map(([ip]) => ip).sort()[0]);
    const raw = (
      await gitea.api<{ requested_reviewers: { login: string }[] | null }>(
        'GET',
        `/repos/${gitea.username}/${REPO}/pulls/${open[0]!.number}`,
      )
    ).body;
    expect(raw.requested_reviewers?.map((u) => u.login).sort()).toEqual([
      'config-reviewer',
      'security-reviewer',
    ]);
    // Nothing is applied before review.
    expect(await networkSetsOf('c2-review-egressdeny')).toEqual([]);
  });

  it('GIVEN a controller restart in the middle of the flow THEN no second pull request is opened', async () => {
    await mgr.stop();
    mgr = await start();
    // Several polls of the open pull request by the new controller.
    await new Promise((r) => setTimeout(r, 3000));
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-review-egressdeny'),
    ).toHaveLength(1);
  });

  it('GIVEN the pull request merged and the merged tree applied as Argo CD would THEN the action is Enforced', async () => {
    const number = (await getAction('c2-review-egressdeny'))!.status!.pullRequest!.number!;
    await mergeable(gitea, REPO, number);
    expect(await merge(gitea, REPO, number)).toBe(200);
    const proposed = await actionState(
      'c2-review-egressdeny',
      'merged, awaiting sync',
      (a) => a.status?.pullRequest?.state === 'Merged',
    );
    expect(proposed.status?.phase).toBe('Proposed');

    // Argo CD / Flux: build the merged main with kustomize and server-side apply it under their own field manager.
    const built = await kustomizeMain(gitea, REPO, 'clusters/test');
    const argo = new KubeClient(kc, undefined, 'argocd-controller');
    const objects = parseAllDocuments(built).map((d) => d.toJS() as KubernetesObject);
    expect(objects.map((o) => o.kind).sort()).toEqual(['GlobalNetworkPolicy', 'GlobalNetworkSet']);
    for (const o of objects) await argo.apply(o);

    const enforced = await actionState(
      'c2-review-egressdeny',
      'enforced',
      (a) => a.status?.phase === 'Enforced',
    );
    expect(enforced.status?.enforcedAt).toBeTruthy();
    expect(enforced.status?.conditions?.find((c) => c.type === 'Approved')).toMatchObject({
      status: 'True',
      reason: 'Merged',
    });
  });

  it('GIVEN the Git-enforced action expires THEN a removal pull request is opened, and the action is Expired once it is merged and its objects are pruned', async () => {
    const name = 'c2-review-egressdeny';
    await expireInASecond(name);
    const proposed = await actionState(
      name,
      'a removal pull request',
      (a) => a.status?.removalPullRequest?.number !== undefined,
    );
    expect(proposed.status?.phase).toBe('Enforced');
    const removal = (await pulls('open')).filter((p) => p.head.ref === `forestall-removal/${name}`);
    expect(removal).toHaveLength(1);
    expect(removal[0]!.body).toMatch(/has expired/);
    expect((await networkSetsOf(name)).length).toBeGreaterThan(0);

    const number = removal[0]!.number;
    await mergeable(gitea, REPO, number);
    expect(await merge(gitea, REPO, number)).toBe(200);
    // Argo CD / Flux prune: the merged main no longer lists the action, so its objects go.
    const built = await kustomizeMain(gitea, REPO, 'clusters/test');
    expect(built).not.toContain(name);
    for (const kind of ['GlobalNetworkSet', 'GlobalNetworkPolicy']) {
      for (const o of (
        await client.list('projectcalico.org/v3', kind, {
          labelSelector: `forestall.io/action=${name}`,
        })
      ).items)
        await client.delete({ ...o, apiVersion: 'projectcalico.org/v3', kind });
    }
    const expired = await actionState(name, 'expired', (a) => a.status?.phase === 'Expired');
    expect(expired.status?.removalPullRequest).toMatchObject({ number, state: 'Merged' });
  });

  it('GIVEN a pull request closed without merging THEN the action is Rejected, nothing is applied, and its indicators stay out of the policy until the suppression ends', async () => {
    const ips = top.map(([ip]) => ip).sort();
    const rejectedSet = ips.slice(0, 20);
    const fresh = ips.slice(20, 23);
    expect(fresh).toHaveLength(3);
    await feed('declined-feed', rejectedSet);
    await policy('c2-declined', 'network:cilium', '24h', {
      feed: 'declined-feed',
      suppressRejectedFor: '20s',
    });
    const number = await eventually(
      'a pull request',
      async () => (await getAction('c2-declined-egressdeny'))?.status?.pullRequest?.number,
      60_000,
    );
    const closed = await gitea.api('PATCH', `/repos/${gitea.username}/${REPO}/pulls/${number}`, {
      state: 'closed',
    });
    expect(closed.status).toBe(201);
    const rejected = await actionState(
      'c2-declined-egressdeny',
      'rejected',
      (a) => a.status?.phase === 'Rejected',
    );
    expect(rejected.status?.pullRequest).toMatchObject({ number, state: 'Closed' });
    expect(rejected.status?.rejection).toMatchObject({ indicators: 20 });
    const until = Date.parse(rejected.status!.rejection!.until!);
    expect(until - Date.parse(rejected.status!.rejection!.at!)).toBe(20_000);
    expect(
      (
        await client.list('cilium.io/v2alpha1', 'CiliumCIDRGroup', {
          labelSelector: 'forestall.io/action=c2-declined-egressdeny',
        })
      ).items,
    ).toEqual([]);
    // The feedback is recorded with the policy as owner, so it goes when the policy goes.
    const cm = await client.get<KubernetesObject>(
      'v1',
      'ConfigMap',
      'forestall-feedback-c2-declined',
      NS,
    );
    expect(cm?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ExposurePolicy', name: 'c2-declined' }),
    ]);
    // It stays rejected: no new pull request for the same intelligence.
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-declined-egressdeny'),
    ).toHaveLength(1);
    expect((await getAction('c2-declined-egressdeny'))?.status?.phase).toBe('Rejected');
    // A spec change that keeps the rejected indicators is not new intelligence: a policy
    // reconcile on a cache that lags the rejection can write one (a new blast radius).
    const current = (await getAction('c2-declined-egressdeny'))!;
    const bumped = await client.replace<PreemptiveAction>({
      ...current,
      spec: { ...current.spec, confidence: (current.spec.confidence ?? 0) === 50 ? 51 : 50 },
    });
    expect(bumped.metadata?.generation).toBeGreaterThan(current.metadata!.generation!);
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-declined-egressdeny'),
    ).toHaveLength(1);
    expect((await getAction('c2-declined-egressdeny'))?.status).toMatchObject({
      phase: 'Rejected',
      rejection: { digest: current.spec.indicators.digest },
    });

    // New intelligence: only the indicators nobody rejected are proposed, in a new pull request.
    await feed('declined-feed', [...rejectedSet, ...fresh]);
    const second = await eventually(
      'a second pull request with only the new indicators',
      async () => {
        const a = await getAction('c2-declined-egressdeny');
        const pr = a?.status?.pullRequest;
        return (
          pr?.number !== undefined &&
          pr.number !== number &&
          a?.spec.indicators.count === fresh.length &&
          a
        );
      },
      30_000,
    );
    expect(second.status?.phase).toBe('Proposed');
    const body = (
      await gitea.api<Pull>(
        'GET',
        `/repos/${gitea.username}/${REPO}/pulls/${second.status!.pullRequest!.number}`,
      )
    ).body.body;
    expect(body).toContain(fresh[0]);
    expect(body).not.toContain(rejectedSet[0]);
    const status = (
      await client.get<
        {
          status?: {
            suppressedIndicators?: number;
            conditions?: { type: string; message: string }[];
          };
        } & KubernetesObject
      >('forestall.io/v1alpha1', 'ExposurePolicy', 'c2-declined')
    )?.status;
    expect(status?.suppressedIndicators).toBe(20);
    expect(status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(
      /20 left out after a rejected review/,
    );

    // The suppression ends: the rejected indicators come back into the open pull request.
    expect(Date.now()).toBeLessThan(until);
    const back = await eventually(
      'the rejected indicators proposed again',
      async () => {
        const a = await getAction('c2-declined-egressdeny');
        return a?.spec.indicators.count === rejectedSet.length + fresh.length && a;
      },
      40_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    expect(back.status?.pullRequest?.number).toBe(second.status!.pullRequest!.number);
    await eventually(
      'the pull request body updated',
      async () =>
        (
          await gitea.api<Pull>(
            'GET',
            `/repos/${gitea.username}/${REPO}/pulls/${second.status!.pullRequest!.number}`,
          )
        ).body.body.includes(rejectedSet[0]!),
      20_000,
    );
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-declined-egressdeny'),
    ).toHaveLength(2);
  });

  it('GIVEN the status lost and the pull request closed while the controller was down THEN the restarted controller finds it by its marker, and no second one opens', async () => {
    const ips = topAddresses(4, 8);
    await feed('lost-feed', ips);
    await policy('c2-lost', 'network:calico', '24h', { feed: 'lost-feed' });
    const number = await eventually(
      'a pull request',
      async () => (await getAction('c2-lost-egressdeny'))?.status?.pullRequest?.number,
      60_000,
    );
    await mgr.stop();
    expect(
      (
        await gitea.api('PATCH', `/repos/${gitea.username}/${REPO}/pulls/${number}`, {
          state: 'closed',
        })
      ).status,
    ).toBe(201);
    // The status write that recorded the pull request, lost: nothing in the cluster names it now.
    await client.call(
      'PATCH',
      '/apis/forestall.io/v1alpha1/preemptiveactions/c2-lost-egressdeny/status',
      { body: { status: null }, contentType: 'application/merge-patch+json' },
    );
    expect((await getAction('c2-lost-egressdeny'))?.status?.pullRequest).toBeUndefined();
    mgr = await start();
    const rejected = await actionState(
      'c2-lost-egressdeny',
      'rejected',
      (a) => a.status?.phase === 'Rejected',
    );
    expect(rejected.status?.pullRequest).toMatchObject({ number, state: 'Closed' });
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-lost-egressdeny'),
    ).toHaveLength(1);
    await client.delete(exposurePolicy('c2-lost'));
  });

  it('GIVEN a proposed action that expires before review THEN its pull request is closed with a comment, and the action is Expired', async () => {
    await policy('c2-brief', 'network:cilium', '5s');
    const number = await eventually(
      'a pull request',
      async () => (await getAction('c2-brief-egressdeny'))?.status?.pullRequest?.number,
      30_000,
    );
    const expired = await actionState(
      'c2-brief-egressdeny',
      'expired',
      (a) => a.status?.phase === 'Expired',
      30_000,
    );
    expect(expired.status?.pullRequest).toMatchObject({ number, state: 'Closed' });
    const pr = (await gitea.api<Pull>('GET', `/repos/${gitea.username}/${REPO}/pulls/${number}`))
      .body;
    expect(pr.state).toBe('closed');
    const comments = (
      await gitea.api<{ body: string }[]>(
        'GET',
        `/repos/${gitea.username}/${REPO}/issues/${number}/comments`,
      )
    ).body;
    expect(comments.map((c) => c.body)).toEqual([
      expect.stringMatching(/^Forestall closes this pull request: the action expired at /),
    ]);
  });

  it('GIVEN the forge answering 503, dropping connections and then 429 THEN the condition names each fault, and once the forge is back exactly one pull request is opened', async () => {
    const proxy = await startFaultProxy(gitea.url);
    try {
      proxy.fail({ status: 503 });
      // The token goes to the forge API through the proxy, so its Secret must admit that host too.
      await client.apply(
        credentialSecret(
          'forestall-git-proxied',
          NS,
          { token: gitea.token, username: gitea.username },
          [hostOf(gitea.url), hostOf(proxy.url)],
        ),
      );
      await feed('outage-feed', topAddresses(0, 4));
      await policy('c2-outage', 'network:calico', '24h', {
        feed: 'outage-feed',
        apiUrl: `${proxy.url}/api/v1`,
        secret: 'forestall-git-proxied',
      });
      // The branch is pushed (git goes to Gitea directly) but no pull request can be opened: a crash between push and open, in effect.
      expect(
        await deliveryFailure('c2-outage-egressdeny', /FST_FORGE_UNAVAILABLE: .*HTTP 503/),
      ).toContain(gitea.url);
      expect((await getAction('c2-outage-egressdeny'))?.status?.phase).toBe('Proposed');
      proxy.fail({ drop: true });
      await deliveryFailure('c2-outage-egressdeny', /FST_FORGE_UNAVAILABLE: .*no response/);
      proxy.fail({ status: 429, headers: { 'retry-after': '1' } });
      await deliveryFailure('c2-outage-egressdeny', /FST_FORGE_RATE_LIMITED: .*HTTP 429/);
      const faulted = proxy.counts.faulted;
      expect(faulted).toBeGreaterThan(3);
      proxy.fail(undefined);
      const number = await eventually(
        'a pull request once the forge is back',
        async () => (await getAction('c2-outage-egressdeny'))?.status?.pullRequest?.number,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      const prs = (await pulls('all')).filter(
        (p) => p.head.ref === 'forestall/c2-outage-egressdeny',
      );
      expect(prs.map((p) => p.number)).toEqual([number]);
      const ready = (await getAction('c2-outage-egressdeny'))?.status?.conditions?.find(
        (c) => c.type === 'Ready',
      );
      expect(ready).toMatchObject({ status: 'True', reason: 'AwaitingReview' });
      const failures = (await mgr.controllers.actionMetrics.gitDeliveryFailures.get()).values;
      expect(
        failures.find((v) => v.labels['code'] === 'FST_FORGE_UNAVAILABLE')?.value,
      ).toBeGreaterThan(0);
      expect(
        failures.find((v) => v.labels['code'] === 'FST_FORGE_RATE_LIMITED')?.value,
      ).toBeGreaterThan(0);
    } finally {
      // Its forge URL is this proxy: without the policy, nothing keeps calling it.
      await client.delete(exposurePolicy('c2-outage'));
      await eventually(
        'the outage action gone',
        async () => (await getAction('c2-outage-egressdeny')) === undefined,
        30_000,
      );
      await proxy.stop();
    }
  });

  it('GIVEN a Secret with a wrong token THEN the action says the credentials were refused, and correcting the Secret opens the pull request without a restart', async () => {
    await client.apply(
      credentialSecret(
        'forestall-git-wrong',
        NS,
        { token: 'not-the-token', username: gitea.username },
        [hostOf(gitea.url)],
      ),
    );
    await feed('token-feed', topAddresses(4, 8));
    await policy('c2-token', 'network:calico', '24h', {
      feed: 'token-feed',
      secret: 'forestall-git-wrong',
    });
    const message = await deliveryFailure(
      'c2-token-egressdeny',
      /^spec.git \(.*\): FST_GIT_AUTH: .*refused the credentials/,
    );
    expect(message).not.toContain('not-the-token');
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-token-egressdeny'),
    ).toEqual([]);
    await client.apply(
      credentialSecret(
        'forestall-git-wrong',
        NS,
        { token: gitea.token, username: gitea.username },
        [hostOf(gitea.url)],
      ),
    );
    await eventually(
      'a pull request after the Secret is corrected',
      async () => (await getAction('c2-token-egressdeny'))?.status?.pullRequest?.number,
      60_000,
    );
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-token-egressdeny'),
    ).toHaveLength(1);
  });

  it('GIVEN recordAutoApproved THEN an automatically approved action is applied and committed to main, a denied push says so without touching enforcement, and expiry commits the removal', async () => {
    const protection = await gitea.api(
      'POST',
      `/repos/${gitea.username}/${REPO}/branch_protections`,
      { rule_name: 'main', branch_name: 'main', enable_push: false },
    );
    expect(protection.status).toBe(201);
    await feed('record-feed', topAddresses(8, 12));
    await policy('c2-record', 'network:calico', '20s', {
      feed: 'record-feed',
      auto: true,
      recordAutoApproved: true,
    });
    const message = await eventually(
      'Recorded False',
      async () => {
        const a = await getAction('c2-record-egressdeny');
        const recorded = a?.status?.conditions?.find((c) => c.type === 'Recorded');
        return recorded?.status === 'False' && a?.status?.phase === 'Enforced' && recorded.message;
      },
      30_000,
    );
    expect(message).toMatch(/FST_GIT_PUSH_DENIED|protected|declined/i);
    expect(await networkSetsOf('c2-record-egressdeny')).toHaveLength(1);

    await gitea.api('DELETE', `/repos/${gitea.username}/${REPO}/branch_protections/main`);
    const recorded = await eventually(
      'recorded on main',
      async () => {
        const a = await getAction('c2-record-egressdeny');
        return a?.status?.conditions?.find((c) => c.type === 'Recorded')?.status === 'True' && a;
      },
      60_000,
    );
    const main = async () =>
      (
        await gitea.api<{ commit: { id: string; message: string } }>(
          'GET',
          `/repos/${gitea.username}/${REPO}/branches/main`,
        )
      ).body.commit;
    expect(recorded.status?.recordedCommit).toBe((await main()).id);
    expect((await main()).message).toMatch(
      /^forestall: add c2-record-egressdeny \(EgressDeny, 4 indicators\)/,
    );
    expect(
      (
        await gitea.api(
          'GET',
          `/repos/${gitea.username}/${REPO}/contents/clusters/test/c2-record-egressdeny/kustomization.yaml?ref=main`,
        )
      ).status,
    ).toBe(200);
    // No pull request: it was approved automatically.
    expect(
      (await pulls('all')).filter((p) => p.head.ref === 'forestall/c2-record-egressdeny'),
    ).toEqual([]);

    const expired = await eventually(
      'expired and the removal recorded',
      async () => {
        const a = await getAction('c2-record-egressdeny');
        return (
          a?.status?.phase === 'Expired' &&
          a.status.recordedCommit !== recorded.status?.recordedCommit &&
          a
        );
      },
      40_000,
    );
    expect(expired.status?.recordedCommit).toBe((await main()).id);
    expect((await main()).message).toMatch(/^forestall: remove c2-record-egressdeny/);
    expect(
      (
        await gitea.api(
          'GET',
          `/repos/${gitea.username}/${REPO}/contents/clusters/test/c2-record-egressdeny/kustomization.yaml?ref=main`,
        )
      ).status,
    ).toBe(404);
    expect(await networkSetsOf('c2-record-egressdeny')).toEqual([]);
  });

  it('GIVEN directRemoval THEN expiry commits the removal straight to main, and the action is Expired once Argo CD has pruned the objects', async () => {
    const name = 'c2-direct-egressdeny';
    await feed('direct-feed', topAddresses(16, 20));
    await policy('c2-direct', 'network:calico', '24h', {
      feed: 'direct-feed',
      directRemoval: true,
    });
    const objects = await mergeAndSync(name);
    expect(objects.map((o) => o.kind).sort()).toEqual(['GlobalNetworkPolicy', 'GlobalNetworkSet']);
    await eventually(
      'enforced',
      async () => (await getAction(name))?.status?.phase === 'Enforced',
      30_000,
    );

    await expireInASecond(name);
    const waiting = await eventually(
      'the removal committed',
      async () => {
        const a = await getAction(name);
        return (
          a?.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'RemovalCommitted' && a
        );
      },
      30_000,
    );
    // No review for the removal, and enforcement stays until the objects are gone.
    expect(waiting.status?.phase).toBe('Enforced');
    expect(waiting.status?.removalPullRequest).toBeUndefined();
    expect((await pulls('all')).filter((p) => p.head.ref === `forestall-removal/${name}`)).toEqual(
      [],
    );
    const main = (
      await gitea.api<{ commit: { id: string; message: string } }>(
        'GET',
        `/repos/${gitea.username}/${REPO}/branches/main`,
      )
    ).body.commit;
    expect(main.message).toMatch(new RegExp(`^forestall: remove ${name}`));
    expect(waiting.status?.recordedCommit).toBe(main.id);
    expect(
      (
        await gitea.api(
          'GET',
          `/repos/${gitea.username}/${REPO}/contents/clusters/test/${name}?ref=main`,
        )
      ).status,
    ).toBe(404);

    // Argo CD prunes what left the repository.
    const argo = new KubeClient(kc, undefined, 'argocd-controller');
    for (const o of objects) await argo.delete(o);
    const expired = await actionState(
      name,
      'expired',
      (a) => a.status?.phase === 'Expired',
      30_000,
    );
    expect(expired.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(
      /removal committed to main at [0-9a-f]{12}, and its objects have left the cluster/,
    );
  });

  it('GIVEN a Gitea webhook to the controller THEN a merge is seen at once, not at the next poll', async () => {
    // A controller that would not poll the pull request again for ten minutes: only the webhook can tell it.
    await mgr.stop();
    const secret = 'webhook-secret-for-tests';
    mgr = await startManager(kc, {
      namespace: NS,
      gitWorkRoot: workRoot,
      concurrency: 4,
      pullRequestPollMs: 600_000,
      gitWebhook: { bind: '127.0.0.1:0', secret },
    });
    const port = await eventually(
      'webhook listening',
      async () => mgr.controllers.webhook?.port || false,
    );
    const hook = await gitea.api('POST', `/repos/${gitea.username}/${REPO}/hooks`, {
      type: 'gitea',
      active: true,
      events: ['pull_request'],
      config: { url: `http://127.0.0.1:${port}/webhooks/git`, content_type: 'json', secret },
    });
    expect(hook.status, hook.text).toBe(201);
    await feed('webhook-feed', topAddresses(12, 16));
    await policy('c2-hooked', 'network:calico', '24h', { feed: 'webhook-feed' });
    const number = await eventually(
      'a pull request',
      async () => (await getAction('c2-hooked-egressdeny'))?.status?.pullRequest?.number,
      60_000,
    );
    await mergeable(gitea, REPO, number);
    const mergedAt = Date.now();
    expect(await merge(gitea, REPO, number)).toBe(200);
    try {
      await actionState(
        'c2-hooked-egressdeny',
        'the merge seen through the webhook',
        (a) => a.status?.pullRequest?.state === 'Merged',
        20_000,
      );
    } catch (err) {
      const requests = (await mgr.controllers.actionMetrics.gitWebhookRequests.get()).values
        .map((v) => `${v.labels['result']}=${v.value}`)
        .join(', ');
      throw new Error(`${(err as Error).message}; webhook requests: ${requests || 'none'}`);
    }
    const seenMs = Date.now() - mergedAt;
    console.log(
      `merge to status through the Gitea webhook: ${seenMs} ms (poll interval 600000 ms)`,
    );
    const requests = (await mgr.controllers.actionMetrics.gitWebhookRequests.get()).values;
    expect(requests.find((v) => v.labels['result'] === 'queued')?.value).toBeGreaterThan(0);
    expect(requests.find((v) => v.labels['result'] === 'unauthorized')).toBeUndefined();
  });
});
