import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { classify, codeOf } from './errors.js';
import { objectKey, type Informer } from './informer.js';
import type { Metrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import type { RateLimiter } from './rate-limiter.js';

/** What a reconcile is given: only the key, never the event (controller-runtime). */
export interface Request {
  key: string;
  log: Logger;
  signal: AbortSignal;
  reconcileID: string;
}

/** Success; requeueAfter asks to run again later (polling, expiry). */
export interface Result {
  requeueAfter?: number;
}

export interface Reconciler {
  reconcile(req: Request): Promise<Result | void>;
}

/** What every controller of a manager shares. */
export interface ControllerDefaults {
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  concurrency?: number;
  /** Every object is re-queued about this often (±10% jitter); 0 disables. */
  resyncPeriodMs?: number;
  rateLimiter?: RateLimiter;
}

/** What a controller needs of a cache it only reads: start it, and know it has synced. */
export type ReadCache = Pick<Informer<KubernetesObject>, 'start' | 'waitForSync' | 'hasSynced'>;

export interface ControllerOptions<T extends KubernetesObject> extends ControllerDefaults {
  name: string;
  informer: Informer<T>;
  reconciler: Reconciler;
  /**
   * Other caches the reconciler reads. The workers start only once these have synced
   * too, as controller-runtime waits for every cache a controller uses: a reconcile
   * right after a restart must not take "not in the cache yet" for "absent".
   */
  reads?: readonly ReadCache[];
}

/**
 * One controller per root kind: the informer feeds keys into a de-duplicating queue,
 * `concurrency` workers reconcile them (never one key twice at once), and the result
 * decides the retry:
 * - success: backoff reset; requeueAfter schedules the next run;
 * - conflict: retried from fresh state with the per-key backoff (the cache catches up through the watch);
 * - transient error: per-key exponential backoff;
 * - terminal error: no retry, counted; the reconciler shows it in a condition.
 */
export class Controller<T extends KubernetesObject> {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private abort = new AbortController();
  private resyncTimer?: { cancel(): void };

  constructor(private readonly opts: ControllerOptions<T>) {
    this.queue = new WorkQueue({
      clock: opts.clock,
      rateLimiter: opts.rateLimiter,
      observer: opts.metrics.queueObserver(opts.name),
    });
    const enqueue = (obj: T) => this.queue.add(objectKey(obj));
    opts.informer.on('add', enqueue);
    opts.informer.on('update', enqueue);
    opts.informer.on('delete', enqueue);
  }

  get name(): string {
    return this.opts.name;
  }

  /** Enqueues every key whenever `source` changes, mapped by `map` (secondary watches). */
  watches<S extends KubernetesObject>(source: Informer<S>, map: (obj: S) => string[]): void {
    const handler = (obj: S) => map(obj).forEach((k) => this.queue.add(k));
    source.on('add', handler);
    source.on('update', handler);
    source.on('delete', handler);
  }

  async start(): Promise<void> {
    this.abort = new AbortController();
    const caches = [this.opts.informer, ...(this.opts.reads ?? [])];
    // Starting is idempotent; each cache is stopped by the controller it is the root of.
    for (const cache of caches) cache.start();
    await Promise.all(caches.map((cache) => cache.waitForSync(this.abort.signal)));
    this.opts.log.info(
      { controller: this.opts.name, objects: this.opts.informer.list().length },
      'Cache synced; starting workers',
    );
    for (let i = 0; i < (this.opts.concurrency ?? 2); i++) this.workers.push(this.work());
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('controller stopping'));
    this.resyncTimer?.cancel();
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
    await this.opts.informer.stop();
  }

  private scheduleResync(): void {
    const period = this.opts.resyncPeriodMs ?? 0;
    if (period <= 0) return;
    const jittered = period * (0.9 + Math.random() * 0.2);
    this.resyncTimer = this.opts.clock.setTimer(() => {
      for (const obj of this.opts.informer.list()) this.queue.add(objectKey(obj));
      this.scheduleResync();
    }, jittered);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileOne(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const { name, metrics, clock } = this.opts;
    const reconcileID = randomUUID();
    const log = this.opts.log.child({ controller: name, name: key, reconcileID });
    const started = clock.now();
    metrics.activeWorkers.inc({ controller: name });
    try {
      const result = await this.opts.reconciler.reconcile({
        key,
        log,
        signal: this.abort.signal,
        reconcileID,
      });
      this.queue.forget(key);
      if (result?.requeueAfter && result.requeueAfter > 0) {
        this.queue.addAfter(key, result.requeueAfter);
        metrics.reconcileTotal.inc({ controller: name, result: 'requeue' });
      } else {
        metrics.reconcileTotal.inc({ controller: name, result: 'success' });
      }
    } catch (err) {
      const errorClass = classify(err);
      // Every domain's stable code (connector, forge, git, notify...), not only the controller's.
      const code = codeOf(err);
      metrics.reconcileErrors.inc({ controller: name, code });
      metrics.reconcileTotal.inc({
        controller: name,
        result: errorClass === 'transient' ? 'error' : errorClass,
      });
      if (errorClass === 'terminal') {
        this.queue.forget(key);
        log.error({ err }, 'Reconcile failed with a terminal error; not retrying');
      } else if (errorClass === 'conflict') {
        log.debug({ err }, 'Reconcile hit a conflict; retrying');
        this.queue.addRateLimited(key);
      } else {
        log.warn(
          { err, failures: this.queue.rateLimiter.failures(key) + 1 },
          'Reconcile failed; retrying with backoff',
        );
        this.queue.addRateLimited(key);
      }
    } finally {
      metrics.activeWorkers.dec({ controller: name });
      metrics.reconcileDuration.observe({ controller: name }, (clock.now() - started) / 1000);
    }
  }

  /** True once the informer, and every cache the reconciler reads, has synced; the manager's readiness check uses it. */
  synced(): boolean {
    return [this.opts.informer, ...(this.opts.reads ?? [])].every((cache) => cache.hasSynced());
  }
}
