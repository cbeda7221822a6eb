/**
 * Connectors (enforcement points), one folder per connectors/<layer>/<name>/, and the
 * public surface of this folder. The catalogue is the explicit list below, built once
 * when the module loads: nothing registers itself, and a duplicate id fails at start-up.
 *
 * Every connector here enforces with Kubernetes objects: a Renderer (pure, deterministic,
 * shared with the CLI and Git delivery) plus ManifestConnector, which applies the render
 * through a ClusterAccess. connectors/ never imports controller/; the controller passes
 * its ClusterAccess in (controller/connectors/cluster-access.ts).
 */
import { ciliumRenderer } from './network/cilium/index.js';
import { calicoRenderer } from './network/calico/index.js';
import { clusterNetworkPolicyRenderer } from './network/clusternetworkpolicy/index.js';
import { networkPolicyRenderer } from './network/networkpolicy/index.js';
import { corednsRenderer } from './dns/coredns/index.js';
import { rpzRenderer } from './dns/rpz/index.js';
import { ConnectorError } from './errors.js';
import { ManifestConnector } from './manifest-connector.js';
import { renderActions } from './render.js';
import type { ActionRequest, ClusterAccess, Connector, Layer, Manifest, Renderer } from './types.js';

export * from './types.js';
export { ConnectorError, CONNECTOR_ERROR_CODES, type ConnectorErrorCode } from './errors.js';
export { ManifestConnector, inSync } from './manifest-connector.js';
export {
  MAX_OBJECT_BYTES, KUSTOMIZATION_FILE, actionSelector, commonLabels, labelValue, manifestBytes, manifestFileName, objectName, refOf,
  renderActions, synthesize, writeKustomization, type ObjectDraft, type RendererLimits, type WriteResult,
} from './render.js';
export { createNetworkPolicyRenderer } from './network/networkpolicy/index.js';
export { createClusterNetworkPolicyRenderer, CNP_LIMITS } from './network/clusternetworkpolicy/index.js';
export { createCiliumRenderer } from './network/cilium/index.js';
export { createCalicoRenderer } from './network/calico/index.js';
export { createCorednsRenderer } from './dns/coredns/index.js';
export { createRpzRenderer } from './dns/rpz/index.js';

function catalogue(renderers: readonly Renderer[]): Readonly<Record<string, Renderer>> {
  const byId: Record<string, Renderer> = {};
  for (const renderer of renderers) {
    if (byId[renderer.id]) throw new Error(`two connectors are registered as ${renderer.id}`);
    byId[renderer.id] = renderer;
  }
  return Object.freeze(byId);
}

/** Every renderer, by connector id. */
export const RENDERERS: Readonly<Record<string, Renderer>> = catalogue([
  networkPolicyRenderer,
  clusterNetworkPolicyRenderer,
  ciliumRenderer,
  calicoRenderer,
  corednsRenderer,
  rpzRenderer,
]);

/** Every connector id, in catalogue order. */
export const CONNECTOR_IDS: readonly string[] = Object.freeze(Object.keys(RENDERERS));

/** The connector a layer uses when the policy names none: the one that needs nothing beyond Kubernetes itself. */
export const DEFAULT_CONNECTORS: Readonly<Partial<Record<Layer, string>>> = Object.freeze({
  network: 'network:networkpolicy',
  dns: 'dns:coredns',
});

export function defaultConnectorId(layer: Layer): string | undefined {
  return DEFAULT_CONNECTORS[layer];
}

export function isConnectorId(id: string): boolean {
  return Object.hasOwn(RENDERERS, id);
}

/** The renderer of a connector id; FST_CONNECTOR_UNKNOWN names the known ids. */
export function rendererFor(id: string): Renderer {
  if (!isConnectorId(id)) throw new ConnectorError('FST_CONNECTOR_UNKNOWN', `no connector ${id}; known connectors: ${CONNECTOR_IDS.join(', ')}`);
  return RENDERERS[id]!;
}

/** A connector that enforces through `access` (the controller's cluster, or a test's). */
export function connectorFor(id: string, access: ClusterAccess): Connector {
  return new ManifestConnector(rendererFor(id), access);
}

/** The manifests of many actions, each by its connector (the CLI's plan, one Git commit). */
export function renderPlan(items: readonly { connector: string; request: ActionRequest }[]): Manifest[] {
  return renderActions(items.map(({ connector, request }) => ({ renderer: rendererFor(connector), request })));
}
