import type { ThreatFeed } from '../../crds/index.js';
import { API_VERSION } from '../../crds/index.js';
import {
  applyFeedback,
  hasFeedback,
  type FeedbackEvent,
  type SourceConfidence,
} from '../../policies/index.js';
import type { KubeClient } from '../runtime/client.js';
import { codeOf, messageOf } from '../runtime/errors.js';
import type { EventRecorder } from '../runtime/events.js';
import type { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';

/** The feed's ledger, status.sourceConfidence (policies/source-confidence.ts). */
export function ledgerOf(feed: ThreatFeed | undefined): SourceConfidence | undefined {
  return feed?.status?.sourceConfidence as SourceConfidence | undefined;
}

/**
 * Records feedback against feeds: the ledger in each ThreatFeed's
 * status.sourceConfidence, read fresh, changed by applyFeedback and written back with a
 * merge patch guarded by resourceVersion (a conflict is read and tried again). The
 * ThreatFeed controller leaves that field to this writer. An event whose key the ledger
 * already holds changes nothing, so a retried reconcile records it once. Writes to one
 * feed are serialised in this process. A write that fails is logged and reported in the
 * result, never thrown: feedback must not hold up an action's lifecycle.
 */
export class SourceConfidenceRecorder {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      client: KubeClient;
      feeds: Informer<ThreatFeed>;
      events: EventRecorder;
      log: Logger;
    },
  ) {}

  /**
   * Applies `event` to each feed that exists (a feed that is gone is skipped). Returns
   * the feeds whose ledger holds the event afterwards; the others failed and were logged.
   */
  async record(feeds: readonly string[], event: FeedbackEvent, log?: Logger): Promise<string[]> {
    const held: string[] = [];
    for (const feed of new Set(feeds)) {
      // The cache's view answers the common case (already recorded) without a request.
      if (hasFeedback(ledgerOf(this.deps.feeds.get(feed)), event.key)) {
        held.push(feed);
        continue;
      }
      const before = this.queues.get(feed) ?? Promise.resolve();
      const next = before.then(() => this.recordOne(feed, event, log));
      const settled = next.catch(() => undefined);
      this.queues.set(feed, settled);
      void settled.then(() => {
        if (this.queues.get(feed) === settled) this.queues.delete(feed);
      });
      try {
        await next;
        held.push(feed);
      } catch (err) {
        (log ?? this.deps.log).warn(
          { feed, kind: event.kind, action: event.action, err: messageOf(err) },
          'Could not record feedback against a feed; it is tried again on the next change',
        );
      }
    }
    return held;
  }

  private async recordOne(name: string, event: FeedbackEvent, log?: Logger): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const feed = await this.deps.client.get<ThreatFeed>(API_VERSION, 'ThreatFeed', name);
      if (!feed) return;
      const before = ledgerOf(feed);
      const after = applyFeedback(before, event);
      if (after === before) return;
      try {
        await this.deps.client.mergeStatus(feed, { sourceConfidence: after });
      } catch (err) {
        if (codeOf(err) === 'FST_KUBE_CONFLICT' && attempt < 4) continue;
        throw err;
      }
      const was = before?.effective ?? 100;
      const what = event.kind === 'expiredClean' ? 'expired with no exception' : event.kind;
      this.deps.events.event(
        feed,
        after.effective < was ? 'Warning' : 'Normal',
        'SourceConfidence',
        `action ${event.action}${event.exception ? ` (ThreatException ${event.exception})` : ''} ${what}: source confidence ${was} → ${after.effective} (adjustment ${after.adjustment})`,
      );
      log?.info(
        { feed: name, kind: event.kind, action: event.action, effective: after.effective },
        'Recorded feedback against a feed',
      );
      return;
    }
  }
}
