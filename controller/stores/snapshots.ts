import type { Logger } from 'pino';
import type { Indicator } from '../../feeds/index.js';
import type { Snapshot, SnapshotMeta, SnapshotStore } from './snapshot-store.js';

/**
 * The feeds' last-known-good snapshots, shared by the ThreatFeed controller, which
 * writes them, and the ExposurePolicy controller, which reads them. Owned by neither:
 * both are given this one service. Each snapshot is persisted in ConfigMaps
 * (SnapshotStore) and held in memory; a feed not yet synced by this process is restored
 * from its ConfigMaps on first read, so a consumer that starts before the feed's first
 * reconcile still sees it.
 *
 * Consumers tell "nothing new" by identity: a snapshot object is replaced whenever its
 * content changes (replace()), and kept, with its meta updated, when it does not.
 */
export class Snapshots {
  private readonly held = new Map<string, Snapshot>();
  private readonly loaded = new Set<string>();
  private readonly listeners: ((feed: string) => void)[] = [];

  constructor(
    private readonly store: SnapshotStore,
    /** Told about each snapshot restored from the API server (the feed controller's metrics). */
    private readonly restored?: (feed: string, snapshot: Snapshot) => void,
  ) {}

  /** Calls listener with the feed's name whenever its indicators change (a sync, a restore, a deletion). */
  onChange(listener: (feed: string) => void): void {
    this.listeners.push(listener);
  }

  /** The feed's last-known-good snapshot, restored from the API server once per process. */
  async get(feed: string, log: Logger): Promise<Snapshot | undefined> {
    if (!this.loaded.has(feed)) {
      try {
        const snapshot = await this.store.load(feed);
        if (snapshot) {
          this.held.set(feed, snapshot);
          this.changed(feed);
          this.restored?.(feed, snapshot);
          log.info(
            { indicators: snapshot.meta.count, syncedAt: snapshot.meta.syncedAt },
            'Restored last-known-good snapshot',
          );
        }
      } catch (err) {
        // A damaged snapshot is refetched and rewritten; the error is in the log.
        log.warn({ err }, 'Stored snapshot is unusable; refetching');
      }
      this.loaded.add(feed);
    }
    return this.held.get(feed);
  }

  /** What this process holds now, without reading the API server (tests, benchmarks). */
  peek(feed: string): Snapshot | undefined {
    return this.held.get(feed);
  }

  /** Persists a sync's indicators; the caller decides with replace() whether consumers see new content. */
  save(
    feed: string,
    indicators: readonly Indicator[],
    meta: Omit<SnapshotMeta, 'digest' | 'count'>,
    owner?: Parameters<SnapshotStore['save']>[3],
  ): Promise<SnapshotMeta> {
    return this.store.save(feed, indicators, meta, owner);
  }

  /** New content: a new object, so consumers see the change by identity. */
  replace(feed: string, snapshot: Snapshot): void {
    this.held.set(feed, snapshot);
    this.loaded.add(feed);
    this.changed(feed);
  }

  /** Deletes the stored snapshot (the feed is being deleted). */
  delete(feed: string): Promise<void> {
    return this.store.delete(feed);
  }

  /** Drops what this process holds for the feed (gone from the cache, or deleted). */
  forget(feed: string): void {
    const had = this.held.delete(feed);
    this.loaded.delete(feed);
    if (had) this.changed(feed);
  }

  private changed(feed: string): void {
    for (const listener of this.listeners) listener(feed);
  }
}
