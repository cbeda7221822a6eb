import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, type ThreatFeed } from '../../crds/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { findCondition, type Condition } from '../runtime/conditions.js';
import type { Reconciler, Request, Result } from '../runtime/controller.js';
import type { EventRecorder } from '../runtime/events.js';
import { hasFinalizer, isDeleting, withFinalizer, withoutFinalizer } from '../runtime/finalizers.js';
import type { Informer } from '../runtime/informer.js';
import { ThreatFeedCondition } from './reasons.js';
import { desiredStatus } from './status.js';

export interface ThreatFeedDeps {
  cache: Informer<ThreatFeed>;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
}

/**
 * Reconciles one ThreatFeed in the house shape: get, finalize, compute, diff, write
 * status once. It writes nothing when the status it computes equals the one stored,
 * so a resync of an unchanged feed costs no API writes.
 */
export class ThreatFeedReconciler implements Reconciler {
  constructor(private readonly deps: ThreatFeedDeps) {}

  async reconcile({ key, log }: Request): Promise<Result | void> {
    const { cache, client, events, clock } = this.deps;
    const feed = cache.get(key);
    if (!feed) return;

    if (isDeleting(feed)) {
      if (hasFinalizer(feed)) {
        // Nothing is owned outside the object yet; snapshot cleanup joins here later.
        await client.setFinalizers(feed, withoutFinalizer(feed));
        log.info('Removed finalizer');
      }
      return;
    }
    if (!hasFinalizer(feed)) {
      // The patch's own watch event brings the object back; acting on it then (rather
      // than now) keeps the next status comparison on fresh data, which saves a write.
      await client.setFinalizers(feed, withFinalizer(feed));
      log.debug('Added finalizer');
      return;
    }

    const status = desiredStatus(feed, new Date(clock.now()));
    if (isDeepStrictEqual(normalise(status), normalise(feed.status ?? {}))) return;

    await client.applyStatus({ apiVersion: API_VERSION, kind: 'ThreatFeed', metadata: { name: feed.metadata.name }, status } as ThreatFeed);
    log.info({ generation: status.observedGeneration }, 'Updated ThreatFeed status');

    const before = findCondition(feed.status?.conditions as Condition[] | undefined, ThreatFeedCondition.Ready);
    const after = findCondition(status.conditions as Condition[] | undefined, ThreatFeedCondition.Ready)!;
    if (!before || before.reason !== after.reason || before.message !== after.message) {
      events.event(feed, after.status === 'False' ? 'Warning' : 'Normal', after.reason, after.message);
    }
  }
}

// JSON round-trip drops undefined fields so that the comparison sees what the API stores.
function normalise(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
