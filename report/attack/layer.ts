import type { CoverageAction, TacticCoverage } from '../facts.js';
import { ATTACK, byString, mitigationsFor, techniquesFor } from './catalog.js';

/**
 * The ATT&CK view of a set of actions: an ATT&CK Navigator layer (format 4.5) and the
 * per-tactic coverage the readiness report scores. Pure: the actions come in, the data
 * is the trimmed ATT&CK release in ./data. A technique is covered when a counted action
 * implements a mitigation that MITRE relates to it (`mitigates`); that says the action
 * is the kind of control ATT&CK names against the technique, not that the technique is
 * stopped (docs/attack.md).
 */

/** The layer format and the Navigator release that reads it (its spec: navigator at least 4.9.0). */
export const LAYER_VERSION = '4.5';
export const NAVIGATOR_VERSION = '5.2.0';

/** At most this many actions are named in one technique's comment; the rest are counted. */
const COMMENT_ACTIONS = 20;

/** Light to dark green: the more counted actions mitigate a technique, the darker. */
const GRADIENT = ['#d9f0d3', '#1b7837'];

interface Entry {
  name: string;
  value: string;
}

export interface LayerTechnique {
  techniqueID: string;
  /** The counted actions that mitigate it. */
  score: number;
  comment: string;
  enabled: true;
  /** The mitigations through which it is covered. */
  metadata: Entry[];
}

/** The fields of layer format 4.5 that Forestall writes (github.com/mitre-attack/attack-navigator, layers/spec/v4.5). */
export interface NavigatorLayer {
  name: string;
  versions: { attack: string; navigator: string; layer: string };
  domain: 'enterprise-attack';
  description: string;
  /** 3: descending by score. */
  sorting: number;
  layout: {
    layout: 'side';
    showID: boolean;
    showName: boolean;
    showAggregateScores: boolean;
    countUnscored: boolean;
    aggregateFunction: 'max';
    expandedSubtechniques: 'annotated';
  };
  hideDisabled: boolean;
  techniques: LayerTechnique[];
  gradient: { colors: string[]; minValue: number; maxValue: number };
  legendItems: { label: string; color: string }[];
  metadata: Entry[];
}

export interface AttackLayerOptions {
  name?: string;
  /** What was read (the paths, the cluster): the description's first sentence. */
  description?: string;
  /** Whether an action counts: enforced only, or planned as well. */
  counted: (a: CoverageAction) => boolean;
  /** The counted actions in words, for the description: "enforced" (default), "enforced or planned". */
  countedLabel?: string;
}

const actionRef = (a: CoverageAction) => `${a.policy || '(no policy)'}/${a.name}`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The mitigations of the action's type that MITRE relates to the technique. */
const reaching = (a: CoverageAction, technique: string): string[] =>
  mitigationsFor(a.type)
    .filter((m) => ATTACK.mitigations[m.id]!.techniques.includes(technique))
    .map((m) => m.id);
/** "M1037 Filter Network Traffic" */
const mitigationLabel = (m: string) => `${m} ${ATTACK.mitigations[m]!.name}`;

/** technique id → the counted actions that mitigate it, in input order. */
function coverageOf(actions: readonly CoverageAction[]): Map<string, CoverageAction[]> {
  const by = new Map<string, CoverageAction[]>();
  for (const a of actions)
    for (const t of techniquesFor(a.type)) by.set(t, [...(by.get(t) ?? []), a]);
  return by;
}

/** One technique's comment: each action with its type and the mitigations that reach the technique, then the feeds. */
function comment(technique: string, actions: readonly CoverageAction[]): string {
  const named = actions
    .slice(0, COMMENT_ACTIONS)
    .map(
      (a) =>
        `${actionRef(a)} (${a.type}, ${a.phase}; ${reaching(a, technique).map(mitigationLabel).join(', ')})`,
    );
  if (actions.length > COMMENT_ACTIONS) named.push(`… ${actions.length - COMMENT_ACTIONS} more`);
  const feeds = [...new Set(actions.flatMap((a) => a.feeds))].sort(byString);
  return `Mitigated by ${plural(actions.length, 'action')}: ${named.join('; ')}. Feeds: ${
    feeds.length ? feeds.join(', ') : 'none recorded'
  }.`;
}

/**
 * Why nothing is covered, in plain words, or undefined when something is: no actions at
 * all, none counted (with the phases they are in), or only ones that implement no
 * mitigation (Notify).
 */
export function emptyCoverage(
  actions: readonly CoverageAction[],
  counted: (a: CoverageAction) => boolean,
  label = 'enforced',
): string | undefined {
  const chosen = actions.filter(counted);
  if (!actions.length) return `Nothing is ${label}: there are no actions.`;
  if (!chosen.length) {
    const phases = new Map<string, number>();
    for (const a of actions) phases.set(a.phase, (phases.get(a.phase) ?? 0) + 1);
    const list = [...phases]
      .sort(([x], [y]) => byString(x, y))
      .map(([p, n]) => `${p} ${n}`)
      .join(', ');
    return `Nothing is ${label}: none of the ${plural(actions.length, 'action')} is (${list}).`;
  }
  if (chosen.every((a) => !techniquesFor(a.type).length))
    return `Nothing is mitigated: the ${plural(chosen.length, label + ' action')} ${chosen.length === 1 ? 'implements' : 'implement'} no ATT&CK mitigation (${[...new Set(chosen.map((a) => a.type))].join(', ')}).`;
  return undefined;
}

/** An ATT&CK Navigator layer of the techniques the counted actions mitigate; valid (and empty) when none. */
export function attackLayer(
  actions: readonly CoverageAction[],
  options: AttackLayerOptions,
): NavigatorLayer {
  const label = options.countedLabel ?? 'enforced';
  const chosen = actions.filter(options.counted);
  const covered = coverageOf(chosen);
  const techniques: LayerTechnique[] = [...covered.keys()].sort(byString).map((id) => {
    const by = covered.get(id)!;
    const through = new Set(by.flatMap((a) => reaching(a, id)));
    return {
      techniqueID: id,
      score: by.length,
      comment: comment(id, by),
      enabled: true,
      metadata: [...through]
        .sort(byString)
        .map((m) => ({ name: 'mitigation', value: mitigationLabel(m) })),
    };
  });
  const maxScore = Math.max(1, ...techniques.map((t) => t.score));
  const summary =
    emptyCoverage(actions, options.counted, label) ??
    `${plural(techniques.length, 'technique')} mitigated by ${plural(chosen.length, label + ' action')} (of ${actions.length}). Score: how many of them mitigate the technique, through the ATT&CK mitigations their type implements.`;
  return {
    name: options.name ?? `Forestall: ATT&CK coverage of ${label} actions`,
    versions: {
      attack: ATTACK.attack.split('.')[0]!,
      navigator: NAVIGATOR_VERSION,
      layer: LAYER_VERSION,
    },
    domain: ATTACK.domain,
    description: [options.description, summary].filter(Boolean).join(' '),
    sorting: 3,
    layout: {
      layout: 'side',
      showID: true,
      showName: true,
      showAggregateScores: true,
      countUnscored: false,
      aggregateFunction: 'max',
      expandedSubtechniques: 'annotated',
    },
    hideDisabled: false,
    techniques,
    gradient: { colors: GRADIENT, minValue: 0, maxValue: maxScore },
    legendItems: [
      {
        label: `Mitigated by ${label} actions (darker: more, up to ${maxScore})`,
        color: GRADIENT[1]!,
      },
    ],
    metadata: [
      { name: 'generated by', value: 'forestall report attack' },
      { name: 'counted', value: `${label} actions: ${chosen.length} of ${actions.length}` },
      { name: 'ATT&CK data', value: ATTACK.source },
      { name: 'ATT&CK copyright', value: ATTACK.copyright },
    ],
  };
}

/** Per tactic, in the matrix's order: its live techniques, and how many the counted actions mitigate. */
export function tacticCoverage(
  actions: readonly CoverageAction[],
  counted: (a: CoverageAction) => boolean,
): { tactics: TacticCoverage[]; techniquesCovered: number } {
  const covered = [...coverageOf(actions.filter(counted)).keys()];
  return {
    tactics: ATTACK.tactics.map((t) => ({
      id: t.id,
      shortname: t.shortname,
      name: t.name,
      techniques: t.techniques,
      covered: covered.filter((id) => ATTACK.techniques[id]!.tactics.includes(t.shortname)).length,
    })),
    techniquesCovered: covered.length,
  };
}
