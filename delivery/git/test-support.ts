import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

// What the Git delivery tests do as "other people" with real git, and how they search a
// work directory for leaked secrets: one copy for the unit and integration tests.

const exec = promisify(execFile);

/**
 * git as another person (`who`) would run it, isolated from the machine's configuration;
 * `home` is read at each call, as the tests make their root in beforeAll.
 */
export function gitAs(who: string, email: string, home: () => string) {
  return async (cwd: string, ...args: string[]): Promise<string> => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home(),
      LC_ALL: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: who,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: who,
      GIT_COMMITTER_EMAIL: email,
    };
    return (await exec('git', args, { cwd, env })).stdout.trim();
  };
}

/** Every file under dir, recursively, as text: the whole work directory, .git included. */
export function allText(dir: string): string {
  let out = '';
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out += allText(path);
    else if (entry.isFile()) out += readFileSync(path).toString('latin1');
  }
  return out;
}
