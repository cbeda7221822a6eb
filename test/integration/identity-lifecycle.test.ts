import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreemptiveAction } from '../../crds/index.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { ledgerConfigMapName } from '../../controller/connectors/identity-access.js';
import { valuesDigest } from '../../policies/index.js';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { startManager } from '../harness/in-process-manager.js';
import {
  CONNECTOR_ROLES,
  LOGIN_CLIENT_ID,
  startKeycloak,
  type KeycloakServer,
} from '../harness/keycloak-server.js';
import { startGitea, type GiteaServer } from '../harness/gitea-server.js';
import { startScimServer, type ScimServer } from '../harness/scim-server.js';
import { credentialSecret, hostOf } from '../harness/credential-secret.js';
import { merge, mergeable } from '../harness/pull-requests.js';
import { exposurePolicy } from '../harness/objects.js';

// Identity actions through the whole lifecycle, with the real controller on the real API
// server and the real identity providers (Keycloak from Maven Central, scim2-server from
// PyPI): an IdentitySuspend waits for approval and changes nothing; approved, it disables
// the users and revokes their sessions, recording each change in the ledger ConfigMap;
// at expiry, and on deletion, it re-enables exactly the users it disabled. A break-glass
// account named by --identity-never-touch is never written, and a user someone else had
// already disabled stays disabled. Every claim is read back from the provider.
const NS = 'forestall-system';
const REALM = 'corp';
const PASSWORD = 'Passw0rd-corp';
const BREAK_GLASS = 'breakglass-admin';

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let mgr: Awaited<ReturnType<typeof startManager>>;
let keycloak: KeycloakServer;
let scim: ScimServer;
let gitea: GiteaServer;
const REPO = 'identity-policy';
const kcIds: Record<string, string> = {};

const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');

async function phase(name: string, want: string, timeoutMs = 30_000): Promise<PreemptiveAction> {
  return eventually(
    `${name} ${want}`,
    async () => {
      const a = await getAction(name);
      return a?.status?.phase === want && a;
    },
    timeoutMs,
  );
}

/** A hand-written identity action, waiting for a person's approval. */
async function identityAction(
  name: string,
  connector: string,
  values: string[],
  params: Record<string, unknown>,
  expiresInMs: number,
): Promise<void> {
  const sorted = [...values].sort();
  await client.apply({
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name },
    spec: {
      type: 'IdentitySuspend',
      layer: 'identity',
      connector,
      indicators: { count: sorted.length, digest: valuesDigest(sorted), values: sorted },
      params,
      approval: { required: true, reason: 'identity actions need a person' },
      expiresAt: inFuture(expiresInMs),
    },
  } as KubernetesObject);
}

async function patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await client.call('PATCH', `/apis/forestall.io/v1alpha1/preemptiveactions/${name}`, {
    body: { spec },
    contentType: 'application/merge-patch+json',
  });
}

async function ledger(
  action: string,
): Promise<{ connector: string; entries: { op: string; subject: string }[] } | undefined> {
  const cm = await client.get<KubernetesObject & { data?: Record<string, string> }>(
    'v1',
    'ConfigMap',
    ledgerConfigMapName(action),
    NS,
  );
  return cm?.data?.['ledger.json'] ? JSON.parse(cm.data['ledger.json']) : undefined;
}

const kcUser = async (login: string) =>
  (
    await keycloak.api<{ enabled: boolean; notBefore?: number }>(
      'GET',
      `/admin/realms/${REALM}/users/${kcIds[login]}`,
    )
  ).body;
const refresh = (token: string) =>
  keycloak.token(REALM, {
    grant_type: 'refresh_token',
    client_id: LOGIN_CLIENT_ID,
    refresh_token: token,
  });

beforeAll(async () => {
  const started = Date.now();
  [cp, keycloak, scim, gitea] = await Promise.all([
    ControlPlane.start(),
    startKeycloak(),
    startScimServer(),
    startGitea(),
  ]);
  console.log(
    `control plane, Keycloak ${keycloak.version}, scim2-server ${scim.version} and Gitea ready after ${Date.now() - started} ms`,
  );
  await gitea.createRepo(REPO, { autoInit: true, defaultBranch: 'main' });
  kc = cp.kubeConfig();
  client = new KubeClient(kc);
  await client.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  } as KubernetesObject);

  await keycloak.createRealm(REALM);
  for (const login of ['alice', 'bob', BREAK_GLASS])
    kcIds[login] = await keycloak.createUser(REALM, { username: login, password: PASSWORD });
  kcIds['dormant'] = await keycloak.createUser(REALM, { username: 'dormant', enabled: false });
  const service = await keycloak.createClient(REALM, {
    clientId: 'forestall',
    realmManagementRoles: CONNECTOR_ROLES,
  });
  await client.apply(
    credentialSecret(
      'keycloak-forestall',
      NS,
      { 'client-id': service.clientId, 'client-secret': service.secret ?? '' },
      [hostOf(keycloak.url)],
    ),
  );
  await client.apply(
    credentialSecret('scim-forestall', NS, { token: scim.token }, [hostOf(scim.url)]),
  );
  await client.apply(
    credentialSecret('forestall-git', NS, { token: gitea.token, username: gitea.username }, [
      hostOf(gitea.url),
    ]),
  );

  // The poll interval also paces the retry of a terminal failure (the missing-Secret test).
  mgr = await startManager(kc, {
    namespace: NS,
    identityNeverTouch: [BREAK_GLASS],
    pullRequestPollMs: 1000,
    gitWorkRoot: join(tmpdir(), 'forestall-identity-lifecycle-git'),
  });
}, 180_000);

afterAll(async () => {
  await mgr?.stop();
  await Promise.all([keycloak?.stop(), scim?.stop(), gitea?.stop(), cp?.stop()]);
});

describe('identity actions through their lifecycle', () => {
  it('GIVEN a Keycloak IdentitySuspend WHEN approved THEN the users are disabled and logged out, the break-glass account is untouched, and at expiry exactly they are re-enabled', async () => {
    const aliceRefresh = (await keycloak.login(REALM, 'alice', PASSWORD)).refresh_token!;
    const breakGlassRefresh = (await keycloak.login(REALM, BREAK_GLASS, PASSWORD)).refresh_token!;
    const params = { url: keycloak.url, realm: REALM, credentialsSecretRef: 'keycloak-forestall' };
    await identityAction(
      'kc-suspend',
      'identity:keycloak',
      ['alice', 'bob', 'dormant', BREAK_GLASS],
      params,
      120_000,
    );

    // Approval first: nothing is sent while the action waits for it.
    const proposed = await phase('kc-suspend', 'Proposed');
    expect(proposed.status?.conditions?.find((c) => c.type === 'Approved')).toMatchObject({
      status: 'False',
      reason: 'AwaitingApproval',
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await kcUser('alice')).toMatchObject({ enabled: true });
    expect(await ledger('kc-suspend')).toBeUndefined();

    // A person approves.
    const approvedAt = Date.now();
    await patchSpec('kc-suspend', {
      approval: { required: false, reason: 'approved by the on-call security engineer' },
    });
    const enforced = await phase('kc-suspend', 'Enforced');
    console.log(
      `Keycloak: approval to Enforced (2 users disabled and logged out) in ${Date.now() - approvedAt} ms`,
    );
    expect(await kcUser('alice')).toMatchObject({ enabled: false });
    expect(await kcUser('bob')).toMatchObject({ enabled: false });
    expect((await refresh(aliceRefresh)).status).toBe(400);
    // Never touched: still enabled, never logged out (notBefore unset), its session still refreshes.
    expect(await kcUser(BREAK_GLASS)).toMatchObject({ enabled: true });
    expect((await kcUser(BREAK_GLASS)).notBefore ?? 0).toBe(0);
    expect((await refresh(breakGlassRefresh)).status).toBe(200);
    const ready = enforced.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.message).toContain(BREAK_GLASS);
    expect(ready?.message).toContain('dormant');
    // The ledger holds exactly what Forestall changed: not the break-glass account, not the user already disabled.
    const record = await ledger('kc-suspend');
    expect(record?.connector).toBe('identity:keycloak');
    expect(record?.entries.map((e) => `${e.op}:${e.subject}`).sort()).toEqual([
      'suspend:alice',
      'suspend:bob',
    ]);

    // Expiry reverses it: alice and bob enabled again; dormant stays disabled; the ledger goes.
    const expiry = inFuture(1000);
    await patchSpec('kc-suspend', { expiresAt: expiry });
    const expired = await phase('kc-suspend', 'Expired');
    console.log(
      `Keycloak: expiresAt to Expired (2 users re-enabled) in ${Date.now() - Date.parse(expiry)} ms`,
    );
    expect(expired.status?.appliedObjects).toEqual([]);
    expect(await kcUser('alice')).toMatchObject({ enabled: true });
    expect(await kcUser('bob')).toMatchObject({ enabled: true });
    expect(await kcUser('dormant')).toMatchObject({ enabled: false });
    expect(await ledger('kc-suspend')).toBeUndefined();
    // Two suspensions and two reversals, each an update of a User.
    const counted = (await mgr.controllers.actionMetrics.identityChanges.get()).values.find(
      (v) =>
        v.labels.connector === 'identity:keycloak' &&
        v.labels.kind === 'User' &&
        v.labels.op === 'update',
    );
    expect(counted?.value).toBe(4);
    // The revoked session stays revoked; alice can sign in afresh.
    expect((await refresh(aliceRefresh)).status).toBe(400);
    expect((await keycloak.login(REALM, 'alice', PASSWORD)).access_token).toBeTruthy();
  });

  it('GIVEN a SCIM IdentitySuspend WHEN approved, then deleted THEN the user is inactive while it is enforced and active again after the deletion', async () => {
    const carol = await scim.createUser({ userName: 'carol', active: true });
    const guard = await scim.createUser({ userName: BREAK_GLASS, active: true });
    const guardVersion = guard.meta?.version;
    await identityAction(
      'scim-suspend',
      'identity:scim',
      ['carol', BREAK_GLASS],
      { url: scim.url, credentialsSecretRef: 'scim-forestall' },
      600_000,
    );
    await phase('scim-suspend', 'Proposed');
    expect((await scim.getUser(carol.id))?.active).toBe(true);

    await patchSpec('scim-suspend', { approval: { required: false } });
    const enforced = await phase('scim-suspend', 'Enforced');
    expect((await scim.getUser(carol.id))?.active).toBe(false);
    // Never written: the same ETag as before.
    expect((await scim.getUser(guard.id))?.meta?.version).toBe(guardVersion);
    expect(enforced.status?.appliedObjects?.map((o) => `${o.kind}/${o.name}`)).toEqual([
      'User/carol',
    ]);

    // Deleting the action reverses it before the finalizer lets go.
    await client.delete({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'PreemptiveAction',
      metadata: { name: 'scim-suspend' },
    });
    await eventually(
      'the action gone',
      async () => (await getAction('scim-suspend')) === undefined,
    );
    expect((await scim.getUser(carol.id))?.active).toBe(true);
    expect(await ledger('scim-suspend')).toBeUndefined();
    expect((await scim.getUser(guard.id))?.meta?.version).toBe(guardVersion);
  });

  it('GIVEN the credentials Secret missing THEN the condition names it, nothing changes, and once it exists the action is enforced without a restart', async () => {
    const dave = await scim.createUser({ userName: 'dave', active: true });
    await identityAction(
      'scim-nosecret',
      'identity:scim',
      ['dave'],
      { url: scim.url, credentialsSecretRef: 'scim-later' },
      600_000,
    );
    await patchSpec('scim-nosecret', { approval: { required: false } });
    const failed = await eventually('the missing Secret named', async () => {
      const a = await getAction('scim-nosecret');
      const ready = a?.status?.conditions?.find((c) => c.type === 'Ready');
      return (
        ready?.status === 'False' &&
        ready.message.includes('FST_IDENTITY_CREDENTIALS') &&
        ready.message
      );
    });
    expect(failed).toContain(`${NS}/scim-later`);
    expect((await scim.getUser(dave.id))?.active).toBe(true);

    await client.apply(
      credentialSecret('scim-later', NS, { token: scim.token }, [hostOf(scim.url)]),
    );
    await phase('scim-nosecret', 'Enforced', 20_000);
    expect((await scim.getUser(dave.id))?.active).toBe(false);
    await client.delete({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'PreemptiveAction',
      metadata: { name: 'scim-nosecret' },
    });
    await eventually('dave re-enabled', async () => (await scim.getUser(dave.id))?.active === true);
  });

  it('GIVEN a feed naming accounts and a policy with spec.git THEN the pull request describes the exact requests, merging it suspends the user, and expiry re-enables it and removes the description from Git', async () => {
    const erin = await scim.createUser({ userName: 'erin@corp.example', active: true });
    const guard =
      (await scim.findUserByUserName(BREAK_GLASS)) ??
      (await scim.createUser({ userName: BREAK_GLASS, active: true }));
    // A csv feed that states each value's type: accounts only come from a stated type.
    await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'phished', namespace: NS },
      data: {
        'accounts.csv': `indicator,type,score\nErin@Corp.example,email,90\n${BREAK_GLASS},username,95\n203.0.113.50,ip,80\n`,
      },
    } as KubernetesObject);
    await client.apply({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ThreatFeed',
      metadata: { name: 'phished' },
      spec: {
        format: 'csv',
        source: { configMapRef: { name: 'phished', namespace: NS, key: 'accounts.csv' } },
        parser: { header: true, valueColumn: 0, typeColumn: 1, scoreColumn: 2 },
        refreshInterval: '1h',
      },
    } as KubernetesObject);
    await client.apply(
      exposurePolicy('phished', {
        feeds: { names: ['phished'] },
        match: "indicator.type == 'account'",
        mode: 'Enforce',
        expiry: '1h',
        // A threshold for network blocks: it must not approve a suspension.
        autoApprove: 'action.confidence >= 50',
        actions: [
          {
            type: 'IdentitySuspend',
            connector: 'identity:scim',
            params: { url: scim.url, credentialsSecretRef: 'scim-forestall' },
          },
        ],
        git: {
          url: `${gitea.url}/${gitea.username}/${REPO}.git`,
          branch: 'main',
          path: 'identity',
          credentialsSecretRef: { name: 'forestall-git' },
          forge: { type: 'Gitea', apiUrl: gitea.apiUrl },
        },
      }),
    );
    const name = 'phished-identitysuspend';
    const proposed = await eventually(
      'a pull request',
      async () => {
        const a = await getAction(name);
        return a?.status?.pullRequest?.number !== undefined && a;
      },
      60_000,
    );
    expect(proposed.spec.indicators.values).toEqual([BREAK_GLASS, 'erin@corp.example']);
    expect(proposed.status?.phase).toBe('Proposed');
    expect(proposed.spec.approval?.reason).toMatch(/identity actions need approval/);
    expect((await scim.getUser(erin.id))?.active).toBe(true);

    // The branch holds the description: the exact PATCH for erin, nothing for the break-glass account.
    const dir = (
      await gitea.api<{ name: string; path: string }[]>(
        'GET',
        `/repos/${gitea.username}/${REPO}/contents/identity/${name}?ref=forestall/${name}`,
      )
    ).body;
    const file = dir.find((f) => f.name.startsWith('configmap'));
    expect(file, JSON.stringify(dir.map((f) => f.name))).toBeDefined();
    const text = Buffer.from(
      (
        await gitea.api<{ content: string }>(
          'GET',
          `/repos/${gitea.username}/${REPO}/contents/${file!.path}?ref=forestall/${name}`,
        )
      ).body.content,
      'base64',
    ).toString('utf8');
    expect(text).toContain(`/Users/${erin.id}`);
    expect(text).toContain('PATCH');
    expect(text).not.toContain(`/Users/${guard.id}`);

    // Reviewers merge; nothing syncs the identity provider from Git, so the controller applies it.
    const number = proposed.status!.pullRequest!.number!;
    await mergeable(gitea, REPO, number);
    expect(await merge(gitea, REPO, number)).toBe(200);
    const mergedAt = Date.now();
    const enforced = await phase(name, 'Enforced', 30_000);
    console.log(
      `SCIM via Git: merge to Enforced in ${Date.now() - mergedAt} ms (pull requests polled every 1 s)`,
    );
    expect(enforced.status?.conditions?.find((c) => c.type === 'Approved')).toMatchObject({
      status: 'True',
      reason: 'Merged',
    });
    expect((await scim.getUser(erin.id))?.active).toBe(false);
    expect((await scim.getUser(guard.id))?.meta?.version).toBe(guard.meta?.version);

    // Expiry: the controller reverses it and removes the description from the base branch.
    await patchSpec(name, { expiresAt: inFuture(1000) });
    const expired = await phase(name, 'Expired', 30_000);
    expect(
      expired.status?.conditions?.find((c) => c.type === 'Recorded'),
      JSON.stringify(expired.status?.conditions),
    ).toMatchObject({ status: 'True', message: expect.stringMatching(/^removal recorded/) });
    expect((await scim.getUser(erin.id))?.active).toBe(true);
    expect(await ledger(name)).toBeUndefined();
    expect(
      (
        await gitea.api(
          'GET',
          `/repos/${gitea.username}/${REPO}/contents/identity/${name}?ref=main`,
        )
      ).status,
    ).toBe(404);
    // The new expiry was proposed as an update in a second pull request; expiring closed it.
    const open = (
      await gitea.api<{ head: { ref: string } }[]>(
        'GET',
        `/repos/${gitea.username}/${REPO}/pulls?state=open&limit=50`,
      )
    ).body;
    expect(open.filter((p) => p.head.ref === `forestall/${name}`)).toEqual([]);
  });
});
