/**
 * The connector catalogue: every connector, described once, and the one table of
 * default connectors per layer. The policy engine, the CLI and the controller are given
 * a catalogue (dependency injection, as Kyverno's engine is) instead of importing the
 * connector modules, so the engine stays free of connectors/ and a test can hand it
 * another catalogue.
 *
 * Each entry says what the connector is (id, layer, action types, params, RBAC, an
 * example), whether it enforces with Kubernetes objects that Argo CD or Flux can apply
 * from Git (`rendersManifests`), and its Git form: what a pull request for one of its
 * actions carries. A manifest connector's Git form is its render; an identity
 * connector's is a ConfigMap describing the requests it will send once the pull request
 * is merged (identityChangeManifest), since identity providers are not synced from Git.
 *
 * Registration is explicit (the lists below), never by side effect, and a duplicate id
 * is an error when the catalogue is built.
 */
import type { ActionRequest, ActionType, Layer } from '../crds/index.js';
import { corednsRenderer } from './dns/coredns/index.js';
import { rpzRenderer } from './dns/rpz/index.js';
import {
  entraProvider,
  IdentityConnector,
  identityChangeManifest,
  identityParams,
  keycloakProvider,
  oktaProvider,
  scimProvider,
  validateIdentityRequest,
  type IdentityAccess,
  type IdentityProvider,
} from './identity/index.js';
import { ManifestConnector } from './core/manifest-connector.js';
import { calicoRenderer } from './network/calico/index.js';
import { ciliumRenderer } from './network/cilium/index.js';
import { clusterNetworkPolicyRenderer } from './network/clusternetworkpolicy/index.js';
import { networkPolicyRenderer } from './network/networkpolicy/index.js';
import type {
  Change,
  ClusterAccess,
  Connector,
  ConnectorExample,
  Manifest,
  ParamSpec,
  Renderer,
} from './core/types.js';

/** One RBAC rule a connector needs, and where it must hold. */
export interface PermissionRule {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  /**
   * Cluster: cluster-wide (a ClusterRole). ParamsNamespace: only in the namespace the
   * action's params.namespace names (the chart's dns.namespace Role). ReleaseNamespace:
   * only in the controller's own namespace (credentials Secrets, ledgers).
   */
  scope: 'Cluster' | 'ParamsNamespace' | 'ReleaseNamespace';
}

/** What a pull request for one action of the connector carries. */
export interface GitForm {
  /**
   * The static checks, run before a pull request is opened. Runtime preconditions stay
   * with the bound connector: an identity connector's validate() also refuses groups on
   * the operator's never-touch list, which only the controller knows.
   */
  validate(request: ActionRequest): string[];
  /** The files' objects; `namespace` is where an identity change description goes. */
  render(request: ActionRequest, changes: readonly Change[], namespace: string): Manifest[];
}

/** The enforcement points a connector is bound to (the controller's, or a test's). */
export interface ConnectorAccess {
  cluster: ClusterAccess;
  identity: IdentityAccess;
}

export interface ConnectorInfo {
  /** layer:name, for example network:cilium. */
  id: string;
  layer: Layer;
  /** One sentence for `forestall connectors` and the docs. */
  description: string;
  /** The action types it enforces. */
  types: readonly ActionType[];
  /** The params it takes; checkParams() refuses any other. */
  params: readonly ParamSpec[];
  permissions: readonly PermissionRule[];
  example: ConnectorExample;
  /** It enforces with Kubernetes objects, which Argo CD or Flux can apply from Git. */
  rendersManifests: boolean;
  gitForm: GitForm;
  /** The connector, bound to its enforcement point. */
  connect(access: ConnectorAccess): Connector;
}

export interface ConnectorCatalog {
  /** The connector with this id, or undefined when there is none. */
  info(id: string): ConnectorInfo | undefined;
  /** Every id, in registration order. */
  ids(): readonly string[];
  /** The connector a layer uses when the action names none, or undefined when the layer has no default. */
  defaultFor(layer: Layer): string | undefined;
}

/** The ids of the connectors that render Kubernetes objects, in catalogue order. */
export function manifestConnectorIds(catalog: ConnectorCatalog): string[] {
  return catalog.ids().filter((id) => catalog.info(id)!.rendersManifests);
}

/** Verbs of a connector that finds its objects by label and writes them with server-side apply. */
const OBJECT_VERBS = ['get', 'list', 'create', 'patch', 'delete'] as const;

/** The resource name of a kind: NetworkPolicy → networkpolicies, ConfigMap → configmaps. */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  return lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : `${lower}s`;
}

/** A connector that enforces with Kubernetes objects, described by its renderer. */
export function manifestConnectorInfo(renderer: Renderer): ConnectorInfo {
  const inParamsNamespace = renderer.params.some((p) => p.name === 'namespace');
  return {
    id: renderer.id,
    layer: renderer.layer,
    description: renderer.description,
    types: renderer.supports,
    params: renderer.params,
    permissions: renderer.kinds.map((k) => ({
      apiGroups: [k.apiVersion.includes('/') ? k.apiVersion.split('/')[0]! : ''],
      resources: [pluralOf(k.kind)],
      verbs: OBJECT_VERBS,
      scope: k.namespaced && inParamsNamespace ? 'ParamsNamespace' : 'Cluster',
    })),
    example: renderer.example,
    rendersManifests: true,
    gitForm: {
      validate: (request) => renderer.validate(request),
      render: (request) => renderer.render(request),
    },
    connect: (access) => new ManifestConnector(renderer, access.cluster),
  };
}

/** An identity connector (ADR 0004), described by its provider. */
export function identityConnectorInfo(provider: IdentityProvider): ConnectorInfo {
  const id = `identity:${provider.kind}`;
  return {
    id,
    layer: 'identity',
    description: provider.description,
    types: provider.supports,
    params: identityParams(provider),
    permissions: [
      // The provider's credentials, read by name; the ledger of what was changed.
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'], scope: 'ReleaseNamespace' },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        verbs: ['get', 'create', 'patch', 'delete'],
        scope: 'ReleaseNamespace',
      },
    ],
    example: provider.example,
    rendersManifests: false,
    gitForm: {
      validate: (request) => validateIdentityRequest(provider, request),
      render: (request, changes, namespace) => [
        identityChangeManifest(id, request, changes, namespace),
      ],
    },
    connect: (access) => new IdentityConnector(provider, access.identity),
  };
}

/**
 * A catalogue of `connectors`, with `defaults` per layer. Throws when two connectors
 * share an id, or a default names a connector that is not registered or belongs to
 * another layer: both are programming errors, found at start-up.
 */
export function createConnectorCatalog(
  connectors: readonly ConnectorInfo[],
  defaults: Readonly<Partial<Record<Layer, string>>>,
): ConnectorCatalog {
  const byId = new Map<string, ConnectorInfo>();
  for (const info of connectors) {
    if (byId.has(info.id)) throw new Error(`two connectors are registered as ${info.id}`);
    byId.set(info.id, info);
  }
  for (const [layer, id] of Object.entries(defaults)) {
    if (byId.get(id)?.layer !== layer)
      throw new Error(
        `the default ${layer} connector ${id} is not a registered ${layer} connector`,
      );
  }
  const ids = Object.freeze([...byId.keys()]);
  return Object.freeze({
    info: (id: string) => byId.get(id),
    ids: () => ids,
    defaultFor: (layer: Layer) => (Object.hasOwn(defaults, layer) ? defaults[layer] : undefined),
  });
}

/** Every connector that enforces with Kubernetes objects, in the order `forestall connectors` lists them. */
export const RENDERER_LIST: readonly Renderer[] = Object.freeze([
  networkPolicyRenderer,
  clusterNetworkPolicyRenderer,
  ciliumRenderer,
  calicoRenderer,
  corednsRenderer,
  rpzRenderer,
]);

const IDENTITY_PROVIDER_LIST: readonly IdentityProvider[] = Object.freeze([
  scimProvider,
  keycloakProvider,
  oktaProvider,
  entraProvider,
]);

/**
 * The one default table: per layer, the connector used when an action names none. The
 * network and DNS defaults need nothing beyond Kubernetes itself; SCIM is the identity
 * protocol every provider speaks. The notify layer has no connector.
 */
export const DEFAULT_CONNECTORS: Readonly<Partial<Record<Layer, string>>> = Object.freeze({
  network: 'network:networkpolicy',
  dns: 'dns:coredns',
  identity: 'identity:scim',
});

/** The catalogue of every connector this version ships. */
export const defaultConnectorCatalog: ConnectorCatalog = createConnectorCatalog(
  [
    ...RENDERER_LIST.map(manifestConnectorInfo),
    ...IDENTITY_PROVIDER_LIST.map(identityConnectorInfo),
  ],
  DEFAULT_CONNECTORS,
);
