import { metricSet } from '../runtime/metric-set.js';

/**
 * The ThreatFeed controller's metrics: snapshot sizes, syncs, drops, freshness,
 * refresh interval, Degraded, sync time.
 * Registered on the manager's registry by this kind's controller (the runtime holds
 * no domain metrics).
 */
export const ThreatFeedMetrics = metricSet({
  feedIndicators: {
    type: 'gauge',
    name: 'forestall_feed_indicators',
    help: 'Indicators in the last-known-good snapshot, by feed and type.',
    labelNames: ['feed', 'type'],
  },
  feedSyncs: {
    type: 'counter',
    name: 'forestall_feed_syncs_total',
    help: 'Feed syncs by feed and result (changed, unchanged, not-modified, error).',
    labelNames: ['feed', 'result'],
  },
  feedDropped: {
    type: 'counter',
    name: 'forestall_feed_dropped_total',
    help: 'Indicators refused by guardrails or expiry, by feed and reason.',
    labelNames: ['feed', 'reason'],
  },
  feedLastSync: {
    type: 'gauge',
    name: 'forestall_feed_last_sync_timestamp_seconds',
    help: 'Unix time of the last successful sync, by feed.',
    labelNames: ['feed'],
  },
  feedRefreshInterval: {
    type: 'gauge',
    name: 'forestall_feed_refresh_interval_seconds',
    help: 'The refresh interval in force (spec.refreshInterval, raised to its source minimum), by feed; absent while the feed is suspended.',
    labelNames: ['feed'],
  },
  feedDegraded: {
    type: 'gauge',
    name: 'forestall_feed_degraded',
    help: "1 while the feed's Degraded condition is True (its last sync failed, or tags were cut to the caps), else 0; absent while suspended.",
    labelNames: ['feed'],
  },
  feedSourceConfidence: {
    type: 'gauge',
    name: 'forestall_feed_source_confidence',
    help: "The feedback loop's effective confidence in the feed, 10-100 (status.sourceConfidence decayed to the last sync; 100 without feedback), by feed.",
    labelNames: ['feed'],
  },
  feedSyncDuration: {
    type: 'histogram',
    name: 'forestall_feed_sync_duration_seconds',
    help: 'Whole sync time, by feed: the fetch, the ingestion worker, the snapshot saved and the status written (forestall_feed_sync_phase_seconds has the parts).',
    labelNames: ['feed'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  feedSyncPhase: {
    type: 'histogram',
    name: 'forestall_feed_sync_phase_seconds',
    help: 'Time per part of a sync, by feed and phase: fetch (the body read whole), ingest (parse, confidence, guardrails and dedupe in the worker, and the result handed over), persist (the diff with the last snapshot and the snapshot saved in ConfigMaps).',
    labelNames: ['feed', 'phase'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
});
export type ThreatFeedMetrics = InstanceType<typeof ThreatFeedMetrics>;
