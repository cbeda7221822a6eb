import { isConnectorId, rendererFor } from '../../connectors/index.js';
import { identityChangeManifest } from '../../connectors/identity/describe.js';
import type { ActionRequest, Change, Connector, Manifest } from '../../connectors/types.js';

/** What goes to Git for one connector: checked first, then rendered when the branch is written. */
export interface GitForm {
  validate(request: ActionRequest): string[];
  render(request: ActionRequest, changes: readonly Change[]): Promise<Manifest[]>;
}

/**
 * What goes to Git for a connector: its rendered objects, or for an identity connector
 * the description of the requests it will send (identityChangeManifest), kept in the
 * indicator store's namespace.
 */
export function gitForm(connectorId: string, connector: Connector, namespace: string): GitForm {
  if (isConnectorId(connectorId)) {
    const renderer = rendererFor(connectorId);
    return { validate: (r) => renderer.validate(r), render: async (r) => renderer.render(r) };
  }
  return {
    validate: (r) => connector.validate(r),
    render: async (r, changes) => [identityChangeManifest(connectorId, r, changes, namespace)],
  };
}
