import type { ExposurePolicy, ThreatFeed } from '../../crds/index.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  credentialSecretRefs,
  defaultGuardrailConfig,
  FeedError,
  Guardrails,
  infrastructureHosts,
  type GuardrailConfig,
  type NamedSecret,
  type SsrfPolicy,
} from '../../feeds/index.js';
import type { ProxySettings } from '../../lib/http/index.js';
import type { KubeClient } from '../runtime/client.js';
import type { Clock } from '../runtime/clock.js';
import { statusOf } from '../runtime/errors.js';
import type { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import { allowedDestinationHosts } from '../runtime/secrets.js';
import { readClusterRanges } from './cluster-ranges.js';

/** Cluster ranges change rarely; read them at most this often. */
const CLUSTER_RANGES_TTL_MS = 300_000;
/** How long a credential Secret's allowed destinations are used before it is read again. */
const SECRET_HOSTS_TTL_MS = 300_000;
/** How long a sync waits at start-up for the ExposurePolicies' cache before it fails closed. */
const POLICIES_SYNC_WAIT_MS = 30_000;

/**
 * What the cluster protects itself with, built from what the controller reads: the
 * outbound policy every client uses (--outbound-allow plus the cluster's own ranges, and
 * the operator's proxy, which rides along)
 * and the guardrails every ingestion and hand-written action passes (those ranges, the
 * cluster DNS domain, the hosts every ThreatFeed and ExposurePolicy names, the hosts
 * their credential Secrets may be sent to, --never-block).
 *
 * The ranges are re-read every CLUSTER_RANGES_TTL_MS; a failed read fails the caller
 * (see readClusterRanges), so nothing is ingested or fetched without them. The hosts
 * the specs name come from the informers' caches, so no request per sync. The hosts in
 * no spec (a notify URL, an identity connector's default endpoints) are those of the
 * forestall.io/allowed-destinations annotation of each credential Secret the specs
 * name: every credential goes only where that annotation admits (runtime/secrets.ts).
 * Each Secret is read when first named, then every SECRET_HOSTS_TTL_MS (an edited
 * annotation takes effect within that). Each product is rebuilt only when its inputs
 * change (loading the warninglists takes a few hundred ms), and the outbound policy is a
 * new frozen object then: no guard ever holds a compiled copy of a policy that changed
 * under it.
 */
export class ClusterProtection {
  private ranges?: { at: number; cidrs: string[] };
  /** The allowed-destination hosts of each credential Secret named, by namespace/name. */
  private secretHosts = new Map<string, { at: number; hosts: string[] }>();
  private ssrf: Readonly<SsrfPolicy>;
  private config?: { key: string; config: GuardrailConfig };
  private built?: { config: GuardrailConfig; guardrails: Guardrails };

  constructor(
    private readonly deps: {
      client: KubeClient;
      clock: Clock;
      log: Logger;
      /** The ThreatFeeds and ExposurePolicies, whose named hosts are protected. */
      feeds: Pick<Informer<ThreatFeed>, 'list'>;
      policies: Pick<Informer<ExposurePolicy>, 'list' | 'waitForSync'>;
      /** --outbound-allow. */
      allow: readonly string[] | undefined;
      /** The forward proxy every client goes through (lib/http/proxy.ts); part of the policy object they are handed. */
      proxy: ProxySettings | undefined;
      /** namespace: where Secrets named without one are read (the release namespace). */
      settings: { namespace: string; clusterDomain?: string; neverBlock?: string[] };
    },
  ) {
    this.ssrf = Object.freeze({ allow: deps.allow, proxy: deps.proxy });
  }

  /** The outbound policy of this moment. */
  async ssrfPolicy(): Promise<Readonly<SsrfPolicy>> {
    const cidrs = await this.clusterRanges();
    if (this.ssrf.clusterCidrs !== cidrs)
      this.ssrf = Object.freeze({
        allow: this.deps.allow,
        clusterCidrs: cidrs,
        proxy: this.deps.proxy,
      });
    return this.ssrf;
  }

  /** The guardrails' configuration (plain data: the ingestion worker builds from it). */
  async guardrailConfig(): Promise<GuardrailConfig> {
    const cidrs = await this.clusterRanges();
    // The hosts policies name are protected like the cluster's ranges: fail closed until they are known.
    await this.deps.policies.waitForSync(AbortSignal.timeout(POLICIES_SYNC_WAIT_MS)).catch(() => {
      throw new FeedError(
        'FST_FEED_CLUSTER_RANGES',
        'The ExposurePolicies are not read yet, so the guardrails cannot protect the hosts they name; refusing to ingest until they are',
      );
    });
    const feeds = this.deps.feeds.list();
    const policies = this.deps.policies.list();
    const secretHosts = await this.credentialHosts(credentialSecretRefs(feeds, policies));
    const hosts = infrastructureHosts(feeds, policies, secretHosts);
    const key = JSON.stringify([cidrs, hosts]);
    if (this.config?.key !== key) {
      const { clusterDomain, neverBlock } = this.deps.settings;
      this.config = {
        key,
        config: defaultGuardrailConfig({
          clusterCidrs: cidrs,
          clusterDomain,
          infrastructureHosts: hosts,
          allowlist: neverBlock,
        }),
      };
    }
    return this.config.config;
  }

  /** The guardrails themselves, built on the main thread only for hand-written actions. */
  async guardrails(): Promise<Guardrails> {
    const config = await this.guardrailConfig();
    if (this.built?.config !== config) this.built = { config, guardrails: new Guardrails(config) };
    return this.built.guardrails;
  }

  /**
   * The hosts the named credential Secrets may be sent to. A Secret that is missing, or
   * that the controller may not read (403: another namespace), adds none: no credential
   * goes anywhere through it. Any other failed read keeps what that Secret last gave,
   * and fails closed (FST_FEED_CLUSTER_RANGES) when it gave nothing yet, as an unread
   * cluster range does: a feed must not block the notify or identity host meanwhile.
   */
  private async credentialHosts(refs: readonly NamedSecret[]): Promise<string[]> {
    const { client, clock, log } = this.deps;
    const known = new Map<string, { at: number; hosts: string[] }>();
    const failures: string[] = [];
    for (const ref of refs) {
      const namespace = ref.namespace ?? this.deps.settings.namespace;
      const key = `${namespace}/${ref.name}`;
      const last = known.get(key) ?? this.secretHosts.get(key);
      if (last && clock.now() - last.at <= SECRET_HOSTS_TTL_MS) {
        known.set(key, last);
        continue;
      }
      try {
        const secret = await client.get<KubernetesObject>('v1', 'Secret', ref.name, namespace);
        known.set(key, { at: clock.now(), hosts: allowedDestinationHosts(secret?.metadata ?? {}) });
      } catch (err) {
        const status = statusOf(err);
        if (status === 403) known.set(key, { at: clock.now(), hosts: [] });
        else if (last) {
          log.warn({ err, secret: key }, 'Kept the last-known destinations of a credential Secret');
          known.set(key, last);
        } else failures.push(`Secret ${key}${status === undefined ? '' : ` (HTTP ${status})`}`);
      }
    }
    this.secretHosts = known;
    if (failures.length > 0) {
      throw new FeedError(
        'FST_FEED_CLUSTER_RANGES',
        `Could not read the credential ${failures.join(', ')}, so the guardrails cannot protect the hosts in their forestall.io/allowed-destinations annotation; refusing to ingest until they can be read`,
      );
    }
    return [...known.values()].flatMap((entry) => entry.hosts);
  }

  /** The cluster's ranges, re-read at most every CLUSTER_RANGES_TTL_MS. */
  private async clusterRanges(): Promise<string[]> {
    const { clock, client, log } = this.deps;
    if (!this.ranges || clock.now() - this.ranges.at > CLUSTER_RANGES_TTL_MS) {
      this.ranges = undefined; // a failed read leaves none: the next call reads again, and fails again
      this.ranges = { at: clock.now(), cidrs: await readClusterRanges(client, log) };
    }
    return this.ranges.cidrs;
  }
}
