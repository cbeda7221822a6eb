import { stringify } from 'yaml';
import { commonLabels, objectName } from '../core/render.js';
import { ANNOTATION_EXPIRES_AT, type Change, type Manifest } from '../core/types.js';
import type { ActionRequest } from '../../crds/index.js';

/**
 * What an identity action will change, as one ConfigMap for Git: identity providers are
 * not synced from Git, so a pull request for an identity action carries this
 * description (the exact requests the controller will send once it is merged) instead
 * of the objects that enforce it. Argo CD or Flux may apply it like any other file; it
 * enforces nothing, and the controller does not wait for it.
 */
export function identityChangeManifest(
  connectorId: string,
  request: ActionRequest,
  changes: readonly Change[],
  namespace: string,
): Manifest {
  const description = {
    connector: connectorId,
    type: request.type,
    subjects: request.values,
    ...(request.expiresAt ? { reversedAt: request.expiresAt } : {}),
    changes: changes.map((c) => ({
      op: c.op,
      kind: c.ref.kind,
      name: c.ref.name,
      requests: c.requests ?? [],
    })),
  };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: objectName(`forestall-identity-change-${request.name}`),
      namespace,
      labels: commonLabels(request),
      annotations: {
        'forestall.io/purpose':
          'The identity-provider requests this action makes; the Forestall controller sends them once the pull request is merged, and reverses them at expiry.',
        ...(request.expiresAt ? { [ANNOTATION_EXPIRES_AT]: request.expiresAt } : {}),
      },
    },
    data: { 'changes.yaml': stringify(description, { lineWidth: 0 }) },
  };
}
