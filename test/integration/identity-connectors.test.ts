import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IdentityConnector,
  keycloakProvider,
  scimProvider,
  type IdentityAccess,
  type IdentityLedger,
  type LedgerRecord,
} from '../../connectors/identity/index.js';
import { ConnectorError } from '../../connectors/index.js';
import {
  CONNECTOR_ROLES,
  LOGIN_CLIENT_ID,
  startKeycloak,
  type ClientCredentials,
  type KeycloakServer,
} from '../harness/keycloak-server.js';
import { loopbackFetch } from '../harness/outbound.js';
import {
  SCIM_PATCH_OP_SCHEMA,
  startScimServer,
  type ScimServer,
  type ScimUser,
} from '../harness/scim-server.js';
import type { ActionRequest, ActionType } from '../../crds/index.js';
import { rejectionOf } from '../harness/rejection.js';

// The SCIM and Keycloak identity connectors against the real servers: scim2-server from
// PyPI and Keycloak from Maven Central, each on loopback (test/harness). The connector
// runs as the controller will run it, minus Kubernetes: the Secret comes from an
// IdentityAccess whose secret() returns the credentials, the ledger is kept in memory.
// Every claim is read back from the server, not from the connector's own answer.

const NEVER_TOUCH = 'breakglass-admin';

class MemoryLedger implements IdentityLedger {
  readonly records = new Map<string, LedgerRecord>();
  writes = 0;
  async read(action: string): Promise<LedgerRecord | undefined> {
    const record = this.records.get(action);
    return record === undefined ? undefined : structuredClone(record);
  }
  async write(action: string, record: LedgerRecord): Promise<void> {
    this.writes++;
    this.records.set(action, structuredClone(record));
  }
  async delete(action: string): Promise<void> {
    this.writes++;
    this.records.delete(action);
  }
}

/** An IdentityAccess whose one Secret is `secret`; the controller flag's never-touch list holds NEVER_TOUCH. */
function access(
  secretName: string,
  secret: Record<string, string>,
  ledger: IdentityLedger,
): IdentityAccess {
  return {
    ledger,
    neverTouch: [NEVER_TOUCH],
    // The servers listen on loopback: the outbound client refuses it unless allowed.
    fetch: loopbackFetch,
    async secret(ref) {
      if (ref.name !== secretName) throw new Error(`Secret ${ref.name} not found`);
      return { ...secret };
    },
  };
}

function request(
  name: string,
  type: ActionType,
  values: string[],
  params: Record<string, unknown>,
): ActionRequest {
  return { name, type, values, scope: { namespaces: [] }, params };
}

const connectorError = (promise: Promise<unknown>) => rejectionOf(promise, ConnectorError);

let scim: ScimServer;
let kc: KeycloakServer;

beforeAll(async () => {
  const started = Date.now();
  [scim, kc] = await Promise.all([startScimServer(), startKeycloak()]);
  console.log(
    `scim2-server ${scim.version} and Keycloak ${kc.version} ready after ${Date.now() - started} ms`,
  );
});

afterAll(async () => {
  await Promise.all([scim?.stop(), kc?.stop()]);
});

describe('identity:scim against scim2-server', () => {
  const ledger = new MemoryLedger();
  let connector: IdentityConnector;
  let params: Record<string, unknown>;
  const users: Record<string, ScimUser> = {};
  const read = async (login: string): Promise<ScimUser> => (await scim.getUser(users[login]!.id))!;
  const patchActive = (active: boolean) => ({
    schemas: [SCIM_PATCH_OP_SCHEMA],
    Operations: [{ op: 'replace', path: 'active', value: active }],
  });

  beforeAll(async () => {
    for (const login of [
      'alice@forestall.test',
      'bob@forestall.test',
      NEVER_TOUCH,
      'carol@forestall.test',
    ]) {
      users[login] = await scim.createUser({ userName: login, active: true });
    }
    users['dormant@forestall.test'] = await scim.createUser({
      userName: 'dormant@forestall.test',
      active: false,
    });
    connector = new IdentityConnector(
      scimProvider,
      access('scim-creds', { token: scim.token }, ledger),
    );
    params = { credentialsSecretRef: 'scim-creds', url: scim.url };
  });

  const suspend = (values: string[]) => request('suspend-scim', 'IdentitySuspend', values, params);
  const targets = [
    'alice@forestall.test',
    'bob@forestall.test',
    NEVER_TOUCH,
    'dormant@forestall.test',
    'ghost@forestall.test',
  ];

  it('GIVEN active users WHEN dry-run THEN the exact PATCH requests are shown and nothing changes at the server', async () => {
    const versions = await Promise.all(
      Object.keys(users).map(async (login) => (await read(login)).meta.version),
    );
    const dry = await connector.apply(suspend(targets), { dryRun: true });
    expect(dry.changes).toEqual(
      ['alice@forestall.test', 'bob@forestall.test'].map((login) => ({
        op: 'update',
        ref: { apiVersion: 'identity.forestall.io/scim', kind: 'User', name: login },
        requests: [
          { method: 'PATCH', path: `/Users/${users[login]!.id}`, body: patchActive(false) },
        ],
      })),
    );
    expect(await connector.plan(suspend(targets))).toEqual(dry.changes);
    // Every write bumps the server-wide ETag counter: unchanged versions mean no write.
    expect(
      await Promise.all(Object.keys(users).map(async (login) => (await read(login)).meta.version)),
    ).toEqual(versions);
    expect(ledger.writes).toBe(0);
  });

  it('GIVEN the same request WHEN applied THEN the active users are inactive at the server, the never-touch account is untouched, and a second apply changes nothing', async () => {
    const breakGlassVersion = (await read(NEVER_TOUCH)).meta.version;
    const outcome = await connector.apply(suspend(targets));
    expect(outcome.changes.map((c) => c.ref.name)).toEqual([
      'alice@forestall.test',
      'bob@forestall.test',
    ]);
    expect(outcome.objects.map((o) => o.name)).toEqual([
      'alice@forestall.test',
      'bob@forestall.test',
    ]);
    expect(outcome.skipped).toEqual([
      `${NEVER_TOUCH} is on the never-touch list; not touched`,
      'user dormant@forestall.test is already suspended; not ours to re-enable',
      'user ghost@forestall.test not found at scim',
    ]);
    expect((await read('alice@forestall.test')).active).toBe(false);
    expect((await read('bob@forestall.test')).active).toBe(false);
    expect(await read(NEVER_TOUCH)).toMatchObject({
      active: true,
      meta: { version: breakGlassVersion },
    });
    expect(ledger.records.get('suspend-scim')?.entries.map((e) => [e.op, e.subject, e.id])).toEqual(
      [
        ['suspend', 'alice@forestall.test', users['alice@forestall.test']!.id],
        ['suspend', 'bob@forestall.test', users['bob@forestall.test']!.id],
      ],
    );
    expect(ledger.records.get('suspend-scim')?.endpoint).toEqual({
      credentialsSecretRef: 'scim-creds',
      url: scim.url,
    });

    const versions = await Promise.all(
      Object.keys(users).map(async (login) => (await read(login)).meta.version),
    );
    const again = await connector.apply(suspend(targets));
    expect(again.changes).toEqual([]);
    expect(again.objects.map((o) => o.name)).toEqual([
      'alice@forestall.test',
      'bob@forestall.test',
    ]);
    expect(await connector.plan(suspend(targets))).toEqual([]);
    expect(
      await Promise.all(Object.keys(users).map(async (login) => (await read(login)).meta.version)),
    ).toEqual(versions);
  });

  it('GIVEN a suspended user someone re-enabled WHEN applied again THEN it is suspended again', async () => {
    const alice = users['alice@forestall.test']!;
    expect((await scim.request('PATCH', `/Users/${alice.id}`, patchActive(true))).status).toBe(204);
    expect((await connector.plan(suspend(targets))).map((c) => c.ref.name)).toEqual([
      'alice@forestall.test',
    ]);
    await connector.apply(suspend(targets));
    expect((await read('alice@forestall.test')).active).toBe(false);
  });

  it('WHEN removed THEN exactly the users Forestall suspended are active again; the one disabled before stays disabled', async () => {
    const outcome = await connector.remove('suspend-scim');
    expect(outcome.changes).toEqual(
      ['bob@forestall.test', 'alice@forestall.test'].map((login) => ({
        op: 'update',
        ref: { apiVersion: 'identity.forestall.io/scim', kind: 'User', name: login },
        requests: [
          { method: 'PATCH', path: `/Users/${users[login]!.id}`, body: patchActive(true) },
        ],
      })),
    );
    expect((await read('alice@forestall.test')).active).toBe(true);
    expect((await read('bob@forestall.test')).active).toBe(true);
    expect((await read('dormant@forestall.test')).active).toBe(false);
    expect((await read(NEVER_TOUCH)).active).toBe(true);
    expect(ledger.records.has('suspend-scim')).toBe(false);
    expect((await connector.remove('suspend-scim')).changes).toEqual([]);
  });

  it('GIVEN StepUpAuth THEN users missing from the group are added with a PatchOp, and remove() takes out only those', async () => {
    const carol = users['carol@forestall.test']!;
    const bob = users['bob@forestall.test']!;
    const group = await scim.createGroup('forestall-step-up-mfa', [bob.id]);
    const stepUp = request(
      'stepup-scim',
      'StepUpAuth',
      ['carol@forestall.test', 'bob@forestall.test', NEVER_TOUCH],
      { ...params, group: 'forestall-step-up-mfa' },
    );

    const planned = await connector.plan(stepUp);
    expect(planned).toEqual([
      {
        op: 'create',
        ref: {
          apiVersion: 'identity.forestall.io/scim',
          kind: 'GroupMember',
          name: 'forestall-step-up-mfa/carol@forestall.test',
        },
        requests: [
          {
            method: 'PATCH',
            path: `/Groups/${group.id}`,
            body: {
              schemas: [SCIM_PATCH_OP_SCHEMA],
              Operations: [{ op: 'add', path: 'members', value: [{ value: carol.id }] }],
            },
          },
        ],
      },
    ]);
    const outcome = await connector.apply(stepUp);
    expect(outcome.skipped).toEqual([
      'user bob@forestall.test is already a member of forestall-step-up-mfa; not ours to remove',
      `${NEVER_TOUCH} is on the never-touch list; not touched`,
    ]);
    expect((await scim.getGroup(group.id))?.members?.map((m) => m.value).sort()).toEqual(
      [bob.id, carol.id].sort(),
    );
    expect(await connector.plan(stepUp)).toEqual([]);

    const removed = await connector.remove('stepup-scim');
    expect(removed.changes[0]?.requests).toEqual([
      {
        method: 'PATCH',
        path: `/Groups/${group.id}`,
        body: {
          schemas: [SCIM_PATCH_OP_SCHEMA],
          Operations: [{ op: 'remove', path: `members[value eq "${carol.id}"]` }],
        },
      },
    ]);
    expect((await scim.getGroup(group.id))?.members?.map((m) => m.value)).toEqual([bob.id]);
  });

  it('GIVEN more users than maxUsers THEN validation fails and nothing is read or written', async () => {
    const many = Array.from({ length: 4 }, (_, i) => `user${i}@forestall.test`);
    const capped = request('capped-scim', 'IdentitySuspend', many, { ...params, maxUsers: 3 });
    expect(connector.validate(capped)).toEqual([
      'values name 4 users, more than params.maxUsers (3); an identity action this large needs review',
    ]);
    expect((await connectorError(connector.apply(capped))).code).toBe(
      'FST_CONNECTOR_INVALID_REQUEST',
    );
    expect(ledger.records.has('capped-scim')).toBe(false);
  });

  it('GIVEN a wrong token THEN FST_IDENTITY_AUTH, and the token is not in the message', async () => {
    const wrongToken = `wrong-${scim.token.slice(6)}`;
    const wrong = new IdentityConnector(
      scimProvider,
      access('scim-creds', { token: wrongToken }, new MemoryLedger()),
    );
    const err = await connectorError(wrong.plan(suspend(['alice@forestall.test'])));
    expect(err.code).toBe('FST_IDENTITY_AUTH');
    expect(err.message).toMatch(/GET \/Users answered HTTP 401/);
    expect(err.message).not.toContain(wrongToken);
    expect(err.message).not.toContain(scim.token);
  });
});

describe('identity:keycloak against Keycloak', () => {
  const REALM = 'forestall';
  const PASSWORD = 'Passw0rd-forestall';
  const ledger = new MemoryLedger();
  let client: ClientCredentials;
  let connector: IdentityConnector;
  let params: Record<string, unknown>;
  const ids: Record<string, string> = {};

  interface KcUser {
    id: string;
    username: string;
    enabled: boolean;
    notBefore?: number;
  }
  const users = (rest = ''): string => `/admin/realms/${REALM}/users${rest}`;
  const read = async (login: string): Promise<KcUser> =>
    (await kc.api<KcUser>('GET', users(`/${ids[login]}`))).body;
  const sessions = async (login: string): Promise<unknown[]> =>
    (await kc.api<unknown[]>('GET', users(`/${ids[login]}/sessions`))).body;
  const refresh = (refreshToken: string) =>
    kc.token(REALM, {
      grant_type: 'refresh_token',
      client_id: LOGIN_CLIENT_ID,
      refresh_token: refreshToken,
    });
  const suspend = (values: string[]) => request('suspend-kc', 'IdentitySuspend', values, params);
  const targets = ['alice', 'bob', NEVER_TOUCH, 'dormant', 'ghost'];
  /** A refresh token from alice's real login, made before the action. */
  let aliceRefresh: string;

  beforeAll(async () => {
    await kc.createRealm(REALM);
    for (const login of ['alice', 'bob', NEVER_TOUCH, 'carol'])
      ids[login] = await kc.createUser(REALM, { username: login, password: PASSWORD });
    ids['dormant'] = await kc.createUser(REALM, { username: 'dormant', enabled: false });
    client = await kc.createClient(REALM, {
      clientId: 'forestall-connector',
      realmManagementRoles: CONNECTOR_ROLES,
    });
    connector = new IdentityConnector(
      keycloakProvider,
      access(
        'keycloak-creds',
        { 'client-id': client.clientId, 'client-secret': client.secret! },
        ledger,
      ),
    );
    params = { credentialsSecretRef: 'keycloak-creds', url: kc.url, realm: REALM };
    aliceRefresh = (await kc.login(REALM, 'alice', PASSWORD)).refresh_token!;
    await kc.login(REALM, NEVER_TOUCH, PASSWORD);
  });

  it('GIVEN enabled users with sessions WHEN dry-run THEN the exact PUT and logout requests are shown and nothing changes', async () => {
    const dry = await connector.apply(suspend(targets), { dryRun: true });
    expect(dry.changes).toEqual(
      ['alice', 'bob'].map((login) => ({
        op: 'update',
        ref: { apiVersion: 'identity.forestall.io/keycloak', kind: 'User', name: login },
        requests: [
          { method: 'PUT', path: `/users/${ids[login]}`, body: { enabled: false } },
          { method: 'POST', path: `/users/${ids[login]}/logout` },
        ],
      })),
    );
    expect(await connector.plan(suspend(targets))).toEqual(dry.changes);
    expect(await read('alice')).toMatchObject({ enabled: true, notBefore: 0 });
    expect(await sessions('alice')).toHaveLength(1);
    expect(ledger.writes).toBe(0);
  });

  it('GIVEN the same request WHEN applied THEN the users are disabled, their refresh tokens stop working, the never-touch account keeps its session, and a second apply changes nothing', async () => {
    const outcome = await connector.apply(suspend(targets));
    expect(outcome.changes.map((c) => c.ref.name)).toEqual(['alice', 'bob']);
    expect(outcome.skipped).toEqual([
      `${NEVER_TOUCH} is on the never-touch list; not touched`,
      'user dormant is already suspended; not ours to re-enable',
      'user ghost not found at keycloak',
    ]);
    expect(await read('alice')).toMatchObject({ enabled: false });
    expect((await read('alice')).notBefore).toBeGreaterThan(0);
    expect(await read('bob')).toMatchObject({ enabled: false });
    expect(await sessions('alice')).toEqual([]);
    const refused = await refresh(aliceRefresh);
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_grant' });
    // Never written: still enabled, never logged out (notBefore untouched), session alive.
    expect(await read(NEVER_TOUCH)).toMatchObject({ enabled: true, notBefore: 0 });
    expect(await sessions(NEVER_TOUCH)).toHaveLength(1);

    const again = await connector.apply(suspend(targets));
    expect(again.changes).toEqual([]);
    expect(await connector.plan(suspend(targets))).toEqual([]);
  });

  it('WHEN removed THEN exactly the users Forestall disabled are enabled again, and the revoked sessions stay revoked', async () => {
    const outcome = await connector.remove('suspend-kc');
    expect(outcome.changes.map((c) => [c.ref.name, c.requests])).toEqual([
      ['bob', [{ method: 'PUT', path: `/users/${ids['bob']}`, body: { enabled: true } }]],
      ['alice', [{ method: 'PUT', path: `/users/${ids['alice']}`, body: { enabled: true } }]],
    ]);
    expect(await read('alice')).toMatchObject({ enabled: true });
    expect(await read('bob')).toMatchObject({ enabled: true });
    expect(await read('dormant')).toMatchObject({ enabled: false });
    expect(ledger.records.has('suspend-kc')).toBe(false);
    expect((await refresh(aliceRefresh)).status).toBe(400);
    expect((await kc.login(REALM, 'alice', PASSWORD)).access_token).toBeTruthy();
  });

  it('GIVEN StepUpAuth THEN users missing from the group are added, members already there are left, and remove() takes out only those added', async () => {
    const created = await kc.api('POST', `/admin/realms/${REALM}/groups`, { name: 'mfa-required' });
    expect(created.status, created.text).toBe(201);
    // A second group whose name contains the first: the exact search must not confuse them.
    expect(
      (await kc.api('POST', `/admin/realms/${REALM}/groups`, { name: 'mfa-required-legacy' }))
        .status,
    ).toBe(201);
    const groupId = created.location!.split('/').at(-1)!;
    expect((await kc.api('PUT', users(`/${ids['bob']}/groups/${groupId}`))).status).toBe(204);
    const memberIds = async (): Promise<string[]> =>
      (
        await kc.api<{ id: string }[]>('GET', `/admin/realms/${REALM}/groups/${groupId}/members`)
      ).body
        .map((u) => u.id)
        .sort();

    const stepUp = request('stepup-kc', 'StepUpAuth', ['carol', 'bob'], {
      ...params,
      group: 'mfa-required',
    });
    const planned = await connector.plan(stepUp);
    expect(planned).toEqual([
      {
        op: 'create',
        ref: {
          apiVersion: 'identity.forestall.io/keycloak',
          kind: 'GroupMember',
          name: 'mfa-required/carol',
        },
        requests: [{ method: 'PUT', path: `/users/${ids['carol']}/groups/${groupId}` }],
      },
    ]);
    const outcome = await connector.apply(stepUp);
    expect(outcome.skipped).toEqual([
      'user bob is already a member of mfa-required; not ours to remove',
    ]);
    expect(await memberIds()).toEqual([ids['bob']!, ids['carol']!].sort());
    expect(await connector.plan(stepUp)).toEqual([]);

    const removed = await connector.remove('stepup-kc');
    expect(removed.changes).toEqual([
      {
        op: 'delete',
        ref: {
          apiVersion: 'identity.forestall.io/keycloak',
          kind: 'GroupMember',
          name: 'mfa-required/carol',
        },
        requests: [{ method: 'DELETE', path: `/users/${ids['carol']}/groups/${groupId}` }],
      },
    ]);
    expect(await memberIds()).toEqual([ids['bob']]);
  });

  it('GIVEN more users than maxUsers, or IdentityBlock THEN validation refuses them', async () => {
    const capped = request(
      'capped-kc',
      'IdentitySuspend',
      Array.from({ length: 11 }, (_, i) => `user${i}`),
      params,
    );
    expect(connector.validate(capped)).toEqual([
      'values name 11 users, more than params.maxUsers (10); an identity action this large needs review',
    ]);
    expect((await connectorError(connector.apply(capped))).code).toBe(
      'FST_CONNECTOR_INVALID_REQUEST',
    );
    expect(
      connector.validate(request('block-kc', 'IdentityBlock', ['203.0.113.7'], params)),
    ).toEqual([
      expect.stringContaining('Keycloak has no IP blocklist, so IdentityBlock is refused.'),
    ]);
  });

  it('GIVEN a wrong client secret THEN FST_IDENTITY_AUTH from the token endpoint, with no secret in the message', async () => {
    const wrongSecret = `wrong-${client.secret!.slice(6)}`;
    const wrong = new IdentityConnector(
      keycloakProvider,
      access(
        'keycloak-creds',
        { 'client-id': client.clientId, 'client-secret': wrongSecret },
        new MemoryLedger(),
      ),
    );
    const err = await connectorError(wrong.plan(suspend(['alice'])));
    expect(err.code).toBe('FST_IDENTITY_AUTH');
    expect(err.message).toContain(
      `token endpoint ${kc.url}/realms/${REALM}/protocol/openid-connect/token: POST (client credentials) answered HTTP 401`,
    );
    expect(err.message).not.toContain(wrongSecret);
    expect(err.message).not.toContain(client.secret!);
  });

  it('GIVEN a Secret without client-secret THEN FST_IDENTITY_CREDENTIALS names the Secret and the key', async () => {
    const missing = new IdentityConnector(
      keycloakProvider,
      access('keycloak-creds', { 'client-id': client.clientId }, new MemoryLedger()),
    );
    const err = await connectorError(missing.plan(suspend(['alice'])));
    expect(err.code).toBe('FST_IDENTITY_CREDENTIALS');
    expect(err.message).toContain('Secret keycloak-creds has no key "client-secret"');
  });
});
