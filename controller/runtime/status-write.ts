import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { findCondition, type Condition } from './conditions.js';

/** Which object's status is written: a cluster-scoped custom resource, by name. */
export interface StatusTarget {
  apiVersion: string;
  kind: string;
  name: string;
}

/**
 * Writes `next` as the status of `target` by server-side apply when it differs from
 * `stored` (compared as JSON, so an undefined field counts as absent). `stamp` names a
 * field left out of the comparison and set only on a write (a "last changed" time), so
 * a reconcile that finds nothing new writes nothing. Returns the status written, or
 * undefined when nothing changed.
 */
export async function applyStatusIfChanged<S extends object>(
  client: Pick<KubeClient, 'applyStatus'>,
  target: StatusTarget,
  stored: S | undefined,
  next: S,
  stamp?: { field: keyof S & string; value: string },
): Promise<S | undefined> {
  const unstamped = (s: S | undefined): S =>
    JSON.parse(JSON.stringify(stamp ? { ...s, [stamp.field]: undefined } : (s ?? {}))) as S;
  const clean = unstamped(next);
  if (isDeepStrictEqual(clean, unstamped(stored))) return undefined;
  if (stamp) Object.assign(clean, { [stamp.field]: stamp.value });
  await client.applyStatus({
    apiVersion: target.apiVersion,
    kind: target.kind,
    metadata: { name: target.name },
    status: clean,
  } as KubernetesObject & { status: S });
  return clean;
}

/** The Ready condition after a status change, when its reason changed: the one worth an Event. */
export function readyTransition(
  before: { conditions?: unknown[] } | undefined,
  after: { conditions?: unknown[] },
): Condition | undefined {
  const was = findCondition(before?.conditions as Condition[] | undefined, 'Ready');
  const now = findCondition(after.conditions as Condition[] | undefined, 'Ready');
  return now && (!was || was.reason !== now.reason) ? now : undefined;
}
