import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import {
  INVENTORY_KINDS,
  inventoryFromObjects,
  type Inventory,
  type InventoryKind,
} from '../../policies/index.js';
import type { KubeClient } from '../runtime/client.js';
import type { Clock } from '../runtime/clock.js';
import { statusOf } from '../runtime/errors.js';
import { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import type { Runnable } from '../runtime/manager.js';
import type { Metrics } from '../runtime/metrics.js';

/**
 * The cluster objects the policy engine reads: the watched kinds of the one list the CLI
 * and the chart's RBAC share (policies/inventory-kinds.ts INVENTORY_KINDS).
 *
 * core: Namespaces and the workload kinds (every policy's scope and blast radius; a
 * workload's forestall.io/accounts annotation, which the snapshot keeps as the only
 * annotation of its WorkloadView, for identity templates with params.around).
 * exposure: what makes a workload reachable from outside the cluster (Services,
 * Ingresses, Gateway API Gateways and every route kind), the ReplicaSets that tie
 * Trivy's reports to Deployments, and Trivy Operator's VulnerabilityReports. Only
 * policies with an Isolate template read these.
 *
 * The Gateway API and Trivy kinds are CRDs a cluster may not have: until they are
 * served, they count as empty, and the informer keeps trying (backoff up to 30 s), so
 * installing them later needs no restart. Pods are not watched (see InventoryKind.watched).
 */
const KINDS: readonly (InventoryKind & { path: string })[] = INVENTORY_KINDS.filter(
  (k) => k.watched,
).map((k) => ({
  ...k,
  path: `${k.apiVersion.includes('/') ? '/apis' : '/api'}/${k.apiVersion}/${k.plural}`,
}));

export type InventoryGroup = InventoryKind['group'];

/**
 * Watches the inventory through informers and serves it as the engine's Inventory.
 * A Runnable, so the manager starts it with the controllers (after the lease is held).
 */
export class InventoryCache implements Runnable {
  readonly name = 'inventory';
  readonly informers: Informer<KubernetesObject>[];
  private readonly listeners: ((group: InventoryGroup) => void)[] = [];
  /** Bumped on every relevant change, so consumers can tell whether a cached result still holds. */
  version = 0;
  /** Bumped only when namespaces or workloads change: all that policies without Isolate read. */
  coreVersion = 0;
  private cached?: { version: number; inventory: Inventory };
  /** Whether each optional kind was served at its last list, to log changes once. */
  private readonly optionalServed = new Map<string, boolean>();

  constructor(deps: {
    kc: KubeConfig;
    client: KubeClient;
    clock: Clock;
    log: Logger;
    metrics: Metrics;
  }) {
    this.informers = KINDS.map((k) => {
      const informer = new Informer<KubernetesObject>({
        kc: deps.kc,
        path: k.path,
        list: async () => {
          let list: KubernetesListObject<KubernetesObject>;
          try {
            list = (await deps.client.list<KubernetesObject>(
              k.apiVersion,
              k.kind,
            )) as KubernetesListObject<KubernetesObject>;
          } catch (err) {
            if (!k.optional || statusOf(err) !== 404) throw err;
            this.served(k, false, deps);
            return { apiVersion: 'v1', kind: 'List', items: [], metadata: {} };
          }
          if (k.optional) this.served(k, true, deps);
          // List items carry no apiVersion/kind; the engine needs both.
          for (const item of list.items)
            Object.assign(item, { apiVersion: k.apiVersion, kind: k.kind });
          return list;
        },
        optional: k.optional,
        clock: deps.clock,
        log: deps.log,
        metrics: deps.metrics,
      });
      for (const event of ['add', 'update', 'delete'] as const) {
        informer.on(event, (obj, old) => {
          if (event === 'update' && old && !inventoryRelevantChange(obj, old)) return;
          // Watch events carry apiVersion and kind; keep them on every stored object.
          Object.assign(obj, { apiVersion: k.apiVersion, kind: k.kind });
          this.version++;
          if (k.group === 'core') this.coreVersion++;
          for (const l of this.listeners) l(k.group);
        });
      }
      return informer;
    });
  }

  /**
   * Records whether an optional kind is served: its gauge, and one info line when that
   * changes (absent at start, or a CRD installed or removed later; the informer keeps
   * retrying, so a CRD installed later is watched with no restart).
   */
  private served(k: InventoryKind, served: boolean, deps: { log: Logger; metrics: Metrics }): void {
    deps.metrics.optionalInputServed.set({ kind: k.kind }, served ? 1 : 0);
    if (this.optionalServed.get(k.kind) === served) return;
    const first = !this.optionalServed.has(k.kind);
    this.optionalServed.set(k.kind, served);
    // Policies that read this group say in their status which inputs are absent.
    if (!first) for (const listener of this.listeners) listener(k.group);
    if (served && first) return;
    deps.log.info(
      { kind: k.kind, apiVersion: k.apiVersion, ...(served ? {} : { means: k.absentMeans }) },
      served
        ? 'Optional input now served; watching it'
        : 'Optional input not served (CRD not installed); counted as empty',
    );
  }

  /** The optional kinds not served at their last list, each with what its absence means. */
  absentInputs(): { kind: string; means: string }[] {
    return INVENTORY_KINDS.filter(
      (k) => k.optional && this.optionalServed.get(k.kind) === false,
    ).map((k) => ({ kind: k.kind, means: k.absentMeans ?? 'counted as empty' }));
  }

  /** Calls `listener` when anything the engine reads changes, saying which group moved. */
  onChange(listener: (group: InventoryGroup) => void): void {
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

  /** The engine's Inventory, with the exposure data; built once per version. */
  snapshot(): Inventory {
    if (this.cached?.version === this.version) return this.cached.inventory;
    const inventory = inventoryFromObjects(this.informers.flatMap((i) => i.list()));
    this.cached = { version: this.version, inventory };
    return inventory;
  }
}

/**
 * Whether an update changes what the engine computes: labels, annotations (the
 * internet-facing override, a workload's forestall.io/accounts, internal load
 * balancers), owners, the spec, a
 * VulnerabilityReport's findings and scanned image, a DaemonSet's pod count. Status
 * churn and a report's rescan timestamps do not.
 */
function inventoryRelevantChange(obj: KubernetesObject, old: KubernetesObject): boolean {
  const view = (o: KubernetesObject) => {
    const report = (
      o as { report?: { artifact?: unknown; registry?: unknown; vulnerabilities?: unknown } }
    ).report;
    return JSON.stringify([
      o.metadata?.labels,
      o.metadata?.annotations,
      o.metadata?.ownerReferences,
      (o as { spec?: unknown }).spec,
      report?.artifact,
      report?.registry,
      report?.vulnerabilities,
      (o as { status?: { desiredNumberScheduled?: number } }).status?.desiredNumberScheduled,
    ]);
  };
  return view(obj) !== view(old);
}
