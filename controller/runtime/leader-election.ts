import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { statusOf } from './errors.js';
import type { Metrics } from './metrics.js';

/** The lease and its timing: what a deployment configures. */
export interface LeaseSettings {
  namespace: string;
  name: string;
  identity: string;
  /** How long a lease is honoured after its holder's last renewal, as seen by others. */
  leaseDurationMs: number;
  /** The leader gives up when it has not renewed for this long. Must be < leaseDuration. */
  renewDeadlineMs: number;
  /** How often candidates retry and the leader renews. */
  retryPeriodMs: number;
  /**
   * The Deployment in `namespace` that runs the candidates (the chart passes its own):
   * the Lease names it as its owner, so that deleting the Deployment (helm uninstall)
   * lets the garbage collector delete the Lease too. Without it the Lease is left.
   */
  ownerDeployment?: string;
}

export interface LeaderElectionOptions extends LeaseSettings {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
}

/**
 * Lease-based leader election with client-go's rules:
 * - a candidate takes the lease when it is free, or when its record (holder, renewTime)
 *   has not changed for leaseDuration by the candidate's own clock, so clock skew
 *   between nodes does not matter;
 * - every write carries the resourceVersion it read, so two candidates cannot both win;
 * - the leader renews every retryPeriod and steps down when it could not renew within
 *   renewDeadline;
 * - release() on graceful shutdown empties the holder so a standby takes over within
 *   one retryPeriod instead of waiting out the lease.
 */
export class LeaderElector {
  private observed?: { holder: string; renew: string; at: number };
  private leading = false;
  private owner?: OwnerReference;
  private ownerWarned = false;

  constructor(private readonly opts: LeaderElectionOptions) {
    if (opts.renewDeadlineMs >= opts.leaseDurationMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this process holds the lease; rejects if the signal aborts first. */
  async acquire(signal: AbortSignal): Promise<void> {
    this.opts.log.info(
      { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity },
      'Waiting for leader lease',
    );
    while (!(await this.tryAcquireOrRenew())) {
      await this.opts.clock.sleep(this.opts.retryPeriodMs, signal);
    }
    this.leading = true;
    this.opts.metrics?.leader.set(1);
    this.opts.log.info({ identity: this.opts.identity }, 'Acquired leader lease');
  }

  /**
   * Renews until the signal aborts (resolves) or renewal fails for renewDeadline
   * (resolves with 'lost').
   */
  async hold(signal: AbortSignal): Promise<'stopped' | 'lost'> {
    let lastRenew = this.opts.clock.now();
    while (!signal.aborted) {
      try {
        await this.opts.clock.sleep(this.opts.retryPeriodMs, signal);
      } catch {
        break;
      }
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.opts.clock.now();
      } else if (this.opts.clock.now() - lastRenew >= this.opts.renewDeadlineMs) {
        this.leading = false;
        this.opts.metrics?.leader.set(0);
        this.opts.log.error({ identity: this.opts.identity }, 'Lost leader lease');
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** Gives the lease up so a standby can take over at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.opts.metrics?.leader.set(0);
    try {
      const lease = await this.read();
      if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
      const now = microTime(this.opts.clock.now());
      lease.spec = {
        ...lease.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: now,
        acquireTime: now,
      };
      await this.opts.client.replace(lease);
      this.opts.log.info({ identity: this.opts.identity }, 'Released leader lease');
    } catch (err) {
      this.opts.log.warn({ err }, 'Failed to release leader lease');
    }
  }

  private read(): Promise<Lease | undefined> {
    return this.opts.client.get<Lease>(
      'coordination.k8s.io/v1',
      'Lease',
      this.opts.name,
      this.opts.namespace,
    );
  }

  /**
   * The owner reference to ownerDeployment, once its uid is known; undefined (and one
   * warning) while it cannot be read, so a missing Deployment never stops the election.
   */
  private async ownerReference(): Promise<OwnerReference | undefined> {
    const name = this.opts.ownerDeployment;
    if (!name || this.owner) return this.owner;
    try {
      // list, not get: the chart's ClusterRole reads Deployments with list and watch only.
      const { items } = await this.opts.client.list<KubernetesObject>('apps/v1', 'Deployment', {
        namespace: this.opts.namespace,
      });
      const uid = items.find((d) => d.metadata?.name === name)?.metadata?.uid;
      if (!uid) throw new Error(`no Deployment ${this.opts.namespace}/${name}`);
      this.owner = { apiVersion: 'apps/v1', kind: 'Deployment', name, uid };
    } catch (err) {
      if (!this.ownerWarned) {
        this.opts.log.warn(
          { err, deployment: name },
          'Cannot read the lease owner; the Lease stays after the Deployment is deleted',
        );
        this.ownerWarned = true;
      }
    }
    return this.owner;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const owner = await this.ownerReference();
    const now = microTime(this.opts.clock.now());
    const leaseDurationSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    let lease: Lease | undefined;
    try {
      lease = await this.read();
    } catch (err) {
      this.opts.log.warn({ err }, 'Failed to read leader lease');
      return false;
    }
    if (!lease) {
      try {
        await this.opts.client.create<Lease>({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace, ...(owner ? { ownerReferences: [owner] } : {}) },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (err) {
        if (statusOf(err) !== 409) this.opts.log.warn({ err }, 'Failed to create leader lease');
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renew = spec.renewTime ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renew !== renew) {
      this.observed = { holder, renew, at: this.opts.clock.now() };
    }
    const heldByOther = holder !== '' && holder !== identity;
    const honouredMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (heldByOther && this.observed.at + honouredMs > this.opts.clock.now()) return false;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      acquireTime: holder === identity ? spec.acquireTime : now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    };
    // A Lease made before the owner was known, or for a Deployment since recreated,
    // gets the current one (a reference to a deleted Deployment would let the garbage
    // collector delete the Lease under the leader).
    const refs = lease.metadata?.ownerReferences ?? [];
    if (owner && !refs.some((r) => r.uid === owner.uid)) {
      lease.metadata = {
        ...lease.metadata,
        ownerReferences: [...refs.filter((r) => r.kind !== 'Deployment'), owner],
      };
    }
    try {
      await this.opts.client.replace(lease);
      if (holder !== identity)
        this.opts.log.info({ previous: holder || undefined, identity }, 'Took over leader lease');
      return true;
    } catch (err) {
      if (statusOf(err) !== 409) this.opts.log.warn({ err }, 'Failed to update leader lease');
      return false;
    }
  }
}

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

interface Lease extends KubernetesObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime wants exactly six fractional digits, which Date.toISOString() lacks. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
