import type { Environment, RegisterTypeDefinition } from '@marcbachmann/cel-js';

/**
 * What a policy expression sees: `indicator` and `workload` in spec.match, `action` in
 * spec.autoApprove, and `now` in both.
 *
 * Both are cel-js custom types with declared fields, so the type checker knows every
 * field: `indicator.confidence >= 'x'` and a misspelt `indicator.tpye` are compile
 * errors, and `indicator.type == 'ipv4'` runs on a static string overload instead of
 * being dispatched at run time. Maps stay open: `indicator.attributes.vendor` is
 * checked only when it runs.
 *
 * CEL types: ints are bigints in cel-js and doubles are numbers, so confidence and the
 * counts are converted once into bigints (clamped to int64), and RFC 3339 strings into
 * Dates (google.protobuf.Timestamp). Attribute values keep their JSON types: a number
 * is a CEL double, which compares with ints (`attributes.epss > 0`) but is not `==` to
 * an int literal; write `== 1.0`.
 */

/**
 * What the views read, declared here as shapes rather than imported, so that cel/ needs
 * nothing of feeds/ or policies/: feeds' Indicator, and the engine's BlastRadius and
 * ExposurePath, fit these as they are.
 */
export interface IndicatorFacts {
  type: string;
  value: string;
  confidence: number;
  sources: readonly string[];
  tags: readonly string[];
  techniques?: readonly string[];
  /** The feedback loop's confidence in its best source, 0-100; 100 when unset. */
  sourceConfidence?: number;
  /** RFC 3339 times. */
  firstSeen?: string;
  lastSeen?: string;
  validUntil?: string;
  attributes?: Readonly<Record<string, string | number | boolean>>;
}

/** How far an action reaches: the engine's BlastRadius (policies/types.ts) is this type. */
export interface BlastRadiusFacts {
  namespaces: number;
  workloads: number;
  pods: number;
  /** Accounts an identity action suspends or steps up (IdentitySuspend, StepUpAuth); 0 for every other type. */
  users: number;
  /** Addresses covered: a /24 counts 256. */
  addresses: number;
  /** A namespace or workload in scope carries a production label. Always true for identity actions: the provider holds people's real accounts. */
  production: boolean;
}

export interface ExposurePathFacts {
  kind: string;
  via: string;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** A JS number as a CEL int: truncated, clamped to int64, undefined when not a number at all. */
export function toCelInt(n: unknown): bigint | undefined {
  if (typeof n === 'bigint') return n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
  if (typeof n !== 'number' || Number.isNaN(n)) return undefined;
  if (n >= 9.223372036854776e18) return INT64_MAX;
  if (n <= -9.223372036854776e18) return INT64_MIN;
  return BigInt(Math.trunc(n));
}

function toTimestamp(text: unknown): Date | undefined {
  if (typeof text !== 'string') return text instanceof Date ? text : undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

const EMPTY_LIST: readonly string[] = Object.freeze([]);
const EMPTY_MAP: Readonly<Record<string, string | number | boolean>> = Object.freeze({});

function stringList(v: unknown): readonly string[] {
  return Array.isArray(v) ? (v as string[]) : EMPTY_LIST;
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The declared CEL type of every Indicator field (the checker's view of {@link IndicatorView}). */
export const INDICATOR_FIELDS = {
  type: 'string',
  value: 'string',
  confidence: 'int',
  sourceConfidence: 'int',
  sources: 'list<string>',
  tags: 'list<string>',
  techniques: 'list<string>',
  firstSeen: 'google.protobuf.Timestamp',
  lastSeen: 'google.protobuf.Timestamp',
  validUntil: 'google.protobuf.Timestamp',
  attributes: 'map<string, dyn>',
} as const;

/**
 * The CEL view of an Indicator. Every field is always present on the object (one hidden
 * class for all views); a field that is undefined is absent to CEL: `has()` is false
 * and reading it is a runtime error. Lists and the attributes map are shared with the
 * Indicator, not copied: CEL never mutates them.
 *
 * - type, value, sources, tags: as in the Indicator;
 * - confidence: int;
 * - techniques: list, empty when the feed gives none;
 * - firstSeen, lastSeen, validUntil: timestamps when set and parseable;
 * - attributes: map, empty when the feed gives none (KEV: vendor, product, dateAdded,
 *   dueDate, knownRansomwareCampaignUse, ...).
 */
export class IndicatorView {
  /** Lets a view stand where a Record<string, unknown> activation is expected. */
  [field: string]: unknown;
  readonly type: string | undefined;
  readonly value: string | undefined;
  readonly confidence: bigint | undefined;
  readonly sourceConfidence: bigint | undefined;
  readonly sources: readonly string[];
  readonly tags: readonly string[];
  readonly techniques: readonly string[];
  readonly firstSeen: Date | undefined;
  readonly lastSeen: Date | undefined;
  readonly validUntil: Date | undefined;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;

  constructor(i: Partial<IndicatorFacts>) {
    this.type = optionalString(i.type);
    this.value = optionalString(i.value);
    this.confidence = toCelInt(i.confidence);
    this.sourceConfidence = toCelInt(i.sourceConfidence ?? 100);
    this.sources = stringList(i.sources);
    this.tags = stringList(i.tags);
    this.techniques = stringList(i.techniques);
    this.firstSeen = toTimestamp(i.firstSeen);
    this.lastSeen = toTimestamp(i.lastSeen);
    this.validUntil = toTimestamp(i.validUntil);
    this.attributes =
      i.attributes !== null && typeof i.attributes === 'object' ? i.attributes : EMPTY_MAP;
  }
}

/**
 * Where an Indicator keeps its view. Indicators are immutable once a feed sync produced
 * them (a new sync makes new objects), so a view never goes stale and lives exactly as
 * long as its Indicator. It is stored on the Indicator under a private symbol,
 * non-enumerable, so JSON, Object.keys, spreads and deep equality never see it.
 *
 * Why not a WeakMap: with a hundred thousand live indicators, a WeakMap lookup inside
 * the evaluation loop measured ~600 ns (the ephemeron table is rescanned by every
 * young-generation GC the loop's garbage triggers), which alone made 1M evals/s
 * unreachable; the property costs a few nanoseconds. Frozen or sealed indicators,
 * which cannot take the property, fall back to the WeakMap.
 */
const VIEW = Symbol('forestall.celIndicatorView');
const frozenViews = new WeakMap<object, IndicatorView>();

/**
 * The CEL view of `i` (see {@link IndicatorView}), built once per Indicator object.
 * `sourceConfidence` (the feedback loop's, which changes while the Indicator does not)
 * overrides the view's 100 in a thin copy that is not cached.
 */
export function indicatorActivation(i: IndicatorFacts, sourceConfidence?: number): IndicatorView {
  const view = cachedIndicatorView(i);
  if (sourceConfidence === undefined || sourceConfidence === 100) return view;
  const copy = Object.create(view) as IndicatorView;
  Object.defineProperty(copy, 'sourceConfidence', { value: toCelInt(sourceConfidence) });
  return copy;
}

function cachedIndicatorView(i: IndicatorFacts): IndicatorView {
  const cached = (i as { [VIEW]?: IndicatorView })[VIEW];
  if (cached !== undefined) return cached;
  if (i instanceof IndicatorView) return i;
  let view = frozenViews.get(i);
  if (view !== undefined) return view;
  view = new IndicatorView(i);
  if (Object.isExtensible(i))
    Object.defineProperty(i, VIEW, {
      value: view,
      enumerable: false,
      writable: false,
      configurable: true,
    });
  else frozenViews.set(i, view);
  return view;
}

export const BLAST_RADIUS_FIELDS = {
  namespaces: 'int',
  workloads: 'int',
  pods: 'int',
  users: 'int',
  addresses: 'int',
  production: 'bool',
} as const;

export class BlastRadiusView {
  [field: string]: unknown;
  readonly namespaces: bigint | undefined;
  readonly workloads: bigint | undefined;
  readonly pods: bigint | undefined;
  readonly users: bigint | undefined;
  /** Addresses covered; a /0 is clamped to the int64 maximum. */
  readonly addresses: bigint | undefined;
  readonly production: boolean;

  constructor(b: Partial<BlastRadiusFacts>) {
    this.namespaces = toCelInt(b.namespaces);
    this.workloads = toCelInt(b.workloads);
    this.pods = toCelInt(b.pods);
    this.users = toCelInt(b.users);
    this.addresses = toCelInt(b.addresses);
    this.production = b.production === true;
  }
}

export const ACTION_FIELDS = {
  type: 'string',
  layer: 'string',
  connector: 'string',
  confidence: 'int',
  sourceConfidence: 'int',
  indicators: 'int',
  blastRadius: 'BlastRadius',
  production: 'bool',
  feeds: 'list<string>',
  policy: 'string',
} as const;

/** What spec.autoApprove is told about a planned action: a policies/types.ts PlannedAction fits as it is. */
export interface ActionFacts {
  type: string;
  layer: string;
  connector: string;
  /** Highest confidence among the indicators, 0-100. */
  confidence: number;
  /** The feedback loop's lowest confidence among its feeds, 0-100; 100 when unset. */
  sourceConfidence?: number;
  /** How many indicators the action carries; defaults to the number of request values (a PlannedAction has no count of its own). */
  indicators?: number;
  request?: { values: readonly string[] };
  blastRadius: BlastRadiusFacts;
  feeds: readonly string[];
  policy: string;
}

/** The CEL view of a planned action; `production` repeats blastRadius.production for short expressions. */
export class ActionView {
  [field: string]: unknown;
  readonly type: string | undefined;
  readonly layer: string | undefined;
  readonly connector: string | undefined;
  readonly confidence: bigint | undefined;
  readonly sourceConfidence: bigint | undefined;
  readonly indicators: bigint | undefined;
  readonly blastRadius: BlastRadiusView;
  readonly production: boolean;
  readonly feeds: readonly string[];
  readonly policy: string | undefined;

  constructor(a: Partial<ActionFacts>) {
    this.type = optionalString(a.type);
    this.layer = optionalString(a.layer);
    this.connector = optionalString(a.connector);
    this.confidence = toCelInt(a.confidence);
    this.sourceConfidence = toCelInt(a.sourceConfidence ?? 100);
    this.indicators = toCelInt(a.indicators ?? a.request?.values.length);
    this.blastRadius = new BlastRadiusView(a.blastRadius ?? {});
    this.production = this.blastRadius.production;
    this.feeds = stringList(a.feeds);
    this.policy = optionalString(a.policy);
  }
}

export function actionActivation(a: ActionFacts): ActionView {
  return a instanceof ActionView ? a : new ActionView(a);
}

export const EXPOSURE_PATH_FIELDS = {
  kind: 'string',
  via: 'string',
} as const;

/** One way into the workload: kind LoadBalancer, NodePort, ExternalIP, Ingress, Gateway or Annotation, and the readable path. */
export class CelExposurePath {
  [field: string]: unknown;
  readonly kind: string;
  readonly via: string;

  constructor(p: Partial<ExposurePathFacts>) {
    this.kind = optionalString(p.kind) ?? '';
    this.via = optionalString(p.via) ?? '';
  }
}

export const WORKLOAD_FIELDS = {
  kind: 'string',
  namespace: 'string',
  name: 'string',
  labels: 'map<string, string>',
  podLabels: 'map<string, string>',
  internetFacing: 'bool',
  exposure: 'list<ExposurePath>',
  images: 'list<string>',
  container: 'string',
  installedVersion: 'string',
  fixedVersion: 'string',
  fixAvailable: 'bool',
  severity: 'string',
} as const;

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** What spec.match is told about the workload of an indicator × workload pair (Isolate). */
export interface WorkloadFacts {
  kind: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  podLabels: Readonly<Record<string, string>>;
  internetFacing: boolean;
  exposure: readonly ExposurePathFacts[];
  /** Image references of the containers and init containers. */
  images: readonly string[];
  /** The vulnerability report's finding for the pair's CVE; absent outside a pair. */
  finding?: {
    container: string;
    installedVersion: string;
    fixedVersion?: string;
    severity: string;
  };
}

/**
 * The CEL view of a workload, together with one finding of the indicator's CVE in it.
 * Every field is always set, so no expression needs has(): strings are '' and lists
 * and maps empty where there is nothing, and fixAvailable is true exactly when
 * fixedVersion is not ''.
 */
export class CelWorkload {
  [field: string]: unknown;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly internetFacing: boolean;
  readonly exposure: readonly CelExposurePath[];
  readonly images: readonly string[];
  readonly container: string;
  readonly installedVersion: string;
  readonly fixedVersion: string;
  readonly fixAvailable: boolean;
  readonly severity: string;

  constructor(w: Partial<WorkloadFacts>) {
    this.kind = optionalString(w.kind) ?? '';
    this.namespace = optionalString(w.namespace) ?? '';
    this.name = optionalString(w.name) ?? '';
    this.labels = w.labels ?? EMPTY_LABELS;
    this.podLabels = w.podLabels ?? EMPTY_LABELS;
    this.internetFacing = w.internetFacing === true;
    this.exposure = (w.exposure ?? []).map((p) => new CelExposurePath(p));
    this.images = stringList(w.images);
    this.container = optionalString(w.finding?.container) ?? '';
    this.installedVersion = optionalString(w.finding?.installedVersion) ?? '';
    this.fixedVersion = optionalString(w.finding?.fixedVersion) ?? '';
    this.fixAvailable = this.fixedVersion !== '';
    this.severity = optionalString(w.finding?.severity) ?? '';
  }
}

/**
 * The workload of an indicator evaluated on its own (EgressDeny and DNSBlock
 * templates, and the count of matched indicators): kind, namespace and name '', no
 * labels, not internet-facing, no exposure, images or finding.
 */
export const EMPTY_WORKLOAD: CelWorkload = new CelWorkload({});

export function workloadActivation(w: WorkloadFacts): CelWorkload {
  return w instanceof CelWorkload ? w : new CelWorkload(w);
}

/**
 * Registers the view types. `convert` lets a caller pass a plain Indicator or action
 * as the variable: cel-js converts it on first use in that evaluation.
 */
export function activationTypes(env: Environment): Environment {
  const views: [string, RegisterTypeDefinition][] = [
    ['Indicator', view(IndicatorView, INDICATOR_FIELDS, indicatorActivation)],
    [
      'BlastRadius',
      view(BlastRadiusView, BLAST_RADIUS_FIELDS, (v: BlastRadiusFacts) => new BlastRadiusView(v)),
    ],
    ['Action', view(ActionView, ACTION_FIELDS, actionActivation)],
    [
      'ExposurePath',
      view(CelExposurePath, EXPOSURE_PATH_FIELDS, (v: ExposurePathFacts) => new CelExposurePath(v)),
    ],
    ['Workload', view(CelWorkload, WORKLOAD_FIELDS, workloadActivation)],
  ];
  return views.reduce((e, [name, definition]) => e.registerType(name, definition), env);
}

/** A view class, its CEL fields, and how a fact becomes the view. */
function view<F, V>(
  ctor: abstract new (...args: never[]) => V,
  fields: NonNullable<Extract<RegisterTypeDefinition, { ctor: unknown }>['fields']>,
  convert: (facts: F) => V,
): RegisterTypeDefinition {
  return { ctor, fields, convert: convert as (value: unknown) => V };
}
