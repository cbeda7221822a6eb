/**
 * A local clone of the delivery repository, and the branches Forestall proposes in it.
 *
 * Contract:
 * - One branch per action, `forestall/<action>`, holding `<path>/<action>/` (written by
 *   connectors' writeKustomization) and `<path>/kustomization.yaml` (listing every action
 *   directory on the branch), so `kubectl kustomize <path>` builds the whole branch.
 * - Writing is idempotent: when the branch on the server already holds the rendered tree,
 *   nothing is committed and nothing is pushed. A changed render is a new commit on top of
 *   the branch, so reviewers see what changed since they last looked.
 * - A moved base is handled by rebuilding, never merging: when the base changed the files
 *   the branch changes (the parent kustomization or the action's directory), the branch is
 *   recreated from the new base and force-pushed. A base that moved elsewhere leaves the
 *   branch alone, so unrelated merges do not force-push and dismiss reviews.
 * - Every push is `--force-with-lease` against the branch head seen at the last fetch: a
 *   branch that moved meanwhile (another replica, a person) is never overwritten; the push
 *   fails with FST_GIT_PUSH_REJECTED (transient) and the next attempt starts from a fetch.
 * - Credentials never touch disk in the clone or the command line: an https token goes to
 *   git as `http.extraHeader` through GIT_CONFIG_COUNT/KEY/VALUE in the child's
 *   environment, per command (not .git/config, not the remote URL, not argv, which any
 *   process can read in /proc and simple-git's debug output prints). An ssh key is written
 *   0600 under `<workDir>/ssh/`, outside the clone (`<workDir>/repo`), and used through
 *   GIT_SSH_COMMAND. Error messages are redacted when built (errors.ts).
 * - git runs with neither system nor global config (GIT_CONFIG_NOSYSTEM,
 *   GIT_CONFIG_GLOBAL=/dev/null) and in the C locale, so nothing on the host (commit
 *   signing, URL rewrites, credential helpers, translations of the messages errors.ts
 *   matches) changes what is committed, where it is pushed or how failures are classed.
 *
 * Limits: one instance owns its work directory; calls on it are serialised, but two
 * processes must not share a work directory (the controller runs one leader). isMerged()
 * sees merge commits and fast-forwards, not squash or rebase merges: the forge's pull
 * request state is the authority for those.
 */
import { Buffer } from 'node:buffer';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitError, simpleGit, type SimpleGit } from 'simple-git';
import { writeKustomization } from '../../connectors/core/render.js';
import type { Manifest } from '../../connectors/core/types.js';
import { redact } from '../../lib/redact.js';
import { codeForGitOutput, GitDeliveryError, type GitErrorCode } from './errors.js';
import {
  actionBranchName,
  actionDir,
  assertActionName,
  assertBranchName,
  normalizeRepoPath,
  removalBranchName,
  updateParentKustomization,
} from './layout.js';
import { commitBody, commitSubject, type ActionSummary, type CommitVerb } from './message.js';

/** https: a token (Basic with `username`, else Bearer); ssh: a private key, and optionally pinned host keys. */
export type GitAuth =
  | { token?: string; username?: string }
  | {
      sshPrivateKey: string;
      /** known_hosts lines; when given, host keys are checked strictly instead of trusted on first use. */ knownHosts?: string;
    };

export interface GitRepositoryOptions {
  /**
   * https://, http:// (with a token: loopback only, unless plainHttpAllowed), ssh://,
   * user@host:path, or a local path. Never with credentials in it.
   */
  url: string;
  /**
   * The caller checked this URL against the operator's outbound policy
   * (lib/http/git-remote.ts checkGitRemote, --outbound-allow), which lets plain http go
   * only to loopback and to hosts the operator listed: a token may then go over http
   * to that host too. Never set from anything a policy author writes.
   */
  plainHttpAllowed?: boolean;
  /**
   * For an http(s) remote the caller checked: the addresses it judged, which git's
   * libcurl then connects to instead of resolving the host again
   * (`http.curloptResolve`), so a DNS answer that changes after the check is not used.
   */
  pin?: { host: string; port: number; addresses: readonly string[] };
  /** A directory this instance owns: the clone goes to `<workDir>/repo`, ssh material to `<workDir>/ssh`. */
  workDir: string;
  auth: GitAuth;
  /** The branch pull requests target, for example main. */
  baseBranch: string;
  /** Author and committer of every commit. */
  author: { name: string; email: string };
  /**
   * The environment git runs in (PATH, HOME, proxy variables). main.ts passes
   * process.env (STYLE.md: only main.ts reads it). GIT_* and other variables that can
   * make git run programs are dropped from it, except GIT_SSL_CAINFO.
   *
   * Proxies: git's libcurl reads https_proxy/HTTPS_PROXY, http_proxy (lower case only)
   * and no_proxy/NO_PROXY itself, so the operator's proxy (the chart's `proxy` values)
   * reaches git through this environment as it is. CA: GIT_SSL_CAINFO, the one GIT_*
   * variable kept, names the CA file git verifies https remotes with (it replaces the
   * system bundle, so main.ts points it at the system roots plus the operator's extra
   * bundle); a file name cannot make git run anything.
   */
  env: Readonly<Record<string, string | undefined>>;
  /** A git command that shows no progress for this long is killed (FST_GIT_NETWORK). Default 120 s. */
  timeoutMs?: number;
  /** Aborts running git commands (shutdown, lost leadership). */
  signal?: AbortSignal;
}

export interface WriteActionRequest {
  action: ActionSummary;
  /** Repository-relative directory that holds one directory per action. */
  path: string;
  manifests: readonly Manifest[];
  /** Defaults to forestall/<action>. */
  branch?: string;
  /** Extra text for the commit body. */
  message?: string;
}

export interface RemovalRequest {
  action: ActionSummary;
  path: string;
  /** Defaults to forestall-removal/<action>. */
  branch?: string;
  message?: string;
}

/** The state of a branch after a write; also what prepare*() hands to push(). */
export interface BranchResult {
  branch: string;
  /** The branch head on the server after this call; the base head when alreadyInBase and the branch does not exist. */
  commit: string;
  /** The base commit the branch is built on (origin/<base> at the fetch). */
  base: string;
  /** A new commit was made. */
  changed: boolean;
  /** The branch was pushed. */
  pushed: boolean;
  /** The branch was recreated from the current base because the base changed the same files. */
  rebuilt: boolean;
  /** The base branch already holds exactly this content: there is nothing to propose, and nothing was committed. */
  alreadyInBase: boolean;
}

/** A commit made locally and not yet pushed; push() sends it with a lease on `expected`. */
export interface PreparedBranch extends Omit<BranchResult, 'pushed'> {
  /** The branch head on the server at the fetch; undefined when the branch did not exist. */
  expected: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An exit that simple-git's default would swallow (non-zero with an empty stderr), kept
 * with its code. It extends simple-git's GitError because simple-git wraps any other
 * error type, which would lose the exit code.
 */
class GitExit extends GitError {
  constructor(
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(undefined, stderr.trim() || `git exited with ${exitCode}`);
  }
}

export class GitRepository {
  /** The clone's working tree. */
  readonly dir: string;
  readonly baseBranch: string;
  private readonly secrets: string[];
  private readonly env: Record<string, string>;
  private readonly allowEnvironment: string[];
  private readonly ssh: boolean;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: GitRepositoryOptions,
    secrets: string[],
    env: Record<string, string>,
    ssh: boolean,
  ) {
    this.dir = join(options.workDir, 'repo');
    this.baseBranch = options.baseBranch;
    this.secrets = secrets;
    this.env = env;
    this.ssh = ssh;
    this.allowEnvironment = Object.keys(env).filter(isGuardedEnvKey);
  }

  /** Validates the settings, then clones into `<workDir>/repo` (or, when a usable clone is there, fetches). */
  static async open(options: GitRepositoryOptions): Promise<GitRepository> {
    validateUrl(
      options.url,
      'token' in options.auth && options.auth.token !== undefined && !options.plainHttpAllowed,
    );
    assertBranchName(options.baseBranch);
    if (!options.author.name.trim() || !/^[^\s<>]+@[^\s<>]+$/.test(options.author.email)) {
      throw new GitDeliveryError(
        'FST_GIT_INVALID_REQUEST',
        'the commit author needs a name and an email address',
      );
    }
    await mkdir(options.workDir, { recursive: true });
    const { env, secrets, ssh } = await gitEnvironment(options);
    const repo = new GitRepository(options, secrets, env, ssh);
    await repo.exclusive(() => repo.sync());
    return repo;
  }

  /**
   * Points git at newly checked addresses for the remote (the caller checked the URL
   * again and its host now resolves elsewhere); commands already running finish first.
   */
  repin(pin: NonNullable<GitRepositoryOptions['pin']>): Promise<void> {
    return this.exclusive(async () => {
      const count = Number(this.env.GIT_CONFIG_COUNT ?? '0');
      let slot = count;
      for (let i = 0; i < count; i++)
        if (this.env[`GIT_CONFIG_KEY_${i}`] === 'http.curloptResolve') slot = i;
      this.env[`GIT_CONFIG_KEY_${slot}`] = 'http.curloptResolve';
      this.env[`GIT_CONFIG_VALUE_${slot}`] = curlResolve(pin);
      if (slot === count) this.env.GIT_CONFIG_COUNT = String(count + 1);
    });
  }

  /** Fetches the base and every branch, pruning branches deleted on the server. */
  fetch(): Promise<void> {
    return this.exclusive(() => this.fetchUnlocked());
  }

  /**
   * Renders the action onto its branch and pushes it (see the file comment for the
   * rules). Returns what happened; `{ changed: false, pushed: false }` when the server
   * already had this tree.
   */
  writeActionBranch(request: WriteActionRequest): Promise<BranchResult> {
    return this.exclusive(async () => this.pushUnlocked(await this.prepareWriteUnlocked(request)));
  }

  /** The commit writeActionBranch would push, made locally; push() sends it. Split out so that a caller (and the tests) can tell building from publishing. */
  prepareActionBranch(request: WriteActionRequest): Promise<PreparedBranch> {
    return this.exclusive(() => this.prepareWriteUnlocked(request));
  }

  /** A branch that deletes `<path>/<action>/` and drops it from the parent kustomization (expiry, lift), pushed like writeActionBranch. */
  removalBranch(request: RemovalRequest): Promise<BranchResult> {
    return this.exclusive(async () =>
      this.pushUnlocked(await this.prepareRemovalUnlocked(request)),
    );
  }

  prepareRemovalBranch(request: RemovalRequest): Promise<PreparedBranch> {
    return this.exclusive(() => this.prepareRemovalUnlocked(request));
  }

  /** Pushes a prepared commit with a lease on the branch head seen when it was prepared. */
  push(prepared: PreparedBranch): Promise<BranchResult> {
    return this.exclusive(() => this.pushUnlocked(prepared));
  }

  /** The branch head on the server, asked directly (ls-remote, no fetch); undefined when the branch does not exist. */
  remoteBranchHead(branch: string): Promise<string | undefined> {
    assertBranchName(branch);
    return this.exclusive(async () => {
      const out = await this.run('fetch', [
        'ls-remote',
        '--heads',
        'origin',
        `refs/heads/${branch}`,
      ]);
      const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`));
      return line?.split('\t')[0];
    });
  }

  /**
   * Whether the branch's head is contained in the base, after a fetch: true after a
   * merge commit or a fast-forward. False when the branch does not exist, and after a
   * squash or rebase merge (ask the forge).
   */
  isMerged(branch: string): Promise<boolean> {
    assertBranchName(branch);
    return this.exclusive(async () => {
      await this.fetchUnlocked();
      const head = await this.revParse(`refs/remotes/origin/${branch}`);
      if (head === undefined) return false;
      return this.isAncestor(head, await this.baseHead());
    });
  }

  /** A file as it is on the base branch at the last fetch, or undefined when the base has no such file. */
  readBaseFile(path: string): Promise<string | undefined> {
    const file = normalizeRepoPath(path);
    return this.exclusive(async () => {
      if (!(await this.existsIn(`refs/remotes/origin/${this.baseBranch}`, file))) return undefined;
      return this.run('local', ['show', `refs/remotes/origin/${this.baseBranch}:${file}`]);
    });
  }

  /** Deletes a branch on the server, if it is still at `expected` (when given). Nothing when it does not exist. */
  deleteRemoteBranch(branch: string, expected?: string): Promise<void> {
    assertBranchName(branch);
    return this.exclusive(async () => {
      const lease =
        expected === undefined
          ? '--force-with-lease'
          : `--force-with-lease=refs/heads/${branch}:${expected}`;
      const current = await this.revParse(`refs/remotes/origin/${branch}`);
      if (current === undefined && expected === undefined) return;
      await this.run('push', ['push', lease, 'origin', `:refs/heads/${branch}`]);
    });
  }

  // ---- internals; every *Unlocked method runs inside exclusive() ----

  private async prepareWriteUnlocked(request: WriteActionRequest): Promise<PreparedBranch> {
    const { branch, path, dir } = actionPlace(request, actionBranchName);
    let files: string[] = [];
    return this.prepareUnlocked(
      branch,
      path,
      dir,
      (worktree) => {
        files = writeKustomization(join(worktree, dir), request.manifests).files;
      },
      async (base) => {
        const verb: CommitVerb = (await this.existsIn(base, dir)) ? 'update' : 'add';
        return [
          commitSubject(verb, request.action),
          commitBody(verb, request.action, dir, files, request.message),
        ];
      },
    );
  }

  private async prepareRemovalUnlocked(request: RemovalRequest): Promise<PreparedBranch> {
    const { branch, path, dir } = actionPlace(request, removalBranchName);
    return this.prepareUnlocked(
      branch,
      path,
      dir,
      async (worktree) => {
        await rm(join(worktree, dir), { recursive: true, force: true });
      },
      () =>
        Promise.resolve([
          commitSubject('remove', request.action),
          commitBody('remove', request.action, dir, [], request.message),
        ]),
    );
  }

  /**
   * The common part of every branch write: fetch, pick the starting point (the branch
   * as it is on the server, or the base when the branch is missing or must be rebuilt),
   * apply `edit` to the working tree, refresh the parent kustomization, and commit if
   * anything changed and the result is not what the base already has.
   */
  private async prepareUnlocked(
    branch: string,
    path: string,
    dir: string,
    edit: (worktree: string) => void | Promise<void>,
    message: (base: string) => Promise<[string, string]>,
  ): Promise<PreparedBranch> {
    await this.fetchUnlocked();
    const base = await this.baseHead();
    const remote = await this.revParse(`refs/remotes/origin/${branch}`);
    const parent = path === '.' ? 'kustomization.yaml' : `${path}/kustomization.yaml`;
    const owned = [parent, dir];

    let start = base;
    let rebuilt = false;
    if (remote !== undefined) {
      if (await this.isAncestor(base, remote)) {
        start = remote;
      } else {
        const mergeBase = await this.mergeBase(base, remote);
        if (mergeBase !== undefined && !(await this.changedBetween(mergeBase, base, owned)))
          start = remote;
        else rebuilt = true;
      }
    }

    await this.run('local', ['checkout', '--force', '-B', branch, start]);
    await this.run('local', ['clean', '-ffdx']);
    await edit(this.dir);
    updateParentKustomization(join(this.dir, path));
    // The tree was reset and cleaned (ignored files too), so this stages exactly the edit;
    // --force because a repository's .gitignore must not hide rendered manifests.
    await this.run('local', ['add', '--all', '--force']);

    const alreadyInBase = !(await this.stagedDiffers(base, owned));
    const changed = !alreadyInBase && (await this.stagedDiffers('HEAD', ['.']));
    if (!changed) {
      await this.run('local', ['reset', '--hard', '-q']);
      return {
        branch,
        commit: remote ?? base,
        base,
        expected: remote,
        changed: false,
        rebuilt: false,
        alreadyInBase,
      };
    }
    const [subject, body] = await message(base);
    await this.run('local', ['commit', '--no-verify', '-q', '-m', subject, '-m', body]);
    const commit = await this.revParse('HEAD');
    if (commit === undefined)
      throw new GitDeliveryError('FST_GIT_COMMAND', `the commit on ${branch} cannot be read back`);
    return { branch, commit, base, expected: remote, changed: true, rebuilt, alreadyInBase: false };
  }

  private async pushUnlocked(prepared: PreparedBranch): Promise<BranchResult> {
    const { expected, ...result } = prepared;
    if (!prepared.changed) return { ...result, pushed: false };
    await this.run('push', [
      'push',
      `--force-with-lease=refs/heads/${prepared.branch}:${expected ?? ''}`,
      'origin',
      `${prepared.commit}:refs/heads/${prepared.branch}`,
    ]);
    return { ...result, pushed: true };
  }

  private async sync(): Promise<void> {
    if (await this.isUsableClone()) {
      await this.run('local', ['remote', 'set-url', 'origin', this.options.url]);
      await this.fetchUnlocked();
      return;
    }
    // Absent, or left half-made by a crash: start over.
    await rm(this.dir, { recursive: true, force: true });
    await this.run(
      'clone',
      [
        'clone',
        '--no-checkout',
        '--no-tags',
        '--origin',
        'origin',
        '--',
        this.options.url,
        this.dir,
      ],
      this.options.workDir,
    );
  }

  private async isUsableClone(): Promise<boolean> {
    if (!existsSync(join(this.dir, '.git'))) return false;
    try {
      await this.run('local', ['rev-parse', '--git-dir']);
      return true;
    } catch {
      return false;
    }
  }

  private async fetchUnlocked(): Promise<void> {
    await this.run('fetch', [
      'fetch',
      '--prune',
      '--no-tags',
      'origin',
      '+refs/heads/*:refs/remotes/origin/*',
    ]);
  }

  private async baseHead(): Promise<string> {
    const base = await this.revParse(`refs/remotes/origin/${this.baseBranch}`);
    if (base === undefined)
      throw new GitDeliveryError(
        'FST_GIT_BASE_NOT_FOUND',
        `the repository has no branch ${this.baseBranch}`,
      );
    return base;
  }

  private async revParse(ref: string): Promise<string | undefined> {
    try {
      return (
        (await this.run('local', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() ||
        undefined
      );
    } catch (err) {
      if (err instanceof GitDeliveryError && err.code === 'FST_GIT_COMMAND') return undefined;
      throw err;
    }
  }

  private async isAncestor(ancestor: string, of: string): Promise<boolean> {
    return (await this.exitCode(['merge-base', '--is-ancestor', ancestor, of])) === 0;
  }

  private async mergeBase(a: string, b: string): Promise<string | undefined> {
    try {
      return (await this.run('local', ['merge-base', a, b])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private async changedBetween(
    from: string,
    to: string,
    paths: readonly string[],
  ): Promise<boolean> {
    return (await this.exitCode(['diff', '--quiet', from, to, '--', ...paths])) !== 0;
  }

  private async stagedDiffers(commit: string, paths: readonly string[]): Promise<boolean> {
    return (await this.exitCode(['diff', '--cached', '--quiet', commit, '--', ...paths])) !== 0;
  }

  private async existsIn(commit: string, path: string): Promise<boolean> {
    return (await this.run('local', ['ls-tree', '--name-only', commit, '--', path])).trim() !== '';
  }

  /** Exit status of a local command that reports its answer that way (0 or 1); anything else is an error. */
  private async exitCode(args: string[]): Promise<number> {
    try {
      await this.git(this.dir).raw(args);
      return 0;
    } catch (err) {
      if (err instanceof GitExit && err.exitCode === 1 && err.stderr.trim() === '') return 1;
      throw this.failure('local', args, err);
    }
  }

  private async run(
    operation: 'fetch' | 'clone' | 'push' | 'local',
    args: string[],
    cwd = this.dir,
  ): Promise<string> {
    try {
      return await this.git(cwd).raw(args);
    } catch (err) {
      throw this.failure(operation, args, err);
    }
  }

  private failure(
    operation: 'fetch' | 'clone' | 'push' | 'local',
    args: readonly string[],
    err: unknown,
  ): GitDeliveryError {
    const text = err instanceof Error ? err.message : String(err);
    const code: GitErrorCode = codeForGitOutput(operation, text);
    return new GitDeliveryError(code, `git ${args[0] ?? ''} failed: ${text.trim()}`, this.secrets);
  }

  private git(cwd: string): SimpleGit {
    return simpleGit({
      baseDir: cwd,
      maxConcurrentProcesses: 1,
      allowEnvironment: this.allowEnvironment,
      unsafe: {
        allowUnsafeConfigEnvCount: true,
        allowUnsafeConfigPaths: true,
        allowUnsafeSshCommand: this.ssh,
      },
      timeout: { block: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      ...(this.options.signal ? { abort: this.options.signal } : {}),
      // simple-git treats a non-zero exit with an empty stderr as success; callers here
      // need every exit status, and the stderr text to class the failure.
      // An Error here comes from a plugin (timeout, abort) and is kept as it is.
      errors: (error, result) => {
        if (error instanceof Error || result.exitCode === 0) return error;
        return new GitExit(result.exitCode, Buffer.concat(result.stdErr).toString('utf8'));
      },
    }).env(this.env);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Keys simple-git guards (and that could make git run another program): they are dropped from the caller's env. */
function isGuardedEnvKey(key: string): boolean {
  const k = key.toLowerCase();
  return k.startsWith('git') || ['editor', 'pager', 'visual', 'prefix', 'ssh_askpass'].includes(k);
}

/** The guarded keys taken from the caller's env all the same (see GitRepositoryOptions.env). */
const KEPT_GUARDED_KEYS = new Set(['GIT_SSL_CAINFO']);

async function gitEnvironment(
  options: GitRepositoryOptions,
): Promise<{ env: Record<string, string>; secrets: string[]; ssh: boolean }> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env))
    if (value !== undefined && (!isGuardedEnvKey(key) || KEPT_GUARDED_KEYS.has(key)))
      env[key] = value;
  Object.assign(env, {
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: options.author.name,
    GIT_AUTHOR_EMAIL: options.author.email,
    GIT_COMMITTER_NAME: options.author.name,
    GIT_COMMITTER_EMAIL: options.author.email,
  });
  const config: [string, string][] = [
    ['commit.gpgSign', 'false'],
    ['core.autocrlf', 'false'],
  ];
  const secrets: string[] = [];
  let ssh = false;

  if ('sshPrivateKey' in options.auth) {
    ssh = true;
    const sshDir = join(options.workDir, 'ssh');
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await chmod(sshDir, 0o700);
    const keyFile = join(sshDir, 'id_forestall');
    const knownHosts = join(sshDir, 'known_hosts');
    // OpenSSH refuses a key file without its final newline, and one others can read.
    const key = options.auth.sshPrivateKey.endsWith('\n')
      ? options.auth.sshPrivateKey
      : `${options.auth.sshPrivateKey}\n`;
    await writeFile(keyFile, key, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    if (options.auth.knownHosts !== undefined)
      await writeFile(knownHosts, options.auth.knownHosts, { mode: 0o600 });
    else if (!existsSync(knownHosts)) await writeFile(knownHosts, '', { mode: 0o600 });
    const strict = options.auth.knownHosts !== undefined ? 'yes' : 'accept-new';
    env.GIT_SSH_COMMAND = [
      'ssh',
      '-F',
      '/dev/null',
      '-i',
      shellQuote(keyFile),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `StrictHostKeyChecking=${strict}`,
      '-o',
      `UserKnownHostsFile=${shellQuote(knownHosts)}`,
    ].join(' ');
  } else if (options.auth.token !== undefined && options.auth.token !== '') {
    const { token, username } = options.auth;
    const credential =
      username !== undefined
        ? Buffer.from(`${username}:${token}`, 'utf8').toString('base64')
        : token;
    const header = `Authorization: ${username !== undefined ? 'Basic' : 'Bearer'} ${credential}`;
    secrets.push(header, credential, token);
    config.push(['http.extraHeader', header]);
    // libcurl sends extra headers to wherever a redirect leads; a token must only reach the configured host.
    config.push(['http.followRedirects', 'false']);
  }

  if (options.pin && options.pin.addresses.length > 0)
    config.push(['http.curloptResolve', curlResolve(options.pin)]);

  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return { env, secrets, ssh };
}

/** libcurl's CURLOPT_RESOLVE entry: HOST:PORT:ADDRESS[,ADDRESS], IPv6 in brackets. */
function curlResolve(pin: NonNullable<GitRepositoryOptions['pin']>): string {
  const addresses = pin.addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
  return `${pin.host}:${pin.port}:${addresses}`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Accepts https/http/ssh/file URLs, scp-like `user@host:path` and local paths; refuses
 * credentials in a URL (they belong in the Secret, and would be stored in .git/config),
 * git's `transport::address` helper syntax and option-like values, and a token sent over
 * plain http anywhere but loopback.
 */
function validateUrl(url: string, tokenNeedsHttps: boolean): void {
  const invalid = (why: string) =>
    new GitDeliveryError('FST_GIT_INVALID_REQUEST', `repository URL ${redact(url)}: ${why}`);
  if (url.trim() === '' || url.startsWith('-') || /\s/.test(url))
    throw invalid('not a repository URL');
  if (/^[a-z][a-z0-9+.-]*::/i.test(url))
    throw invalid('remote helper syntax (transport::address) is not allowed');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return; // scp-like or a local path
  if (!['https', 'http', 'ssh', 'file'].includes(scheme))
    throw invalid(`the ${scheme}:// transport is not supported`);
  if (scheme === 'https' || scheme === 'http') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid('not a valid URL');
    }
    if (parsed.username !== '' || parsed.password !== '')
      throw invalid('credentials must come from auth, not the URL');
    if (scheme === 'http' && tokenNeedsHttps && !LOOPBACK.has(parsed.hostname))
      throw invalid(
        'a token is only sent over https (plain http is allowed on loopback and, in the controller, to hosts in --outbound-allow)',
      );
  }
}

/** Where a request's action lives in the repository, and the branch its change goes on (checked). */
function actionPlace(
  request: WriteActionRequest | RemovalRequest,
  defaultBranch: (actionName: string) => string,
): { branch: string; path: string; dir: string } {
  assertActionName(request.action.name);
  const path = normalizeRepoPath(request.path);
  const branch = request.branch ?? defaultBranch(request.action.name);
  assertBranchName(branch);
  return { branch, path, dir: actionDir(path, request.action.name) };
}
