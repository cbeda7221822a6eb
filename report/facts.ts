import type { ActionType, Layer } from '../crds/index.js';

/**
 * What the reports read (issue 17): the shapes `forestall report attack` and
 * `forestall report readiness` are computed from. The CLI fills them either offline,
 * from `forestall plan` of files, or from a cluster through a kubeconfig; the report
 * code itself is pure and reads nothing else.
 */

/** One action as the reports see it: a PlannedAction offline, a PreemptiveAction in a cluster. */
export interface CoverageAction {
  name: string;
  policy: string;
  type: ActionType;
  layer: Layer;
  /** The feeds its indicators came from. */
  feeds: string[];
  /**
   * In a cluster: the PreemptiveAction's phase (Pending, Proposed, Enforced, Expired,
   * Lifted, Rejected, Failed). Offline: `Enforced` for an action the plan would apply
   * without review (decision auto), `Proposed` for one that needs review, `Audit` for
   * one an Audit-mode policy only reports.
   */
  phase: string;
}

/** Percentiles of a duration, in seconds, over `count` samples. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
}

/** ATT&CK coverage of one tactic: how many of its live techniques some action mitigates. */
export interface TacticCoverage {
  /** TA0043 */
  id: string;
  /** reconnaissance (the kill_chain_phases phase_name) */
  shortname: string;
  /** Reconnaissance */
  name: string;
  /** Techniques and sub-techniques of the tactic that are neither revoked nor deprecated. */
  techniques: number;
  /** Of those, the ones some counted action mitigates. */
  covered: number;
}

export interface FeedFacts {
  name: string;
  /** The source format (lines, csv, stix, misp, kev, taxii, ...). */
  format?: string;
  indicators?: number;
  /** RFC 3339: the last successful sync (in a cluster); the file's read time offline. */
  lastSyncAt?: string;
  refreshIntervalSeconds?: number;
  /** Synced within twice its refresh interval; undefined when unknown (offline). */
  fresh?: boolean;
  /** The feedback loop's view of the source (cluster only). */
  sourceConfidence?: {
    /** 0-100 */
    effective: number;
    /** Signed, the sum of the decayed feedback. */
    adjustment: number;
    rejected: number;
    excepted: number;
    lifted: number;
    expiredClean: number;
  };
}

export interface PolicyFacts {
  name: string;
  mode: 'Audit' | 'Propose' | 'Enforce';
  /** The layers its action templates act on. */
  layers: Layer[];
  /** From its status (cluster) or the plan (offline). */
  exposureWindow?: Percentiles;
}

/** Everything `forestall report readiness` scores. */
export interface ReadinessFacts {
  /** `files`: a plan of local files, nothing observed; `cluster`: read through a kubeconfig. */
  source: 'files' | 'cluster';
  /** What was read: the paths, or the kubeconfig's context and server. */
  target: string;
  /** RFC 3339 */
  generatedAt: string;
  feeds: FeedFacts[];
  policies: PolicyFacts[];
  actions: CoverageAction[];
  /** ThreatExceptions in force. */
  exceptions: number;
  /** Seconds from detection (the action's creation) to Enforced, over enforced actions. */
  timeToEnforce?: Percentiles;
  /** Seconds from the intelligence being published to Enforced (cluster), or to now for a plan. */
  exposureWindow?: Percentiles;
  /** ATT&CK coverage of the counted actions, one entry per tactic in the matrix's order. */
  attack: { tactics: TacticCoverage[]; techniquesCovered: number };
  /** The feedback loop's activity, summed over feeds (cluster only; zeros offline). */
  feedback: {
    rejected: number;
    excepted: number;
    lifted: number;
    expiredClean: number;
    /** Feeds whose effective confidence is below 100. */
    feedsAdjusted: number;
  };
}
