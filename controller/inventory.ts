import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { namespaceView, workloadView, type Inventory, type WorkloadView } from '../policies/index.js';
import type { KubeClient } from './runtime/client.js';
import type { Clock } from './runtime/clock.js';
import { Informer } from './runtime/informer.js';
import type { Logger } from './runtime/logger.js';
import type { Runnable } from './runtime/manager.js';
import type { Metrics } from './runtime/metrics.js';

/** The cluster objects the policy engine reads: Namespaces and the workload kinds, with their pod counts. */
const KINDS = [
  { apiVersion: 'v1', kind: 'Namespace', path: '/api/v1/namespaces' },
  { apiVersion: 'apps/v1', kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', path: '/apis/apps/v1/statefulsets' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', path: '/apis/apps/v1/daemonsets' },
] as const;

/**
 * Watches the inventory through informers and serves it as the engine's Inventory.
 * A Runnable, so the manager starts it with the controllers (after the lease is held).
 */
export class InventoryCache implements Runnable {
  readonly name = 'inventory';
  readonly informers: Informer<KubernetesObject>[];
  private readonly listeners: (() => void)[] = [];
  /** Bumped on every relevant change, so consumers can tell whether a cached result still holds. */
  version = 0;

  constructor(deps: { kc: KubeConfig; client: KubeClient; clock: Clock; log: Logger; metrics: Metrics }) {
    this.informers = KINDS.map((k) => new Informer<KubernetesObject>({
      kc: deps.kc,
      path: k.path,
      list: async () => {
        const list = await deps.client.list<KubernetesObject>(k.apiVersion, k.kind);
        // List items carry no apiVersion/kind; the engine needs kind.
        for (const item of list.items) Object.assign(item, { apiVersion: k.apiVersion, kind: k.kind });
        return list as KubernetesListObject<KubernetesObject>;
      },
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
    }));
    for (const informer of this.informers) {
      for (const event of ['add', 'update', 'delete'] as const) {
        informer.on(event, (obj, old) => {
          if (event === 'update' && old && !inventoryRelevantChange(obj, old)) return;
          this.version++;
          for (const l of this.listeners) l();
        });
      }
    }
  }

  /** Calls `listener` when anything the engine reads changes (labels, replicas, objects coming or going). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  synced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
  }

  snapshot(): Inventory {
    const [namespaces, ...workloadInformers] = this.informers;
    const workloads: WorkloadView[] = [];
    for (const informer of workloadInformers) {
      for (const obj of informer.list()) {
        const w = workloadView(obj as Parameters<typeof workloadView>[0]);
        if (w) workloads.push(w);
      }
    }
    return {
      namespaces: namespaces!.list().map((ns) => namespaceView(ns.metadata?.name ?? '', ns.metadata?.labels)),
      workloads,
    };
  }
}

/** Status churn (observedGeneration, ready replicas) does not change what the engine computes. */
function inventoryRelevantChange(obj: KubernetesObject, old: KubernetesObject): boolean {
  const view = (o: KubernetesObject) => JSON.stringify([o.metadata?.labels, (o as { spec?: unknown }).spec, (o as { status?: { desiredNumberScheduled?: number } }).status?.desiredNumberScheduled]);
  return view(obj) !== view(old);
}
