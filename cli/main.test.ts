import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Runs the built command as a user would (npm test builds dist/ first).
const bin = new URL('../dist/cli/main.js', import.meta.url).pathname;
const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args]).then(
  (r) => ({ code: 0, ...r }),
  (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
);

describe('forestall command', () => {
  it('GIVEN --version THEN it prints the package version', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
    expect((await run('--version')).stdout.trim()).toBe(pkg.version);
  });

  it('GIVEN --help THEN it lists the commands', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/controller\s+run the operator/);
    expect(r.stdout).toMatch(/validate PATH/);
  });

  it('GIVEN an unknown command THEN it exits 2 and says so', async () => {
    const r = await run('fly');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "fly"/);
  });

  it('GIVEN a file with one valid and one invalid ThreatFeed THEN validate names the bad field and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-validate-'));
    await writeFile(join(dir, 'feeds.yaml'), [
      'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: good}\nspec: {format: lines, source: {http: {url: "https://x/y"}}}',
      'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: bad}\nspec: {format: lines, source: {}}',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}',
    ].join('\n---\n'));
    const r = await run('validate', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ThreatFeed\/good: valid/);
    expect(r.stderr).toMatch(/ThreatFeed\/bad: spec.source: exactly one of/);
    expect(r.stdout).toMatch(/1 valid, 1 invalid/);
  });

  it('GIVEN controller with a bad flag THEN it exits 2 naming the flag', async () => {
    const r = await run('controller', '--log-level', 'loud');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/logLevel must be equal to one of the allowed values/);
  });
});
