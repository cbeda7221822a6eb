import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ROLES,
  LOGIN_CLIENT_ID,
  pinnedKeycloakVersion,
  startKeycloak,
  type ClientCredentials,
  type KeycloakResponse,
  type KeycloakServer,
  type TokenResponse,
} from '../harness/keycloak-server.js';

// The identity-provider harness itself: a real Keycloak (fetched from Maven Central by
// test/keycloak/fetch.sh) on loopback, driven the way Forestall's Keycloak connector
// will drive it: a confidential client authenticates with the client_credentials grant
// (its service account holds realm-management manage-users and view-users), finds a
// user, reads their sessions, disables them and logs them out, and later re-enables
// them. The user's sessions are real ones, made by logging in with the password grant.
// The endpoints and payloads are listed at the top of test/harness/keycloak-server.ts.
const REALM = 'acme';
const USER = 'alice';
const PASSWORD = 'alice-Passw0rd';

interface User {
  id: string;
  username: string;
  enabled: boolean;
  notBefore?: number;
}

interface Consent {
  clientId: string;
  additionalGrants: { client: string; key: string }[];
}

interface UserSession {
  id: string;
  userId: string;
  username: string;
  ipAddress: string;
  clients: Record<string, string>;
}

let kc: KeycloakServer;
let scratch: string;
let connector: ClientCredentials;
let userId: string;
/** Tokens of the user's sessions made before the disable, to show they stop working. */
let before: { online: TokenResponse; offline: TokenResponse };

/** A fresh token for the connector's client, as the connector gets one. */
async function connectorToken(): Promise<string> {
  return (await kc.clientCredentialsToken(connector)).access_token;
}

const users = (rest = ''): string => `/admin/realms/${REALM}/users${rest}`;

/** Sets the user's enabled flag with the connector's token, as the connector does, and reads it back. */
async function setEnabled(enabled: boolean, token: string): Promise<void> {
  const put = await kc.api('PUT', users(`/${userId}`), { enabled }, token);
  expect(put.status, put.text).toBe(204);
  expect((await kc.api<User>('GET', users(`/${userId}`), undefined, token)).body).toMatchObject({
    username: USER,
    enabled,
  });
}

/** A refresh of one of the user's earlier sessions through the login client. */
function refreshWith(old: TokenResponse): Promise<KeycloakResponse<TokenResponse>> {
  return kc.token(REALM, {
    grant_type: 'refresh_token',
    client_id: LOGIN_CLIENT_ID,
    refresh_token: old.refresh_token!,
  });
}

beforeAll(async () => {
  kc = await startKeycloak();
  scratch = mkdtempSync(join(tmpdir(), 'forestall-keycloak-test-'));
});

afterAll(async () => {
  await kc?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

describe('Keycloak test identity provider', () => {
  it('GIVEN the harness THEN the pinned Keycloak answers on loopback and the admin API really checks tokens', async () => {
    expect(kc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(kc.managementUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(kc.version).toBe(pinnedKeycloakVersion());
    expect((await fetch(`${kc.managementUrl}/health/ready`)).status).toBe(200);

    const realms = await kc.api<{ realm: string }[]>('GET', '/admin/realms');
    expect(realms.status).toBe(200);
    expect(realms.body.map((r) => r.realm)).toContain('master');
    // Without a token, and with a forged one, the same call is refused.
    expect((await fetch(`${kc.url}/admin/realms`)).status).toBe(401);
    expect((await kc.api('GET', '/admin/realms', undefined, 'not-a-token')).status).toBe(401);
  });

  it('GIVEN a realm, a user and a connector client THEN the client_credentials token finds the user and their session', async () => {
    await kc.createRealm(REALM);
    userId = await kc.createUser(REALM, {
      username: USER,
      email: 'alice@example.test',
      enabled: true,
      password: PASSWORD,
    });
    connector = await kc.createClient(REALM, {
      clientId: 'forestall-connector',
      serviceAccountsEnabled: true,
      realmManagementRoles: CONNECTOR_ROLES,
    });
    expect(connector.secret).toMatch(/^[0-9a-f]{48}$/);
    expect(connector.tokenUrl).toBe(`${kc.url}/realms/${REALM}/protocol/openid-connect/token`);

    const grant = await kc.clientCredentialsToken(connector);
    expect(grant).toMatchObject({ token_type: 'Bearer' });
    expect(grant.refresh_token).toBeUndefined();
    // A wrong secret gets no token.
    const refused = await kc.token(REALM, {
      grant_type: 'client_credentials',
      client_id: connector.clientId,
      client_secret: 'wrong',
    });
    expect(refused.status).toBe(401);

    // One ordinary session, and one with an offline token (offline_access scope).
    before = {
      online: await kc.login(REALM, USER, PASSWORD),
      offline: await kc.login(REALM, USER, PASSWORD, 'openid offline_access'),
    };
    expect(before.online.refresh_token).toBeDefined();

    const token = await connectorToken();
    const found = await kc.api<User[]>(
      'GET',
      users(`?username=${USER}&exact=true`),
      undefined,
      token,
    );
    expect(found.status).toBe(200);
    expect(found.body).toEqual([
      expect.objectContaining({ id: userId, username: USER, enabled: true }),
    ]);

    const sessions = await kc.api<UserSession[]>(
      'GET',
      users(`/${userId}/sessions`),
      undefined,
      token,
    );
    expect(sessions.status).toBe(200);
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0]).toMatchObject({ userId, username: USER, ipAddress: '127.0.0.1' });
    expect(Object.values(sessions.body[0]!.clients)).toEqual([LOGIN_CLIENT_ID]);
  });

  it('GIVEN a service account with view-users only THEN it can read the user but neither disable nor log them out', async () => {
    const reader = await kc.createClient(REALM, {
      clientId: 'forestall-reader',
      realmManagementRoles: ['view-users'],
    });
    const token = (await kc.clientCredentialsToken(reader)).access_token;
    expect((await kc.api('GET', users(`/${userId}`), undefined, token)).status).toBe(200);
    expect((await kc.api('GET', users(`/${userId}/sessions`), undefined, token)).status).toBe(200);
    expect((await kc.api('PUT', users(`/${userId}`), { enabled: false }, token)).status).toBe(403);
    expect((await kc.api('POST', users(`/${userId}/logout`), undefined, token)).status).toBe(403);
    // And a client without realm-management roles cannot even read.
    const nobody = await kc.createClient(REALM, { clientId: 'forestall-nobody' });
    expect(
      (
        await kc.api(
          'GET',
          users(`/${userId}`),
          undefined,
          (await kc.clientCredentialsToken(nobody)).access_token,
        )
      ).status,
    ).toBe(403);
  });

  it('GIVEN the connector token WHEN the user is disabled, logged out and their offline consents revoked THEN no session or token of theirs is left', async () => {
    const token = await connectorToken();

    await setEnabled(false, token);
    // Disabling alone ends nothing: the session is still listed, which is why the
    // connector logs the user out as well.
    expect(
      (await kc.api<UserSession[]>('GET', users(`/${userId}/sessions`), undefined, token)).body,
    ).toHaveLength(1);

    const logout = await kc.api('POST', users(`/${userId}/logout`), undefined, token);
    expect(logout.status, logout.text).toBe(204);
    expect(
      (await kc.api<UserSession[]>('GET', users(`/${userId}/sessions`), undefined, token)).body,
    ).toEqual([]);
    expect(
      (await kc.api<User>('GET', users(`/${userId}`), undefined, token)).body.notBefore,
    ).toBeGreaterThan(0);

    // Logout leaves offline sessions stored. The not-before it sets rejects offline
    // tokens issued before it, but only to the second (a token from the same second
    // survives), so the connector also revokes the consent of every client that holds
    // an offline token, which deletes those sessions.
    const loginClient = (
      await kc.api<{ id: string }[]>(
        'GET',
        `/admin/realms/${REALM}/clients?clientId=${LOGIN_CLIENT_ID}`,
      )
    ).body[0]!.id;
    const offline = (): Promise<UserSession[]> =>
      kc
        .api<UserSession[]>(
          'GET',
          users(`/${userId}/offline-sessions/${loginClient}`),
          undefined,
          token,
        )
        .then((r) => r.body);
    expect(await offline()).toHaveLength(1);
    const consents = await kc.api<Consent[]>('GET', users(`/${userId}/consents`), undefined, token);
    expect(consents.status).toBe(200);
    expect(consents.body).toEqual([
      expect.objectContaining({
        clientId: LOGIN_CLIENT_ID,
        additionalGrants: [expect.objectContaining({ key: 'Offline Token' })],
      }),
    ]);
    const revoked = await kc.api(
      'DELETE',
      users(`/${userId}/consents/${encodeURIComponent(LOGIN_CLIENT_ID)}`),
      undefined,
      token,
    );
    expect(revoked.status, revoked.text).toBe(204);
    expect(await offline()).toEqual([]);
    expect(
      (await kc.api<Consent[]>('GET', users(`/${userId}/consents`), undefined, token)).body,
    ).toEqual([]);

    // The user can neither log in nor refresh; the old access token is inactive.
    const login = await kc.token(REALM, {
      grant_type: 'password',
      client_id: LOGIN_CLIENT_ID,
      username: USER,
      password: PASSWORD,
    });
    expect(login.status).toBe(400);
    expect(login.body).toMatchObject({
      error: 'invalid_grant',
      error_description: 'Account disabled',
    });
    for (const old of [before.online, before.offline]) {
      const refresh = await refreshWith(old);
      expect(refresh.status, refresh.text).toBe(400);
      expect(refresh.body).toMatchObject({ error: 'invalid_grant' });
    }
    expect(await introspect(before.online.access_token)).toEqual({ active: false });
  });

  it('WHEN the user is re-enabled THEN they can log in again, and the sessions and tokens from before stay revoked', async () => {
    const token = await connectorToken();
    await setEnabled(true, token);

    for (const old of [before.online, before.offline]) {
      const refresh = await refreshWith(old);
      expect(refresh.status, refresh.text).toBe(400);
    }
    const fresh = await kc.login(REALM, USER, PASSWORD);
    const sessions = await kc.api<UserSession[]>(
      'GET',
      users(`/${userId}/sessions`),
      undefined,
      token,
    );
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0]!.id).toBe(fresh.session_state);
  });

  it('GIVEN a Keycloak home that does not exist THEN startKeycloak fails loudly instead of skipping', async () => {
    await expect(startKeycloak({ home: join(scratch, 'no-such-keycloak') })).rejects.toThrow(
      /keycloak exited[\s\S]*no-such-keycloak\/bin\/kc\.sh/,
    );
  });
});

/** Token introspection, authenticated as the connector's client. */
async function introspect(accessToken: string): Promise<unknown> {
  const res = await fetch(`${kc.url}/realms/${REALM}/protocol/openid-connect/token/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: accessToken,
      client_id: connector.clientId,
      client_secret: connector.secret!,
    }),
  });
  expect(res.status).toBe(200);
  return res.json();
}
