import type { ActionType } from '../../crds/index.js';
import data from './data/attack-18.1.json' with { type: 'json' };
import mapping from './mitigations.json' with { type: 'json' };

/**
 * The ATT&CK data the reports read: MITRE's Enterprise ATT&CK, trimmed by
 * scripts/attack-data.mjs to the tactics (with their counts of live techniques), the
 * mitigations some action type implements and the live techniques those mitigate. The
 * JSON is imported, so tsc emits it beside the compiled module in dist/ and the image
 * carries it with dist/. Revoked and deprecated objects never reach it.
 */

export interface AttackTactic {
  /** TA0011 */
  id: string;
  /** command-and-control: the kill_chain_phases phase_name, and Navigator's tactic id */
  shortname: string;
  name: string;
  /** Live techniques and sub-techniques of the tactic. */
  techniques: number;
}

export interface AttackTechnique {
  name: string;
  /** Tactic shortnames. */
  tactics: string[];
  subtechnique: boolean;
}

export interface AttackMitigation {
  name: string;
  /** Live technique ids (T1071, T1071.004), sorted. */
  techniques: string[];
}

export interface AttackData {
  /** The ATT&CK release, "18.1". */
  attack: string;
  domain: 'enterprise-attack';
  source: string;
  /** MITRE's copyright designation, which its terms ask every copy to carry. */
  copyright: string;
  /** Live techniques and sub-techniques in the whole matrix. */
  liveTechniques: number;
  /** In the matrix's order. */
  tactics: AttackTactic[];
  mitigations: Record<string, AttackMitigation>;
  /** Only the techniques some mapped mitigation mitigates. */
  techniques: Record<string, AttackTechnique>;
}

export const ATTACK: AttackData = data as AttackData;

/**
 * The ATT&CK mitigations (M-ids) each action type implements; docs/attack.md gives the
 * reasons. The one list: scripts/attack-data.mjs reads the same JSON to choose what data
 * to keep. Notify informs people and implements none.
 */
export const MITIGATIONS_BY_ACTION_TYPE: Readonly<Record<ActionType, readonly string[]>> =
  mapping as Record<ActionType, string[]>;

/** The mitigations an action type implements, with their names. */
export function mitigationsFor(type: ActionType): { id: string; name: string }[] {
  return (MITIGATIONS_BY_ACTION_TYPE[type] ?? []).map((id) => ({
    id,
    name: ATTACK.mitigations[id]!.name,
  }));
}

/** The live techniques an action type mitigates (through any of its mitigations), sorted. */
export function techniquesFor(type: ActionType): string[] {
  const ids = new Set(
    (MITIGATIONS_BY_ACTION_TYPE[type] ?? []).flatMap((m) => ATTACK.mitigations[m]!.techniques),
  );
  return [...ids].sort(byString);
}

/** Code-point order, not the locale's: the output must not depend on where it runs. */
export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
