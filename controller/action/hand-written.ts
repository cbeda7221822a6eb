import {
  GROUP,
  type ExposurePolicy,
  type PreemptiveAction,
  type PreemptiveActionSpec,
} from '../../crds/index.js';
import { normalise, type Guardrails } from '../../feeds/index.js';

/** At most this many refused indicators are named in a condition; the rest are counted. */
const NAMED = 5;

/**
 * Whether the ExposurePolicy that spec.policyRef names made this action: the action
 * carries a controller ownerReference to an ExposurePolicy of that name whose UID is the
 * live policy's, as the policy reconciler sets it when it creates the action. Only such
 * an action's indicators are known to have passed the guardrails (when their feed was
 * ingested). A policyRef alone proves nothing: anyone who may create a PreemptiveAction
 * may write one, naming a policy that does not exist or one that never made it.
 *
 * The limit: an ownerReference is written by whoever creates the object, so an author
 * who can read the policy's UID can copy it too. This check stops a forged policyRef,
 * not a forged owner; admission (docs/security/restrict-authors.yaml) keeps everyone
 * but administrators from writing a PreemptiveAction that needs no approval.
 */
export function madeByPolicy(
  action: Pick<PreemptiveAction, 'metadata' | 'spec'>,
  policy: ((name: string) => ExposurePolicy | undefined) | undefined,
): boolean {
  const name = action.spec.policyRef?.name;
  const uid = name ? policy?.(name)?.metadata.uid : undefined;
  if (!uid) return false;
  return (action.metadata.ownerReferences ?? []).some(
    (r) =>
      r.controller === true &&
      r.kind === 'ExposurePolicy' &&
      r.apiVersion.startsWith(`${GROUP}/`) &&
      r.name === name &&
      r.uid === uid,
  );
}

/**
 * Why a PreemptiveAction that no policy made (see madeByPolicy) may not be applied or
 * proposed, or undefined. A policy's actions carry only indicators that passed the
 * guardrails when their feed was ingested; this action's values never went through a
 * feed, so they get the same Guardrails.check() here, before anything is applied or
 * proposed. Values normalise() cannot read are left to the connector's own validation.
 *
 * An IdentityBlock's values are IP addresses and CIDRs (the zone of sign-ins to block),
 * so they are read as such and judged like an EgressDeny's. The other identity actions
 * name accounts, which are not IPs nor domains: the identity connectors' never-touch
 * list guards them, not this.
 */
export function guardrailRefusal(
  spec: Pick<PreemptiveActionSpec, 'type' | 'layer' | 'policyRef'>,
  values: readonly string[],
  guardrails: Pick<Guardrails, 'check'>,
): string | undefined {
  if (spec.layer === 'identity' && spec.type !== 'IdentityBlock') return undefined;
  const hint = spec.type === 'IdentityBlock' ? 'cidr' : undefined;
  const refused: string[] = [];
  for (const value of values) {
    const indicator = normalise(value, hint);
    if ('error' in indicator) continue;
    const reason = guardrails.check(indicator);
    if (reason !== undefined) refused.push(`${indicator.value} (${reason})`);
  }
  if (refused.length === 0) return undefined;
  const more = refused.length > NAMED ? `, and ${refused.length - NAMED} more` : '';
  // A policyRef that did not make the action is why it is judged here: say so, or the
  // author wonders why "a policy's" action was refused.
  const unowned = spec.policyRef?.name
    ? ` (spec.policyRef: ExposurePolicy ${spec.policyRef.name} did not make this action, so it is judged as written by hand)`
    : '';
  return (
    `spec.indicators: ${refused.length} of ${values.length} indicators are refused by the guardrails that policy ` +
    `actions pass: ${refused.slice(0, NAMED).join(', ')}${more}; nothing is applied${unowned}`
  );
}
