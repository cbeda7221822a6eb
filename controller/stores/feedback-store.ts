import { gzipSync } from 'node:zlib';
import { gunzipBounded, STORED_GUNZIP_MAX_BYTES } from '../../lib/gzip.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { labelValue } from '../../connectors/index.js';
import { LABEL_MANAGED_BY, LABEL_POLICY, MANAGED_BY } from '../../crds/index.js';
import { API_VERSION } from '../../crds/index.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';

/**
 * Review feedback: the indicators reviewers rejected for a policy (a pull request
 * closed without merging), each held until a time. The policy leaves them out of its
 * actions until then, so a rejected proposal is not proposed again on the next sync.
 *
 * One ConfigMap per policy in the controller's namespace, `forestall-feedback-<policy>`,
 * owned by the policy (garbage-collected with it): a gzipped JSON list of rejections,
 * each with its action, pull request, end of suppression and values. Expired
 * rejections are dropped on the next write. A ConfigMap, not the policy's status,
 * because a rejected set can hold thousands of addresses.
 */
const KEY = 'rejections.json.gz';
/** A ConfigMap holds at most 1 MiB; base64 grows the gzip by a third. */
const MAX_GZIP_BYTES = 700 * 1024;

export interface Rejection {
  action: string;
  /** The pull request reviewers closed. */
  pullRequest?: string;
  at: string;
  /** Suppressed until this time (RFC 3339). */
  until: string;
  values: string[];
}

export interface Suppression {
  /** Values suppressed now. */
  values: ReadonlySet<string>;
  /** Actions whose rejection is behind an active suppression: the action controller settles them as Rejected. */
  actions: ReadonlySet<string>;
  /** When the next rejection ends (ms since the epoch), for a requeue; undefined when none is active. */
  nextExpiry?: number;
  /** Changes whenever `values` does: the stored version and the active rejections. */
  key: string;
}

interface ConfigMap extends KubernetesObject {
  binaryData?: Record<string, string>;
}

const NONE: Suppression = { values: new Set(), actions: new Set(), key: 'none' };

export function feedbackConfigMapName(policy: string): string {
  return `forestall-feedback-${policy}`.slice(0, 253);
}

export class FeedbackStore {
  /** Parsed rejections per policy, by the ConfigMap's resourceVersion: a reconcile costs one GET, no gunzip. */
  private readonly parsed = new Map<string, { resourceVersion: string; rejections: Rejection[] }>();

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
  ) {}

  /**
   * Records one rejection, replacing an earlier record of the same action and pull
   * request (a retried reconcile records it once).
   */
  async reject(
    policy: { name: string; uid: string },
    rejection: Rejection,
    now: Date,
  ): Promise<void> {
    const kept = (await this.read(policy.name)).filter(
      (r) =>
        Date.parse(r.until) > now.getTime() &&
        !(r.action === rejection.action && r.pullRequest === rejection.pullRequest),
    );
    const rejections = [...kept, rejection];
    const gz = gzipSync(JSON.stringify({ rejections }));
    if (gz.length > MAX_GZIP_BYTES) {
      throw new ForestallError(
        'FST_INVALID_SPEC',
        `the rejected indicators of policy ${policy.name} are ${gz.length} bytes compressed, over the ${MAX_GZIP_BYTES}-byte limit of one ConfigMap; shorten spec.git.suppressRejectedFor`,
      );
    }
    await this.client.apply<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: feedbackConfigMapName(policy.name),
        namespace: this.namespace,
        labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_POLICY]: labelValue(policy.name) },
        ownerReferences: [
          { apiVersion: API_VERSION, kind: 'ExposurePolicy', name: policy.name, uid: policy.uid },
        ],
      },
      binaryData: { [KEY]: gz.toString('base64') },
    });
  }

  /** The values suppressed for the policy at `now`. */
  async suppression(policy: string, now: Date): Promise<Suppression> {
    const rejections = await this.read(policy);
    const active = rejections.filter((r) => Date.parse(r.until) > now.getTime());
    if (!active.length) return NONE;
    const values = new Set(active.flatMap((r) => r.values));
    const nextExpiry = Math.min(...active.map((r) => Date.parse(r.until)));
    return {
      values,
      actions: new Set(active.map((r) => r.action)),
      nextExpiry,
      key: `${this.parsed.get(policy)?.resourceVersion}:${active.length}`,
    };
  }

  private async read(policy: string): Promise<Rejection[]> {
    const cm = await this.client.get<ConfigMap>(
      'v1',
      'ConfigMap',
      feedbackConfigMapName(policy),
      this.namespace,
    );
    const data = cm?.binaryData?.[KEY];
    if (!cm || !data) {
      this.parsed.delete(policy);
      return [];
    }
    const resourceVersion = cm.metadata?.resourceVersion ?? '';
    const cached = this.parsed.get(policy);
    if (cached?.resourceVersion === resourceVersion) return cached.rejections;
    let rejections: Rejection[];
    try {
      rejections = (
        JSON.parse(
          gunzipBounded(Buffer.from(data, 'base64'), {
            maxBytes: STORED_GUNZIP_MAX_BYTES,
          }).toString('utf8'),
        ) as {
          rejections: Rejection[];
        }
      ).rejections;
      if (!Array.isArray(rejections)) throw new Error('no rejections list');
    } catch (err) {
      throw new ForestallError(
        'FST_SNAPSHOT_DAMAGED',
        `ConfigMap ${this.namespace}/${feedbackConfigMapName(policy)} (review feedback) cannot be read: ${(err as Error).message}`,
      );
    }
    this.parsed.set(policy, { resourceVersion, rejections });
    return rejections;
  }
}
