import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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
