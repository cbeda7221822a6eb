/**
 * What every real server the tests start on loopback (Gitea, Keycloak, scim2-server,
 * medallion) needs before and around its process: the setup script that builds or
 * installs it, and a throw-away work dir that outlives neither the server nor the test
 * run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './envtest-assets.js';
import { startOrphanWatchdog } from './exit-cleanup.js';
import type { ManagedProcess } from './managed-process.js';

/** How many lines of a failed setup script's stderr its error quotes. */
const SETUP_OUTPUT_LINES = 30;

export interface SetupScriptOptions {
  /** What cannot run without it, for the error: "Gitea is required for the forge tests". */
  requiredFor: string;
  /** Pass the script's stderr on as it comes, so that a cold build or install shows progress. */
  showProgress?: boolean;
}

/**
 * Runs a setup script (bash, from the repo root) to completion and returns the last line
 * it prints on stdout: the binary, home or venv it built. Throws, quoting the end of its
 * stderr, when it fails or prints nothing.
 */
export async function runSetupScript(script: string, options: SetupScriptOptions): Promise<string> {
  const child = spawn('bash', [script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (options.showProgress === true) process.stderr.write(chunk);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot run ${script}: ${err.message}`)));
    child.once('close', resolve);
  });
  const last = stdout.trim().split('\n').at(-1)?.trim() ?? '';
  if (code !== 0 || last === '') {
    const tail = stderr.trim().split('\n').slice(-SETUP_OUTPUT_LINES).join('\n');
    throw new Error(
      `${script} failed (exit ${String(code)}); ${options.requiredFor}.\n--- setup output ---\n${tail}\n--- end ---`,
    );
  }
  return last;
}

/** A server's throw-away work dir under the system temp dir. */
export interface ServerWorkDir {
  readonly path: string;
  /**
   * Stops the server's process, when there is one, then removes the dir. Until then a
   * watchdog kills what runs from the dir should the test process die first.
   */
  release(server?: ManagedProcess): Promise<void>;
}

/** Makes forestall-<name>-XXXXXX in the temp dir and starts its orphan watchdog. */
export function serverWorkDir(name: string): ServerWorkDir {
  const path = mkdtempSync(join(tmpdir(), `forestall-${name}-`));
  const stopWatchdog = startOrphanWatchdog(path);
  return {
    path,
    async release(server) {
      await server?.stop();
      stopWatchdog();
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A test server's answer: its status, headers, raw text and the JSON of that text. */
export interface LocalAnswer<T> {
  status: number;
  headers: Headers;
  text: string;
  /** jsonOrUndefined(text). */
  body: T;
}

/** One request to a test server, ended after timeoutMs; an HTTP error status is returned, not thrown. */
export async function requestLocal<T>(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | undefined },
  timeoutMs: number,
): Promise<LocalAnswer<T>> {
  const res = await fetch(url, {
    method: init.method,
    headers: init.headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: jsonOrUndefined(text) as T };
}

/**
 * The JSON of a server's answer; undefined when it is empty or not JSON, since an
 * error page is still an answer the caller asserts on (by status and text).
 */
export function jsonOrUndefined(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
