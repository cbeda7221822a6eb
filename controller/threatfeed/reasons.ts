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
  /** The sync passed the records cap (--feed-max-records); the snapshot is kept. */
  RecordsCapExceeded: 'RecordsCapExceeded',
  /** The sync passed the distinct-indicators cap (--feed-max-indicators); the snapshot is kept. */
  IndicatorsCapExceeded: 'IndicatorsCapExceeded',
  /** A MISP manifest listed more events than --feed-max-misp-events; the snapshot is kept. */
  MispEventsCapExceeded: 'MispEventsCapExceeded',
  /** Some indicators had more tags, or longer tags, than the caps; the extra tags were dropped and the sync kept. */
  TagsCapExceeded: 'TagsCapExceeded',
  /** The ingestion worker ran out of heap (--feed-worker-heap); the snapshot is kept. */
  WorkerMemoryExceeded: 'WorkerMemoryExceeded',
  /** The sync did not finish within --feed-sync-deadline; the snapshot is kept. */
  SyncDeadlineExceeded: 'SyncDeadlineExceeded',
  /** spec.refreshInterval is below the minimum (stored before the CRD refused it); the minimum is used. */
  RefreshIntervalClamped: 'RefreshIntervalClamped',
} as const;
