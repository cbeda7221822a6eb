/**
 * proxy.py, a forward HTTP proxy from PyPI, running as a real process on 127.0.0.1 for
 * the outbound-proxy tests (issue 16): CONNECT tunnels for https targets, absolute-form
 * requests for plain http ones, and Basic proxy authentication (`--basic-auth`).
 *
 * test/proxy/setup.sh installs the version pinned in test/proxy/requirements.txt into a
 * venv under the Forestall cache and prints its path; startForwardProxy() takes the venv
 * from its `venv` option, else $FORESTALL_PROXY_VENV, else runs setup.sh itself (well
 * under a second when warm, about 3 s cold).
 *
 * Each proxy is private to its caller: one acceptor and one worker on a port the kernel
 * picks (`--port 0`, written to `--port-file`), its log in a throw-away work dir. What it
 * was asked to do is read back from its access log, one line per finished connection
 * ("127.0.0.1:41234 - CONNECT 127.0.0.1:40871 - 6217 bytes - 31.20ms"), so a test can
 * assert what went through the proxy and, as importantly, what never reached it.
 * With basic auth the credentials are on its command line: throw-away values, loopback
 * only.
 *
 * Start-up or installation failures throw with the proxy's or pip's own output: the
 * tests that need it fail, never skip, on a machine where it cannot run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './envtest-assets.js';
import { runSetupScript, serverWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

export const PROXY_SETUP_SCRIPT = join(REPO_ROOT, 'test/proxy/setup.sh');
/** The venv holding proxy.py; setup.sh also honours it (then installs nothing). */
export const PROXY_VENV_ENV = 'FORESTALL_PROXY_VENV';

const READY_TIMEOUT_MS = 30_000;

/** One connection the proxy finished handling, from its access log. */
export interface ProxyAccess {
  /** CONNECT, GET, POST… */
  method: string;
  /** host:port for CONNECT; host:port/path for an absolute-form request; "None:None" when refused before parsing. */
  target: string;
  /** The whole log line. */
  line: string;
}

export interface ForwardProxy {
  /** http://127.0.0.1:<port>, without credentials. */
  url: string;
  port: number;
  /** The same with user:password@ when the proxy demands credentials. */
  urlWithCredentials: string;
  /** The connections handled so far (access log lines, in order). */
  accesses(): ProxyAccess[];
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export interface StartForwardProxyOptions {
  /** Require `Proxy-Authorization: Basic` with these. */
  basicAuth?: { user: string; password: string };
  venv?: string;
}

/** Runs test/proxy/setup.sh and returns the venv it prints last. */
export function installForwardProxy(): Promise<string> {
  return runSetupScript(PROXY_SETUP_SCRIPT, {
    requiredFor: 'proxy.py is required for the outbound-proxy tests',
    showProgress: true,
  });
}

const ACCESS_LINE = /server\.access_log:\d+ - \S+ - ([A-Z]+) (\S+) - /;

export async function startForwardProxy(
  options: StartForwardProxyOptions = {},
): Promise<ForwardProxy> {
  const venv = options.venv ?? process.env[PROXY_VENV_ENV] ?? (await installForwardProxy());
  const executable = join(venv, 'bin', 'proxy');
  if (!existsSync(executable)) {
    throw new Error(
      `${executable} does not exist: ${venv} is not a proxy.py venv (run ${PROXY_SETUP_SCRIPT})`,
    );
  }
  const dir = serverWorkDir('proxy');
  const portFile = join(dir.path, 'port');
  const auth = options.basicAuth;
  let proxy: ManagedProcess | undefined;
  try {
    proxy = ManagedProcess.spawn({
      name: 'proxy.py',
      binary: executable,
      args: [
        '--hostname',
        '127.0.0.1',
        '--port',
        '0',
        '--port-file',
        portFile,
        '--num-acceptors',
        '1',
        '--num-workers',
        '1',
        '--log-level',
        'INFO',
        ...(auth === undefined ? [] : ['--basic-auth', `${auth.user}:${auth.password}`]),
      ],
      dir: dir.path,
    });
    const running = proxy;
    let port = 0;
    await running.waitUntilReady({
      description: `${portFile} written and the port accepting connections`,
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 50,
      check: async () => {
        if (!existsSync(portFile)) return { ready: false, detail: 'no port file yet' };
        port = Number(readFileSync(portFile, 'utf8').trim());
        if (!(port > 0)) return { ready: false, detail: 'port file empty' };
        return { ready: await accepts(port), detail: `127.0.0.1:${port} refused` };
      },
    });
    const url = `http://127.0.0.1:${port}`;
    const urlWithCredentials =
      auth === undefined
        ? url
        : `http://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@127.0.0.1:${port}`;
    return {
      url,
      port,
      urlWithCredentials,
      accesses: () => {
        const log = existsSync(running.logPath) ? readFileSync(running.logPath, 'utf8') : '';
        return log.split('\n').flatMap((line) => {
          const m = ACCESS_LINE.exec(line);
          return m === null ? [] : [{ method: m[1]!, target: m[2]!, line }];
        });
      },
      logTail: (lines = 30) => running.logTail(lines),
      stop: () => dir.release(running),
    };
  } catch (err) {
    await dir.release(proxy);
    throw err;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
