import type {
  ExposurePolicySpec,
  ActionRequest,
  ActionType,
  LabelSelector,
  Layer,
  ObjectRef,
} from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import type { BlastRadiusFacts } from '../cel/index.js';
import type { ExceptionUse } from './exceptions.js';

/**
 * The policy engine's inputs and outputs. The engine is pure: the controller fills
 * these from informers and feed snapshots, the CLI from files, and both get the same
 * plan.
 */

/**
 * What the engine needs of the connector catalogue; connectors/catalog.ts's
 * ConnectorCatalog fits it. The caller injects it (EngineOptions.connectors), so that
 * policies/ imports no connector and a test can hand the engine another catalogue.
 */
export interface ConnectorDirectory {
  /** The connector with this id, or undefined when there is none. */
  info(id: string): { layer: Layer; rendersManifests: boolean } | undefined;
  /** Every id, in the catalogue's order (error messages list them). */
  ids(): readonly string[];
  /** The connector a layer uses when a template names none. */
  defaultFor(layer: Layer): string | undefined;
}

/** One ThreatFeed as the engine sees it: its labels (for selectors) and its last-known-good indicators. */
export interface FeedView {
  name: string;
  labels: Record<string, string>;
  /** undefined: the feed has never synced, so nothing derived from it may shrink or lift. */
  indicators: readonly Indicator[] | undefined;
  /** The feed's LargeChange condition is True: its last sync changed more than its threshold. */
  largeChange?: boolean;
  /** Share of the feed that its last sync added or removed, in percent. */
  changePercent?: number;
  /** RFC 3339: when its indicator set last changed (status.lastChangeTime); publication time of indicators that carry none. */
  changedAt?: string;
  /**
   * The feedback loop's confidence in the source now (status.sourceConfidence decayed to
   * the evaluation time, source-confidence.ts), and the feedback behind it; absent is 100.
   */
  sourceConfidence?: { effective: number; feedback: string };
}

export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
}

/** A workload: Deployment, StatefulSet, DaemonSet (or a bare Pod). */
export interface WorkloadView {
  kind: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** The pod template's labels; workload selectors match these. */
  podLabels: Record<string, string>;
  /** Pods it runs (desired replicas; for a DaemonSet, desiredNumberScheduled). */
  pods: number;
  /**
   * The `forestall.io/accounts` annotation on the workload's own metadata, as written:
   * the logins of the people who operate or use it (workloadAccounts() parses it). The
   * only annotation the inventory keeps; absent when the workload has none.
   */
  accounts?: string;
}

export interface Inventory {
  namespaces: readonly NamespaceView[];
  workloads: readonly WorkloadView[];
  /**
   * How each workload is reachable and which vulnerabilities its current images have
   * (exposureFromObjects). Isolate actions need it: without it the engine plans none and
   * says so in a warning.
   */
  exposure?: ExposureInventory;
}

/**
 * How traffic from outside the cluster reaches a workload. `Annotation` stands for the
 * `forestall.io/internet-facing: "true"` override, so that an internet-facing workload
 * always has at least one path to show.
 */
export type ExposureKind =
  'LoadBalancer' | 'NodePort' | 'ExternalIP' | 'Ingress' | 'Gateway' | 'Annotation';

export interface ExposurePath {
  kind: ExposureKind;
  /** Readable: "Service shop/web (LoadBalancer)", "Ingress shop/web (host shop.example.com) → Service web:80". */
  via: string;
}

/** One container of a workload's pod template. */
export interface ContainerImage {
  container: string;
  /** The image reference as the pod spec writes it. */
  image: string;
  init: boolean;
}

/** One vulnerability a current VulnerabilityReport lists for one container of a workload. */
export interface VulnerabilityFinding {
  /** The scanner's id: CVE-2025-24813 (CVE ids upper-cased), GHSA-..., ... */
  vulnerabilityID: string;
  container: string;
  /** The image the container runs, as the pod spec writes it. */
  image: string;
  /** The affected package (Trivy's `resource`). */
  package?: string;
  installedVersion: string;
  /** Absent when no fixed version is published. Trivy may list several: "2.3.1, 2.12.2, 2.15.0". */
  fixedVersion?: string;
  /** CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN. */
  severity: string;
  title?: string;
  /** The scanner's primary link for the vulnerability. */
  link?: string;
  /** The VulnerabilityReport it came from, namespace/name. */
  report: string;
}

/** Exposure and vulnerabilities of one workload. */
export interface WorkloadExposure {
  kind: string;
  namespace: string;
  name: string;
  internetFacing: boolean;
  /** Every path found, sorted by `via`; listed even when the override annotation says "false". */
  exposure: ExposurePath[];
  /** Containers, then init containers, in pod spec order. */
  images: ContainerImage[];
  /** From the reports that describe the images the workload runs now; sorted by id, container, package. */
  findings: VulnerabilityFinding[];
}

/** A VulnerabilityReport that counts for nothing, and why. */
export interface IgnoredReport {
  /** namespace/name */
  report: string;
  reason: string;
}

export interface ExposureInventory {
  /** Every workload of the objects, by workloadKey(). */
  workloads: ReadonlyMap<string, WorkloadExposure>;
  /** Vulnerability id → workload key (in key order) → that workload's current findings of it: the index the Isolate join runs on. */
  byVulnerability: ReadonlyMap<string, ReadonlyMap<string, readonly VulnerabilityFinding[]>>;
  /** VulnerabilityReports read. */
  reports: number;
  /** Stale reports (the container runs another image now) and reports naming no workload in the objects. */
  ignoredReports: IgnoredReport[];
  /** Objects that could not be used as they are, for example an override annotation that is neither "true" nor "false". */
  warnings: string[];
}

export interface PolicyView {
  name: string;
  generation: number;
  spec: ExposurePolicySpec;
}

export type Decision = 'auto' | 'approval' | 'audit';

/** How far an action reaches; its fields are described where CEL's view of it is declared. */
export type BlastRadius = BlastRadiusFacts;

/** One action the policy wants, before it becomes a PreemptiveAction. */
export interface PlannedAction {
  /** Deterministic: the same policy and template always give the same name. */
  name: string;
  policy: string;
  type: ActionType;
  layer: Layer;
  connector: string;
  /** What the connector receives. request.values are sorted canonical values. */
  request: ActionRequest;
  /** sha256 of the sorted values, hex. */
  digest: string;
  /** Highest confidence among the indicators. */
  confidence: number;
  /** The lowest effective source confidence among its feeds (FeedView.sourceConfidence), 0-100. */
  sourceConfidence: number;
  /**
   * RFC 3339: when the intelligence behind it was published: the earliest first_seen,
   * valid_from or KEV dateAdded of its indicators, or their feed's last change when they
   * carry none. Undefined when nothing says.
   */
  publishedAt?: string;
  blastRadius: BlastRadius;
  decision: Decision;
  /** Why: names the mode, the autoApprove result or the guardrail that sent it to review. */
  reason: string;
  /** The feeds the indicators came from. */
  feeds: string[];
  namespaceSelector?: LabelSelector;
  workloadSelector?: LabelSelector;
  /** Isolate: why the workload is isolated; the controller copies it into the PreemptiveAction and its notifications. */
  evidence?: ActionEvidence;
  /**
   * IdentitySuspend and StepUpAuth with `params.around: Isolated`: the workloads this
   * policy isolates whose accounts the action carries, sorted by workload key. The
   * controller copies it into the PreemptiveAction's spec.evidence.isolatedWorkloads.
   */
  isolatedWorkloads?: IsolatedWorkloadEvidence[];
  /** The ThreatExceptions that left indicators out of this action, and how many each. */
  exceptions?: ExceptionUse[];
}

/** One isolated workload that an identity action with `params.around: Isolated` takes accounts from. */
export interface IsolatedWorkloadEvidence {
  /** The workload, as the Isolate action's target. */
  target: ObjectRef;
  /** The Isolate action of the same policy that isolates it (with several Isolate templates, the first template's). */
  isolation: string;
  /** The accounts its `forestall.io/accounts` annotation names that the action carries: canonical, sorted, without those reviewers rejected. */
  accounts: string[];
}

/** One CVE of an isolated workload: the KEV facts, where it sits, and what fixes it. */
export interface CveEvidence extends Pick<
  VulnerabilityFinding,
  'container' | 'image' | 'package' | 'installedVersion' | 'fixedVersion' | 'severity'
> {
  cveID: string;
  /** From the indicator's attributes (KEV). */
  vendor?: string;
  product?: string;
  /** When CISA added it to KEV, YYYY-MM-DD. */
  dateAdded?: string;
  knownRansomwareCampaignUse?: boolean;
  /** From an EPSS feed merged into the same indicator, 0-1. */
  epss?: number;
  link?: string;
}

export interface ActionEvidence {
  /** The workload the action isolates. */
  target: ObjectRef;
  internetFacing: boolean;
  exposure: ExposurePath[];
  /** One entry per CVE and affected package, sorted by CVE id, container and package. */
  vulnerabilities: CveEvidence[];
}

export interface CompileError {
  /** Field path, for example spec.match. */
  field: string;
  message: string;
}

export interface Evaluation {
  /** Set when an expression did not compile: nothing else is computed, and existing actions must stay as they are. */
  compileErrors: CompileError[];
  /** Selected feeds that do not exist or have never synced. */
  missingFeeds: string[];
  /** Indicators that matched spec.match, across the selected feeds, after deduplication: on their own, or (Isolate) with at least one workload. */
  matched: number;
  /** Matched indicators left out because reviewers rejected them for this policy recently (EngineOptions.suppressed). */
  suppressed?: number;
  /** Matched indicators ThreatExceptions left out (EngineOptions.exceptions): how many, and per exception the actions. */
  excepted?: {
    indicators: number;
    exceptions: { name: string; indicators: number; actions: string[] }[];
  };
  /** Actions the exceptions left with no indicator, which are therefore not planned (an existing one lifts). */
  exceptedAway?: { action: string; exceptions: ExceptionUse[] }[];
  actions: PlannedAction[];
  /** Problems that did not stop the evaluation: a bad params block, an unknown connector, a match error on some indicators. */
  warnings: string[];
}
