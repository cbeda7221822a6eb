import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { KubeClient } from './client.js';
import type { Clock } from './clock.js';
import { ForestallError } from './errors.js';
import { serve } from './health.js';
import { LeaderElector, type LeaseSettings } from './leader-election.js';
import type { Metrics } from './metrics.js';

/** What the manager runs: a controller, or anything with the same lifecycle. */
export interface Runnable {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

export interface ManagerOptions {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElection?: LeaseSettings;
}

/**
 * Runs controllers the way controller-runtime's manager does: probes and metrics are
 * served at once (standbys are alive and ready too); controllers start only once the
 * leader lease is held; on a stop signal they drain and the lease is released; a lost
 * lease is fatal (FST_LEADER_LOST) so the process restarts clean.
 */
export class Manager {
  private readonly controllers: Runnable[] = [];
  private servers: Server[] = [];
  private elector?: LeaderElector;
  private running = false;

  constructor(private readonly opts: ManagerOptions) {}

  add(controller: Runnable): void {
    this.controllers.push(controller);
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.running;
  }

  /** Ports the probe and metrics servers listen on (useful when binding port 0). */
  addresses(): { port: number }[] {
    return this.servers.map((s) => s.address() as { port: number });
  }

  /** Runs until the signal aborts (resolves) or the lease is lost (rejects). */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.opts;
    const checks = {
      healthz: () => true as const,
      readyz: () =>
        !this.running || this.controllers.every((c) => c.synced())
          ? (true as const)
          : 'caches not synced',
    };
    if (this.opts.metricsBindAddress === this.opts.healthProbeBindAddress) {
      this.servers.push(
        await serve(this.opts.metricsBindAddress, { checks, registry: this.opts.metrics.registry }),
      );
    } else {
      this.servers.push(await serve(this.opts.healthProbeBindAddress, { checks }));
      this.servers.push(
        await serve(this.opts.metricsBindAddress, { registry: this.opts.metrics.registry }),
      );
    }
    log.info({ addresses: this.addresses().map((a) => a.port) }, 'Serving probes and metrics');
    try {
      if (this.opts.leaderElection) {
        this.elector = new LeaderElector({
          ...this.opts.leaderElection,
          client: this.opts.client,
          clock: this.opts.clock,
          log,
          metrics: this.opts.metrics,
        });
        try {
          await this.elector.acquire(signal);
        } catch {
          return; // stopped before winning
        }
        await this.startControllers();
        const outcome = await this.elector.hold(signal);
        await this.stopControllers();
        if (outcome === 'lost')
          throw new ForestallError(
            'FST_LEADER_LOST',
            'leader lease lost; exiting so a fresh process rejoins the election',
          );
        await this.elector.release();
      } else {
        await this.startControllers();
        await new Promise<void>((resolve) =>
          signal.aborted
            ? resolve()
            : signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        await this.stopControllers();
      }
    } finally {
      await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
      this.servers = [];
    }
  }

  private async startControllers(): Promise<void> {
    this.running = true;
    await Promise.all(this.controllers.map((c) => c.start()));
  }

  private async stopControllers(): Promise<void> {
    this.running = false;
    await Promise.all(this.controllers.map((c) => c.stop()));
    this.opts.log.info('Stopped controllers');
  }
}
