#!/usr/bin/env node
// Regenerates report/attack/data/attack-18.1.json, the ATT&CK data `forestall report
// attack` ships, from MITRE's STIX 2.1 bundle (docs/attack.md):
//   node scripts/attack-data.mjs [BUNDLE] [--check] [--out FILE]
// BUNDLE defaults to ../shared/attack/enterprise-attack-18.1-mitigations.json beside the
// repository. The mitigations kept are the ones report/attack/mitigations.json maps an
// action type to, the one list the report code reads too. Revoked and deprecated
// objects are skipped, and so are relationships with such an end; a sub-technique of a
// technique that is no longer live is skipped with it. The output is deterministic
// (sorted, two-space JSON, trailing newline), so --check can compare it byte for byte:
// it writes nothing and exits 1 when the checked-in file differs.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ATTACK_VERSION = '18.1';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAPPING = path.join(root, 'report', 'attack', 'mitigations.json');
const DEFAULT_BUNDLE = path.join(
  root,
  '..',
  'shared',
  'attack',
  `enterprise-attack-${ATTACK_VERSION}-mitigations.json`,
);
const DEFAULT_OUT = path.join(root, 'report', 'attack', 'data', `attack-${ATTACK_VERSION}.json`);

const live = (o) => o !== undefined && o.revoked !== true && o.x_mitre_deprecated !== true;
const attackId = (o) =>
  (o.external_references ?? []).find((r) => r.source_name === 'mitre-attack')?.external_id;
const byString = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The trimmed data: tactics with their live technique counts, the chosen mitigations and what they mitigate. */
function trim(bundle, mitigationIds) {
  const objects = bundle.objects ?? [];
  const byRef = new Map(objects.map((o) => [o.id, o]));
  const parentOf = new Map(
    objects
      .filter((r) => r.type === 'relationship' && r.relationship_type === 'subtechnique-of')
      .filter(live)
      .map((r) => [r.source_ref, r.target_ref]),
  );
  // A sub-technique is live only with its parent: Navigator shows it under that parent.
  const isLiveTechnique = (o) =>
    o?.type === 'attack-pattern' &&
    live(o) &&
    attackId(o) !== undefined &&
    (o.x_mitre_is_subtechnique !== true || live(byRef.get(parentOf.get(o.id))));
  const tacticsOf = (o) =>
    (o.kill_chain_phases ?? [])
      .filter((p) => p.kill_chain_name === 'mitre-attack')
      .map((p) => p.phase_name);
  const techniques = objects.filter(isLiveTechnique);

  const matrices = objects.filter((o) => o.type === 'x-mitre-matrix' && live(o));
  if (matrices.length !== 1)
    throw new Error(`expected one live x-mitre-matrix, found ${matrices.length}`);
  const tactics = matrices[0].tactic_refs.map((ref) => {
    const t = byRef.get(ref);
    if (!live(t) || t.type !== 'x-mitre-tactic')
      throw new Error(`matrix tactic ${ref}: not a live tactic`);
    const shortname = t.x_mitre_shortname;
    return {
      id: attackId(t),
      shortname,
      name: t.name,
      techniques: techniques.filter((o) => tacticsOf(o).includes(shortname)).length,
    };
  });

  const mitigations = {};
  const mitigated = new Set();
  for (const id of [...new Set(mitigationIds)].sort(byString)) {
    const coa = objects.find((o) => o.type === 'course-of-action' && live(o) && attackId(o) === id);
    if (!coa) throw new Error(`${id}: no live course-of-action with this ATT&CK id`);
    const ids = objects
      .filter((r) => r.type === 'relationship' && r.relationship_type === 'mitigates')
      .filter((r) => live(r) && r.source_ref === coa.id && isLiveTechnique(byRef.get(r.target_ref)))
      .map((r) => attackId(byRef.get(r.target_ref)));
    const sorted = [...new Set(ids)].sort(byString);
    sorted.forEach((t) => mitigated.add(t));
    mitigations[id] = { name: coa.name, techniques: sorted };
  }

  const byId = new Map(techniques.map((o) => [attackId(o), o]));
  const described = {};
  for (const id of [...mitigated].sort(byString)) {
    const o = byId.get(id);
    described[id] = {
      name: o.name,
      tactics: tacticsOf(o),
      subtechnique: o.x_mitre_is_subtechnique === true,
    };
  }
  return {
    attack: ATTACK_VERSION,
    domain: 'enterprise-attack',
    source: `MITRE ATT&CK Enterprise v${ATTACK_VERSION} (github.com/mitre/cti, enterprise-attack), trimmed by scripts/attack-data.mjs; licence: LICENSE.txt`,
    copyright:
      '© 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation.',
    liveTechniques: techniques.length,
    tactics,
    mitigations,
    techniques: described,
  };
}

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { check: { type: 'boolean' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  const out = values.out ?? DEFAULT_OUT;
  const check = values.check === true;
  const bundlePath = positionals[0] ?? DEFAULT_BUNDLE;
  const mapping = JSON.parse(readFileSync(MAPPING, 'utf8'));
  const data = trim(JSON.parse(readFileSync(bundlePath, 'utf8')), Object.values(mapping).flat());
  const text = `${JSON.stringify(data, null, 2)}\n`;
  if (!check) {
    writeFileSync(out, text);
    process.stderr.write(`attack-data: wrote ${path.relative(process.cwd(), out)}\n`);
    return 0;
  }
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {
    // missing: differs
  }
  if (current === text) return 0;
  process.stderr.write(
    `attack-data: ${path.relative(process.cwd(), out)} differs from ${bundlePath}; run node scripts/attack-data.mjs\n`,
  );
  return 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`attack-data: ${e.message}\n`);
    process.exitCode = 1;
  }
}
