/**
 * scripts/attack-data.mjs, the generator of report/attack/data/attack-18.1.json: the
 * checked-in file is what MITRE's bundle gives, and what is revoked or deprecated in a
 * bundle never reaches the data.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MITIGATIONS_BY_ACTION_TYPE, type AttackData } from './catalog.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts', 'attack-data.mjs');
const BUNDLE = '../shared/attack/enterprise-attack-18.1-mitigations.json';

/** Runs the script from the repository root, as a developer would. */
const run = (...args: string[]) =>
  promisify(execFile)(process.execPath, [SCRIPT, ...args], { cwd: ROOT }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

const ref = (id: string) => [{ source_name: 'mitre-attack', external_id: id }];
const technique = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'attack-pattern',
  id: `attack-pattern--${id}`,
  name: `Technique ${id}`,
  external_references: ref(id),
  kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'command-and-control' }],
  x_mitre_is_subtechnique: id.includes('.'),
  ...extra,
});
const mitigation = (id: string) => ({
  type: 'course-of-action',
  id: `course-of-action--${id}`,
  name: `Mitigation ${id}`,
  external_references: ref(id),
});
const rel = (type: string, from: string, to: string, extra: Record<string, unknown> = {}) => ({
  type: 'relationship',
  id: `relationship--${from}-${to}`,
  relationship_type: type,
  source_ref: from,
  target_ref: to,
  ...extra,
});

/** The M-ids report/attack/mitigations.json maps some action type to. */
const mappedMitigations = () => [...new Set(Object.values(MITIGATIONS_BY_ACTION_TYPE).flat())];

/** Every mitigation the mapping names, each mitigating the live T0001 and the dead ones. */
function syntheticBundle(mitigationIds: string[]) {
  const dead = [
    technique('T0002', { revoked: true }),
    technique('T0003', { x_mitre_deprecated: true }),
    technique('T0004'),
    technique('T0003.001'),
  ];
  return {
    type: 'bundle',
    id: 'bundle--test',
    objects: [
      { type: 'x-mitre-matrix', id: 'x-mitre-matrix--m', tactic_refs: ['x-mitre-tactic--c2'] },
      {
        type: 'x-mitre-tactic',
        id: 'x-mitre-tactic--c2',
        name: 'Command and Control',
        x_mitre_shortname: 'command-and-control',
        external_references: ref('TA0011'),
      },
      technique('T0001'),
      ...dead,
      rel('subtechnique-of', 'attack-pattern--T0003.001', 'attack-pattern--T0003'),
      ...mitigationIds.flatMap((m) => [
        mitigation(m),
        rel('mitigates', `course-of-action--${m}`, 'attack-pattern--T0001'),
        rel('mitigates', `course-of-action--${m}`, 'attack-pattern--T0002'),
        rel('mitigates', `course-of-action--${m}`, 'attack-pattern--T0003'),
        rel('mitigates', `course-of-action--${m}`, 'attack-pattern--T0003.001'),
        // A live technique, but the relationship itself is deprecated.
        rel('mitigates', `course-of-action--${m}`, 'attack-pattern--T0004', {
          x_mitre_deprecated: true,
        }),
      ]),
    ],
  };
}

describe('scripts/attack-data.mjs', () => {
  it('GIVEN the checked-in data and MITRE bundle 18.1 WHEN run with --check THEN they agree and it exits 0', async () => {
    const r = await run(BUNDLE, '--check');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('GIVEN data that differs from the bundle WHEN run with --check THEN it exits 1, says how to regenerate and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-attack-'));
    const out = join(dir, 'attack.json');
    await writeFile(out, '{}\n');
    const r = await run(BUNDLE, '--check', '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('run node scripts/attack-data.mjs');
    expect(await readFile(out, 'utf8')).toBe('{}\n');
  });

  it('GIVEN a bundle whose chosen mitigations also mitigate revoked, deprecated and orphaned techniques THEN only the live one is kept', async () => {
    const ids = mappedMitigations();
    const dir = await mkdtemp(join(tmpdir(), 'forestall-attack-'));
    const bundle = join(dir, 'bundle.json');
    const out = join(dir, 'attack.json');
    await writeFile(bundle, JSON.stringify(syntheticBundle(ids)));

    const r = await run(bundle, '--out', out);
    expect(r.code).toBe(0);
    const data = JSON.parse(await readFile(out, 'utf8')) as AttackData;

    expect(Object.keys(data.techniques)).toEqual(['T0001']);
    expect(Object.keys(data.mitigations).sort()).toEqual(ids.sort());
    for (const m of Object.values(data.mitigations)) expect(m.techniques).toEqual(['T0001']);
    // T0004 is live though no live relationship reaches it: it counts in its tactic, unmitigated.
    expect(data.tactics).toEqual([
      {
        id: 'TA0011',
        shortname: 'command-and-control',
        name: 'Command and Control',
        techniques: 2,
      },
    ]);
    expect(data.liveTechniques).toBe(2);
    // Deterministic: a second run writes the same bytes, so --check agrees.
    expect((await run(bundle, '--out', out, '--check')).code).toBe(0);
  });

  it('GIVEN a bundle in which a mapped mitigation is deprecated THEN it fails naming the mitigation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-attack-'));
    const bundle = join(dir, 'bundle.json');
    const b = syntheticBundle(mappedMitigations());
    const m1037 = b.objects.find((o) => o.id === 'course-of-action--M1037')!;
    Object.assign(m1037, { x_mitre_deprecated: true });
    await writeFile(bundle, JSON.stringify(b));
    const r = await run(bundle, '--out', join(dir, 'attack.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('M1037: no live course-of-action');
  });
});
