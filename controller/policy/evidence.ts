import type { PreemptiveActionSpec } from '../../crds/index.js';
import type { PlannedAction } from '../../policies/index.js';

type Evidence = NonNullable<PreemptiveActionSpec['evidence']>;

/**
 * A planned action's evidence as the PreemptiveAction stores it, bounded like the
 * schema (crds/schema/preemptiveaction.ts), since the API server prunes what the
 * schema does not declare and refuses what exceeds it: an Isolate's findings (without
 * empty fields) and exposure paths; an identity action's isolated workloads
 * (params.around Isolated). Undefined when the action has neither.
 */
export function evidenceSpec(
  planned: Pick<PlannedAction, 'evidence' | 'isolatedWorkloads'>,
): Evidence | undefined {
  const e = planned.evidence;
  const workloads = planned.isolatedWorkloads ?? [];
  if (!e && !workloads.length) return undefined;
  return {
    ...(e
      ? {
          vulnerabilities: e.vulnerabilities
            .slice(0, 256)
            .map(
              (v) =>
                JSON.parse(JSON.stringify(v)) as NonNullable<Evidence['vulnerabilities']>[number],
            ),
          exposure: e.exposure.slice(0, 64).map((p) => p.via.slice(0, 1024)),
        }
      : {}),
    ...(workloads.length
      ? {
          isolatedWorkloads: workloads.slice(0, 256).map((w) => ({
            target: { ...w.target },
            isolation: w.isolation,
            accounts: w.accounts.slice(0, 256),
          })),
        }
      : {}),
  };
}
