import type { PreemptiveAction } from '../../crds/index.js';
import type { ActionRequest } from '../../crds/index.js';
import { NAMESPACE_NAME_LABEL } from '../../policies/index.js';

/** The connector request a PreemptiveAction describes. */
export function requestOf(action: PreemptiveAction, values: string[]): ActionRequest {
  const { spec } = action;
  const scope: ActionRequest['scope'] = { namespaces: spec.scope?.namespaces ?? [] };
  if (spec.scope?.namespaceSelector) scope.namespaceSelector = spec.scope.namespaceSelector;
  // A hand-written action that lists namespaces means those namespaces, also to the
  // cluster-wide connectors (to which an absent selector means every namespace).
  else if (!spec.policyRef && scope.namespaces.length) {
    scope.namespaceSelector = {
      matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: scope.namespaces }],
    };
  }
  if (spec.scope?.workloadSelector) scope.workloadSelector = spec.scope.workloadSelector;
  return {
    name: action.metadata.name!,
    ...(spec.policyRef?.name ? { policy: spec.policyRef.name } : {}),
    type: spec.type,
    values,
    scope,
    params: (spec.params ?? {}) as Record<string, unknown>,
    ...(spec.targets?.length
      ? {
          targets: spec.targets.map((t) => ({
            apiVersion: t.apiVersion ?? 'v1',
            kind: t.kind,
            name: t.name,
            ...(t.namespace ? { namespace: t.namespace } : {}),
          })),
        }
      : {}),
    ...(spec.expiresAt ? { expiresAt: spec.expiresAt } : {}),
  };
}
