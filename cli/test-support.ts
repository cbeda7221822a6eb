import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Writer } from './usage.js';

/** The built command (npm test builds dist/ first). */
export const CLI_BIN = new URL('../dist/cli/main.js', import.meta.url).pathname;

/**
 * Runs the built command as a user would, in a child process: the exit code is what CI gates on, so the CLI tests check it with the output.
 */
export const runCli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI_BIN, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

/** What a command run in-process returned and wrote. */
export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one command function (runPlan, runReport, runValidate, …) in-process: the same
 * code as the built command, without a child process per case, with what it wrote.
 */
export async function runInProcess(
  command: (argv: string[], out: Writer, err: Writer) => Promise<number>,
  argv: string[],
): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const code = await command(
    argv,
    { write: (s: string) => (stdout += s) },
    { write: (s: string) => (stderr += s) },
  );
  return { code, stdout, stderr };
}
