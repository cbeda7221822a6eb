import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type {} from 'vitest';
import { REPO_ROOT } from '../harness/envtest-assets.js';

/**
 * What the e2e globalSetup hands to the test files: the real node it brought up
 * (test/node/up.sh) and the Forestall image it imported into the node's containerd.
 */
export interface E2eNode {
  /** The node's state directory (test/node/lib.sh NODE_DIR). */
  nodeDir: string;
  /** The admin kubeconfig up.sh printed. */
  kubeconfig: string;
  /** test/envtest/build.sh's directory: kubectl and helm. */
  envtestAssets: string;
  /** test/node/build.sh's directory: the busybox image's tag file and the node binaries. */
  nodeAssets: string;
  /** The Forestall image in containerd, split for the chart's image values. */
  image: { repository: string; tag: string };
  /** The busybox test image in containerd (localhost/forestall/busybox:...). */
  busyboxImage: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2eNode: E2eNode;
  }
}

export const NODE_SCRIPTS = join(REPO_ROOT, 'test/node');

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a command to the end and returns its output; never throws on a non-zero exit
 * (callers decide), only when the command cannot start. stderr is also echoed when
 * `echoStderr` is set, so that long scripts (build.sh, up.sh) show their progress.
 */
export async function run(
  command: string,
  args: readonly string[],
  opts: { input?: string; echoStderr?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (opts.echoStderr) process.stderr.write(chunk);
  });
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { stdout, stderr, code };
}

/** run(), throwing with the command and its stderr unless it exits 0; returns stdout. */
export async function runOk(
  command: string,
  args: readonly string[],
  opts: { input?: string; echoStderr?: boolean } = {},
): Promise<string> {
  const result = await run(command, args, opts);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${String(result.code)}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** The last non-empty line a script printed (build.sh and up.sh print their result last). */
export function lastLine(stdout: string): string {
  const line = stdout.trim().split('\n').at(-1)?.trim();
  if (!line) throw new Error('the script printed nothing on stdout');
  return line;
}

/** Seconds since `startMs`, to two decimals. */
export function secondsSince(startMs: number): number {
  return Math.round((Date.now() - startMs) / 10) / 100;
}
