/** Condition types and reasons of ThreatFeed, in one place (kubebuilder convention). */
export const ThreatFeedCondition = {
  Ready: 'Ready',
  Degraded: 'Degraded',
  Stale: 'Stale',
} as const;

export const ThreatFeedReason = {
  /** The spec is valid; no snapshot has been fetched yet. */
  AwaitingFirstSync: 'AwaitingFirstSync',
  /** spec.suspend is true. */
  Suspended: 'Suspended',
  /** The spec fails a check the CRD schema cannot express (for example a CEL typo). */
  InvalidSpec: 'InvalidSpec',
} as const;
