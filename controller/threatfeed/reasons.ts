/** Condition types and reasons of ThreatFeed, in one place (kubebuilder convention). */
export const ThreatFeedCondition = {
  Ready: 'Ready',
  Degraded: 'Degraded',
  Stale: 'Stale',
  LargeChange: 'LargeChange',
} as const;

export const ThreatFeedReason = {
  /** The spec is valid; no snapshot has been fetched yet. */
  AwaitingFirstSync: 'AwaitingFirstSync',
  /** spec.suspend is true. */
  Suspended: 'Suspended',
  /** The spec fails a check the CRD schema cannot express (for example a CEL typo). */
  InvalidSpec: 'InvalidSpec',
  /** The last sync succeeded. */
  Synced: 'Synced',
  /** The source answered "not modified". */
  Unchanged: 'Unchanged',
  /** The last fetch failed; the last-known-good snapshot stays in force. */
  FetchFailed: 'FetchFailed',
  /** The body could not be parsed, or was refused as garbage or empty. */
  ParseFailed: 'ParseFailed',
  /** The snapshot was reloaded from the API server after a restart. */
  Restored: 'Restored',
  /** The last sync is recent enough. */
  Fresh: 'Fresh',
  /** The last successful sync is older than allowed. */
  SyncOverdue: 'SyncOverdue',
  /** The last change added and removed more than spec.maxChangePercent of the feed. */
  ChangeOverLimit: 'ChangeOverLimit',
  /** The last change was within spec.maxChangePercent. */
  ChangeWithinLimit: 'ChangeWithinLimit',
  /** Nothing went wrong. */
  Healthy: 'Healthy',
} as const;
