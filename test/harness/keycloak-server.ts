/**
 * Keycloak, the identity provider for the identity-connector tests (issue 7: "Keycloak
 * from Maven Central (keycloak-quarkus-dist, a version that runs on the machine's JDK),
 * started on loopback with a small heap"), running as a real process on 127.0.0.1.
 *
 * test/keycloak/fetch.sh fetches the pinned distribution with Maven, unpacks it into
 * the cache and builds it once (`kc.sh build --db=dev-file --health-enabled=true`);
 * a globalSetup can run it once and hand the home over in $FORESTALL_KEYCLOAK_HOME,
 * and startKeycloak() runs the script itself when that is not set (instant when the
 * cache is warm).
 *
 * Version: 26.7.3, the newest keycloak-quarkus-dist on Maven Central when pinned. It
 * was started on this machine's OpenJDK 17 (and on the Temurin 25 JDK beside it):
 * Keycloak 26 deprecates Java 17 but still runs on it (dropping 17 is planned for a
 * later major release), so there was no reason to fall back to 25.x or 24.x.
 * JAVA_HOME, when set, picks the JDK, as kc.sh does.
 *
 * Each server is private to its caller: a temp work dir holding keycloak.conf (mode
 * 0600: it carries the bootstrap admin password), the H2 database, the transaction log
 * and keycloak.log; two free loopback ports (HTTP and the management interface that
 * serves /health); `kc.sh start --optimized` with the options that make production
 * mode behave like start-dev on loopback (HTTP, no strict hostname, local caches, so no
 * JGroups cluster listening on other addresses). Nothing is written into the shared
 * cache. The JVM gets -Xmx256m, C1 only and the serial GC: about 13-21 s from spawn
 * to ready with a fresh database on 2 cores (kc.sh's defaults, -Xmx512m with G1 and
 * C2, took 22-41 s), and roughly 380-410 MB resident (500-590 MB with the defaults).
 *
 * kc.sh runs java as a background child and forwards SIGTERM to it, so the SIGKILL
 * that the exit cleanup and the orphan watchdog send to kc.sh would leave java
 * running. kc.sh therefore starts java through a wrapper (its documented $JAVA
 * hook) that uses `setpriv --pdeathsig KILL`: java dies with kc.sh, however kc.sh dies.
 *
 * Start-up failures throw with Keycloak's own output: tests that need Keycloak must
 * fail, never skip, on a machine where it cannot run.
 *
 * The admin REST calls the Forestall Keycloak connector needs, as verified against
 * this server by test/integration/keycloak.test.ts. Base: `${url}`; every admin call
 * carries `Authorization: Bearer <token>`.
 *
 *   Token for the connector (client credentials, confidential client with a service
 *   account holding realm-management roles manage-users and view-users):
 *     POST /realms/{realm}/protocol/openid-connect/token
 *       content-type: application/x-www-form-urlencoded
 *       grant_type=client_credentials&client_id={clientId}&client_secret={secret}
 *     -> 200 { access_token, expires_in (300 s by default), token_type: "Bearer" }
 *   Find a user:        GET  /admin/realms/{realm}/users?username={name}&exact=true -> 200 [UserRepresentation]
 *                       GET  /admin/realms/{realm}/users/{id}                        -> 200 UserRepresentation
 *   Sessions of a user: GET  /admin/realms/{realm}/users/{id}/sessions -> 200 [{ id, username, userId,
 *                         ipAddress, start, lastAccess, clients: { clientUuid: clientId } }]
 *   Disable:            PUT  /admin/realms/{realm}/users/{id}  {"enabled": false} -> 204
 *   Enable (reversal):  PUT  /admin/realms/{realm}/users/{id}  {"enabled": true}  -> 204
 *                       (a partial representation: fields left out are not changed)
 *   Revoke sessions:    POST /admin/realms/{realm}/users/{id}/logout (no body) -> 204
 *                       removes the user's (online) sessions, so their refresh tokens fail
 *                       (400 invalid_grant "Session not active") and introspection of their
 *                       access tokens answers {"active": false}; it also sets the user's
 *                       notBefore (epoch seconds).
 *   Offline tokens:     logout leaves offline sessions stored. notBefore rejects offline
 *                       tokens issued before it ("Stale token"), but to the second only, so
 *                       one issued in the same second survives. To remove them:
 *                       GET    /admin/realms/{realm}/users/{id}/consents -> 200 [{ clientId,
 *                                additionalGrants: [{ key: "Offline Token" }] }]
 *                       DELETE /admin/realms/{realm}/users/{id}/consents/{clientId} -> 204
 *                                for each client listed: deletes its offline sessions.
 *                       (Listed per client: GET .../users/{id}/offline-sessions/{client uuid}.)
 *   manage-users + view-users allow all of the above; with view-users only, PUT and
 *   logout answer 403; with neither, even GET answers 403; without a token, 401.
 * Disabling alone ends no session: the session stays listed until the logout, though
 * its refresh fails at once (400 invalid_grant "User disabled"). A disabled user cannot
 * log in (400 invalid_grant "Account disabled"). Access tokens are JWTs: a resource
 * server that only checks their signature accepts them until they expire (5 min by
 * default); the userinfo endpoint rejects them once the user is disabled, and
 * introspection once the user is logged out.
 * Re-enabling (PUT enabled=true) lets the user log in again; nothing revoked comes back.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// Brings 'vitest' into the program for the ProvidedContext augmentation below.
import type {} from 'vitest';
import { REPO_ROOT } from './envtest-assets.js';
import { freeLoopbackPorts } from './free-port.js';
import { httpGet } from './http-probe.js';
import { requestLocal, runSetupScript, serverWorkDir } from './local-server.js';
import type { ServerWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    keycloakHome: string;
  }
}

export const KEYCLOAK_FETCH_SCRIPT = join(REPO_ROOT, 'test/keycloak/fetch.sh');
/** Carries the Keycloak home from a globalSetup to workers; fetch.sh also honours it as an override. */
export const KEYCLOAK_HOME_ENV = 'FORESTALL_KEYCLOAK_HOME';

/** The public client that login() creates in a realm for the password grant. */
export const LOGIN_CLIENT_ID = 'forestall-test-login';
/** What the Forestall connector needs in realm-management: read users and sessions, disable, log out. */
export const CONNECTOR_ROLES = ['manage-users', 'view-users'] as const;

const ADMIN_USERNAME = 'forestall-admin';
const READY_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Small heap; C1 only and the serial GC start faster and use less memory than the G1 and C2 that kc.sh picks. */
const JAVA_OPTS_KC_HEAP = '-Xms64m -Xmx256m';
const JAVA_OPTS_APPEND = '-XX:TieredStopAtLevel=1 -XX:-UseG1GC -XX:+UseSerialGC';

export interface KeycloakResponse<T = unknown> {
  status: number;
  /** The parsed JSON body, or undefined for an empty or non-JSON body. */
  body: T;
  /** The raw body text, for error messages. */
  text: string;
  /** The Location header (a created resource), if any. */
  location: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  refresh_expires_in?: number;
  token_type: string;
  session_state?: string;
  scope?: string;
}

export interface CreateUserOptions {
  username: string;
  /** Keycloak's default user profile requires email, first and last name; each has a default. */
  email?: string;
  firstName?: string;
  lastName?: string;
  /** Default true. */
  enabled?: boolean;
  /** A permanent (non-temporary) password, so that login() works at once. */
  password?: string;
}

export interface CreateClientOptions {
  clientId: string;
  /** The client secret of a confidential client; generated when left out. Ignored for a public client. */
  secret?: string;
  /** Default false. A public client has no secret. */
  publicClient?: boolean;
  /** Lets the client use the client_credentials grant. Default true for a confidential client. */
  serviceAccountsEnabled?: boolean;
  /** The password grant. Default false. */
  directAccessGrantsEnabled?: boolean;
  /**
   * Client roles of the realm's `realm-management` client granted to the service
   * account, e.g. CONNECTOR_ROLES. Only with serviceAccountsEnabled. Default none.
   */
  realmManagementRoles?: readonly string[];
}

export interface ClientCredentials {
  /** The client's internal id (the {id} of /admin/realms/{realm}/clients/{id}). */
  id: string;
  clientId: string;
  /** Undefined for a public client. */
  secret: string | undefined;
  realm: string;
  tokenUrl: string;
  /** The id of the service-account user, when serviceAccountsEnabled. */
  serviceAccountUserId: string | undefined;
}

/** Who calls the admin API: the bootstrap admin (default), a bearer token, or a function that returns one. */
export type AsCaller = string | (() => Promise<string>);

export interface KeycloakServer {
  /** http://127.0.0.1:<port>, no trailing slash. Realms are under /realms, the admin API under /admin/realms. */
  url: string;
  /** http://127.0.0.1:<management port>: /health, /health/ready. */
  managementUrl: string;
  /** The Keycloak version, as the server reports it. */
  version: string;
  /** The Keycloak home (the directory with bin/kc.sh) the server runs from. */
  home: string;
  /** The temp dir with keycloak.conf, keycloak.log, the H2 database and the transaction log. */
  workDir: string;
  /** The bootstrap admin of the master realm. */
  adminUsername: string;
  adminPassword: string;
  /** A master-realm access token of the bootstrap admin (admin-cli password grant), renewed before it expires. */
  adminToken(): Promise<string>;
  /**
   * One admin REST call. `path` is relative to url and starts with /admin
   * ("/admin/realms/r/users"). Never throws on an HTTP status: the caller asserts it.
   * `as` defaults to the bootstrap admin.
   */
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    as?: AsCaller,
  ): Promise<KeycloakResponse<T>>;
  /** POST /realms/{realm}/protocol/openid-connect/token with a form. Never throws on an HTTP status. */
  token(realm: string, form: Record<string, string>): Promise<KeycloakResponse<TokenResponse>>;
  /** The client_credentials grant; throws unless 200. */
  clientCredentialsToken(
    credentials: Pick<ClientCredentials, 'realm' | 'clientId' | 'secret'>,
  ): Promise<TokenResponse>;
  /** Creates an enabled realm; throws unless 201. */
  createRealm(name: string): Promise<void>;
  /** Creates a user and returns their id; throws unless 201. */
  createUser(realm: string, options: CreateUserOptions): Promise<string>;
  /** Creates a client (and grants its service account the realm-management roles asked for); throws on any refusal. */
  createClient(realm: string, options: CreateClientOptions): Promise<ClientCredentials>;
  /**
   * Logs the user in with the password grant through the public client LOGIN_CLIENT_ID
   * (created in the realm on first use), which makes a real user session. Throws unless 200.
   */
  login(realm: string, username: string, password: string, scope?: string): Promise<TokenResponse>;
  logTail(lines?: number): string;
  /** Stops Keycloak and removes the work dir. */
  stop(): Promise<void>;
}

export interface StartKeycloakOptions {
  /** The Keycloak home. Defaults to keycloakHome(). */
  home?: string;
  /** The java binary. Defaults to $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on the PATH. */
  java?: string;
}

/** Runs test/keycloak/fetch.sh and returns the home it prints last; a cold fetch shows progress. */
export function fetchKeycloak(): Promise<string> {
  return runSetupScript(KEYCLOAK_FETCH_SCRIPT, {
    requiredFor: 'Keycloak is required for the identity tests',
    showProgress: true,
  });
}

/** The Keycloak home: $FORESTALL_KEYCLOAK_HOME, else the cache that fetch.sh fills (fetching when it is cold). */
export async function keycloakHome(): Promise<string> {
  return process.env[KEYCLOAK_HOME_ENV] ?? (await fetchKeycloak());
}

export async function startKeycloak(options: StartKeycloakOptions = {}): Promise<KeycloakServer> {
  const home = options.home ?? (await keycloakHome());
  const javaHome = process.env['JAVA_HOME'];
  const java =
    options.java ??
    (javaHome !== undefined && javaHome !== '' ? join(javaHome, 'bin', 'java') : 'java');
  const dir = serverWorkDir('keycloak');
  const workDir = dir.path;

  let keycloak: ManagedProcess | undefined;
  try {
    const [port, managementPort] = await freeLoopbackPorts(2);
    if (port === undefined || managementPort === undefined)
      throw new Error('no free loopback ports');
    const url = `http://127.0.0.1:${port}`;
    const managementUrl = `http://127.0.0.1:${managementPort}`;
    const adminPassword = `pw-${randomBytes(12).toString('hex')}`;

    const configPath = join(workDir, 'keycloak.conf');
    writeFileSync(configPath, keycloakConf(workDir, port, managementPort, adminPassword), {
      mode: 0o600,
    });
    const javaWrapper = join(workDir, 'java');
    writeFileSync(javaWrapper, JAVA_WRAPPER, { mode: 0o700 });

    // `env` sets what kc.sh reads from the environment and clears what a developer's
    // shell might carry into it (KC_* options, JAVA_OPTS, and DEBUG, which would
    // open a JDWP port), then execs kc.sh, keeping the pid that ManagedProcess holds.
    const inherited = Object.keys(process.env).filter(
      (name) =>
        /^(KC_|KEYCLOAK_)/.test(name) ||
        ['JAVA_OPTS', 'JAVA_ADD_OPENS', 'DEBUG', 'DEBUG_PORT', 'PRINT_ENV'].includes(name),
    );
    keycloak = ManagedProcess.spawn({
      name: 'keycloak',
      binary: 'env',
      args: [
        ...inherited.flatMap((name) => ['-u', name]),
        `JAVA=${javaWrapper}`,
        `FORESTALL_KEYCLOAK_JAVA=${java}`,
        `JAVA_OPTS_KC_HEAP=${JAVA_OPTS_KC_HEAP}`,
        `JAVA_OPTS_APPEND=${JAVA_OPTS_APPEND}`,
        join(home, 'bin', 'kc.sh'),
        `--config-file=${configPath}`,
        // A quarkus property, not a Keycloak option: kc.sh passes -D arguments to java.
        `-Dquarkus.transaction-manager.object-store.directory=${join(workDir, 'transaction-logs')}`,
        'start',
        '--optimized',
      ],
      dir: workDir,
    });
    await keycloak.waitUntilReady({
      description: `GET ${managementUrl}/health/ready == 200`,
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 250,
      check: async () => {
        const { status, body } = await httpGet(`${managementUrl}/health/ready`);
        return {
          ready: status === 200,
          detail: `HTTP ${status}: ${body.replace(/\s+/g, ' ').slice(0, 200)}`,
        };
      },
    });

    const server = makeServer({
      url,
      managementUrl,
      home,
      adminPassword,
      process: keycloak,
      dir,
    });
    // The admin can log in and call the admin API: proves the bootstrap worked.
    const info = await server.api<{ systemInfo?: { version?: string } }>(
      'GET',
      '/admin/serverinfo',
    );
    const version = info.body?.systemInfo?.version;
    if (info.status !== 200 || version === undefined) {
      throw keycloak.failure(
        `GET ${url}/admin/serverinfo as the bootstrap admin answered HTTP ${info.status}: ${info.text.slice(0, 300)}`,
      );
    }
    server.version = version;
    return server;
  } catch (err) {
    await dir.release(keycloak);
    throw err;
  }
}

/**
 * The options of a throw-away, loopback-only server, as keycloak.conf. With the
 * build-time options fixed by fetch.sh, these make production mode behave like
 * start-dev: plain HTTP, any hostname, local Infinispan caches (no JGroups cluster),
 * and the H2 database in the work dir.
 */
function keycloakConf(
  workDir: string,
  port: number,
  managementPort: number,
  adminPassword: string,
): string {
  return [
    'http-enabled=true',
    'http-host=127.0.0.1',
    `http-port=${port}`,
    `http-management-port=${managementPort}`,
    'hostname-strict=false',
    'cache=local',
    `db-url=jdbc:h2:file:${join(workDir, 'h2', 'keycloakdb')};NON_KEYWORDS=VALUE`,
    `bootstrap-admin-username=${ADMIN_USERNAME}`,
    `bootstrap-admin-password=${adminPassword}`,
    'log-console-color=false',
    // The readiness probe would log every "DOWN" at INFO while the server boots.
    'log-level=INFO,io.smallrye.health:WARN',
    '',
  ].join('\n');
}

// kc.sh runs "$JAVA" in the background; with a parent-death signal java cannot
// outlive kc.sh, which is the process ManagedProcess and the watchdog kill.
const JAVA_WRAPPER = `#!/bin/sh
if command -v setpriv >/dev/null 2>&1; then
  exec setpriv --pdeathsig KILL -- "$FORESTALL_KEYCLOAK_JAVA" "$@"
fi
exec "$FORESTALL_KEYCLOAK_JAVA" "$@"
`;

interface ServerParts {
  url: string;
  managementUrl: string;
  home: string;
  adminPassword: string;
  process: ManagedProcess;
  dir: ServerWorkDir;
}

function makeServer(parts: ServerParts): KeycloakServer {
  const { url, process: keycloak } = parts;
  let cachedAdmin: { token: string; renewAt: number } | undefined;
  const loginClientReady = new Set<string>();

  const request = async <T>(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<KeycloakResponse<T>> => {
    const answer = await requestLocal<T>(
      `${url}${path}`,
      { method, headers: { accept: 'application/json', ...headers }, body },
      REQUEST_TIMEOUT_MS,
    );
    return {
      status: answer.status,
      body: answer.body,
      text: answer.text,
      location: answer.headers.get('location') ?? undefined,
    };
  };

  const server: KeycloakServer = {
    url,
    managementUrl: parts.managementUrl,
    version: '',
    home: parts.home,
    workDir: parts.dir.path,
    adminUsername: ADMIN_USERNAME,
    adminPassword: parts.adminPassword,

    async adminToken() {
      if (cachedAdmin !== undefined && Date.now() < cachedAdmin.renewAt) return cachedAdmin.token;
      const res = await server.token('master', {
        grant_type: 'password',
        client_id: 'admin-cli',
        username: ADMIN_USERNAME,
        password: parts.adminPassword,
      });
      if (res.status !== 200)
        throw new Error(
          `the bootstrap admin cannot log in: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
      // Master-realm tokens live 60 s by default; renew at half-life.
      cachedAdmin = {
        token: res.body.access_token,
        renewAt: Date.now() + (res.body.expires_in * 1000) / 2,
      };
      return cachedAdmin.token;
    },

    async api<T>(method: string, path: string, body?: unknown, as?: AsCaller) {
      const token =
        as === undefined ? await server.adminToken() : typeof as === 'string' ? as : await as();
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      return request<T>(
        method,
        path,
        headers,
        body === undefined ? undefined : JSON.stringify(body),
      );
    },

    token(realm, form) {
      return request<TokenResponse>(
        'POST',
        `/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token`,
        { 'content-type': 'application/x-www-form-urlencoded' },
        new URLSearchParams(form).toString(),
      );
    },

    async clientCredentialsToken({ realm, clientId, secret }) {
      const res = await server.token(realm, {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret ?? '',
      });
      if (res.status !== 200)
        throw new Error(
          `client_credentials for ${clientId} in realm ${realm}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
      return res.body;
    },

    async createRealm(name) {
      const res = await server.api('POST', '/admin/realms', { realm: name, enabled: true });
      if (res.status !== 201)
        throw new Error(
          `Keycloak did not create realm ${name}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
    },

    async createUser(realm, options) {
      const res = await server.api('POST', `/admin/realms/${encodeURIComponent(realm)}/users`, {
        username: options.username,
        enabled: options.enabled ?? true,
        // Keycloak's default user profile requires all three: a user without them
        // cannot log in ("Account is not fully set up").
        email: options.email ?? `${options.username}@forestall.invalid`,
        emailVerified: true,
        firstName: options.firstName ?? options.username,
        lastName: options.lastName ?? 'Test',
        ...(options.password !== undefined
          ? { credentials: [{ type: 'password', value: options.password, temporary: false }] }
          : {}),
      });
      if (res.status !== 201)
        throw new Error(
          `Keycloak did not create user ${options.username} in ${realm}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
      return idFromLocation(res.location, `user ${options.username}`);
    },

    async createClient(realm, options) {
      const r = encodeURIComponent(realm);
      const publicClient = options.publicClient ?? false;
      const serviceAccountsEnabled = !publicClient && (options.serviceAccountsEnabled ?? true);
      const secret = publicClient ? undefined : (options.secret ?? randomBytes(24).toString('hex'));
      const res = await server.api('POST', `/admin/realms/${r}/clients`, {
        clientId: options.clientId,
        enabled: true,
        protocol: 'openid-connect',
        publicClient,
        ...(secret !== undefined ? { clientAuthenticatorType: 'client-secret', secret } : {}),
        serviceAccountsEnabled,
        directAccessGrantsEnabled: options.directAccessGrantsEnabled ?? false,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
      });
      if (res.status !== 201)
        throw new Error(
          `Keycloak did not create client ${options.clientId} in ${realm}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
      const id = idFromLocation(res.location, `client ${options.clientId}`);

      let serviceAccountUserId: string | undefined;
      if (serviceAccountsEnabled) {
        const sa = await server.api<{ id: string }>(
          'GET',
          `/admin/realms/${r}/clients/${id}/service-account-user`,
        );
        if (sa.status !== 200)
          throw new Error(
            `no service-account user for ${options.clientId}: HTTP ${sa.status} ${sa.text.slice(0, 300)}`,
          );
        serviceAccountUserId = sa.body.id;
        const roles = options.realmManagementRoles ?? [];
        if (roles.length > 0)
          await grantRealmManagementRoles(server, realm, serviceAccountUserId, roles);
      } else if ((options.realmManagementRoles ?? []).length > 0) {
        throw new Error(
          `client ${options.clientId}: realmManagementRoles need serviceAccountsEnabled`,
        );
      }
      return {
        id,
        clientId: options.clientId,
        secret,
        realm,
        tokenUrl: `${url}/realms/${r}/protocol/openid-connect/token`,
        serviceAccountUserId,
      };
    },

    async login(realm, username, password, scope = 'openid') {
      if (!loginClientReady.has(realm)) {
        await server.createClient(realm, {
          clientId: LOGIN_CLIENT_ID,
          publicClient: true,
          directAccessGrantsEnabled: true,
        });
        loginClientReady.add(realm);
      }
      const res = await server.token(realm, {
        grant_type: 'password',
        client_id: LOGIN_CLIENT_ID,
        username,
        password,
        scope,
      });
      if (res.status !== 200)
        throw new Error(
          `login of ${username} in ${realm}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
        );
      return res.body;
    },

    logTail: (lines?: number) => keycloak.logTail(lines),
    stop: () => parts.dir.release(keycloak),
  };
  return server;
}

/** Grants client roles of the realm's realm-management client to a user (here, a service account). */
async function grantRealmManagementRoles(
  server: KeycloakServer,
  realm: string,
  userId: string,
  roleNames: readonly string[],
): Promise<void> {
  const r = encodeURIComponent(realm);
  const rm = await server.api<{ id: string }[]>(
    'GET',
    `/admin/realms/${r}/clients?clientId=realm-management`,
  );
  const rmId = rm.body?.[0]?.id;
  if (rm.status !== 200 || rmId === undefined)
    throw new Error(
      `no realm-management client in ${realm}: HTTP ${rm.status} ${rm.text.slice(0, 300)}`,
    );
  const roles: unknown[] = [];
  for (const name of roleNames) {
    const role = await server.api(
      'GET',
      `/admin/realms/${r}/clients/${rmId}/roles/${encodeURIComponent(name)}`,
    );
    if (role.status !== 200)
      throw new Error(
        `no realm-management role ${name} in ${realm}: HTTP ${role.status} ${role.text.slice(0, 300)}`,
      );
    roles.push(role.body);
  }
  const res = await server.api(
    'POST',
    `/admin/realms/${r}/users/${userId}/role-mappings/clients/${rmId}`,
    roles,
  );
  if (res.status !== 204)
    throw new Error(
      `granting ${roleNames.join(', ')} in ${realm}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
    );
}

function idFromLocation(location: string | undefined, what: string): string {
  const id = location?.split('/').at(-1);
  if (id === undefined || id === '')
    throw new Error(`Keycloak created ${what} but sent no Location header`);
  return id;
}

/** The version the distribution was pinned to (test/keycloak/KEYCLOAK_VERSION). */
export function pinnedKeycloakVersion(): string {
  return readFileSync(join(REPO_ROOT, 'test/keycloak/KEYCLOAK_VERSION'), 'utf8').trim();
}
