/**
 * The operator's entry point. The only module that reads process.env: it builds the
 * frozen config, wires the runtime and the controllers, and turns SIGTERM into a
 * graceful shutdown (drain reconciles, release the lease, exit 0).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { realClock } from './runtime/clock.js';
import { KubeClient } from './runtime/client.js';
import { ForestallError } from './runtime/errors.js';
import { KubeEventRecorder } from './runtime/events.js';
import { createLogger } from './runtime/logger.js';
import { Manager } from './runtime/manager.js';
import { Metrics } from './runtime/metrics.js';
import { loadConfig } from './config.js';
import { addControllers } from './controllers.js';

export async function runController(argv: string[]): Promise<number> {
  let config;
  try {
    config = loadConfig(argv, {
      POD_NAMESPACE: process.env.POD_NAMESPACE,
      POD_NAME: process.env.POD_NAME,
      KUBECONFIG: process.env.KUBECONFIG,
    });
  } catch (err) {
    process.stderr.write(`forestall controller: ${(err as Error).message}\n`);
    return 2;
  }
  let webhookSecret = '';
  if (config.gitWebhookSecretFile) {
    try {
      webhookSecret = readFileSync(config.gitWebhookSecretFile, 'utf8').trim();
    } catch (err) {
      process.stderr.write(
        `forestall controller: --git-webhook-secret-file: ${(err as Error).message}\n`,
      );
      return 2;
    }
    if (!webhookSecret) {
      process.stderr.write(
        `forestall controller: --git-webhook-secret-file ${config.gitWebhookSecretFile} is empty\n`,
      );
      return 2;
    }
  }
  const log = createLogger(config.logLevel);
  if (argv.some((a) => a === '--feed-fetch-allow' || a.startsWith('--feed-fetch-allow='))) {
    log.warn(
      'Flag --feed-fetch-allow is deprecated; use --outbound-allow, which every outbound client uses',
    );
  }
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();

  const metrics = new Metrics({ processMetrics: true });
  const client = new KubeClient(kc, metrics);
  const events = new KubeEventRecorder(kc, 'forestall-controller', realClock, log);
  const manager = new Manager({
    client,
    clock: realClock,
    log,
    metrics,
    metricsBindAddress: config.metricsBindAddress,
    healthProbeBindAddress: config.healthProbeBindAddress,
    leaderElection: config.leaderElect
      ? {
          namespace: config.leaderElectionNamespace,
          name: config.leaderElectionId,
          identity: config.identity,
          leaseDurationMs: config.leaseDurationMs,
          renewDeadlineMs: config.renewDeadlineMs,
          retryPeriodMs: config.retryPeriodMs,
          ...(config.leaseOwnerDeployment ? { ownerDeployment: config.leaseOwnerDeployment } : {}),
        }
      : undefined,
  });
  addControllers(manager, {
    kc,
    client,
    events,
    clock: realClock,
    log,
    metrics,
    concurrency: config.concurrency,
    resyncPeriodMs: config.resyncPeriodMs,
    feeds: {
      namespace: config.namespace,
      fetchAllow: config.outboundAllow,
      neverBlock: config.neverBlock,
      clusterDomain: config.clusterDomain,
      maxBytes: config.feedMaxBytes,
      timeoutMs: config.feedTimeoutMs,
      workerHeapMb: config.feedWorkerHeapMb,
      syncDeadlineMs: config.feedSyncDeadlineMs,
      caps: { maxRecords: config.feedMaxRecords, maxIndicators: config.feedMaxIndicators },
      maxMispEvents: config.feedMaxMispEvents,
    },
    defaultConnectors: config.defaultConnectors,
    identityNeverTouch: config.identityNeverTouch,
    dnsNamespace: config.dnsNamespace,
    git: {
      workRoot: join(tmpdir(), 'forestall-git'),
      env: process.env,
      pullRequestPollMs: config.pullRequestPollMs,
      ...(config.gitWebhookBindAddress
        ? { webhook: { bind: config.gitWebhookBindAddress, secret: webhookSecret } }
        : {}),
    },
  });

  const stop = new AbortController();
  const onSignal = (sig: string) => {
    log.info({ signal: sig }, 'Received signal; shutting down');
    stop.abort(new Error(sig));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  log.info(
    { identity: config.identity, namespace: config.namespace, leaderElect: config.leaderElect },
    'Starting controller',
  );
  try {
    await manager.run(stop.signal);
    await events.flush();
    log.info('Shut down cleanly');
    return 0;
  } catch (err) {
    log.error(
      { err, code: err instanceof ForestallError ? err.code : undefined },
      'Controller stopped with an error',
    );
    return 1;
  }
}
