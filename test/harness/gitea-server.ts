/**
 * Gitea, the forge for the GitOps tests (DESIGN.md: "forge | Gitea built from its Go
 * module"), running as a real process on 127.0.0.1.
 *
 * test/gitea/build.sh builds the pinned release from the module proxy (SQLite
 * compiled in, assets embedded) and caches it; the integration globalSetup runs it
 * once and hands the binary over in $FORESTALL_GITEA_BINARY, and startGitea() runs
 * the script itself when that is not set (instant when the cache is warm).
 *
 * Each server is private to its caller: a temp work dir holding app.ini, the SQLite
 * database and the repositories, a free loopback port, and one admin user with an
 * all-scopes API token. The order is the one Gitea itself requires:
 * `gitea migrate` creates the schema (the admin CLI refuses an unmigrated database),
 * `gitea admin user create --access-token` makes the user and token, and only then
 * `gitea web` starts, so no CLI writer races the server for the SQLite file.
 *
 * Build or start-up failures throw with Gitea's own output: tests that need Gitea must
 * fail, never skip, on a machine where it cannot run.
 *
 * Limits worth knowing when writing tests against it:
 * - Queues are in-memory channels, as in a small production install, so work Gitea
 *   defers is asynchronous: a new pull request's mergeability is computed in the
 *   background, and merging before it is known answers 405. Poll `mergeable` (see
 *   waitUntilMergeable in the tests) rather than sleeping.
 * - No web frontend is built (no JS/CSS): the API, git over HTTP and webhooks work;
 *   the HTML pages render without styling.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
// Brings 'vitest' into the program for the ProvidedContext augmentation below.
import type {} from 'vitest';
import { REPO_ROOT } from './envtest-assets.js';
import { freeLoopbackPorts } from './free-port.js';
import { httpGet } from './http-probe.js';
import { runSetupScript, serverWorkDir } from './local-server.js';
import type { ServerWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    giteaBinary: string;
  }
}

export const GITEA_BUILD_SCRIPT = join(REPO_ROOT, 'test/gitea/build.sh');
/** Carries the binary from the globalSetup to workers; build.sh also honours it as an override. */
export const GITEA_BINARY_ENV = 'FORESTALL_GITEA_BINARY';

const ADMIN_USERNAME = 'forestall-admin';
const ADMIN_EMAIL = 'forestall-admin@forestall.invalid';
const CLI_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 60_000;

export interface CreateRepoOptions {
  /** Let Gitea make an initial commit (README) so the default branch exists. Default false. */
  autoInit?: boolean;
  /** Default branch; Gitea's default is `main`. */
  defaultBranch?: string;
  private?: boolean;
  description?: string;
}

/** The fields of Gitea's Repository object that the tests use. */
export interface GiteaRepo {
  id: number;
  name: string;
  full_name: string;
  default_branch: string;
  clone_url: string;
  empty: boolean;
  private: boolean;
}

export interface GiteaResponse<T = unknown> {
  status: number;
  /** The parsed JSON body, or undefined for an empty body. */
  body: T;
  /** The raw body text, for error messages. */
  text: string;
}

export interface GiteaServer {
  /** http://<host>:<port> (host 127.0.0.1 unless StartGiteaOptions.host), no trailing slash. */
  url: string;
  /** `${url}/api/v1` */
  apiUrl: string;
  /** An all-scopes access token of the admin user. */
  token: string;
  username: string;
  password: string;
  /** The gitea binary and its version as the server reports it. */
  binary: string;
  version: string;
  /** The temp dir with app.ini, gitea.log, the database and the repositories. */
  workDir: string;
  /**
   * One REST call with the admin token. `path` is relative to apiUrl
   * ("/repos/o/r/pulls"). Never throws on an HTTP status: the caller asserts it.
   */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<GiteaResponse<T>>;
  /** Creates a repository owned by the admin user; throws unless Gitea answers 201. */
  createRepo(name: string, options?: CreateRepoOptions): Promise<GiteaRepo>;
  /** The HTTP clone URL of the admin's repository `name`, with the token in it, for git. */
  cloneUrl(name: string): string;
  logTail(lines?: number): string;
  /** Stops Gitea and removes the work dir. */
  stop(): Promise<void>;
}

export interface StartGiteaOptions {
  /**
   * The address Gitea listens on; 127.0.0.1 unless a test needs it reachable from
   * pods on the real node (test/e2e: the pod bridge's gateway address). The port is
   * one that was free on loopback.
   */
  host?: string;
  /** The gitea binary. Defaults to $FORESTALL_GITEA_BINARY, else the output of test/gitea/build.sh. */
  binary?: string;
}

/** Runs test/gitea/build.sh and returns the binary it prints last; a cold build shows progress. */
export function buildGitea(): Promise<string> {
  return runSetupScript(GITEA_BUILD_SCRIPT, {
    requiredFor: 'Gitea is required for the forge tests',
    showProgress: true,
  });
}

export async function startGitea(options: StartGiteaOptions = {}): Promise<GiteaServer> {
  const binary = options.binary ?? process.env[GITEA_BINARY_ENV] ?? (await buildGitea());
  const dir = serverWorkDir('gitea');
  const workDir = dir.path;

  let gitea: ManagedProcess | undefined;
  try {
    const [port] = await freeLoopbackPorts(1);
    if (port === undefined) throw new Error('no free loopback port');
    const host = options.host ?? '127.0.0.1';
    const url = `http://${host}:${port}`;
    const configPath = join(workDir, 'app.ini');
    const customPath = join(workDir, 'custom');
    mkdirSync(customPath);
    writeFileSync(configPath, appIni(workDir, host, port), { mode: 0o600 });
    // Every command gets the same three paths, so that none of them falls back to
    // the binary's directory (the shared cache) for custom files or data.
    const common = ['--config', configPath, '--work-path', workDir, '--custom-path', customPath];

    await cli(binary, workDir, ['migrate', ...common]);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const created = await cli(binary, workDir, [
      'admin',
      'user',
      'create',
      ...common,
      '--admin',
      '--username',
      ADMIN_USERNAME,
      '--password',
      password,
      '--email',
      ADMIN_EMAIL,
      '--must-change-password=false',
      '--access-token',
      '--access-token-name',
      'forestall-tests',
      '--access-token-scopes',
      'all',
    ]);
    const token = /Access token was successfully created\.\.\. ([0-9a-f]{40})/.exec(created)?.[1];
    if (token === undefined) {
      throw new Error(`gitea admin user create printed no access token:\n${created}`);
    }

    gitea = ManagedProcess.spawn({ name: 'gitea', binary, args: ['web', ...common], dir: workDir });
    await gitea.waitUntilReady({
      description: `GET ${url}/api/healthz == 200`,
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 200,
      check: async () => {
        const { status, body } = await httpGet(`${url}/api/healthz`);
        return { ready: status === 200, detail: `HTTP ${status}: ${body.slice(0, 200)}` };
      },
    });

    const api = apiClient(`${url}/api/v1`, token);
    const version = await api<{ version?: string }>('GET', '/version');
    if (version.status !== 200 || typeof version.body?.version !== 'string') {
      throw gitea.failure(
        `GET ${url}/api/v1/version with the admin token answered HTTP ${version.status}: ${version.text.slice(0, 300)}`,
      );
    }
    return makeServer({
      url,
      token,
      password,
      binary,
      version: version.body.version,
      process: gitea,
      api,
      dir,
    });
  } catch (err) {
    await dir.release(gitea);
    throw err;
  }
}

interface ServerParts {
  url: string;
  token: string;
  password: string;
  binary: string;
  version: string;
  process: ManagedProcess;
  api: GiteaServer['api'];
  dir: ServerWorkDir;
}

/** REST calls with the token; an HTTP error status is returned, not thrown. */
function apiClient(apiUrl: string, token: string): GiteaServer['api'] {
  return async <T>(method: string, path: string, body?: unknown): Promise<GiteaResponse<T>> => {
    const headers: Record<string, string> = {
      authorization: `token ${token}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T, text };
  };
}

function makeServer(parts: ServerParts): GiteaServer {
  const { url, token, api, process: gitea } = parts;
  const apiUrl = `${url}/api/v1`;
  return {
    url,
    apiUrl,
    token,
    username: ADMIN_USERNAME,
    password: parts.password,
    binary: parts.binary,
    version: parts.version,
    workDir: parts.dir.path,
    api,
    async createRepo(name, options = {}) {
      const res = await api<GiteaRepo>('POST', '/user/repos', {
        name,
        auto_init: options.autoInit ?? false,
        private: options.private ?? false,
        ...(options.defaultBranch !== undefined ? { default_branch: options.defaultBranch } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
      });
      if (res.status !== 201) {
        throw new Error(
          `Gitea did not create repository ${name}: HTTP ${res.status} ${res.text.slice(0, 500)}`,
        );
      }
      return res.body;
    },
    cloneUrl(name) {
      // Gitea accepts an access token as the password of git over HTTP.
      return `http://${ADMIN_USERNAME}:${token}@${url.slice('http://'.length)}/${ADMIN_USERNAME}/${name}.git`;
    },
    logTail: (lines?: number) => gitea.logTail(lines),
    stop: () => parts.dir.release(gitea),
  };
}

/**
 * app.ini for a throw-away, loopback-only instance. Everything that would reach
 * off the machine (mail, avatars, update checks, SSH) is off; what is left is the
 * REST API and git over HTTP.
 */
function appIni(workDir: string, host: string, port: number): string {
  const secret = (): string => randomBytes(32).toString('hex');
  const runUser = userInfo().username;
  const lines = [
    'APP_NAME = Forestall test forge',
    'RUN_MODE = prod',
    `RUN_USER = ${runUser}`,
    `WORK_PATH = ${workDir}`,
    // Gitea refuses to start as root unless told to; test containers often are root.
    ...(process.getuid?.() === 0 ? ['I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true'] : []),
    '',
    '[server]',
    'PROTOCOL = http',
    `HTTP_ADDR = ${host}`,
    `HTTP_PORT = ${port}`,
    `DOMAIN = ${host}`,
    `ROOT_URL = http://${host}:${port}/`,
    // The git hooks call back into the server through this URL with INTERNAL_TOKEN.
    `LOCAL_ROOT_URL = http://${host}:${port}/`,
    `APP_DATA_PATH = ${join(workDir, 'data')}`,
    'DISABLE_SSH = true',
    'START_SSH_SERVER = false',
    'LFS_START_SERVER = false',
    'OFFLINE_MODE = true',
    '',
    '[database]',
    'DB_TYPE = sqlite3',
    `PATH = ${join(workDir, 'data', 'gitea.db')}`,
    'SQLITE_JOURNAL_MODE = WAL',
    '',
    '[security]',
    'INSTALL_LOCK = true',
    `SECRET_KEY = ${secret()}`,
    `INTERNAL_TOKEN = ${secret()}`,
    '',
    '[oauth2]',
    'ENABLED = false',
    '',
    '[service]',
    'DISABLE_REGISTRATION = true',
    'REQUIRE_SIGNIN_VIEW = false',
    'ENABLE_NOTIFY_MAIL = false',
    '',
    '[mailer]',
    'ENABLED = false',
    '',
    '[repository]',
    `ROOT = ${join(workDir, 'repositories')}`,
    'DEFAULT_BRANCH = main',
    '',
    '[webhook]',
    // Forestall's webhook endpoint runs on loopback in the tests.
    'ALLOWED_HOST_LIST = loopback',
    'DELIVER_TIMEOUT = 5',
    '',
    '[queue]',
    'TYPE = channel',
    '',
    '[indexer]',
    'ISSUE_INDEXER_TYPE = db',
    'REPO_INDEXER_ENABLED = false',
    '',
    '[session]',
    'PROVIDER = memory',
    '',
    '[cache]',
    'ADAPTER = memory',
    '',
    // No [picture] section: Gravatar is off by default (picture.disable_gravatar is
    // a database setting now), and the app.ini keys only log a deprecation in 1.26.
    '[actions]',
    'ENABLED = false',
    '',
    '[packages]',
    'ENABLED = false',
    '',
    '[cron.update_checker]',
    'ENABLED = false',
    '',
    '[log]',
    'MODE = console',
    'LEVEL = Warn',
    '',
  ];
  return lines.join('\n');
}

/** Runs one gitea CLI command to completion; throws with its output unless it exits 0. */
async function cli(binary: string, workDir: string, args: string[]): Promise<string> {
  const { code, stdout, stderr, timedOut } = await run(binary, args, {
    cwd: workDir,
    timeoutMs: CLI_TIMEOUT_MS,
  });
  if (code !== 0) {
    // The password is the only secret on a command line here.
    const shown = args
      .map((arg, i) => (args[i - 1] === '--password' ? '<redacted>' : arg))
      .join(' ');
    const why = timedOut ? `timed out after ${CLI_TIMEOUT_MS} ms` : `exited ${String(code)}`;
    throw new Error(
      `gitea ${shown} ${why}\n--- output ---\n${`${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n')}\n--- end ---`,
    );
  }
  return stdout;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
