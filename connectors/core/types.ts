import type { ActionRequest, ActionType, Layer, ObjectRef } from '../../crds/domain.js';

/**
 * The one connector interface. A connector turns one action request into changes at an
 * enforcement point (Kubernetes objects, an identity provider), and can say what it
 * would change without changing anything. Every connector passes the shared contract
 * suite: applying twice equals applying once, the plan after an apply is empty, and a
 * dry run writes nothing.
 *
 * Connectors never import controller/: what they need from a cluster comes in through
 * ClusterAccess, which the controller implements over its KubeClient.
 */

/** A Kubernetes object as JSON. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One change a connector made or would make. */
export interface Change {
  op: 'create' | 'update' | 'delete';
  ref: ObjectRef;
  /** Identity connectors: the exact HTTP calls the change is made of (no credentials), in order. */
  requests?: { method: string; path: string; query?: Record<string, string>; body?: unknown }[];
}

export interface ApplyOptions {
  /** Compute and validate (server-side dry run where there is a server), write nothing. */
  dryRun?: boolean;
}

export interface ApplyOutcome {
  /** What was changed (or, in a dry run, would have been). Empty when everything was already in place. */
  changes: Change[];
  /** Every object that now enforces the action. */
  objects: ObjectRef[];
  /** What was deliberately left alone, as sentences (a never-touch account, a user the provider does not know, a user already suspended by someone else). */
  skipped?: string[];
}

export interface Connector {
  /** layer:name, for example network:cilium. */
  readonly id: string;
  readonly layer: Layer;
  readonly supports: readonly ActionType[];
  /** Problems with the request (bad params, values this connector cannot carry), as sentences naming the field. Empty when fine. */
  validate(request: ActionRequest): string[];
  /** What apply would change. Reads only. */
  plan(request: ActionRequest): Promise<Change[]>;
  /** Converge the enforcement point on the request: create, update, and delete what is no longer wanted. */
  apply(request: ActionRequest, options?: ApplyOptions): Promise<ApplyOutcome>;
  /** Remove everything the action put in place. */
  remove(actionName: string, options?: ApplyOptions): Promise<ApplyOutcome>;
}

/** One entry of ActionRequest.params that a connector understands; anything else in params is an error. */
export interface ParamSpec {
  name: string;
  /** stringList: a YAML/JSON list of strings. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'stringList';
  description: string;
  default?: string | number | boolean | readonly string[];
  /** Allowed values (type string). */
  enum?: readonly string[];
  /** Inclusive bounds (types integer and number). */
  minimum?: number;
  maximum?: number;
  /** Most items (type stringList). */
  maxItems?: number;
  /** What each string must be (types string and stringList): `namespace` is a namespace name, a DNS-1123 label. */
  format?: 'namespace';
  /**
   * The action types the param belongs to; absent means every type the connector
   * enforces. A param given with another type is refused, not ignored, so that a template
   * never looks as if it configured something it does not.
   */
  actions?: readonly ActionType[];
  /**
   * The param must be given (for the action types it belongs to). Parameters without a
   * sensible default, such as an identity provider's URL or the Secret with its
   * credentials, use it so that a missing one is a validation problem, not a failure
   * halfway through an apply.
   */
  required?: boolean;
}

/** An action template that uses a connector well: its type and params, as a policy writes them. */
export interface ConnectorExample {
  type: ActionType;
  params: Record<string, unknown>;
}

/** A connector whose enforcement is Kubernetes objects, so that the same render serves direct apply, Git delivery and the CLI. */
export interface Renderer {
  readonly id: string;
  readonly layer: Layer;
  readonly supports: readonly ActionType[];
  /** One sentence for `forestall connectors` and the docs. */
  readonly description: string;
  /** The params it reads; validate() refuses any other key. */
  readonly params: readonly ParamSpec[];
  /** A typical use, for `forestall connectors` and the docs; a test checks it validates. */
  readonly example: ConnectorExample;
  validate(request: ActionRequest): string[];
  /** The objects that enforce the request. Pure; deterministic for the same request. */
  render(request: ActionRequest): Manifest[];
  /** The kinds render() can produce, so that stale objects of those kinds can be found and pruned. */
  readonly kinds: readonly { apiVersion: string; kind: string; namespaced: boolean }[];
}

/** What a Kubernetes-object connector needs from a cluster. The controller implements it over its KubeClient. */
export interface ClusterAccess {
  get(ref: ObjectRef): Promise<Manifest | undefined>;
  /** Objects of a kind in every namespace whose labels match the selector (label-selector syntax, "a=b,c=d"). */
  list(apiVersion: string, kind: string, labelSelector: string): Promise<Manifest[]>;
  /** Server-side apply with the field manager `forestall`, forcing conflicts. */
  apply(object: Manifest, options?: ApplyOptions): Promise<Manifest>;
  delete(ref: ObjectRef, options?: ApplyOptions): Promise<void>;
  /**
   * Whether the API server serves the kind at all (false: its CRD is not installed). Lets a
   * connector say "install the CRD" instead of surfacing a bare 404, and lets remove()
   * succeed when the enforcement point was uninstalled, so nothing can be left behind.
   */
  served(apiVersion: string, kind: string): Promise<boolean>;
}

/** Annotations on the objects connectors render. */
export const ANNOTATION_EXPIRES_AT = 'forestall.io/expires-at';
/** On Isolate objects: the CVE IDs the workload is isolated for, comma-separated; long lists end in " (+N more)". */
export const ANNOTATION_CVES = 'forestall.io/cves';
/** On Isolate objects: the isolated workload as Kind/name (the namespace is the object's own). */
export const ANNOTATION_TARGET = 'forestall.io/target';
/**
 * sha256 (truncated) of everything Forestall rendered for the object. Comparing it tells a
 * changed render apart from an unchanged one even when the change removes a field, which
 * comparing the rendered fields with the live object cannot see.
 */
export const ANNOTATION_RENDER_HASH = 'forestall.io/render-hash';
