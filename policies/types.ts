import type { ExposurePolicySpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import type { ActionRequest, ActionType, LabelSelector, Layer } from '../connectors/types.js';

/**
 * The policy engine's inputs and outputs. The engine is pure: the controller fills
 * these from informers and feed snapshots, the CLI from files, and both get the same
 * plan.
 */

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
}

export interface Inventory {
  namespaces: readonly NamespaceView[];
  workloads: readonly WorkloadView[];
}

export interface PolicyView {
  name: string;
  generation: number;
  spec: ExposurePolicySpec;
}

export type Decision = 'auto' | 'approval' | 'audit';

export interface BlastRadius {
  namespaces: number;
  workloads: number;
  pods: number;
  users: number;
  /** Addresses covered: a /24 counts 256. */
  addresses: number;
  /** A namespace or workload in scope carries a production label. */
  production: boolean;
}

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
  blastRadius: BlastRadius;
  decision: Decision;
  /** Why: names the mode, the autoApprove result or the guardrail that sent it to review. */
  reason: string;
  /** The feeds the indicators came from. */
  feeds: string[];
  namespaceSelector?: LabelSelector;
  workloadSelector?: LabelSelector;
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
  /** Indicators that matched spec.match, across the selected feeds, after deduplication. */
  matched: number;
  /** Matched indicators left out because reviewers rejected them for this policy recently (EngineOptions.suppressed). */
  suppressed?: number;
  actions: PlannedAction[];
  /** Problems that did not stop the evaluation: a bad params block, an unknown connector, a match error on some indicators. */
  warnings: string[];
}
