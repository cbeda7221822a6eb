import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACTION_TYPES } from '../../crds/index.js';
import type { CoverageAction } from '../facts.js';
import {
  ATTACK,
  attackLayer,
  MITIGATIONS_BY_ACTION_TYPE,
  tacticCoverage,
  techniquesFor,
  type NavigatorLayer,
} from './index.js';

/** MITRE's bundle itself, read independently of the trimmed data. */
const bundle = JSON.parse(
  readFileSync(
    new URL('../../../shared/attack/enterprise-attack-18.1-mitigations.json', import.meta.url),
    'utf8',
  ),
) as { objects: Record<string, unknown>[] };
const mitreId = (o: Record<string, unknown>) =>
  (o.external_references as { source_name: string; external_id?: string }[] | undefined)?.find(
    (r) => r.source_name === 'mitre-attack',
  )?.external_id;
const isLive = (o: Record<string, unknown>) => o.revoked !== true && o.x_mitre_deprecated !== true;
const liveTechniques = new Set(
  bundle.objects.filter((o) => o.type === 'attack-pattern' && isLive(o)).map(mitreId),
);
const deadTechniques = new Set(
  bundle.objects.filter((o) => o.type === 'attack-pattern' && !isLive(o)).map(mitreId),
);

const action = (over: Partial<CoverageAction>): CoverageAction => ({
  name: 'c2-egress-deny-egressdeny',
  policy: 'c2-egress-deny',
  type: 'EgressDeny',
  layer: 'network',
  feeds: ['ipsum'],
  phase: 'Enforced',
  ...over,
});
const enforced = (a: CoverageAction) => a.phase === 'Enforced';

const egress = action({});
const dns = action({
  name: 'block-malware-domains-dnsblock',
  policy: 'block-malware-domains',
  type: 'DNSBlock',
  layer: 'dns',
  feeds: ['malware-domains', 'urlhaus'],
});
const isolate = action({
  name: 'kev-isolate-isolate',
  policy: 'kev-isolate',
  type: 'Isolate',
  feeds: ['cisa-kev'],
  phase: 'Proposed',
});

/**
 * The properties layer format 4.5 requires, and the values it allows, as its spec
 * (github.com/mitre-attack/attack-navigator, layers/spec/v4.5/layerformat.md) states
 * them. Returns what is wrong, empty when the layer is valid.
 */
function layerProblems(layer: NavigatorLayer): string[] {
  const problems: string[] = [];
  const l = layer as unknown as Record<string, unknown>;
  const need = (ok: boolean, what: string) => ok || problems.push(what);
  need(typeof l.name === 'string' && l.name !== '', 'name: a non-empty string');
  need(['enterprise-attack', 'mobile-attack', 'ics-attack'].includes(l.domain as string), 'domain');
  const v = l.versions as Record<string, unknown> | undefined;
  need(v?.layer === '4.5', 'versions.layer: "4.5"');
  const nav = String(v?.navigator ?? '')
    .split('.')
    .map(Number);
  need(
    nav.length === 3 && (nav[0]! > 4 || (nav[0] === 4 && nav[1]! >= 9)),
    'versions.navigator: at least 4.9.0',
  );
  need(typeof v?.attack === 'string', 'versions.attack: a string');
  need(typeof l.description === 'string', 'description: a string');
  need([0, 1, 2, 3].includes(l.sorting as number), 'sorting: 0-3');
  need(Array.isArray(l.techniques), 'techniques: an array');
  for (const t of (l.techniques ?? []) as Record<string, unknown>[]) {
    need(
      /^T\d{4}(\.\d{3})?$/.test(t.techniqueID as string),
      `techniqueID ${String(t.techniqueID)}`,
    );
    need(typeof t.score === 'number', `${String(t.techniqueID)}: score a number`);
    need(typeof t.comment === 'string', `${String(t.techniqueID)}: comment a string`);
    need(typeof t.enabled === 'boolean', `${String(t.techniqueID)}: enabled a boolean`);
    for (const m of (t.metadata ?? []) as Record<string, unknown>[])
      need(typeof m.name === 'string' && typeof m.value === 'string', 'technique metadata');
  }
  const g = l.gradient as { colors?: unknown[]; minValue?: number; maxValue?: number };
  need(
    Array.isArray(g?.colors) &&
      g.colors.length >= 2 &&
      g.colors.every((c) => /^#[0-9a-f]{6}$/i.test(c as string)),
    'gradient.colors: at least two hex colours',
  );
  need(
    typeof g?.minValue === 'number' && typeof g.maxValue === 'number' && g.maxValue > g.minValue,
    'gradient: maxValue > minValue',
  );
  for (const i of (l.legendItems ?? []) as Record<string, unknown>[])
    need(typeof i.label === 'string' && typeof i.color === 'string', 'legendItems: label, color');
  for (const m of (l.metadata ?? []) as Record<string, unknown>[])
    need(typeof m.name === 'string' && typeof m.value === 'string', 'metadata: name, value');
  const layout = l.layout as Record<string, unknown>;
  need(['side', 'flat', 'mini'].includes(layout.layout as string), 'layout.layout');
  need(
    ['average', 'min', 'max', 'sum'].includes(layout.aggregateFunction as string),
    'layout.aggregateFunction',
  );
  need(
    ['none', 'all', 'annotated'].includes(layout.expandedSubtechniques as string),
    'layout.expandedSubtechniques',
  );
  return problems;
}

describe('the action type → mitigation mapping', () => {
  it('GIVEN every action type THEN the mapping names it, and Notify implements nothing', () => {
    expect(Object.keys(MITIGATIONS_BY_ACTION_TYPE).sort()).toEqual([...ACTION_TYPES].sort());
    expect(MITIGATIONS_BY_ACTION_TYPE.Notify).toEqual([]);
    expect(techniquesFor('Notify')).toEqual([]);
  });

  it('GIVEN the chosen mitigations THEN each is a live course-of-action of ATT&CK 18.1 under the name docs/attack.md gives', () => {
    const names = Object.fromEntries(
      bundle.objects
        .filter((o) => o.type === 'course-of-action' && isLive(o))
        .map((o) => [mitreId(o), o.name]),
    );
    expect(
      Object.fromEntries(Object.keys(ATTACK.mitigations).map((id) => [id, names[id]])),
    ).toEqual({
      M1018: 'User Account Management',
      M1021: 'Restrict Web-Based Content',
      M1030: 'Network Segmentation',
      M1032: 'Multi-factor Authentication',
      M1036: 'Account Use Policies',
      M1037: 'Filter Network Traffic',
    });
    const docs = readFileSync(new URL('../../docs/attack.md', import.meta.url), 'utf8');
    for (const [id, m] of Object.entries(ATTACK.mitigations))
      expect(docs).toContain(`${id} ${m.name}`);
  });

  it('GIVEN each action type THEN it covers the techniques of its mitigations, all live in the bundle', () => {
    const counts = Object.fromEntries(ACTION_TYPES.map((t) => [t, techniquesFor(t).length]));
    expect(counts).toEqual({
      EgressDeny: 49,
      DNSBlock: 79,
      Isolate: 37,
      IdentityBlock: 10,
      IdentitySuspend: 120,
      StepUpAuth: 48,
      Notify: 0,
    });
    for (const t of ACTION_TYPES)
      for (const id of techniquesFor(t)) {
        expect(liveTechniques.has(id), id).toBe(true);
        expect(deadTechniques.has(id), id).toBe(false);
      }
  });
});

describe('attackLayer', () => {
  it('GIVEN enforced egress and DNS actions and a proposed isolation THEN the layer is valid 4.5 and scores only the enforced ones', () => {
    const layer = attackLayer([egress, dns, isolate], { counted: enforced });
    expect(layerProblems(layer)).toEqual([]);
    expect(layer.versions).toEqual({ attack: '18', navigator: '5.2.0', layer: '4.5' });
    expect(layer.domain).toBe('enterprise-attack');

    const ids = layer.techniques.map((t) => t.techniqueID);
    expect(ids).toEqual(
      [...new Set([...techniquesFor('EgressDeny'), ...techniquesFor('DNSBlock')])].sort(),
    );
    // T1190 Exploit Public-Facing Application: M1030 (Isolate) and M1037 (EgressDeny).
    expect(ids).toContain('T1190');
    for (const id of ids) {
      expect(liveTechniques.has(id), id).toBe(true);
      expect(deadTechniques.has(id), id).toBe(false);
    }
    expect(layer.description).toMatch(/^\d+ techniques mitigated by 2 enforced actions \(of 3\)/);
  });

  it('GIVEN a technique two counted actions mitigate THEN it scores 2 and its comment names both actions, their mitigations and their feeds', () => {
    const layer = attackLayer([egress, dns], { counted: enforced });
    // T1071.004 Application Layer Protocol: DNS is mitigated by M1037, which both implement.
    const t = layer.techniques.find((x) => x.techniqueID === 'T1071.004')!;
    expect(t.score).toBe(2);
    expect(t.comment).toBe(
      'Mitigated by 2 actions: c2-egress-deny/c2-egress-deny-egressdeny (EgressDeny, Enforced; M1037 Filter Network Traffic); ' +
        'block-malware-domains/block-malware-domains-dnsblock (DNSBlock, Enforced; M1037 Filter Network Traffic). ' +
        'Feeds: ipsum, malware-domains, urlhaus.',
    );
    expect(t.metadata).toEqual([{ name: 'mitigation', value: 'M1037 Filter Network Traffic' }]);
    // T1566 Phishing only through DNSBlock's M1021.
    const phishing = layer.techniques.find((x) => x.techniqueID === 'T1566')!;
    expect(phishing.score).toBe(1);
    expect(phishing.comment).toContain('(DNSBlock, Enforced; M1021 Restrict Web-Based Content)');
    expect(phishing.comment).not.toContain('egressdeny');
    expect(layer.gradient.maxValue).toBe(2);
  });

  it('GIVEN --planned counting THEN the proposed isolation scores too', () => {
    const layer = attackLayer([egress, isolate], {
      counted: (a) => a.phase === 'Enforced' || a.phase === 'Proposed',
      countedLabel: 'enforced or planned',
    });
    const t1190 = layer.techniques.find((x) => x.techniqueID === 'T1190')!;
    expect(t1190.score).toBe(2);
    expect(t1190.metadata.map((m) => m.value)).toEqual([
      'M1030 Network Segmentation',
      'M1037 Filter Network Traffic',
    ]);
    expect(layer.name).toBe('Forestall: ATT&CK coverage of enforced or planned actions');
  });

  it.each([
    ['no actions at all', [], 'Nothing is enforced: there are no actions.'],
    [
      'every action expired or lifted',
      [action({ phase: 'Expired' }), action({ phase: 'Expired' }), action({ phase: 'Lifted' })],
      'Nothing is enforced: none of the 3 actions is (Expired 2, Lifted 1).',
    ],
    [
      'only Notify enforced',
      [action({ type: 'Notify', layer: 'notify' })],
      'Nothing is mitigated: the 1 enforced action implements no ATT&CK mitigation (Notify).',
    ],
  ])(
    'GIVEN %s THEN the layer is valid, empty, and its description says so plainly',
    (_, actions, says) => {
      const layer = attackLayer(actions, { counted: enforced, description: 'Read cluster x.' });
      expect(layerProblems(layer)).toEqual([]);
      expect(layer.techniques).toEqual([]);
      expect(layer.description).toBe(`Read cluster x. ${says}`);
    },
  );
});

describe('tacticCoverage', () => {
  it('GIVEN the enforced actions THEN each tactic, in matrix order, counts its live techniques and the covered ones', () => {
    const { tactics, techniquesCovered } = tacticCoverage([egress, dns, isolate], enforced);
    expect(tactics.map((t) => t.id)).toEqual([
      'TA0043',
      'TA0042',
      'TA0001',
      'TA0002',
      'TA0003',
      'TA0004',
      'TA0005',
      'TA0006',
      'TA0007',
      'TA0008',
      'TA0009',
      'TA0011',
      'TA0010',
      'TA0040',
    ]);
    expect(techniquesCovered).toBe(
      attackLayer([egress, dns, isolate], { counted: enforced }).techniques.length,
    );
    // Totals from the bundle itself: live techniques listing the tactic's phase.
    for (const t of tactics) {
      const total = bundle.objects.filter(
        (o) =>
          o.type === 'attack-pattern' &&
          isLive(o) &&
          (o.kill_chain_phases as { phase_name: string }[]).some(
            (p) => p.phase_name === t.shortname,
          ),
      ).length;
      expect(t.techniques, t.shortname).toBe(total);
      expect(t.covered).toBeLessThanOrEqual(t.techniques);
    }
    const c2 = tactics.find((t) => t.shortname === 'command-and-control')!;
    expect(c2.covered).toBeGreaterThan(10);
    expect(tactics.find((t) => t.shortname === 'reconnaissance')!.covered).toBe(0);
  });

  it('GIVEN nothing counted THEN every tactic has its total and none covered', () => {
    const { tactics, techniquesCovered } = tacticCoverage([isolate], enforced);
    expect(techniquesCovered).toBe(0);
    expect(tactics.every((t) => t.covered === 0 && t.techniques > 0)).toBe(true);
  });
});
