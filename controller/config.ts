import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Ajv, type JSONSchemaType } from 'ajv';
import { proxySettingsFromEnv, validateSsrfPolicy } from '../lib/http/index.js';
import type { ProxyEnvironment, ProxySettings } from '../lib/http/index.js';
import { ForestallError } from './runtime/errors.js';
import { parseDuration as parseGoDuration } from '../crds/duration.js';
import { DEFAULT_INGEST_CAPS } from '../feeds/ingest.js';
import { DEFAULT_MAX_MISP_EVENTS } from '../feeds/parsers/misp.js';
import { DEFAULT_SANDBOX } from '../feeds/sandbox.js';

/** The controller's configuration: parsed from flags once, validated, then frozen. */
export interface ControllerConfig {
  kubeconfig?: string;
  namespace: string;
  identity: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElectionId: string;
  leaderElectionNamespace: string;
  /** --lease-owner-deployment: the Deployment the Lease names as its owner (garbage-collected with it). */
  leaseOwnerDeployment?: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  concurrency: number;
  resyncPeriodMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * --outbound-allow (and its deprecated alias --feed-fetch-allow): for every outbound
   * call (feeds, TAXII, MISP, identity providers, forges, notifications), the SSRF
   * exceptions and the hosts plain http may reach besides loopback.
   */
  outboundAllow: string[];
  /** Never-block additions for guardrails. */
  neverBlock: string[];
  /** The cluster DNS domain; guardrails never block it, its parents or its children. */
  clusterDomain: string;
  /** Identity-provider logins and groups no identity action ever touches (break-glass administrators). */
  identityNeverTouch: string[];
  feedMaxBytes: number;
  feedTimeoutMs: number;
  /** The ingestion worker's V8 heap, MiB (feeds/sandbox.ts: chosen with feedMaxBytes). */
  feedWorkerHeapMb: number;
  /** One sync, fetch and ingestion together, must finish within this. */
  feedSyncDeadlineMs: number;
  feedMaxRecords: number;
  feedMaxIndicators: number;
  feedMaxMispEvents: number;
  /** Connector per layer when a policy's action names none ("network" → "network:cilium"). */
  defaultConnectors: Record<string, string>;
  /** The pull-request webhook listener; off when unset. */
  gitWebhookBindAddress?: string;
  /** File holding the webhook's shared secret (a mounted Secret); required with gitWebhookBindAddress. */
  gitWebhookSecretFile?: string;
  /** How often an open pull request is polled. */
  pullRequestPollMs: number;
  /** The one namespace the DNS connectors may write their ConfigMaps in (the chart's Role is there). */
  dnsNamespace: string;
}

const schema: JSONSchemaType<ControllerConfig> = {
  type: 'object',
  properties: {
    kubeconfig: { type: 'string', nullable: true },
    namespace: { type: 'string', minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    identity: { type: 'string', minLength: 1 },
    metricsBindAddress: { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:]*):[0-9]+$' },
    healthProbeBindAddress: { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:]*):[0-9]+$' },
    leaderElect: { type: 'boolean' },
    leaderElectionId: { type: 'string', minLength: 1 },
    leaderElectionNamespace: { type: 'string', minLength: 1 },
    leaseOwnerDeployment: { type: 'string', minLength: 1, nullable: true },
    leaseDurationMs: { type: 'integer', minimum: 1000 },
    renewDeadlineMs: { type: 'integer', minimum: 500 },
    retryPeriodMs: { type: 'integer', minimum: 100 },
    concurrency: { type: 'integer', minimum: 1, maximum: 64 },
    resyncPeriodMs: { type: 'integer', minimum: 0 },
    logLevel: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] },
    outboundAllow: { type: 'array', items: { type: 'string', minLength: 1 } },
    neverBlock: { type: 'array', items: { type: 'string', minLength: 1 } },
    clusterDomain: {
      type: 'string',
      minLength: 1,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    },
    identityNeverTouch: { type: 'array', items: { type: 'string', minLength: 1 } },
    feedMaxBytes: { type: 'integer', minimum: 1024 },
    feedTimeoutMs: { type: 'integer', minimum: 100 },
    feedWorkerHeapMb: { type: 'integer', minimum: 16, maximum: 16384 },
    feedSyncDeadlineMs: { type: 'integer', minimum: 1000 },
    feedMaxRecords: { type: 'integer', minimum: 1 },
    feedMaxIndicators: { type: 'integer', minimum: 1 },
    feedMaxMispEvents: { type: 'integer', minimum: 1 },
    defaultConnectors: {
      type: 'object',
      required: [],
      additionalProperties: { type: 'string', pattern: '^[a-z]+:[a-z0-9-]+$' },
    },
    gitWebhookBindAddress: {
      type: 'string',
      nullable: true,
      pattern: '^(\\[[^\\]]+\\]|[^:]*):[0-9]+$',
    },
    gitWebhookSecretFile: { type: 'string', nullable: true, minLength: 1 },
    pullRequestPollMs: { type: 'integer', minimum: 1000 },
    dnsNamespace: { type: 'string', minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
  },
  required: [
    'namespace',
    'identity',
    'metricsBindAddress',
    'healthProbeBindAddress',
    'leaderElect',
    'leaderElectionId',
    'leaderElectionNamespace',
    'leaseDurationMs',
    'renewDeadlineMs',
    'retryPeriodMs',
    'concurrency',
    'resyncPeriodMs',
    'logLevel',
    'outboundAllow',
    'neverBlock',
    'clusterDomain',
    'identityNeverTouch',
    'feedMaxBytes',
    'feedTimeoutMs',
    'feedWorkerHeapMb',
    'feedSyncDeadlineMs',
    'feedMaxRecords',
    'feedMaxIndicators',
    'feedMaxMispEvents',
    'defaultConnectors',
    'pullRequestPollMs',
    'dnsNamespace',
  ],
  additionalProperties: false,
};

const validate = new Ajv({ allErrors: true }).compile(schema);

export const CONTROLLER_USAGE = `Usage: forestall controller [flags]

Runs the operator. Flags:
  --kubeconfig PATH                  kubeconfig file (default: $KUBECONFIG, then in-cluster)
  --namespace NS                     namespace the controller runs in (default: $POD_NAMESPACE or forestall-system)
  --metrics-bind-address ADDR        Prometheus /metrics listener (default :8080)
  --health-probe-bind-address ADDR   /healthz and /readyz listener (default :8081)
  --leader-elect[=BOOL]              use a Lease so only one replica reconciles (default true)
  --leader-election-id NAME          Lease name (default forestall-controller)
  --leader-election-namespace NS     Lease namespace (default: --namespace)
  --lease-owner-deployment NAME      Deployment in the Lease namespace that owns the Lease, so
                                     deleting it deletes the Lease (the chart sets it)
  --lease-duration DUR               default 10s (a killed leader is replaced within about 14s)
  --renew-deadline DUR               default 7s
  --retry-period DUR                 default 2s
  --concurrency N                    reconciles in parallel per controller (default 4)
  --resync-period DUR                re-reconcile everything this often (default 10m)
  --log-level LEVEL                  debug, info, warn or error (default info)
  --outbound-allow LIST              comma-separated CIDRs, addresses or hosts (*.example for a
                                     domain) that every outbound call (feeds, TAXII, MISP, identity
                                     providers, forges, notifications) may reach although private,
                                     loopback or cluster-internal, and where plain http may go
                                     besides loopback; cloud metadata only by address (default none)
  --feed-fetch-allow LIST            deprecated alias of --outbound-allow (both lists are used)
  --never-block LIST                 comma-separated CIDRs or domains never to block, besides the
                                     built-in lists (the cluster's own ranges are always added)
  --cluster-domain NAME              the cluster DNS domain, never blocked with its parents and
                                     children (default cluster.local)
  --identity-never-touch LIST        comma-separated logins or groups no identity action ever
                                     suspends or changes (break-glass administrators)
  --feed-max-bytes N                 largest feed body after decompression, and the budget of one
                                     MISP sync across all its files (default ${DEFAULT_SANDBOX.maxBytes}, 8 MiB)
  --feed-timeout DUR                 time limit per fetch (default 60s)
  --feed-worker-heap MIB             heap of the worker that parses a feed; raise it about 16x as
                                     much as --feed-max-bytes (default ${DEFAULT_SANDBOX.heapMb})
  --feed-sync-deadline DUR           one sync, fetch and parsing together (default ${DEFAULT_SANDBOX.syncDeadlineMs / 60_000}m)
  --feed-max-records N               records per feed per sync (default ${DEFAULT_INGEST_CAPS.maxRecords})
  --feed-max-indicators N            distinct indicators per feed (default ${DEFAULT_INGEST_CAPS.maxIndicators})
  --feed-max-misp-events N           events one MISP manifest may list (default ${DEFAULT_MAX_MISP_EVENTS})
  --default-connector LIST           connector per layer for actions that name none, e.g.
                                     network=network:cilium,dns=dns:rpz
                                     (default network=network:networkpolicy,dns=dns:coredns)
  --pull-request-poll-interval DUR   how often an open pull request is looked at (default 30s)
  --git-webhook-bind-address ADDR    listener for GitHub/Gitea pull-request webhooks at
                                     /webhooks/git (default off; polling continues either way)
  --git-webhook-secret-file PATH     the webhooks' shared secret (required with the address)
  --dns-namespace NS                 the only namespace the DNS connectors write ConfigMaps in
                                     (default kube-system); a policy naming another is refused

Environment (read once at start; the chart's proxy and caBundle values set them):
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY  the forward proxy of every outbound client (feeds, TAXII,
                                     MISP, forges, identity providers, notifications) and of
                                     git; lower-case spellings too. http://[user:pass@]host:port
  NODE_EXTRA_CA_CERTS                a PEM bundle every outbound client (and git) trusts besides
                                     the public roots
`;

/** Go-style durations: "1h30m", "2s", "250ms"; a bad one is a configuration error. */
export function parseDuration(text: string): number {
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new ForestallError('FST_CONFIG_INVALID', (err as Error).message);
  }
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseBool(flag: string, text: string | undefined): boolean {
  if (text === undefined || text === 'true') return true;
  if (text === 'false') return false;
  throw new ForestallError(
    'FST_CONFIG_INVALID',
    `--${flag} must be true or false, got ${JSON.stringify(text)}`,
  );
}

/** Every flag of the controller; each takes a value (--leader-elect alone means true). */
const FLAGS = [
  'kubeconfig',
  'namespace',
  'metrics-bind-address',
  'health-probe-bind-address',
  'leader-elect',
  'leader-election-id',
  'leader-election-namespace',
  'lease-owner-deployment',
  'lease-duration',
  'renew-deadline',
  'retry-period',
  'concurrency',
  'resync-period',
  'log-level',
  'identity',
  'outbound-allow',
  'feed-fetch-allow',
  'never-block',
  'cluster-domain',
  'identity-never-touch',
  'feed-max-bytes',
  'feed-timeout',
  'feed-worker-heap',
  'feed-sync-deadline',
  'feed-max-records',
  'feed-max-indicators',
  'feed-max-misp-events',
  'default-connector',
  'pull-request-poll-interval',
  'git-webhook-bind-address',
  'git-webhook-secret-file',
  'dns-namespace',
] as const;

/** How outbound connections leave and what they trust, from the environment (see CONTROLLER_USAGE). */
export interface OutboundEnvironment {
  /** The forward proxy; undefined when neither HTTPS_PROXY nor HTTP_PROXY is set. */
  proxy?: ProxySettings;
  /** NODE_EXTRA_CA_CERTS: Node loaded it at start; git is pointed at it too (main.ts). */
  extraCaFile?: string;
}

/**
 * Reads the proxy variables and NODE_EXTRA_CA_CERTS once, at start. No flags: git reads
 * the same variables itself, so one place to set them keeps the controller and git on
 * the same route. A malformed proxy URL or NO_PROXY entry is FST_CONFIG_INVALID, with
 * the variable named and no password shown.
 */
export function loadOutboundEnvironment(
  env: ProxyEnvironment & { NODE_EXTRA_CA_CERTS?: string | undefined },
): Readonly<OutboundEnvironment> {
  let proxy: ProxySettings | undefined;
  try {
    proxy = proxySettingsFromEnv(env);
  } catch (err) {
    throw new ForestallError('FST_CONFIG_INVALID', `proxy: ${(err as Error).message}`);
  }
  const extraCaFile = env.NODE_EXTRA_CA_CERTS?.trim() || undefined;
  return Object.freeze({
    ...(proxy !== undefined ? { proxy } : {}),
    ...(extraCaFile !== undefined ? { extraCaFile } : {}),
  });
}

/** Builds the frozen config from argv and the few environment variables main passes in. */
export function loadConfig(
  argv: string[],
  env: { POD_NAMESPACE?: string; POD_NAME?: string; KUBECONFIG?: string },
): Readonly<ControllerConfig> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.map((a) => (a === '--leader-elect' ? '--leader-elect=true' : a)),
      options: Object.fromEntries(FLAGS.map((flag) => [flag, { type: 'string' }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ForestallError(
      'FST_CONFIG_INVALID',
      `${(err as Error).message}\n\n${CONTROLLER_USAGE}`,
    );
  }
  const v = (k: string) => values[k] as string | undefined;
  const namespace = v('namespace') ?? env.POD_NAMESPACE ?? 'forestall-system';
  const config: ControllerConfig = {
    ...((v('kubeconfig') ?? env.KUBECONFIG)
      ? { kubeconfig: v('kubeconfig') ?? env.KUBECONFIG }
      : {}),
    namespace,
    identity: v('identity') ?? env.POD_NAME ?? `${hostname()}_${process.pid}`,
    metricsBindAddress: v('metrics-bind-address') ?? ':8080',
    healthProbeBindAddress: v('health-probe-bind-address') ?? ':8081',
    leaderElect: parseBool('leader-elect', v('leader-elect')),
    leaderElectionId: v('leader-election-id') ?? 'forestall-controller',
    leaderElectionNamespace: v('leader-election-namespace') ?? namespace,
    ...(v('lease-owner-deployment') ? { leaseOwnerDeployment: v('lease-owner-deployment') } : {}),
    leaseDurationMs: parseDuration(v('lease-duration') ?? '10s'),
    renewDeadlineMs: parseDuration(v('renew-deadline') ?? '7s'),
    retryPeriodMs: parseDuration(v('retry-period') ?? '2s'),
    concurrency: Number(v('concurrency') ?? 4),
    resyncPeriodMs: parseDuration(v('resync-period') ?? '10m'),
    logLevel: (v('log-level') ?? 'info') as ControllerConfig['logLevel'],
    outboundAllow: [...new Set([...list(v('outbound-allow')), ...list(v('feed-fetch-allow'))])],
    neverBlock: list(v('never-block')),
    clusterDomain: (v('cluster-domain') ?? 'cluster.local').toLowerCase().replace(/\.$/, ''),
    identityNeverTouch: list(v('identity-never-touch')),
    feedMaxBytes: Number(v('feed-max-bytes') ?? DEFAULT_SANDBOX.maxBytes),
    feedTimeoutMs: parseDuration(v('feed-timeout') ?? '60s'),
    feedWorkerHeapMb: Number(v('feed-worker-heap') ?? DEFAULT_SANDBOX.heapMb),
    feedSyncDeadlineMs: v('feed-sync-deadline')
      ? parseDuration(v('feed-sync-deadline')!)
      : DEFAULT_SANDBOX.syncDeadlineMs,
    feedMaxRecords: Number(v('feed-max-records') ?? DEFAULT_INGEST_CAPS.maxRecords),
    feedMaxIndicators: Number(v('feed-max-indicators') ?? DEFAULT_INGEST_CAPS.maxIndicators),
    feedMaxMispEvents: Number(v('feed-max-misp-events') ?? DEFAULT_MAX_MISP_EVENTS),
    defaultConnectors: Object.fromEntries(
      list(v('default-connector')).map((pair) => {
        const [layer, id] = pair.split('=');
        if (!layer || !id || !['network', 'dns', 'identity', 'notify'].includes(layer)) {
          throw new ForestallError(
            'FST_CONFIG_INVALID',
            `--default-connector: expected LAYER=ID with LAYER one of network, dns, identity, notify; got ${JSON.stringify(pair)}`,
          );
        }
        return [layer, id];
      }),
    ),
    pullRequestPollMs: parseDuration(v('pull-request-poll-interval') ?? '30s'),
    dnsNamespace: v('dns-namespace') ?? 'kube-system',
    ...(v('git-webhook-bind-address')
      ? { gitWebhookBindAddress: v('git-webhook-bind-address') }
      : {}),
    ...(v('git-webhook-secret-file') ? { gitWebhookSecretFile: v('git-webhook-secret-file') } : {}),
  };
  if (!validate(config)) {
    const why = (validate.errors ?? [])
      .map((e) => `${e.instancePath.slice(1) || 'config'} ${e.message}`)
      .join('; ');
    throw new ForestallError('FST_CONFIG_INVALID', `invalid controller configuration: ${why}`);
  }
  if (config.gitWebhookBindAddress && !config.gitWebhookSecretFile) {
    throw new ForestallError(
      'FST_CONFIG_INVALID',
      '--git-webhook-bind-address needs --git-webhook-secret-file: unsigned webhooks are refused',
    );
  }
  try {
    validateSsrfPolicy({ allow: config.outboundAllow });
  } catch (err) {
    throw new ForestallError('FST_CONFIG_INVALID', `--outbound-allow: ${(err as Error).message}`);
  }
  if (config.renewDeadlineMs >= config.leaseDurationMs) {
    throw new ForestallError(
      'FST_CONFIG_INVALID',
      '--renew-deadline must be shorter than --lease-duration',
    );
  }
  return Object.freeze(config);
}
