import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTest } from './test-command.js';
import { runInProcess } from './test-support.js';

const library = new URL('../policies/library/tests', import.meta.url).pathname;
const shipped = join(library, 'c2-critical-with-exception');

const test = (...args: string[]) => runInProcess(runTest, args);

/** The shipped test in a temp dir, its paths pointed back at the repository, with `edit` applied to its text. */
async function variant(edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forestall-test-'));
  const text = (await readFile(join(shipped, 'forestall-test.yaml'), 'utf8')).replaceAll(
    '../../../../',
    `${new URL('..', import.meta.url).pathname}`,
  );
  await writeFile(
    join(dir, 'forestall-test.yaml'),
    edit(text).replace('  - exceptions.yaml', `  - ${join(shipped, 'exceptions.yaml')}`),
  );
  return dir;
}

describe('forestall test', () => {
  it('GIVEN the shipped library tests THEN every result passes and it exits 0', async () => {
    const r = await test(library);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '  PASS  c2-egress-deny-critical / c2-egress-deny-critical-egressdeny',
    );
    expect(r.stdout).toContain('2 results: 2 passed, 0 failed');
  });

  it('GIVEN expectations the plan does not meet THEN it prints each difference, - expected and + planned, and exits 1', async () => {
    const dir = await variant((t) =>
      t
        .replace('decision: auto', 'decision: approval')
        .replace('count: 22', 'count: 23')
        .replace('excludes: [77.90.185.20]', 'excludes: [77.239.124.102]')
        .replace('exceptions: { monitoring-probe: 1 }', 'exceptions: { monitoring-probe: 2 }')
        .replace('matched: 23', 'matched: 24'),
    );
    const r = await test(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  FAIL  c2-egress-deny-critical\n        matched: - 24  + 23\n');
    expect(r.stdout).toContain(
      'decision: - approval  + auto (spec.autoApprove allowed it and the guardrails passed)',
    );
    expect(r.stdout).toContain('count: - 23  + 22');
    expect(r.stdout).toContain('excludes:\n          + 77.239.124.102  (planned)');
    expect(r.stdout).toContain('exceptions.monitoring-probe: - 2  + 1');
    expect(r.stdout).toContain('2 results: 0 passed, 2 failed');
    const json = JSON.parse((await test(dir, '--json')).stdout) as { results: { pass: boolean }[] };
    expect(json.results.map((x) => x.pass)).toEqual([false, false]);
  });

  it('GIVEN an action the plan does not have, and exact values THEN the missing and extra ones are named', async () => {
    const dir = await variant((t) =>
      t
        .replace(
          '  - policy: c2-egress-deny-critical\n    matched: 23',
          '  - policy: c2-egress-deny-critical\n    action: no-such-action\n  - policy: c2-egress-deny-critical\n    matched: 23',
        )
        .replace(
          'includes: [77.239.124.102, 77.239.124.108]',
          'values: [77.239.124.102, 45.95.169.10]',
        ),
    );
    const r = await test(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '- action no-such-action\n        + not planned; planned: c2-egress-deny-critical-egressdeny',
    );
    expect(r.stdout).toContain('values:\n          - 45.95.169.10\n          + ');
    expect(r.stdout).toMatch(/\+ 77\.239\.124\.108\n/);
    expect(r.stdout).not.toMatch(/[-+] 77\.239\.124\.102\n/);
  });

  it('GIVEN a test file with an unknown field or a bad decision THEN it exits 2 naming the file and the field', async () => {
    const unknown = await test(await variant((t) => t.replace('count: 22', 'cuont: 22')));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/forestall-test\.yaml: results\[1\]: unknown field cuont/);
    const bad = await test(await variant((t) => t.replace('decision: auto', 'decision: yes')));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('results[1].decision: one of auto, approval, audit');
    const none = await test(await mkdtemp(join(tmpdir(), 'forestall-test-empty-')));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no forestall-test.yaml under');
  });
});
