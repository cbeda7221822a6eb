import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { managedBy } from './builder.js';
import { FakeClock } from './clock.js';
import type { Informer, InformerEvent, InformerHandler } from './informer.js';
import type { Runnable } from './manager.js';
import { Metrics } from './metrics.js';

// The builder only wires event handlers to a queue; an informer's event surface, driven
// by hand, stands in for the list-watch (tested against the real API server elsewhere).
function eventSource<T extends KubernetesObject>() {
  const handlers: Record<InformerEvent, InformerHandler<T>[]> = { add: [], update: [], delete: [] };
  return {
    informer: {
      on: (event: InformerEvent, handler: InformerHandler<T>) => handlers[event].push(handler),
    } as unknown as Informer<T>,
    fire: (event: InformerEvent, obj: T) => handlers[event].forEach((h) => h(obj)),
  };
}

const obj = (name: string, owner?: string) =>
  ({ metadata: { name, ...(owner ? { labels: { owner } } : {}) } }) as KubernetesObject;

describe('managedBy(...).named().for().owns().watches().triggeredBy().complete()', () => {
  it('GIVEN a controller declared with every kind of source THEN each source enqueues the keys it maps to, and complete() adds the controller to the manager', async () => {
    const added: Runnable[] = [];
    const primary = eventSource<KubernetesObject>();
    const owned = eventSource<KubernetesObject>();
    const other = eventSource<KubernetesObject>();
    let trigger: ((key: string) => void) | undefined;
    const controller = managedBy(
      { add: (r) => added.push(r) },
      { clock: new FakeClock(), log: pino({ level: 'silent' }), metrics: new Metrics() },
    )
      .named('widgets')
      .for(primary.informer)
      .owns(owned.informer, (o) => o.metadata?.labels?.owner)
      .watches(other.informer, (o) => [`${o.metadata?.name}-a`, `${o.metadata?.name}-b`])
      .triggeredBy((enqueue) => (trigger = enqueue))
      .withOptions({ concurrency: 1 })
      .complete({ reconcile: async () => undefined });

    expect(added).toEqual([controller]);
    expect(controller.name).toBe('widgets');
    primary.fire('add', obj('w1'));
    owned.fire('update', obj('child', 'w2'));
    owned.fire('update', obj('orphan'));
    other.fire('delete', obj('x'));
    trigger!('w3');
    const keys: string[] = [];
    while (controller.queue.len() > 0) keys.push((await controller.queue.get())!);
    expect(keys.sort()).toEqual(['w1', 'w2', 'w3', 'x-a', 'x-b']);
  });
});

describe('reads(): caches the reconciler reads', () => {
  /** A cache whose sync the test releases by hand. */
  function gatedCache() {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    let synced = false;
    void done.then(() => (synced = true));
    return {
      cache: { start: () => undefined, waitForSync: () => done, hasSynced: () => synced },
      release,
    };
  }

  it('GIVEN a controller that reads another cache THEN no reconcile runs, and synced() is false, until that cache has synced too', async () => {
    const primary = eventSource<KubernetesObject>();
    Object.assign(primary.informer, {
      start: () => undefined,
      stop: async () => undefined,
      waitForSync: async () => undefined,
      hasSynced: () => true,
      list: () => [],
    });
    const policies = gatedCache();
    const reconciled: string[] = [];
    const controller = managedBy(
      { add: () => undefined },
      { clock: new FakeClock(), log: pino({ level: 'silent' }), metrics: new Metrics() },
    )
      .named('actions')
      .for(primary.informer)
      .reads(policies.cache)
      .withOptions({ concurrency: 1 })
      .complete({
        reconcile: async (req) => {
          reconciled.push(req.key);
        },
      });

    const started = controller.start();
    primary.fire('add', obj('a1'));
    await new Promise((r) => setTimeout(r, 50));
    expect(reconciled).toEqual([]);
    expect(controller.synced()).toBe(false);

    policies.release();
    await started;
    await expect.poll(() => reconciled, { timeout: 5000 }).toEqual(['a1']);
    expect(controller.synced()).toBe(true);
    await controller.stop();
  });
});
