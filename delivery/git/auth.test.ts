import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderActions } from '../../connectors/core/render.js';
import { networkPolicyRenderer } from '../../connectors/network/networkpolicy/index.js';
import { GitDeliveryError } from './errors.js';
import { GitRepository, type GitRepositoryOptions } from './repository.js';
import { allText } from './test-support.js';

/**
 * Credentials over real transports. The https side runs git's own smart-HTTP server
 * (`git http-backend`, shipped with git) behind a small node:http front that insists on
 * one Authorization header, the way a forge does; the ssh side drives the real OpenSSH
 * client. What is asserted: the header reaches the server, a wrong one is FST_GIT_AUTH,
 * an unreachable server is FST_GIT_NETWORK, and the token never appears in a message or
 * on disk.
 */
const exec = promisify(execFile);
const TOKEN = 'glpat-SuperSecretValue-0123456789abcdef';
const USER = 'x-access-token';
const BASIC = `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;

let root: string;
let projects: string;
let server: Server | undefined;
const seen: string[] = [];

function gitEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Seed',
    GIT_AUTHOR_EMAIL: 'seed@example.invalid',
    GIT_COMMITTER_NAME: 'Seed',
    GIT_COMMITTER_EMAIL: 'seed@example.invalid',
  };
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await exec('git', args, { cwd, env: gitEnv() })).stdout.trim();
}

/** git http-backend as a CGI program, behind a check of the Authorization header. */
async function startGitHttp(accepted: readonly string[]): Promise<string> {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const authorization = req.headers.authorization ?? '';
    seen.push(authorization);
    if (!accepted.includes(authorization)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="forestall-test"' }).end();
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const child = spawn('git', ['http-backend'], {
      env: {
        ...gitEnv(),
        GIT_PROJECT_ROOT: projects,
        GIT_HTTP_EXPORT_ALL: '1',
        REMOTE_USER: 'forestall', // enables receive-pack (push)
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
          : {}),
        ...(req.headers['git-protocol']
          ? { GIT_PROTOCOL: String(req.headers['git-protocol']) }
          : {}),
      },
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersSent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      headersSent = true;
      res.write(head.subarray(end + 4));
    });
    child.on('close', () => res.end());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/policies.git`;
}

function options(
  url: string,
  auth: GitRepositoryOptions['auth'],
  workDir = join(root, 'work'),
): GitRepositoryOptions {
  return {
    url,
    workDir,
    auth,
    baseBranch: 'main',
    author: { name: 'Forestall', email: 'forestall@example.invalid' },
    env: process.env,
    timeoutMs: 20_000,
  };
}

const manifests = renderActions([
  {
    renderer: networkPolicyRenderer,
    request: {
      name: 'a1',
      policy: 'p',
      type: 'EgressDeny',
      values: ['203.0.113.7'],
      scope: { namespaces: ['shop'] },
      params: {},
    },
  },
]);

beforeEach(async () => {
  seen.length = 0;
  root = mkdtempSync(join(tmpdir(), 'forestall-git-auth-'));
  projects = join(root, 'srv');
  const bare = join(projects, 'policies.git');
  await git(root, 'init', '-q', '--bare', '-b', 'main', bare);
  const seed = join(root, 'seed');
  await git(root, 'init', '-q', '-b', 'main', seed);
  writeFileSync(join(seed, 'README.md'), 'seed\n');
  await git(seed, 'add', '--all');
  await git(seed, 'commit', '-q', '-m', 'seed');
  await git(seed, 'push', '-q', bare, 'main');
});

afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

describe('pinned resolution', () => {
  it('GIVEN a remote named by a host no DNS knows, pinned to the address the controller checked THEN git connects there, and without the pin it cannot', async () => {
    const local = await startGitHttp([`Bearer ${TOKEN}`]);
    const port = Number(new URL(local).port);
    const url = `http://git.pinned.invalid:${port}/policies.git`;
    const pinned = await GitRepository.open({
      ...options(url, { token: TOKEN }),
      plainHttpAllowed: true,
      pin: { host: 'git.pinned.invalid', port, addresses: ['127.0.0.1'] },
    });
    expect(await pinned.remoteBranchHead('main')).toMatch(/^[0-9a-f]{40}$/);
    expect(seen.length).toBeGreaterThan(0);

    const error = await GitRepository.open({
      ...options(url, { token: TOKEN }, join(root, 'unpinned')),
      plainHttpAllowed: true,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GitDeliveryError);
    expect((error as Error).message).toMatch(/resolve|git\.pinned\.invalid/i);
  });

  it('GIVEN a repository re-pinned to other addresses THEN git connects to those from then on', async () => {
    const local = await startGitHttp([`Bearer ${TOKEN}`]);
    const port = Number(new URL(local).port);
    const host = 'git.pinned.invalid';
    const repo = await GitRepository.open({
      ...options(`http://${host}:${port}/policies.git`, { token: TOKEN }),
      plainHttpAllowed: true,
      pin: { host, port, addresses: ['127.0.0.1'] },
    });
    // 127.0.0.2 is loopback too, but nothing listens there on this port.
    await repo.repin({ host, port, addresses: ['127.0.0.2'] });
    await expect(repo.remoteBranchHead('main')).rejects.toBeInstanceOf(GitDeliveryError);
    await repo.repin({ host, port, addresses: ['127.0.0.1'] });
    expect(await repo.remoteBranchHead('main')).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('https token', () => {
  it('GIVEN a token and a username WHEN cloning, writing and pushing over smart HTTP THEN the server gets Basic auth on every request and the token is stored nowhere', async () => {
    const url = await startGitHttp([BASIC]);
    const repo = await GitRepository.open(options(url, { token: TOKEN, username: USER }));

    const result = await repo.writeActionBranch({
      action: { name: 'a1', type: 'EgressDeny', indicators: 1 },
      path: 'deploy',
      manifests,
    });

    expect(result).toMatchObject({ pushed: true, changed: true });
    expect(await git(join(projects, 'policies.git'), 'rev-parse', 'refs/heads/forestall/a1')).toBe(
      result.commit,
    );
    expect(seen.length).toBeGreaterThan(3); // clone, fetch, push: info/refs and the pack requests
    expect(new Set(seen)).toEqual(new Set([BASIC]));
    const disk = allText(join(root, 'work'));
    expect(disk).not.toContain(TOKEN);
    expect(disk).not.toContain(BASIC.slice('Basic '.length));
    expect(await git(repo.dir, 'remote', 'get-url', 'origin')).toBe(url);
  });

  it('GIVEN a token without a username THEN it is sent as a Bearer token', async () => {
    const url = await startGitHttp([`Bearer ${TOKEN}`]);
    const repo = await GitRepository.open(options(url, { token: TOKEN }));
    expect(await repo.remoteBranchHead('main')).toMatch(/^[0-9a-f]{40}$/);
    expect(new Set(seen)).toEqual(new Set([`Bearer ${TOKEN}`]));
  });

  it('GIVEN a wrong token WHEN opening THEN FST_GIT_AUTH (terminal), and neither token nor header is in the message', async () => {
    const url = await startGitHttp([
      `Basic ${Buffer.from(`${USER}:the-right-one`).toString('base64')}`,
    ]);

    const error = await GitRepository.open(options(url, { token: TOKEN, username: USER })).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(GitDeliveryError);
    expect(error).toMatchObject({ code: 'FST_GIT_AUTH', errorClass: 'terminal' });
    const message = (error as Error).message;
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain(BASIC.slice('Basic '.length));
    expect(seen).toContain(BASIC); // the wrong credentials were really sent, and refused
  });

  it('GIVEN the token is revoked after the clone WHEN pushing THEN FST_GIT_AUTH, not a retryable error', async () => {
    const url = await startGitHttp([BASIC]);
    const repo = await GitRepository.open(options(url, { token: TOKEN, username: USER }));
    // Revoked: from now on the server refuses every request.
    server!.removeAllListeners('request');
    server!.on('request', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="forestall-test"' }).end();
    });

    await expect(
      repo.writeActionBranch({
        action: { name: 'a1', type: 'EgressDeny', indicators: 1 },
        path: 'deploy',
        manifests,
      }),
    ).rejects.toMatchObject({ code: 'FST_GIT_AUTH' });
  });

  it('GIVEN nothing listens on the port WHEN opening THEN FST_GIT_NETWORK (transient), token-free', async () => {
    const url = await startGitHttp([BASIC]);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;

    const error = await GitRepository.open(options(url, { token: TOKEN, username: USER })).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ code: 'FST_GIT_NETWORK', errorClass: 'transient' });
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('GIVEN a URL that does not exist on the server WHEN opening THEN FST_GIT_NOT_FOUND', async () => {
    const url = await startGitHttp([BASIC]);
    await expect(
      GitRepository.open(
        options(url.replace('policies.git', 'missing.git'), { token: TOKEN, username: USER }),
      ),
    ).rejects.toMatchObject({ code: 'FST_GIT_NOT_FOUND', errorClass: 'terminal' });
  });
});

describe('ssh key', () => {
  it('GIVEN an ssh URL to a port nothing listens on WHEN opening THEN the real ssh client runs with the key and fails with FST_GIT_NETWORK', async () => {
    const keyDir = mkdtempSync(join(root, 'key-'));
    await exec('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-f',
      join(keyDir, 'id'),
      '-C',
      'forestall-test',
    ]);
    const key = readFileSync(join(keyDir, 'id'), 'utf8');
    // A port that was free a moment ago: bind, read the port, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const error = await GitRepository.open(
      options(`ssh://git@127.0.0.1:${port}/policies.git`, { sshPrivateKey: key }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ code: 'FST_GIT_NETWORK', errorClass: 'transient' });
    expect((error as Error).message).toMatch(/connect to host 127\.0\.0\.1 port \d+/);
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });
});
