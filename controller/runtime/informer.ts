import {
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { statusOf } from './errors.js';
import type { Metrics } from './metrics.js';
import { MutationCache } from './mutation-cache.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (obj: T, old?: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** The collection path to watch, for example /apis/forestall.io/v1alpha1/threatfeeds. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  /** First and largest wait between failed list or watch attempts. */
  backoffMs?: { base: number; max: number };
  /**
   * The kind is a CRD the cluster may not have (Gateway API, Trivy): a 404 while it is
   * not served is expected, so the retries are logged at debug, not warn.
   */
  optional?: boolean;
  /** Server-side watch timeout; the watch is renewed from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  /**
   * Read your own writes: objects of this kind that this client's writes return are
   * what get() and list() give until the watch catches up (MutationCache).
   */
  writes?: { client: WriteSource; apiVersion: string; kind: string };
}

/** A client that tells who listens about the objects its writes return (KubeClient.onWrite). */
export interface WriteSource {
  onWrite(listener: (obj: KubernetesObject) => void): () => void;
}

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : `${obj.metadata?.name}`;
}

/**
 * A list-watch cache of one resource, with client-go's reflector behaviour:
 * - list, then watch from the list's resourceVersion, with bookmarks;
 * - a watch that ends cleanly (server timeout, API server restart) resumes from the
 *   last resourceVersion seen;
 * - 410 Gone (the resourceVersion is too old) relists, emitting deletes for objects
 *   that vanished meanwhile;
 * - any other failure waits with exponential backoff and jitter, then relists.
 * Handlers run synchronously and must only enqueue work.
 */
export class Informer<T extends KubernetesObject> {
  private readonly store = new Map<string, T>();
  private readonly mutations: MutationCache<T>;
  private readonly handlers: Record<InformerEvent, InformerHandler<T>[]> = {
    add: [],
    update: [],
    delete: [],
  };
  private resourceVersion = '';
  private synced = false;
  private failures = 0;
  private abort?: AbortController;
  private loop?: Promise<void>;
  private readonly watch: Watch;
  private readonly resource: string;

  constructor(private readonly opts: InformerOptions<T>) {
    this.watch = new Watch(opts.kc);
    this.resource = opts.path.split('/').pop() ?? opts.path;
    this.mutations = new MutationCache<T>(opts.clock);
    const writes = opts.writes;
    // For the client's lifetime: reads stay right after stop() too.
    writes?.client.onWrite((obj) => {
      if (obj.apiVersion === writes.apiVersion && obj.kind === writes.kind)
        this.mutations.mutated(objectKey(obj), obj as T);
    });
  }

  on(event: InformerEvent, handler: InformerHandler<T>): void {
    this.handlers[event].push(handler);
  }

  /** The object: what the watch delivered, or what our own later write returned. */
  get(key: string): T | undefined {
    return this.mutations.resolve(key, this.store.get(key));
  }

  list(): T[] {
    const keys = new Set([...this.store.keys(), ...this.mutations.keys()]);
    return [...keys].map((key) => this.get(key)).filter((obj): obj is T => obj !== undefined);
  }

  /** True once the first list has been loaded. */
  hasSynced(): boolean {
    return this.synced;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error('informer stopped'));
    await this.loop;
    this.loop = undefined;
  }

  /** Resolves once synced, or rejects when the signal aborts first. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    while (!this.synced) await this.opts.clock.sleep(50, signal);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist();
        // An optional kind's list stood in for a kind not served (no resourceVersion): list
        // again after the backoff rather than watch. A watch opened just as its CRD is
        // installed would succeed and hold for minutes with nothing listed or marked served.
        if (!this.resourceVersion && this.opts.optional)
          throw Object.assign(new Error(`${this.resource} is not served`), { statusCode: 404 });
        await this.watchOnce(signal);
        this.failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (statusOf(err) === 410) {
          this.opts.log.info({ resource: this.resource }, 'Watch expired; relisting');
          this.opts.metrics?.informerRestarts.inc({ resource: this.resource, reason: 'gone' });
          this.resourceVersion = '';
          continue;
        }
        this.failures += 1;
        const { base, max } = this.opts.backoffMs ?? { base: 200, max: 30_000 };
        const wait = Math.min(base * 2 ** (this.failures - 1), max) * (0.8 + Math.random() * 0.4);
        const notServed = this.opts.optional === true && statusOf(err) === 404;
        this.opts.log[notServed ? 'debug' : 'warn'](
          { err, resource: this.resource, failures: this.failures, retryInMs: Math.round(wait) },
          notServed ? 'Not served (CRD not installed); retrying' : 'List or watch failed; retrying',
        );
        this.opts.metrics?.informerRestarts.inc({
          resource: this.resource,
          reason: notServed ? 'not-served' : 'error',
        });
        // A relist after an error catches anything missed while disconnected.
        this.resourceVersion = '';
        await this.opts.clock.sleep(wait, signal).catch(() => undefined);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.opts.list();
    const fresh = new Map<string, T>();
    for (const item of list.items) fresh.set(objectKey(item), item);
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.mutations.forget(key, list.metadata?.resourceVersion);
        this.emit('delete', old);
      }
    }
    for (const key of [...this.mutations.keys()])
      if (!fresh.has(key)) this.mutations.absentAt(key, list.metadata?.resourceVersion);
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.emit('update', obj, old);
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.synced = true;
  }

  private watchOnce(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let request: AbortController | undefined;
      const onAbort = () => request?.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (gone)
          return reject(Object.assign(new Error('resourceVersion too old'), { statusCode: 410 }));
        if (err) return reject(err);
        this.opts.metrics?.informerRestarts.inc({ resource: this.resource, reason: 'closed' });
        resolve();
      };
      const timeoutSeconds =
        (this.opts.watchTimeoutSeconds ?? 300) + Math.floor(Math.random() * 60);
      this.watch
        .watch(
          this.opts.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          (phase: string, obj: T & { code?: number }) => {
            if (phase === 'ERROR') {
              if (obj.code === 410) gone = true;
              return;
            }
            const rv = obj.metadata?.resourceVersion;
            if (phase === 'BOOKMARK') {
              if (rv) this.resourceVersion = rv;
              return;
            }
            const key = objectKey(obj);
            const old = this.store.get(key);
            if (phase === 'DELETED') {
              this.store.delete(key);
              this.mutations.forget(key, rv);
              this.emit('delete', obj);
            } else {
              this.store.set(key, obj);
              this.emit(old ? 'update' : 'add', obj, old);
            }
            if (rv) this.resourceVersion = rv;
          },
          done,
        )
        .then((req) => {
          request = req;
          if (signal.aborted) req.abort();
        }, reject);
    });
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers[event]) {
      try {
        h(obj, old);
      } catch (err) {
        this.opts.log.error({ err, event }, 'Informer handler threw');
      }
    }
  }
}
