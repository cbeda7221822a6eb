import type { ExposurePolicy, ThreatFeed } from '../../crds/index.js';
import {
  defaultGuardrailConfig,
  FeedError,
  Guardrails,
  infrastructureHosts,
  type GuardrailConfig,
  type SsrfPolicy,
} from '../../feeds/index.js';
import type { ProxySettings } from '../../lib/http/index.js';
import type { KubeClient } from '../runtime/client.js';
import type { Clock } from '../runtime/clock.js';
import type { Informer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import { readClusterRanges } from './cluster-ranges.js';

/** Cluster ranges change rarely; read them at most this often. */
const CLUSTER_RANGES_TTL_MS = 300_000;
/** How long a sync waits at start-up for the ExposurePolicies' cache before it fails closed. */
const POLICIES_SYNC_WAIT_MS = 30_000;

/**
 * What the cluster protects itself with, built from what the controller reads: the
 * outbound policy every client uses (--outbound-allow plus the cluster's own ranges, and
 * the operator's proxy, which rides along)
 * and the guardrails every ingestion and hand-written action passes (those ranges, the
 * cluster DNS domain, the hosts every ThreatFeed and ExposurePolicy names, --never-block).
 *
 * The ranges are re-read every CLUSTER_RANGES_TTL_MS; a failed read fails the caller
 * (see readClusterRanges), so nothing is ingested or fetched without them. The hosts
 * come from the informers' caches, so no request per sync. Each product is rebuilt
 * only when its inputs change (loading the warninglists takes a few hundred ms), and
 * the outbound policy is a new frozen object then: no guard ever holds a compiled copy
 * of a policy that changed under it.
 */
export class ClusterProtection {
  private ranges?: { at: number; cidrs: string[] };
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
      settings: { clusterDomain?: string; neverBlock?: string[] };
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
    const hosts = infrastructureHosts(this.deps.feeds.list(), this.deps.policies.list());
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
