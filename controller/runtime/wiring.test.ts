import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createManager } from './wiring.js';

const log = pino({ level: 'silent' });
const loopback = { metricsBindAddress: '127.0.0.1:0', healthProbeBindAddress: '127.0.0.1:0' };

function kubeconfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function metricNames(wired: ReturnType<typeof createManager>): Promise<string[]> {
  return (await wired.context.metrics.registry.getMetricsAsJSON()).map((m) => m.name);
}

describe('createManager', () => {
  it('GIVEN processMetrics WHEN the registry is read THEN it holds the process metrics beside the runtime ones', async () => {
    const names = await metricNames(
      createManager(kubeconfig(), { log, processMetrics: true, ...loopback }),
    );
    expect(names).toContain('forestall_reconcile_total');
    expect(names).toContain('forestall_process_cpu_seconds_total');
  });

  it('GIVEN no processMetrics WHEN the registry is read THEN it holds only the runtime metrics', async () => {
    const names = await metricNames(createManager(kubeconfig(), { log, ...loopback }));
    expect(names).toContain('forestall_reconcile_total');
    expect(names).not.toContain('forestall_process_cpu_seconds_total');
  });

  it('GIVEN the wiring WHEN the context is read THEN the client counts its writes on the same Metrics the manager serves', () => {
    const kc = kubeconfig();
    const { context } = createManager(kc, { log, ...loopback });
    expect(context.kc).toBe(kc);
    expect(context.client.kc).toBe(kc);
    expect(context.log).toBe(log);
    expect((context.client as unknown as { metrics: unknown }).metrics).toBe(context.metrics);
  });

  it('GIVEN a stop signal WHEN run ends THEN the Events sent are flushed after the manager stopped', async () => {
    const { manager, context, run } = createManager(kubeconfig(), { log, ...loopback });
    const order: string[] = [];
    const stopped = manager.run.bind(manager);
    manager.run = async (signal) => {
      await stopped(signal);
      order.push('manager stopped');
    };
    context.events.flush = async () => {
      order.push('events flushed');
    };
    await run(AbortSignal.abort());
    expect(order).toEqual(['manager stopped', 'events flushed']);
  });
});
