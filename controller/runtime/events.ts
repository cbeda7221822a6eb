import {
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { redact } from './errors.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Records an Event about obj. Never throws and never blocks the reconcile. */
  event(obj: KubernetesObject, type: EventType, reason: string, message: string): void;
  /** Resolves when every event sent so far has been written (for tests and shutdown). */
  flush(): Promise<void>;
}

/**
 * Writes core/v1 Events as client-go's recorder does: cluster-scoped objects get their
 * events in the `default` namespace, and a repeat of the same reason and message for
 * the same object within ten minutes bumps `count` instead of creating a new Event.
 */
export class KubeEventRecorder implements EventRecorder {
  private readonly core: CoreV1Api;
  private readonly seen = new Map<
    string,
    { name: string; namespace: string; count: number; at: number }
  >();
  private pending = new Set<Promise<void>>();

  constructor(
    kc: KubeConfig,
    private readonly component: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  event(obj: KubernetesObject, type: EventType, reason: string, message: string): void {
    const p = this.write(obj, type, reason, redact(message))
      .catch((err: unknown) => {
        this.log.warn({ err, reason }, 'Failed to record event');
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async write(
    obj: KubernetesObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = obj.metadata?.namespace || 'default';
    const key = `${obj.metadata?.uid}/${type}/${reason}/${message}`;
    const now = this.clock.now();
    const prior = this.seen.get(key);
    if (prior && now - prior.at < 600_000) {
      prior.count += 1;
      prior.at = now;
      await this.core
        .patchNamespacedEvent({
          name: prior.name,
          namespace: prior.namespace,
          body: { count: prior.count, lastTimestamp: new Date(now) },
        })
        .catch(() => this.seen.delete(key));
      return;
    }
    const name = `${obj.metadata?.name}.${now.toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`;
    const event: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata?.name,
        namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid,
        resourceVersion: obj.metadata?.resourceVersion,
      },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.component,
      firstTimestamp: new Date(now),
      lastTimestamp: new Date(now),
      count: 1,
    };
    await this.core.createNamespacedEvent({ namespace, body: event });
    this.seen.set(key, { name, namespace, count: 1, at: now });
    if (this.seen.size > 4096) this.seen.delete(this.seen.keys().next().value!);
  }
}

/** Records nothing; for the offline CLI. */
export const noEvents: EventRecorder = { event: () => undefined, flush: async () => undefined };
