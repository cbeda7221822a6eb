/**
 * The operator's entry point. The only module that reads process.env: it builds the
 * frozen config, wires the runtime and the controllers, and turns SIGTERM into a
 * graceful shutdown (drain reconciles, release the lease, exit 0).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DEBIAN_SYSTEM_CA_FILE, writeGitCaBundle } from '../delivery/git/index.js';
import { defaultCaCertificates, extraCaCertificates } from '../lib/http/index.js';
import { ForestallError } from './runtime/errors.js';
import { createLogger } from './runtime/logger.js';
import { createManager } from './runtime/wiring.js';
import { loadConfig, loadOutboundEnvironment } from './config.js';
import { addControllers } from './controllers.js';

export async function runController(argv: string[]): Promise<number> {
  let config;
  let outbound;
  try {
    config = loadConfig(argv, {
      POD_NAMESPACE: process.env.POD_NAMESPACE,
      POD_NAME: process.env.POD_NAME,
      KUBECONFIG: process.env.KUBECONFIG,
    });
    outbound = loadOutboundEnvironment({
      HTTPS_PROXY: process.env.HTTPS_PROXY,
      https_proxy: process.env.https_proxy,
      HTTP_PROXY: process.env.HTTP_PROXY,
      http_proxy: process.env.http_proxy,
      NO_PROXY: process.env.NO_PROXY,
      no_proxy: process.env.no_proxy,
      NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
    });
  } catch (err) {
    process.stderr.write(`forestall controller: ${(err as Error).message}\n`);
    return 2;
  }
  // Node reads NODE_EXTRA_CA_CERTS before any of our code and only warns when it cannot:
  // an operator who asked for a bundle gets a controller that stops, not TLS failures later.
  const extraCas = extraCaCertificates().length;
  if (outbound.extraCaFile !== undefined && extraCas === 0) {
    process.stderr.write(
      `forestall controller: NODE_EXTRA_CA_CERTS=${outbound.extraCaFile}: Node loaded no certificate from it (the file is missing, unreadable or holds no PEM certificate)\n`,
    );
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
  if (outbound.proxy !== undefined) {
    const { https, http, noProxy } = outbound.proxy;
    log.info(
      { httpsProxy: https?.label, httpProxy: http?.label, noProxyEntries: noProxy.length },
      'Sending outbound requests through a forward proxy',
    );
  }
  // git trusts one CA file, which replaces its system bundle: give it the union.
  let gitEnv: Readonly<Record<string, string | undefined>> = process.env;
  if (outbound.extraCaFile !== undefined) {
    try {
      const caFile = await writeGitCaBundle(join(tmpdir(), 'forestall-ca', 'git-ca-bundle.pem'), {
        systemFile: process.env.GIT_SSL_CAINFO ?? DEBIAN_SYSTEM_CA_FILE,
        certificates: defaultCaCertificates(),
      });
      gitEnv = { ...process.env, GIT_SSL_CAINFO: caFile };
    } catch (err) {
      process.stderr.write(
        `forestall controller: could not write git's CA bundle: ${(err as Error).message}\n`,
      );
      return 2;
    }
    log.info(
      { file: outbound.extraCaFile, certificates: extraCas },
      'Trusting an extra CA bundle for outbound requests and git',
    );
  }
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();

  const { manager, context, run } = createManager(kc, {
    log,
    processMetrics: true,
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
    ...context,
    concurrency: config.concurrency,
    resyncPeriodMs: config.resyncPeriodMs,
    feeds: {
      namespace: config.namespace,
      fetchAllow: config.outboundAllow,
      proxy: outbound.proxy,
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
      env: gitEnv,
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
    await run(stop.signal);
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
