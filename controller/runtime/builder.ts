import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import type { Clock } from './clock.js';
import {
  Controller,
  type ControllerDefaults,
  type ReadCache,
  type Reconciler,
} from './controller.js';
import type { Informer } from './informer.js';
import type { EventRecorder } from './events.js';
import type { Logger } from './logger.js';
import type { Runnable } from './manager.js';
import type { Metrics } from './metrics.js';

export type { ControllerDefaults };

/** The runtime services every kind's wiring is built from. */
export interface ControllerContext {
  kc: KubeConfig;
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

/** Where a builder adds what it completes: the Manager, or anything with its add(). */
export interface ControllerSink {
  add(runnable: Runnable): void;
}

/**
 * Controllers declared the way controller-runtime's builder declares them
 * (`NewControllerManagedBy(mgr).For(&X{}).Owns(&Y{}).Watches(...).Complete(r)`), instead
 * of wiring queues and handlers by hand:
 *
 *   managedBy(manager, defaults)
 *     .named('exposurepolicy')
 *     .for(policies)
 *     .owns(actions, (a) => a.spec.policyRef?.name)
 *     .watches(feeds, (f) => readers(f))
 *     .triggeredBy((enqueue) => snapshots.onChange((feed) => readers(feed).forEach(enqueue)))
 *     .complete(reconciler);
 *
 * complete() builds the Controller, connects every source to its queue, adds it to the
 * manager and returns it. Each builder is used once.
 */
export function managedBy(sink: ControllerSink, defaults: ControllerDefaults): NamedStep {
  return {
    named: (name) => ({
      for: <T extends KubernetesObject>(informer: Informer<T>) =>
        new ControllerBuilder<T>(sink, defaults, name, informer),
    }),
  };
}

export interface NamedStep {
  named(name: string): {
    for<T extends KubernetesObject>(informer: Informer<T>): ControllerBuilder<T>;
  };
}

type Wiring = (enqueue: (key: string) => void) => void;

export class ControllerBuilder<T extends KubernetesObject> {
  private readonly wirings: Wiring[] = [];
  private options: Partial<ControllerDefaults> = {};
  private readonly readCaches: ReadCache[] = [];

  constructor(
    private readonly sink: ControllerSink,
    private readonly defaults: ControllerDefaults,
    private readonly name: string,
    private readonly informer: Informer<T>,
  ) {}

  /** Objects this kind owns: a change to one reconciles its owner (the key ownerOf names); the workers wait for their cache. */
  owns<S extends KubernetesObject>(
    informer: Informer<S>,
    ownerOf: (obj: S) => string | undefined,
  ): this {
    return this.watches(informer, (obj) => {
      const owner = ownerOf(obj);
      return owner ? [owner] : [];
    });
  }

  /** Any other kind: a change to one reconciles the keys map gives; the workers wait for its cache. */
  watches<S extends KubernetesObject>(informer: Informer<S>, map: (obj: S) => string[]): this {
    // The reconciler reads what it watches: its workers wait for that cache too.
    this.readCaches.push(informer);
    this.wirings.push((enqueue) => {
      const handler = (obj: S) => map(obj).forEach(enqueue);
      informer.on('add', handler);
      informer.on('update', handler);
      informer.on('delete', handler);
    });
    return this;
  }

  /** Caches the reconciler reads without reacting to them: the workers wait for their sync. */
  reads(...informers: ReadCache[]): this {
    this.readCaches.push(...informers);
    return this;
  }

  /** A source that is not an informer (a snapshot service, an inventory): it calls enqueue. */
  triggeredBy(subscribe: Wiring): this {
    this.wirings.push(subscribe);
    return this;
  }

  /** Overrides of the shared defaults for this controller. */
  withOptions(options: Partial<Omit<ControllerDefaults, 'clock' | 'log' | 'metrics'>>): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  /** Builds the controller, connects its sources, adds it to the manager. */
  complete(reconciler: Reconciler): Controller<T> {
    const controller = new Controller<T>({
      ...this.defaults,
      ...this.options,
      name: this.name,
      informer: this.informer,
      reconciler,
      reads: this.readCaches,
    });
    const enqueue = (key: string) => controller.queue.add(key);
    for (const wire of this.wirings) wire(enqueue);
    this.sink.add(controller);
    return controller;
  }
}
