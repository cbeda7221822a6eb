import type { ConnectorInfo } from '../../connectors/index.js';
import type { ActionRequest } from '../../crds/index.js';
import type { Change, Connector, Manifest } from '../../connectors/core/types.js';

/** What goes to Git for one connector: checked first, then rendered when the branch is written. */
export interface GitForm {
  validate(request: ActionRequest): string[];
  render(request: ActionRequest, changes: readonly Change[]): Promise<Manifest[]>;
}

/**
 * What goes to Git for a connector, from its catalogue entry: its rendered objects, or for
 * an identity connector the description of the requests it will send, kept in the
 * indicator store's namespace. An identity request is checked by the bound connector,
 * whose validate() also knows the operator's never-touch list.
 */
export function gitForm(info: ConnectorInfo, connector: Connector, namespace: string): GitForm {
  return {
    validate: (r) => (info.rendersManifests ? info.gitForm.validate(r) : connector.validate(r)),
    render: async (r, changes) => info.gitForm.render(r, changes, namespace),
  };
}
