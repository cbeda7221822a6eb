import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_BIN as bin, runCli as run } from './test-support.js';

describe('forestall command', () => {
  it('GIVEN --version THEN it prints the package version', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
    expect((await run('--version')).stdout.trim()).toBe(pkg.version);
  });

  it('GIVEN the built bin run directly, as npx runs it THEN its shebang and executable bit work', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
    const { stdout } = await promisify(execFile)(bin, ['--version']);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('GIVEN --help THEN it lists the commands', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/controller\s+run the operator/);
    expect(r.stdout).toMatch(/validate PATH/);
  });

  it('GIVEN --help THEN the exit codes CI gates on are documented: 1 for problems found, 2 for bad usage', async () => {
    const r = await run('--help');
    expect(r.stdout).toMatch(/Exit status of plan, validate, test and feed parse/);
    expect(r.stdout).toMatch(/The cluster commands exit 1 when the API server refuses/);
    expect(r.stdout).toMatch(/\n {2}1 {2}ran and found problems/);
    expect(r.stdout).toMatch(/\n {2}2 {2}bad usage/);
  });

  it('GIVEN an unknown command THEN it exits 2 and says so', async () => {
    const r = await run('fly');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "fly"/);
  });

  it('GIVEN a name every object has (constructor, __proto__) THEN it is an unknown command too', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      const r = await run(name);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`unknown command "${name}"`);
    }
  });

  it('GIVEN reject without --reason THEN the decision command refuses it as bad usage, with its usage', async () => {
    const r = await run('reject', 'some-action');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^forestall reject: --reason is required\n\n/);
    expect(r.stderr).toContain('--reason TEXT');
  });

  it('GIVEN a file with one valid and one invalid ThreatFeed THEN validate names the bad field and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-validate-'));
    await writeFile(
      join(dir, 'feeds.yaml'),
      [
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: good}\nspec: {format: lines, source: {http: {url: "https://x/y"}}}',
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: bad}\nspec: {format: lines, source: {}}',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}',
      ].join('\n---\n'),
    );
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

  it('GIVEN a feed file with guardrail cases WHEN feed parse --json THEN the kept, dropped and aggregated counts are reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-feed-'));
    const file = join(dir, 'mixed.txt');
    await writeFile(
      file,
      '# a feed\n77.90.185.20\n8.8.8.8\n169.254.169.254\n10.0.0.0/8\n0.0.0.0/0\n2.57.122.0/24\nnot an address!\n',
    );
    const r = await run('feed', 'parse', file, '--format', 'lines', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      indicators: 2,
      byType: { ipv4: 1, cidr: 1 },
      rejected: 1,
      aggregatedCidrs: 2,
      dropped: {
        'never-block:public-dns-v4': 1,
        'cloud-metadata': 1,
        'never-block:rfc1918': 1,
        'too-broad': 1,
      },
    });
    expect(typeof out.durationMs).toBe('number');
  });

  it('GIVEN a confidence expression typo THEN feed parse exits 1 naming the flag', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-feed-'));
    await writeFile(join(dir, 'f.txt'), '1.2.3.4\n');
    const r = await run(
      'feed',
      'parse',
      join(dir, 'f.txt'),
      '--format',
      'lines',
      '--confidence-expr',
      'record.score +',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--confidence-expr: /);
  });
});
