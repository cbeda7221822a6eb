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
import { CONNECTOR_ROLES, LOGIN_CLIENT_ID, startKeycloak, type KeycloakServer } from '../harness/keycloak-server.js';
import { startScimServer, type ScimServer } from '../harness/scim-server.js';

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
const kcIds: Record<string, string> = {};

const getAction = (name: string) => client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');

async function phase(name: string, want: string, timeoutMs = 30_000): Promise<PreemptiveAction> {
  return eventually(`${name} ${want}`, async () => {
    const a = await getAction(name);
    return a?.status?.phase === want && a;
  }, timeoutMs);
}

/** A hand-written identity action, waiting for a person's approval. */
async function identityAction(name: string, connector: string, values: string[], params: Record<string, unknown>, expiresInMs: number): Promise<void> {
  const sorted = [...values].sort();
  await client.apply({
    apiVersion: 'forestall.io/v1alpha1', kind: 'PreemptiveAction', metadata: { name },
    spec: {
      type: 'IdentitySuspend', layer: 'identity', connector,
      indicators: { count: sorted.length, digest: valuesDigest(sorted), values: sorted },
      params, approval: { required: true, reason: 'identity actions need a person' }, expiresAt: inFuture(expiresInMs),
    },
  } as KubernetesObject);
}

async function patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await client.call('PATCH', `/apis/forestall.io/v1alpha1/preemptiveactions/${name}`, { body: { spec }, contentType: 'application/merge-patch+json' });
}

async function ledger(action: string): Promise<{ connector: string; entries: { op: string; subject: string }[] } | undefined> {
  const cm = await client.get<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', ledgerConfigMapName(action), NS);
  return cm?.data?.['ledger.json'] ? JSON.parse(cm.data['ledger.json']) : undefined;
}

const kcUser = async (login: string) => (await keycloak.api<{ enabled: boolean; notBefore?: number }>('GET', `/admin/realms/${REALM}/users/${kcIds[login]}`)).body;
const refresh = (token: string) => keycloak.token(REALM, { grant_type: 'refresh_token', client_id: LOGIN_CLIENT_ID, refresh_token: token });

beforeAll(async () => {
  const started = Date.now();
  [cp, keycloak, scim] = await Promise.all([ControlPlane.start(), startKeycloak(), startScimServer()]);
  console.log(`control plane, Keycloak ${keycloak.version} and scim2-server ${scim.version} ready after ${Date.now() - started} ms`);
  kc = cp.kubeConfig();
  client = new KubeClient(kc);
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as KubernetesObject);

  await keycloak.createRealm(REALM);
  for (const login of ['alice', 'bob', BREAK_GLASS]) kcIds[login] = await keycloak.createUser(REALM, { username: login, password: PASSWORD });
  kcIds['dormant'] = await keycloak.createUser(REALM, { username: 'dormant', enabled: false });
  const service = await keycloak.createClient(REALM, { clientId: 'forestall', realmManagementRoles: CONNECTOR_ROLES });
  await client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'keycloak-forestall', namespace: NS }, stringData: { 'client-id': service.clientId, 'client-secret': service.secret } } as KubernetesObject);
  await client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'scim-forestall', namespace: NS }, stringData: { token: scim.token } } as KubernetesObject);

  // The poll interval also paces the retry of a terminal failure (the missing-Secret test).
  mgr = await startManager(kc, { namespace: NS, identityNeverTouch: [BREAK_GLASS], pullRequestPollMs: 1000, gitWorkRoot: join(tmpdir(), 'forestall-identity-lifecycle-git') });
}, 180_000);

afterAll(async () => {
  await mgr?.stop();
  await Promise.all([keycloak?.stop(), scim?.stop(), cp?.stop()]);
});

describe('identity actions through their lifecycle', () => {
  it('GIVEN a Keycloak IdentitySuspend WHEN approved THEN the users are disabled and logged out, the break-glass account is untouched, and at expiry exactly they are re-enabled', async () => {
    const aliceRefresh = (await keycloak.login(REALM, 'alice', PASSWORD)).refresh_token!;
    const breakGlassRefresh = (await keycloak.login(REALM, BREAK_GLASS, PASSWORD)).refresh_token!;
    const params = { url: keycloak.url, realm: REALM, credentialsSecretRef: 'keycloak-forestall' };
    await identityAction('kc-suspend', 'identity:keycloak', ['alice', 'bob', 'dormant', BREAK_GLASS], params, 120_000);

    // Approval first: nothing is sent while the action waits for it.
    const proposed = await phase('kc-suspend', 'Proposed');
    expect(proposed.status?.conditions?.find((c) => c.type === 'Approved')).toMatchObject({ status: 'False', reason: 'AwaitingApproval' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await kcUser('alice')).toMatchObject({ enabled: true });
    expect(await ledger('kc-suspend')).toBeUndefined();

    // A person approves.
    await patchSpec('kc-suspend', { approval: { required: false, reason: 'approved by the on-call security engineer' } });
    const enforced = await phase('kc-suspend', 'Enforced');
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
    expect(record?.entries.map((e) => `${e.op}:${e.subject}`).sort()).toEqual(['suspend:alice', 'suspend:bob']);

    // Expiry reverses it: alice and bob enabled again; dormant stays disabled; the ledger goes.
    await patchSpec('kc-suspend', { expiresAt: inFuture(1000) });
    const expired = await phase('kc-suspend', 'Expired');
    expect(expired.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/2 identity changes reversed/);
    expect(await kcUser('alice')).toMatchObject({ enabled: true });
    expect(await kcUser('bob')).toMatchObject({ enabled: true });
    expect(await kcUser('dormant')).toMatchObject({ enabled: false });
    expect(await ledger('kc-suspend')).toBeUndefined();
    // The revoked session stays revoked; alice can sign in afresh.
    expect((await refresh(aliceRefresh)).status).toBe(400);
    expect((await keycloak.login(REALM, 'alice', PASSWORD)).access_token).toBeTruthy();
  });

  it('GIVEN a SCIM IdentitySuspend WHEN approved, then deleted THEN the user is inactive while it is enforced and active again after the deletion', async () => {
    const carol = await scim.createUser({ userName: 'carol', active: true });
    const guard = await scim.createUser({ userName: BREAK_GLASS, active: true });
    const guardVersion = guard.meta?.version;
    await identityAction('scim-suspend', 'identity:scim', ['carol', BREAK_GLASS], { url: scim.url, credentialsSecretRef: 'scim-forestall' }, 600_000);
    await phase('scim-suspend', 'Proposed');
    expect((await scim.getUser(carol.id))?.active).toBe(true);

    await patchSpec('scim-suspend', { approval: { required: false } });
    const enforced = await phase('scim-suspend', 'Enforced');
    expect((await scim.getUser(carol.id))?.active).toBe(false);
    // Never written: the same ETag as before.
    expect((await scim.getUser(guard.id))?.meta?.version).toBe(guardVersion);
    expect(enforced.status?.appliedObjects?.map((o) => `${o.kind}/${o.name}`)).toEqual(['User/carol']);

    // Deleting the action reverses it before the finalizer lets go.
    await client.delete({ apiVersion: 'forestall.io/v1alpha1', kind: 'PreemptiveAction', metadata: { name: 'scim-suspend' } });
    await eventually('the action gone', async () => (await getAction('scim-suspend')) === undefined);
    expect((await scim.getUser(carol.id))?.active).toBe(true);
    expect(await ledger('scim-suspend')).toBeUndefined();
    expect((await scim.getUser(guard.id))?.meta?.version).toBe(guardVersion);
  });

  it('GIVEN the credentials Secret missing THEN the condition names it, nothing changes, and once it exists the action is enforced without a restart', async () => {
    const dave = await scim.createUser({ userName: 'dave', active: true });
    await identityAction('scim-nosecret', 'identity:scim', ['dave'], { url: scim.url, credentialsSecretRef: 'scim-later' }, 600_000);
    await patchSpec('scim-nosecret', { approval: { required: false } });
    const failed = await eventually('the missing Secret named', async () => {
      const a = await getAction('scim-nosecret');
      const ready = a?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' && ready.message.includes('FST_IDENTITY_CREDENTIALS') && ready.message;
    });
    expect(failed).toContain(`${NS}/scim-later`);
    expect((await scim.getUser(dave.id))?.active).toBe(true);

    await client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'scim-later', namespace: NS }, stringData: { token: scim.token } } as KubernetesObject);
    await phase('scim-nosecret', 'Enforced', 20_000);
    expect((await scim.getUser(dave.id))?.active).toBe(false);
    await client.delete({ apiVersion: 'forestall.io/v1alpha1', kind: 'PreemptiveAction', metadata: { name: 'scim-nosecret' } });
    await eventually('dave re-enabled', async () => (await scim.getUser(dave.id))?.active === true);
  });
});
