import { normalise, type Guardrails } from '../../feeds/index.js';

/** At most this many refused indicators are named in a condition; the rest are counted. */
const NAMED = 5;

/**
 * Why a hand-written PreemptiveAction (no spec.policyRef) may not be applied, or
 * undefined. A policy's actions carry only indicators that passed the guardrails when
 * their feed was ingested; a hand-written action's spec.indicators.values never went
 * through a feed, so they get the same Guardrails.check() here, before anything is
 * applied. Values normalise() cannot read are left to the connector's own validation.
 * Accounts are guarded by the identity connectors' never-touch list, not here.
 */
export function guardrailRefusal(
  values: readonly string[],
  guardrails: Pick<Guardrails, 'check'>,
): string | undefined {
  const refused: string[] = [];
  for (const value of values) {
    const indicator = normalise(value);
    if ('error' in indicator) continue;
    const reason = guardrails.check(indicator);
    if (reason !== undefined) refused.push(`${indicator.value} (${reason})`);
  }
  if (refused.length === 0) return undefined;
  const more = refused.length > NAMED ? `, and ${refused.length - NAMED} more` : '';
  return (
    `spec.indicators: ${refused.length} of ${values.length} indicators are refused by the guardrails that policy ` +
    `actions pass: ${refused.slice(0, NAMED).join(', ')}${more}; nothing is applied`
  );
}
