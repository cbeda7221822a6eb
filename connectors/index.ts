/**
 * Connectors (enforcement points), one folder per connectors/<layer>/<name>/, and the
 * public surface of this folder. The catalogue (catalog.ts) is an explicit list, built
 * once when the module loads: nothing registers itself, and a duplicate id fails at
 * start-up. The engine, the CLI and the controller are handed defaultConnectorCatalog.
 *
 * Two kinds of connector. Network and DNS connectors enforce with Kubernetes objects: a
 * Renderer (pure, deterministic, shared with the CLI and Git delivery) plus
 * ManifestConnector, which applies the render through a ClusterAccess. Identity
 * connectors (connectors/identity/, ADR 0004) talk to an identity provider's API through
 * an IdentityAccess, keep a ledger of what they changed, and reverse it. connectors/
 * never imports controller/; the controller passes both accesses in
 * (controller/connectors/).
 */
import { ConnectorError } from './core/errors.js';
import { defaultConnectorCatalog, manifestConnectorIds, RENDERER_LIST } from './catalog.js';
import { ManifestConnector } from './core/manifest-connector.js';
import { renderActions } from './core/render.js';
import type { ActionRequest } from '../crds/index.js';
import type { ClusterAccess, Connector, Manifest, Renderer } from './core/types.js';

export * from './core/types.js';
export {
  createConnectorCatalog,
  defaultConnectorCatalog,
  DEFAULT_CONNECTORS,
  identityConnectorInfo,
  manifestConnectorIds,
  manifestConnectorInfo,
  pluralOf,
  type ConnectorAccess,
  type ConnectorCatalog,
  type ConnectorInfo,
  type GitForm,
  type PermissionRule,
} from './catalog.js';
export { ConnectorError, CONNECTOR_ERROR_CODES, type ConnectorErrorCode } from './core/errors.js';
export { ManifestConnector, inSync } from './core/manifest-connector.js';
export {
  MAX_OBJECT_BYTES,
  KUSTOMIZATION_FILE,
  actionSelector,
  commonLabels,
  labelValue,
  manifestBytes,
  manifestFileName,
  objectName,
  refOf,
  renderActions,
  synthesize,
  writeKustomization,
  type ObjectDraft,
  type RendererLimits,
  type WriteResult,
} from './core/render.js';
export { createNetworkPolicyRenderer } from './network/networkpolicy/index.js';
export {
  createClusterNetworkPolicyRenderer,
  CNP_LIMITS,
} from './network/clusternetworkpolicy/index.js';
export { createCiliumRenderer } from './network/cilium/index.js';
export { createCalicoRenderer } from './network/calico/index.js';
export { createCorednsRenderer } from './dns/coredns/index.js';
export { createRpzRenderer } from './dns/rpz/index.js';

const catalog = defaultConnectorCatalog;

/** Every renderer, by connector id. */
export const RENDERERS: Readonly<Record<string, Renderer>> = Object.freeze(
  Object.fromEntries(RENDERER_LIST.map((renderer) => [renderer.id, renderer])),
);

/** Every connector id that enforces with Kubernetes objects, in catalogue order. */
export const CONNECTOR_IDS: readonly string[] = Object.freeze(manifestConnectorIds(catalog));

/**
 * The renderer of a manifest connector id; FST_CONNECTOR_UNKNOWN names the known ids.
 * (Git delivery asks the catalogue for a connector's Git form, which covers identity too.)
 */
export function rendererFor(id: string): Renderer {
  if (catalog.info(id)?.rendersManifests !== true)
    throw new ConnectorError(
      'FST_CONNECTOR_UNKNOWN',
      `no connector ${id}; known connectors: ${CONNECTOR_IDS.join(', ')}`,
    );
  return RENDERERS[id]!;
}

/** A connector that enforces through `access` (the controller's cluster, or a test's). */
export function connectorFor(id: string, access: ClusterAccess): Connector {
  return new ManifestConnector(rendererFor(id), access);
}

/** The manifests of many actions, each by its connector (the CLI's plan, one Git commit). */
export function renderPlan(
  items: readonly { connector: string; request: ActionRequest }[],
): Manifest[] {
  return renderActions(
    items.map(({ connector, request }) => ({ renderer: rendererFor(connector), request })),
  );
}
