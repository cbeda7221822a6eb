import { ledgerOf } from '../stores/source-confidence.js';
import { confidenceAt } from '../../policies/index.js';
import { createHash } from 'node:crypto';
import { applyStatusIfChanged, readyTransition } from '../runtime/status-write.js';
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, type ThreatFeed, type ThreatFeedStatus } from '../../crds/index.js';
import {
  collectBytes,
  FeedError,
  fetchFeed,
  INDICATOR_TYPES,
  ingestSpecOf,
  sourceErrorForStatus,
  type FetchPolicy,
  type GuardrailConfig,
  type IngestCaps,
  type IngestResult,
  type IngestSandbox,
  type SourceReaders,
} from '../../feeds/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { rfc3339, type Condition } from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import {
  hasFinalizer,
  isDeleting,
  withFinalizer,
  withoutFinalizer,
} from '../runtime/finalizers.js';
import type { Informer } from '../runtime/informer.js';
import { diffSnapshots } from './diff.js';
import type { ThreatFeedMetrics } from './metrics.js';
import { ThreatFeedCondition as C, ThreatFeedReason as R } from './reasons.js';
import type { Snapshot } from '../stores/snapshot-store.js';
import type { Snapshots } from '../stores/snapshots.js';

import {
  cappedTagsCondition,
  effectiveRefresh,
  failureReason,
  specProblem,
  staleCondition,
  withConditions,
} from './status.js';

export interface ThreatFeedDeps {
  cache: Informer<ThreatFeed>;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  /** The feeds' last-known-good snapshots, shared with the policy controller. */
  snapshots: Snapshots;
  /** Limits and the outbound policy, built once per sync. */
  fetchPolicy: () => Promise<FetchPolicy>;
  /** What a feed's source may read in the cluster: Secrets and ConfigMaps (source-readers.ts). */
  readers: SourceReaders;
  /**
   * The guardrail configuration for this sync (it includes the cluster's own ranges,
   * read by the caller), as plain data: the ingestion worker builds the Guardrails.
   */
  guardrailConfig: () => Promise<GuardrailConfig>;
  metrics: ThreatFeedMetrics;
  /** Runs parse → normalise → confidence → guardrails → dedupe in a bounded worker. */
  sandbox: IngestSandbox;
  /** Limits per sync. */
  ingest: IngestLimits;
}

export interface IngestLimits {
  caps: IngestCaps;
  /** Fetching and ingesting one sync, every MISP event file included, must finish within this. */
  syncDeadlineMs: number;
  maxMispEvents: number;
}

/** A sync that fails is retried after this long, doubling per failure, at most the refresh interval. */
const FIRST_RETRY_MS = 5_000;

const digests = new WeakMap<GuardrailConfig, string>();

/**
 * The digest of a guardrail configuration, recorded with each snapshot. The config is
 * built deterministically (sorted ranges and hosts) and cached per object, so this
 * hashes each configuration once.
 */
export function guardrailsDigest(config: GuardrailConfig): string {
  let digest = digests.get(config);
  if (digest === undefined) {
    digest = `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex')}`;
    digests.set(config, digest);
  }
  return digest;
}
/** A sync in which more than this share of records is malformed is refused as garbage. */
const MAX_REJECTED_SHARE = 0.5;

class RefusedSync extends Error {}

/**
 * Reconciles one ThreatFeed: fetch, parse, guard, keep. The house shape holds: get,
 * finalize, compute, diff, write status once.
 *
 * Fail static: whatever goes wrong (fetch error, timeout, HTTP error, truncated or
 * unparseable body, a response that would empty the feed or is mostly garbage) the
 * last-known-good snapshot stays in force, Degraded says why, and the sync is retried
 * with backoff. The snapshot lives in ConfigMaps, so a restart or failover reloads it
 * without refetching until the refresh interval is due.
 */
export class ThreatFeedReconciler implements Reconciler {
  private readonly failures = new Map<string, number>();
  /** The generation whose too-short refreshInterval was last reported, by feed, so the Event is sent once. */
  private readonly clampReported = new Map<string, number>();

  constructor(private readonly deps: ThreatFeedDeps) {}

  async reconcile({ key, log, signal }: Request): Promise<Result | void> {
    const { cache, client, snapshots } = this.deps;
    const feed = cache.get(key);
    if (!feed) {
      this.forget(key);
      return;
    }
    const name = feed.metadata.name!;
    if (isDeleting(feed)) {
      if (hasFinalizer(feed)) {
        await snapshots.delete(name);
        await client.setFinalizers(feed, withoutFinalizer(feed));
        log.info('Deleted snapshot and removed finalizer');
      }
      this.forget(name);
      return;
    }
    if (!hasFinalizer(feed)) {
      // The patch's own watch event brings the object back; acting on it then keeps
      // the next status comparison on fresh data.
      await client.setFinalizers(feed, withFinalizer(feed));
      return;
    }

    const now = new Date(this.deps.clock.now());
    const generation = feed.metadata.generation ?? 0;
    const refresh = effectiveRefresh(feed);
    const refreshMs = refresh.ms;
    if (refresh.clampedFrom !== undefined && this.clampReported.get(name) !== generation) {
      this.clampReported.set(name, generation);
      this.deps.events.event(
        feed,
        'Warning',
        R.RefreshIntervalClamped,
        `spec.refreshInterval ${refresh.clampedFrom} is below the minimum of ${refresh.minimum} for this source; the feed is refreshed every ${refresh.minimum}`,
      );
    }
    const base: ThreatFeedStatus = withoutLedger(feed.status);
    const problem = specProblem(feed);
    if (problem) {
      await this.writeStatus(
        feed,
        withConditions(base, generation, now, [
          { type: C.Ready, status: 'False', reason: R.InvalidSpec, message: problem },
        ]),
      );
      return;
    }

    const snapshot = await this.deps.snapshots.get(name, log);
    if (feed.spec.suspend) {
      await this.writeStatus(
        feed,
        withConditions(base, generation, now, [
          {
            type: C.Ready,
            status: 'False',
            reason: R.Suspended,
            message: `spec.suspend is true: the feed is not fetched; ${snapshot ? `the ${snapshot.meta.count} indicators already known stay in force` : 'no indicators are known'}`,
          },
        ]),
      );
      return;
    }

    const lastSync = Date.parse(base.lastSyncTime ?? snapshot?.meta.syncedAt ?? '') || 0;
    const specChanged = base.observedGeneration !== generation;
    const dueIn = lastSync + refreshMs - now.getTime();
    if (
      snapshot &&
      !specChanged &&
      dueIn > 0 &&
      !(await this.judgedWithOtherGuardrails(snapshot))
    ) {
      // Restored after a restart, or simply not due: only the Stale condition can move.
      await this.writeStatus(
        feed,
        withConditions(
          { ...base, lastSyncTime: base.lastSyncTime ?? snapshot.meta.syncedAt },
          generation,
          now,
          [staleCondition(base.lastSyncTime ?? snapshot.meta.syncedAt, refreshMs, now)],
        ),
      );
      return { requeueAfter: dueIn };
    }

    const started = this.deps.clock.now();
    try {
      const status = await this.sync(feed, snapshot, base, now, refreshMs, signal, log);
      this.failures.delete(name);
      await this.writeStatus(
        feed,
        withConditions(status, generation, now, [
          staleCondition(status.lastSyncTime, refreshMs, now),
        ]),
      );
      return { requeueAfter: refreshMs };
    } catch (err) {
      if (signal.aborted) throw err;
      const failures = (this.failures.get(name) ?? 0) + 1;
      this.failures.set(name, failures);
      // A source may hold anything (a ConfigMap's settings, an allow-listed internal
      // service's answer): what a parser quoted from it never reaches status or Events.
      // The line, the reason and the counts stay; `forestall feed parse --list` shows the content.
      const message = sourceErrorForStatus((err as Error).message);
      const reason = failureReason(err);
      this.deps.metrics.feedSyncs.inc({ feed: name, result: 'error' });
      log.warn({ err, failures }, 'Feed sync failed; keeping the last-known-good snapshot');
      if (base.lastError !== message)
        this.deps.events.event(
          feed,
          'Warning',
          reason,
          `${message}; ${snapshot ? `keeping the last good snapshot of ${snapshot.meta.count} indicators` : 'no snapshot yet'}`,
        );
      await this.writeStatus(
        feed,
        withConditions({ ...base, lastError: message }, generation, now, [
          snapshot
            ? {
                type: C.Ready,
                status: 'True',
                reason: R.Synced,
                message: `serving the last-known-good snapshot of ${snapshot.meta.count} indicators from ${snapshot.meta.syncedAt}`,
              }
            : { type: C.Ready, status: 'False', reason, message },
          { type: C.Degraded, status: 'True', reason, message },
          staleCondition(base.lastSyncTime, refreshMs, now),
        ]),
      );
      return { requeueAfter: Math.min(refreshMs, FIRST_RETRY_MS * 2 ** (failures - 1)) };
    } finally {
      this.deps.metrics.feedSyncDuration.observe(
        { feed: name },
        (this.deps.clock.now() - started) / 1000,
      );
    }
  }

  private async sync(
    feed: ThreatFeed,
    snapshot: Snapshot | undefined,
    base: ThreatFeedStatus,
    now: Date,
    refreshMs: number,
    signal: AbortSignal,
    log: Request['log'],
  ): Promise<ThreatFeedStatus> {
    const name = feed.metadata.name!;
    const { metrics } = this.deps;
    // One deadline for the whole sync: fetching (every MISP event file included) and the worker.
    const { caps, syncDeadlineMs, maxMispEvents } = this.deps.ingest;
    const deadline = Date.now() + syncDeadlineMs;
    const timeout = AbortSignal.timeout(syncDeadlineMs);
    const syncSignal = AbortSignal.any([signal, timeout]);
    const pastDeadline = (err: unknown, doing: string) => {
      if (!timeout.aborted || signal.aborted) return err;
      return new FeedError(
        'FST_FEED_DEADLINE',
        `the sync of ${name} passed its deadline of ${syncDeadlineMs / 1000}s (--feed-sync-deadline) while ${doing}`,
      );
    };
    // The guardrails first: they fail closed (cluster ranges unreadable) before anything is
    // fetched, and the SSRF guard then knows the cluster's ranges on the first fetch too.
    const guardrails = await this.deps.guardrailConfig();
    const judgedWith = guardrailsDigest(guardrails);
    // A snapshot judged with other guardrails is fetched in full (not conditionally) and judged anew.
    const rejudge = snapshot !== undefined && snapshot.meta.guardrails !== judgedWith;
    let phaseStarted = this.deps.clock.now();
    const phaseDone = (phase: 'fetch' | 'ingest' | 'persist') => {
      const now = this.deps.clock.now();
      metrics.feedSyncPhase.observe({ feed: name, phase }, (now - phaseStarted) / 1000);
      phaseStarted = now;
    };
    let outcome: Awaited<ReturnType<typeof fetchFeed>>;
    let bytes: Uint8Array | undefined;
    try {
      outcome = await fetchFeed(
        feed,
        rejudge ? undefined : snapshot?.meta.sourceState,
        this.deps.readers,
        await this.deps.fetchPolicy(),
        syncSignal,
      );
      if (outcome.status === 'ok' && 'body' in outcome) bytes = await collectBytes(outcome.body);
    } catch (err) {
      throw pastDeadline(err, 'fetching');
    }
    phaseDone('fetch');
    const nowIso = rfc3339(now);
    if (outcome.status === 'unchanged' && snapshot) {
      metrics.feedSyncs.inc({ feed: name, result: 'not-modified' });
      return {
        ...base,
        lastSyncTime: nowIso,
        lastError: undefined,
        conditions: withConditions(base, feed.metadata.generation ?? 0, now, [
          {
            type: C.Ready,
            status: 'True',
            reason: R.Synced,
            message: `${snapshot.meta.count} indicators; the source reported no change`,
          },
          {
            type: C.Degraded,
            status: 'False',
            reason: R.Healthy,
            message: 'the last sync succeeded',
          },
        ]).conditions,
      };
    }
    if (outcome.status === 'unchanged')
      throw new RefusedSync(
        'the source reported no change, but no snapshot is stored; refetching next time',
      );
    let result: IngestResult;
    try {
      result = await this.deps.sandbox.ingest({
        ...ingestSpecOf(name, feed.spec),
        now,
        guardrails,
        caps,
        source:
          'files' in outcome
            ? { kind: 'misp', readFile: outcome.files, maxEvents: maxMispEvents }
            : { kind: 'body', bytes: bytes! },
        deadline,
        signal: syncSignal,
      });
    } catch (err) {
      // A MISP event file fetched for the worker can hit the deadline too; the worker's own error says so otherwise.
      throw isAbortedBy(err) ? pastDeadline(err, 'ingesting; the worker was stopped') : err;
    }
    phaseDone('ingest');
    this.refuseIfBroken(result, snapshot, outcome.origin);

    const diff = await diffSnapshots(snapshot?.indicators ?? [], result.indicators);
    const { added, removed } = diff;
    const changed = !snapshot || added > 0 || removed > 0;
    // Policies read confidence and tags too: a re-scored indicator is new content for them.
    const contentChanged = changed || diff.contentChanged;
    const meta =
      contentChanged ||
      rejudge ||
      !isDeepStrictEqual(snapshot?.meta.sourceState ?? {}, outcome.sourceState)
        ? await this.deps.snapshots.save(
            name,
            result.indicators,
            { syncedAt: nowIso, sourceState: outcome.sourceState, guardrails: judgedWith },
            feed,
          )
        : snapshot!.meta;
    phaseDone('persist');
    if (contentChanged) {
      this.deps.snapshots.replace(name, { meta, indicators: result.indicators });
    } else {
      // The same object as before, so consumers can tell "nothing new" by identity.
      snapshot.meta = meta;
    }

    metrics.feedSyncs.inc({ feed: name, result: changed ? 'changed' : 'unchanged' });
    for (const type of INDICATOR_TYPES)
      metrics.feedIndicators.set({ feed: name, type }, result.byType[type] ?? 0);
    for (const [reason, n] of Object.entries(result.dropped))
      metrics.feedDropped.inc({ feed: name, reason }, n);
    const droppedTotal = Object.values(result.dropped).reduce((a, b) => a + b, 0);
    const summary = `${result.indicators.length} indicators (+${added} -${removed}) from ${outcome.origin}; ${droppedTotal} dropped by guardrails, ${result.rejected} malformed`;
    const largeChange = this.largeChange(feed, snapshot, added, removed);
    if (changed) {
      this.deps.events.event(
        feed,
        largeChange.status === 'True' ? 'Warning' : 'Normal',
        largeChange.status === 'True' ? R.ChangeOverLimit : R.Synced,
        largeChange.status === 'True' ? `${summary}; ${largeChange.message}` : summary,
      );
      log.info(
        { added, removed, indicators: result.indicators.length, dropped: result.dropped },
        'Synced feed',
      );
    }
    return {
      ...base,
      indicatorCount: result.indicators.length,
      counts: result.byType as Record<string, number>,
      added,
      removed,
      dropped: result.dropped,
      rejected: result.rejected,
      digest: meta.digest,
      lastSyncTime: nowIso,
      lastChangeTime: changed ? nowIso : (base.lastChangeTime ?? nowIso),
      lastError: undefined,
      conditions: withConditions(base, feed.metadata.generation ?? 0, now, [
        { type: C.Ready, status: 'True', reason: R.Synced, message: summary },
        result.capped
          ? cappedTagsCondition(result.capped, caps)
          : {
              type: C.Degraded,
              status: 'False',
              reason: R.Healthy,
              message: 'the last sync succeeded',
            },
        ...(changed ? [largeChange] : []),
      ]).conditions,
    };
  }

  /**
   * Whether the snapshot was judged with guardrails other than today's, so it must be
   * synced now rather than at its refresh time. Guardrail inputs that cannot be read
   * leave the decision to the next due sync, which fails closed on them.
   */
  private async judgedWithOtherGuardrails(snapshot: Snapshot): Promise<boolean> {
    try {
      return snapshot.meta.guardrails !== guardrailsDigest(await this.deps.guardrailConfig());
    } catch {
      return false;
    }
  }

  /**
   * The circuit breaker on feed churn: a change over spec.maxChangePercent of the
   * previous set is flagged, so that the policy engine sends enforcement built on it
   * to review. The snapshot itself is still the feed's truth and is kept.
   */
  private largeChange(
    feed: ThreatFeed,
    snapshot: Snapshot | undefined,
    added: number,
    removed: number,
  ): Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> {
    const limit = feed.spec.maxChangePercent ?? 50;
    const base = snapshot?.meta.count ?? 0;
    const percent = base > 0 ? Math.round(((added + removed) / base) * 1000) / 10 : 0;
    return base > 0 && percent > limit
      ? {
          type: C.LargeChange,
          status: 'True',
          reason: R.ChangeOverLimit,
          message: `the last sync changed ${percent}% of the feed (+${added} -${removed} of ${base}), over the ${limit}% limit; enforcement changes from it need approval`,
        }
      : {
          type: C.LargeChange,
          status: 'False',
          reason: R.ChangeWithinLimit,
          message: `the last change was ${percent}% of the feed; the limit is ${limit}%`,
        };
  }

  /** Refuses a sync that would empty the feed or is mostly garbage, when there is something to keep. */
  private refuseIfBroken(
    result: IngestResult,
    snapshot: Snapshot | undefined,
    origin: string,
  ): void {
    if (!snapshot || snapshot.meta.count === 0) return;
    if (result.indicators.length === 0) {
      throw new RefusedSync(
        `${origin} gave 0 indicators (${result.records} records, ${result.rejected} malformed); refusing to empty a feed of ${snapshot.meta.count}`,
      );
    }
    if (result.records > 0 && result.rejected / result.records > MAX_REJECTED_SHARE) {
      throw new RefusedSync(
        `${origin}: ${result.rejected} of ${result.records} records are malformed (first: ${result.rejectedSamples[0]?.ref}: ${result.rejectedSamples[0]?.reason}); refusing it as garbage`,
      );
    }
  }

  private forget(name: string): void {
    this.clampReported.delete(name);
    const { metrics } = this.deps;
    for (const type of INDICATOR_TYPES) metrics.feedIndicators.remove({ feed: name, type });
    // A deleted feed must not look stale or degraded for ever.
    for (const gauge of [
      metrics.feedLastSync,
      metrics.feedRefreshInterval,
      metrics.feedDegraded,
      metrics.feedSourceConfidence,
    ])
      gauge.remove({ feed: name });
    this.deps.snapshots.forget(name);
    this.failures.delete(name);
  }

  /**
   * The gauges the alerts read, from the status every reconcile writes: the last good
   * sync (also after a restart, before the next sync is due), the refresh interval and
   * Degraded. A suspended feed is left unfetched on purpose, so it exports neither
   * interval nor Degraded and no alert fires for it. The error counter starts at 0, so
   * that increase() sees a feed's first failure.
   */
  private exportState(feed: ThreatFeed, status: ThreatFeedStatus): void {
    const { metrics } = this.deps;
    const labels = { feed: feed.metadata.name! };
    const lastSync = Date.parse(status.lastSyncTime ?? '');
    if (lastSync > 0) metrics.feedLastSync.set(labels, lastSync / 1000);
    metrics.feedSourceConfidence.set(
      labels,
      confidenceAt(ledgerOf(feed), new Date(this.deps.clock.now())),
    );
    if (feed.spec.suspend) {
      metrics.feedRefreshInterval.remove(labels);
      metrics.feedDegraded.remove(labels);
      return;
    }
    metrics.feedRefreshInterval.set(labels, effectiveRefresh(feed).ms / 1000);
    const degraded = status.conditions?.some((c) => c.type === C.Degraded && c.status === 'True');
    metrics.feedDegraded.set(labels, degraded ? 1 : 0);
    metrics.feedSyncs.inc({ ...labels, result: 'error' }, 0);
  }

  /** Writes status only when it differs from what is stored, and records Ready transitions as Events. */
  private async writeStatus(feed: ThreatFeed, status: ThreatFeedStatus): Promise<void> {
    this.exportState(feed, status);
    const target = { apiVersion: API_VERSION, kind: 'ThreatFeed', name: feed.metadata.name! };
    // status.sourceConfidence belongs to the feedback loop (SourceConfidenceRecorder):
    // never compared, never applied here.
    const stored = withoutLedger(feed.status);
    const written = await applyStatusIfChanged(
      this.deps.client,
      target,
      stored,
      withoutLedger(status),
    );
    const after = written && readyTransition(stored, written);
    if (after && after.reason !== R.Synced) {
      this.deps.events.event(
        feed,
        after.status === 'False' ? 'Warning' : 'Normal',
        after.reason,
        after.message,
      );
    }
  }
}

/** The status without the feedback loop's field, which another writer keeps. */
function withoutLedger(status: ThreatFeedStatus | undefined): ThreatFeedStatus {
  const { sourceConfidence: _ledger, ...rest } = status ?? {};
  return rest;
}

/** A fetch or worker stopped because the sync's signal fired (FST_FEED_ABORTED, or a MISP file read that says so). */
function isAbortedBy(err: unknown): boolean {
  return (
    (err as { code?: unknown } | null)?.code === 'FST_FEED_ABORTED' ||
    /cancelled|aborted/i.test((err as Error | null)?.message ?? '')
  );
}
