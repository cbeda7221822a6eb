/**
 * Connectors (enforcement points), one folder per connectors/<layer>/<name>/, and the
 * public surface of this folder. The catalogue is the explicit list below, built once
 * when the module loads: nothing registers itself, and a duplicate id fails at start-up.
 *
 * Two kinds of connector. Network and DNS connectors enforce with Kubernetes objects: a
 * Renderer (pure, deterministic, shared with the CLI and Git delivery) plus
 * ManifestConnector, which applies the render through a ClusterAccess. Identity
 * connectors (connectors/identity/, ADR 0004) talk to an identity provider's API through
 * an IdentityAccess, keep a ledger of what they changed, and reverse it. connectors/
 * never imports controller/; the controller passes both accesses in
 * (controller/connectors/).
 */
import { ciliumRenderer } from './network/cilium/index.js';
import { calicoRenderer } from './network/calico/index.js';
import { clusterNetworkPolicyRenderer } from './network/clusternetworkpolicy/index.js';
import { networkPolicyRenderer } from './network/networkpolicy/index.js';
import { corednsRenderer } from './dns/coredns/index.js';
import { rpzRenderer } from './dns/rpz/index.js';
import {
  entraProvider,
  IdentityConnector,
  keycloakProvider,
  oktaProvider,
  scimProvider,
  type IdentityAccess,
  type IdentityProvider,
} from './identity/index.js';
import { ConnectorError } from './errors.js';
import { ManifestConnector } from './manifest-connector.js';
import { renderActions } from './render.js';
import type { ClusterAccess, Connector, Manifest, Renderer } from './types.js';
import type { ActionRequest, Layer } from '../crds/index.js';

export * from './types.js';
export { ConnectorError, CONNECTOR_ERROR_CODES, type ConnectorErrorCode } from './errors.js';
export { ManifestConnector, inSync } from './manifest-connector.js';
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
} from './render.js';
export { createNetworkPolicyRenderer } from './network/networkpolicy/index.js';
export {
  createClusterNetworkPolicyRenderer,
  CNP_LIMITS,
} from './network/clusternetworkpolicy/index.js';
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

/** Every identity provider, by connector id (identity:<kind>). */
export const IDENTITY_PROVIDERS: Readonly<Record<string, IdentityProvider>> = Object.freeze(
  Object.fromEntries(
    [scimProvider, keycloakProvider, oktaProvider, entraProvider].map((p) => [
      `identity:${p.kind}`,
      p,
    ]),
  ),
);

/** Every connector id that enforces with Kubernetes objects, in catalogue order. */
export const CONNECTOR_IDS: readonly string[] = Object.freeze(Object.keys(RENDERERS));

/** Every identity connector id. */
export const IDENTITY_CONNECTOR_IDS: readonly string[] = Object.freeze(
  Object.keys(IDENTITY_PROVIDERS),
);

/** Every connector id of both kinds. */
export const ALL_CONNECTOR_IDS: readonly string[] = Object.freeze([
  ...CONNECTOR_IDS,
  ...IDENTITY_CONNECTOR_IDS,
]);

for (const id of IDENTITY_CONNECTOR_IDS)
  if (Object.hasOwn(RENDERERS, id)) throw new Error(`two connectors are registered as ${id}`);

export function isIdentityConnectorId(id: string): boolean {
  return Object.hasOwn(IDENTITY_PROVIDERS, id);
}

/** An identity connector that reaches its provider with the credentials and ledger `access` gives. */
export function identityConnectorFor(id: string, access: IdentityAccess): Connector {
  if (!isIdentityConnectorId(id))
    throw new ConnectorError(
      'FST_CONNECTOR_UNKNOWN',
      `no identity connector ${id}; known identity connectors: ${IDENTITY_CONNECTOR_IDS.join(', ')}`,
    );
  return new IdentityConnector(IDENTITY_PROVIDERS[id]!, access);
}

/** The connector a layer uses when the policy names none: the one that needs nothing beyond Kubernetes itself. */
export const DEFAULT_CONNECTORS: Readonly<Partial<Record<Layer, string>>> = Object.freeze({
  network: 'network:networkpolicy',
  dns: 'dns:coredns',
});

export function defaultConnectorId(layer: Layer): string | undefined {
  return DEFAULT_CONNECTORS[layer];
}

/** Whether the id is a connector that enforces with Kubernetes objects (a renderer), which Argo CD or Flux can apply from Git; identity connectors are isIdentityConnectorId. */
export function isConnectorId(id: string): boolean {
  return Object.hasOwn(RENDERERS, id);
}

/** The renderer of a connector id; FST_CONNECTOR_UNKNOWN names the known ids. */
export function rendererFor(id: string): Renderer {
  if (!isConnectorId(id))
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
