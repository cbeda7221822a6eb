/**
 * scim2-server, a SCIM 2.0 server from PyPI (the python-scim project), running as a
 * real process on 127.0.0.1 for the SCIM identity connector tests (issue 7: "Real
 * components in tests: ... scim2-server from PyPI").
 *
 * test/scim/setup.sh installs the version pinned in test/scim/requirements.txt (every
 * dependency pinned with hashes) into a venv under the Forestall cache,
 *   ${FORESTALL_CACHE:-~/.cache/forestall}/scim2-server/<version>/venv
 * and prints its path. startScimServer() takes the venv from its `venv` option, else
 * from $FORESTALL_SCIM_VENV (SCIM_VENV_ENV: a globalSetup can run installScimServer()
 * once and hand the path to the workers there), else runs setup.sh itself (about
 * 0.3 s when the venv is warm).
 *
 * Each server is private to its caller: the package's own `scim2-server` command on a
 * free loopback port, with in-memory storage (nothing survives stop()), the default
 * RFC 7643 schemas and resource types (User with the enterprise extension, Group),
 * and `--bearer-token` set to a random token: every endpoint except
 * /ServiceProviderConfig then answers 401 (with `WWW-Authenticate: Bearer realm="SCIM"`)
 * without `Authorization: Bearer <token>`. The token is on the command line, so it is
 * in the process list and in the first line of the log: it is a throw-away value
 * for loopback only.
 *
 * Start-up or installation failures throw with the server's or pip's own output: tests
 * that need the server must fail, never skip, on a machine where it cannot run.
 *
 * What scim2-server 0.8.3 does, each point checked by test/integration/scim-server.test.ts
 * (the SCIM connector relies on these; "SPC" is its /ServiceProviderConfig):
 * - URLs: the base URL is http://127.0.0.1:<port>/v2 (`url` here). The /v2 prefix is
 *   optional on the server side. Responses are HTTP/1.0 with no keep-alive.
 * - Media types: responses are `application/scim+json`; request bodies may be
 *   `application/scim+json` or `application/json`; any other Content-Type is 415.
 * - Discovery: SPC (no auth needed) announces patch, bulk (maxOperations 1000,
 *   maxPayloadSize 1 MiB), filter (maxResults 1000), changePassword, sort and etag
 *   as supported, and the oauthbearertoken scheme; /Schemas and /ResourceTypes work.
 * - Create: POST /Users answers 201 with the resource (id = 32 hex digits, meta with
 *   created/lastModified/location/version), `Location` and `ETag` headers. A second
 *   user whose userName differs only in case is 409 with scimType "uniqueness".
 *   `password` is accepted and never returned.
 * - Read: GET /Users/<id> is 200 with `ETag`; an unknown id is 404 with a SCIM Error
 *   body (schemas ...:Error, status "404" as a string). PATCH, PUT and DELETE of an
 *   unknown id are 404 too.
 * - PATCH (RFC 7644 §3.5.2) with a PatchOp body: `replace` with a path ("active"),
 *   `replace` without a path (a value object), `add`/`remove` on multi-valued
 *   attributes such as Group `members` (with a `members[value eq "<id>"]` path).
 *   IMPORTANT: a PATCH answers **204 No Content with no body** and the new `ETag`,
 *   unless the request asks for `?attributes=` or `?excludedAttributes=`, which gives
 *   200 with the (selected) resource. A PATCH that changes nothing keeps the version.
 * - PUT replaces the whole resource: attributes left out are cleared (emails gone).
 *   It answers 200 with the resource and `ETag`.
 * - DELETE answers 204; a later GET is 404.
 * - ETags: weak, `W/"<n>"`, from one server-wide counter (every write of any
 *   resource takes the next number), equal to meta.version. `If-Match` with a stale
 *   version on PATCH, PUT or DELETE is 412 and changes nothing; `If-Match` with the
 *   current version succeeds; `If-None-Match` with the current version on GET is 304.
 * - Filtering on GET /Users?filter=...: `userName eq "x"` (case-insensitive, as
 *   userName is not caseExact), `emails[value eq "x"]`, `active eq false`, `sw`;
 *   `attributes=` selects attributes (id and schemas always come back); `count=0`
 *   gives totalResults only; `sortBy`/`sortOrder` sort; a malformed filter is 400
 *   with scimType "invalidFilter". POST /Users/.search takes a SearchRequest body.
 *   Results are a ListResponse (totalResults, startIndex, itemsPerPage, Resources).
 * - Bulk: POST /Bulk with a BulkRequest, `bulkId` references ("bulkId:b1" in a later
 *   operation's path), answers 200 with a BulkResponse whose statuses are strings.
 * - Groups: POST /Groups with members; the User resource does not list its groups
 *   (User.groups is not kept in step with Group.members).
 * - Not applicable: SCIM has no sessions or tokens to revoke; disabling a user is
 *   `active: false` and nothing more.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './envtest-assets.js';
import { freeLoopbackPorts } from './free-port.js';
import { httpGet } from './http-probe.js';
import { requestLocal, runSetupScript, serverWorkDir } from './local-server.js';
import type { ServerWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

export const SCIM_SETUP_SCRIPT = join(REPO_ROOT, 'test/scim/setup.sh');
export const SCIM_REQUIREMENTS = join(REPO_ROOT, 'test/scim/requirements.txt');
/** The venv holding scim2-server; setup.sh also honours it (then installs nothing). */
export const SCIM_VENV_ENV = 'FORESTALL_SCIM_VENV';
/** The scim2-server version pinned in test/scim/requirements.txt. */
export const SCIM2_SERVER_VERSION = pinnedVersion();

export const SCIM_MEDIA_TYPE = 'application/scim+json';
export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCIM_PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCIM_LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

const READY_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** Attempts when another process takes the chosen port before the server binds it. */
const PORT_ATTEMPTS = 3;

export interface ScimMeta {
  resourceType: string;
  created: string;
  lastModified: string;
  location: string;
  /** The weak ETag, W/"<n>". */
  version: string;
}

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

/** The User attributes a test writes and reads back. */
interface ScimUserAttributes {
  userName: string;
  active?: boolean;
  displayName?: string;
  externalId?: string;
  name?: { givenName?: string; familyName?: string; formatted?: string };
  emails?: ScimEmail[];
  [attribute: string]: unknown;
}

export interface ScimUser extends ScimUserAttributes {
  schemas: string[];
  id: string;
  meta: ScimMeta;
}

/** Any other attribute, such as the enterprise extension; `schemas` may be overridden too. */
export interface NewScimUser extends ScimUserAttributes {
  password?: string;
}

export interface ScimGroupMember {
  value: string;
  display?: string;
  $ref?: string;
  type?: string;
}

export interface ScimGroup {
  schemas: string[];
  id: string;
  meta: ScimMeta;
  displayName: string;
  members?: ScimGroupMember[];
  [attribute: string]: unknown;
}

export interface ScimResponse<T = unknown> {
  status: number;
  /** The parsed JSON body; undefined for an empty body (204, 304) or one that is not JSON. */
  body: T;
  /** The raw body text, for error messages. */
  text: string;
  headers: Headers;
  /** The ETag header, if any. */
  etag: string | undefined;
}

export interface ScimRequestOptions {
  /** Extra headers, such as If-Match or If-None-Match. */
  headers?: Record<string, string>;
  /** The bearer token to send: the server's by default, null for none. */
  token?: string | null;
  /** The Content-Type of the body; application/scim+json by default. */
  contentType?: string;
  /** Sent as is instead of JSON.stringify(body). */
  rawBody?: string;
}

export interface ScimServer {
  /** The SCIM base URL, http://127.0.0.1:<port>/v2, no trailing slash. */
  url: string;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** The bearer token the server accepts (random per server). */
  token: string;
  /** The scim2-server version installed in the venv. */
  version: string;
  venv: string;
  /** The temp dir with scim2-server.log. */
  workDir: string;
  /** Milliseconds from spawn until /ServiceProviderConfig answered 200 (the last attempt). */
  startupMs: number;
  /**
   * One SCIM call. `path` is relative to `url` ("/Users/<id>?attributes=active"), or an
   * absolute URL. The body is sent as application/scim+json. Never throws on an HTTP
   * status: the caller asserts it.
   */
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options?: ScimRequestOptions,
  ): Promise<ScimResponse<T>>;
  /** POST /Users; throws unless 201. Returns the created resource, with its id. */
  createUser(user: NewScimUser): Promise<ScimUser>;
  /** GET /Users/<id>; undefined on 404, throws on any other status but 200. */
  getUser(id: string): Promise<ScimUser | undefined>;
  /** GET /Users?filter=userName eq "<userName>"; undefined when none matches. */
  findUserByUserName(userName: string): Promise<ScimUser | undefined>;
  /** POST /Groups; throws unless 201. */
  createGroup(displayName: string, memberIds?: string[]): Promise<ScimGroup>;
  /** GET /Groups/<id>; undefined on 404, throws on any other status but 200. */
  getGroup(id: string): Promise<ScimGroup | undefined>;
  logTail(lines?: number): string;
  /** Stops the server and removes the work dir. */
  stop(): Promise<void>;
}

export interface StartScimServerOptions {
  /** The venv holding scim2-server. Defaults to $FORESTALL_SCIM_VENV, else the output of test/scim/setup.sh. */
  venv?: string;
}

function pinnedVersion(): string {
  const pin = /^scim2-server==([^\s\\;]+)/m.exec(readFileSync(SCIM_REQUIREMENTS, 'utf8'))?.[1];
  if (pin === undefined)
    throw new Error(`no 'scim2-server==<version>' pin in ${SCIM_REQUIREMENTS}`);
  return pin;
}

/** Where setup.sh puts the venv of the pinned version (it may not exist yet). */
export function defaultScimVenv(): string {
  const cache = process.env['FORESTALL_CACHE'] ?? join(homedir(), '.cache', 'forestall');
  return join(cache, 'scim2-server', SCIM2_SERVER_VERSION, 'venv');
}

/**
 * Runs test/scim/setup.sh and returns the venv it prints last. Its progress and
 * timings (stderr) are passed on, so a cold install shows in the test output.
 */
export function installScimServer(): Promise<string> {
  return runSetupScript(SCIM_SETUP_SCRIPT, {
    requiredFor: 'scim2-server is required for the SCIM tests',
    showProgress: true,
  });
}

/** The scim2-server version installed in a venv, from its dist-info directory. */
function installedVersion(venv: string): string {
  const lib = join(venv, 'lib');
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const sitePackages = join(lib, python, 'site-packages');
    if (!existsSync(sitePackages)) continue;
    const dist = readdirSync(sitePackages).find((name) =>
      /^scim2_server-.+\.dist-info$/.test(name),
    );
    if (dist !== undefined) return dist.slice('scim2_server-'.length, -'.dist-info'.length);
  }
  throw new Error(
    `no scim2_server-*.dist-info under ${lib}: ${venv} does not hold scim2-server (run ${SCIM_SETUP_SCRIPT})`,
  );
}

export async function startScimServer(options: StartScimServerOptions = {}): Promise<ScimServer> {
  const venv = options.venv ?? process.env[SCIM_VENV_ENV] ?? (await installScimServer());
  const executable = join(venv, 'bin', 'scim2-server');
  if (!existsSync(executable)) {
    throw new Error(
      `${executable} does not exist: ${venv} is not a scim2-server venv (run ${SCIM_SETUP_SCRIPT})`,
    );
  }
  const version = installedVersion(venv);
  // Hex, and passed as --bearer-token=TOKEN: a base64url token can start with '-', which
  // argparse would take for an option.
  const token = randomBytes(24).toString('hex');
  const dir = serverWorkDir('scim');

  let server: ManagedProcess | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      const [port] = await freeLoopbackPorts(1);
      if (port === undefined) throw new Error('no free loopback port');
      const origin = `http://127.0.0.1:${port}`;
      const url = `${origin}/v2`;
      const spawnedAt = Date.now();
      server = ManagedProcess.spawn({
        name: 'scim2-server',
        binary: executable,
        args: ['--hostname', '127.0.0.1', '--port', String(port), `--bearer-token=${token}`],
        dir: dir.path,
      });
      try {
        await server.waitUntilReady({
          description: `GET ${url}/ServiceProviderConfig == 200`,
          timeoutMs: READY_TIMEOUT_MS,
          intervalMs: 50,
          check: async () => {
            const { status, body } = await httpGet(`${url}/ServiceProviderConfig`);
            return { ready: status === 200, detail: `HTTP ${status}: ${body.slice(0, 200)}` };
          },
        });
      } catch (err) {
        // The port was free when chosen; another process may have bound it since.
        const portTaken = !server.running && /Address already in use/.test(server.logTail(10));
        if (portTaken && attempt < PORT_ATTEMPTS) continue;
        throw err;
      }
      const startupMs = Date.now() - spawnedAt;
      const request = scimClient(url, token);
      // The token must really be checked: a server that lets anyone in would make the
      // connector's credential handling untested.
      const withToken = await request('GET', '/Schemas');
      const withoutToken = await request('GET', '/Schemas', undefined, { token: null });
      if (withToken.status !== 200 || withoutToken.status !== 401) {
        throw server.failure(
          `scim2-server at ${url} does not enforce its bearer token: GET /Schemas answered ${withToken.status} with it and ${withoutToken.status} without (want 200 and 401)`,
        );
      }
      return makeServer({
        url,
        origin,
        token,
        version,
        venv,
        startupMs,
        process: server,
        request,
        dir,
      });
    }
  } catch (err) {
    await dir.release(server);
    throw err;
  }
}

/** SCIM calls with the bearer token; an HTTP error status is returned, not thrown. */
function scimClient(url: string, token: string): ScimServer['request'] {
  return async <T>(
    method: string,
    path: string,
    body?: unknown,
    options: ScimRequestOptions = {},
  ): Promise<ScimResponse<T>> => {
    const headers: Record<string, string> = { accept: SCIM_MEDIA_TYPE, ...options.headers };
    const bearer = options.token === undefined ? token : options.token;
    if (bearer !== null) headers['authorization'] = `Bearer ${bearer}`;
    const payload = options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) headers['content-type'] = options.contentType ?? SCIM_MEDIA_TYPE;
    const target = /^https?:\/\//.test(path) ? path : `${url}${path}`;
    const answer = await requestLocal<T>(
      target,
      { method, headers, body: payload },
      REQUEST_TIMEOUT_MS,
    );
    return { ...answer, etag: answer.headers.get('etag') ?? undefined };
  };
}

interface ServerParts {
  url: string;
  origin: string;
  token: string;
  version: string;
  venv: string;
  startupMs: number;
  process: ManagedProcess;
  request: ScimServer['request'];
  dir: ServerWorkDir;
}

function makeServer(parts: ServerParts): ScimServer {
  const { request, process: server } = parts;
  const fail = (what: string, res: ScimResponse): Error =>
    new Error(`scim2-server: ${what} answered HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  const read = async <T>(path: string): Promise<T | undefined> => {
    const res = await request<T>('GET', path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw fail(`GET ${path}`, res);
    return res.body;
  };
  return {
    url: parts.url,
    origin: parts.origin,
    token: parts.token,
    version: parts.version,
    venv: parts.venv,
    workDir: parts.dir.path,
    startupMs: parts.startupMs,
    request,
    async createUser(user) {
      const res = await request<ScimUser>('POST', '/Users', {
        schemas: [SCIM_USER_SCHEMA],
        ...user,
      });
      if (res.status !== 201 || typeof res.body?.id !== 'string')
        throw fail(`POST /Users (userName ${user.userName})`, res);
      return res.body;
    },
    getUser: (id) => read<ScimUser>(`/Users/${encodeURIComponent(id)}`),
    async findUserByUserName(userName) {
      const filter = `userName eq ${JSON.stringify(userName)}`;
      const path = `/Users?filter=${encodeURIComponent(filter)}`;
      const res = await request<{ totalResults: number; Resources?: ScimUser[] }>('GET', path);
      if (res.status !== 200) throw fail(`GET ${path}`, res);
      return res.body.Resources?.[0];
    },
    async createGroup(displayName, memberIds = []) {
      const res = await request<ScimGroup>('POST', '/Groups', {
        schemas: [SCIM_GROUP_SCHEMA],
        displayName,
        members: memberIds.map((value) => ({ value })),
      });
      if (res.status !== 201 || typeof res.body?.id !== 'string')
        throw fail(`POST /Groups (displayName ${displayName})`, res);
      return res.body;
    },
    getGroup: (id) => read<ScimGroup>(`/Groups/${encodeURIComponent(id)}`),
    logTail: (lines?: number) => server.logTail(lines),
    stop: () => parts.dir.release(server),
  };
}
