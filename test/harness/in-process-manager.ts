import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createManager } from '../../controller/runtime/wiring.js';
import { addControllers } from '../../controller/controllers.js';
import { LOOPBACK_ALLOW } from './outbound.js';
import type { FeedSettings } from '../../controller/threatfeed/index.js';

/**
 * The real manager and controllers, running inside the test process against a real
 * API server (no leader election), so tests can read its metrics directly.
 */
export async function startManager(
  kc: KubeConfig,
  opts: {
    resyncPeriodMs?: number;
    namespace?: string;
    fetchAllow?: string[];
    feedTimeoutMs?: number;
    defaultConnectors?: Record<string, string>;
    gitWorkRoot?: string;
    pullRequestPollMs?: number;
    gitWebhook?: { bind: string; secret: string };
    concurrency?: number;
    identityNeverTouch?: string[];
    dnsNamespace?: string;
    /** Sandbox limits and caps (feeds/sandbox.ts), for the tests that hit them. */
    feeds?: Pick<FeedSettings, 'workerHeapMb' | 'syncDeadlineMs' | 'caps' | 'maxMispEvents'>;
  } = {},
) {
  const log = pino({ level: process.env.FORESTALL_TEST_LOG ?? 'silent' });
  const { manager, context, run } = createManager(kc, {
    log,
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '127.0.0.1:0',
  });
  const { metrics } = context;
  const controllers = addControllers(manager, {
    ...context,
    concurrency: opts.concurrency ?? 2,
    resyncPeriodMs: opts.resyncPeriodMs ?? 0,
    // The one shared place that lets the in-process controller reach the tests' loopback
    // servers (feeds, Gitea, Keycloak, SCIM, webhook receivers): --outbound-allow 127.0.0.1.
    feeds: {
      namespace: opts.namespace ?? 'forestall-system',
      fetchAllow: [...LOOPBACK_ALLOW, ...(opts.fetchAllow ?? [])],
      neverBlock: [],
      maxBytes: 2 * 1024 * 1024,
      timeoutMs: opts.feedTimeoutMs ?? 5000,
      ...opts.feeds,
    },
    defaultConnectors: opts.defaultConnectors,
    ...(opts.identityNeverTouch ? { identityNeverTouch: opts.identityNeverTouch } : {}),
    ...(opts.dnsNamespace ? { dnsNamespace: opts.dnsNamespace } : {}),
    ...(opts.gitWorkRoot
      ? {
          git: {
            workRoot: opts.gitWorkRoot,
            env: process.env,
            pullRequestPollMs: opts.pullRequestPollMs ?? 300,
            ...(opts.gitWebhook ? { webhook: opts.gitWebhook } : {}),
          },
        }
      : {}),
  });
  const stop = new AbortController();
  const running = run(stop.signal);
  return {
    metrics,
    manager,
    reconciler: controllers.feeds.reconciler,
    /** The feeds' snapshots as this manager holds them. */
    snapshots: controllers.feeds.snapshots,
    controllers,
    /** Total writes this manager has sent to the API server. */
    async writes(): Promise<number> {
      return (await metrics.writes.get()).values.reduce((sum, v) => sum + v.value, 0);
    },
    async stop(): Promise<void> {
      stop.abort();
      await running;
    },
  };
}
