import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ControllerContext } from './builder.js';
import { KubeClient } from './client.js';
import { realClock } from './clock.js';
import { KubeEventRecorder } from './events.js';
import { Manager, type ManagerOptions } from './manager.js';
import { Metrics } from './metrics.js';

/** Where the manager serves, and whether it elects a leader; the rest is wired here. */
export type ManagerWiring = Pick<
  ManagerOptions,
  'metricsBindAddress' | 'healthProbeBindAddress' | 'leaderElection'
> & {
  log: Logger;
  /** Node's process metrics (forestall_process_*, …) on the registry too. Default off. */
  processMetrics?: boolean;
};

/**
 * A manager and the context its controllers share, wired the one way both the operator
 * (main.ts) and the in-process test manager run it: one Metrics with its own registry,
 * a KubeClient that counts its writes there, Events as forestall-controller, the real
 * clock. `run` runs the manager until the signal, then waits for the Events sent.
 */
export function createManager(
  kc: KubeConfig,
  wiring: ManagerWiring,
): { manager: Manager; context: ControllerContext; run(signal: AbortSignal): Promise<void> } {
  const { log, processMetrics, ...serving } = wiring;
  const metrics = new Metrics({ processMetrics: processMetrics ?? false });
  const client = new KubeClient(kc, metrics);
  const events = new KubeEventRecorder(kc, 'forestall-controller', realClock, log);
  const manager = new Manager({ client, clock: realClock, log, metrics, ...serving });
  return {
    manager,
    context: { kc, client, events, clock: realClock, log, metrics },
    async run(signal) {
      await manager.run(signal);
      await events.flush();
    },
  };
}
