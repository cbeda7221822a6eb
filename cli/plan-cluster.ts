import type { KubernetesObject } from '@kubernetes/client-node';
import {
  API_VERSION,
  formatIssues,
  validateObject,
  type ExposurePolicy,
  type ThreatException,
  type ThreatFeed,
} from '../crds/index.js';
import { statusOf } from '../controller/runtime/errors.js';
import type { KubeClient } from '../controller/runtime/client.js';
import { SnapshotStore } from '../controller/stores/snapshot-store.js';
import type { Indicator } from '../feeds/index.js';
import { INVENTORY_KINDS } from '../policies/inventory-kinds.js';
import { apiMessage } from './operate.js';

/**
 * What `forestall plan --kubeconfig` reads from a live cluster, with the caller's own
 * credentials, in place of the file tree: the ThreatFeeds and their last-known-good
 * snapshots (the indicators the controller judged, guardrails applied), the
 * ExposurePolicies, the ThreatExceptions and the inventory the controller watches. The
 * same engine then plans on it, as `kyverno apply --cluster` does.
 */
export interface ClusterSources {
  feeds: { object: ThreatFeed; file: string }[];
  policies: { object: ExposurePolicy; file: string }[];
  exceptions: { object: ThreatException; file: string }[];
  /** Feed name → its snapshot, or why there is none. */
  snapshots: Map<string, { indicators: Indicator[]; source: string } | { missing: string }>;
  objects: unknown[];
  /** Optional kinds the cluster does not serve, and what that means. */
  absent: string[];
}

/** The objects of a kind; optional kinds the cluster does not serve give none. */
async function listAll(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  optional: boolean,
): Promise<KubernetesObject[] | undefined> {
  try {
    return (await client.list(apiVersion, kind)).items;
  } catch (err) {
    if (optional && statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Forestall objects as the API server returns them, checked as files are (a stored object is valid unless the CRD changed). */
function forestallObjects<T>(items: KubernetesObject[], where: string, errors: string[]) {
  const out: { object: T; file: string }[] = [];
  for (const item of items) {
    const result = validateObject(item as never);
    const label = `${where}: ${item.kind}/${item.metadata?.name}`;
    if (result.ok) out.push({ object: result.object as T, file: where });
    else errors.push(`${label}: ${formatIssues(result.issues)}`);
  }
  return out.sort((a, b) => {
    const [x, y] = [
      (a.object as KubernetesObject).metadata?.name ?? '',
      (b.object as KubernetesObject).metadata?.name ?? '',
    ];
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export async function readCluster(
  client: KubeClient,
  namespace: string,
  errors: string[],
): Promise<ClusterSources> {
  const where = `cluster ${client.kc.getCurrentCluster()?.server ?? ''}`;
  const kindList = async (kind: string) =>
    ((await client.list(API_VERSION, kind)).items as KubernetesObject[]).map((o) => ({
      ...o,
      apiVersion: API_VERSION,
      kind,
    }));
  const feeds = forestallObjects<ThreatFeed>(await kindList('ThreatFeed'), where, errors);
  const policies = forestallObjects<ExposurePolicy>(
    await kindList('ExposurePolicy'),
    where,
    errors,
  );
  const exceptions = forestallObjects<ThreatException>(
    await kindList('ThreatException'),
    where,
    errors,
  );
  const store = new SnapshotStore(client, namespace);
  const snapshots: ClusterSources['snapshots'] = new Map();
  for (const { object } of feeds) {
    const name = object.metadata!.name!;
    try {
      const snap = await store.load(name);
      snapshots.set(
        name,
        snap
          ? {
              indicators: snap.indicators,
              source: `snapshot ${namespace}/${store.headName(name)} of ${snap.meta.syncedAt}`,
            }
          : { missing: `no snapshot in ${namespace}: the feed has never synced` },
      );
    } catch (err) {
      snapshots.set(name, { missing: `snapshot unreadable: ${apiMessage(err)}` });
    }
  }
  const objects: unknown[] = [];
  const absent: string[] = [];
  const kinds = [
    ...INVENTORY_KINDS,
    // The nodes' ranges join the guardrails' cluster ranges, as in the controller.
    { apiVersion: 'v1', kind: 'Node', optional: false, absentMeans: undefined },
  ];
  for (const k of kinds) {
    const items = await listAll(client, k.apiVersion, k.kind, k.optional);
    if (items === undefined) {
      absent.push(
        `${k.kind} (${k.apiVersion}) not served${k.absentMeans ? `: ${k.absentMeans}` : ''}`,
      );
      continue;
    }
    objects.push(...items.map((o) => ({ ...o, apiVersion: k.apiVersion, kind: k.kind })));
  }
  return { feeds, policies, exceptions, snapshots, objects, absent };
}
