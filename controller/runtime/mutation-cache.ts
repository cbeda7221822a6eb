import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from './clock.js';

/** How long a written object may stand in for the watch; the watch catches up in well under this. */
export const MUTATION_TTL_MS = 10 * 60_000;

/**
 * Read your own writes (STYLE.md 12), as client-go's MutationCache does: the object a
 * write of ours returned is what the next reader of the informer sees, until the watch
 * delivers that version or a newer one. Without it, a reconcile that runs right after
 * our own status write reads the version before it, and acts twice: a notification sent
 * again, a pull request opened again.
 *
 * The contract and its limits:
 * - "Newer" compares resourceVersions as integers, as client-go does; etcd's are. A
 *   version that is not an integer never replaces the watch's object.
 * - An entry is dropped once the informer holds the same or a newer version, when the
 *   watch deletes the object, or after MUTATION_TTL_MS (a watch that stays down longer
 *   is relisted anyway).
 * - A delete the watch reported leaves a tombstone at its resourceVersion, so a write
 *   whose answer arrives after the delete's watch event (removing the last finalizer
 *   deletes the object at once) never brings the object back. A written object that is
 *   being deleted with no finalizer left is gone already and is not recorded.
 * - Our own deletes are not recorded: a deleted object stays readable until the watch
 *   says so, which every reconciler handles (it sees deletionTimestamp or gets 404).
 * - Handlers are not called for writes: the watch event still arrives and enqueues.
 */
export class MutationCache<T extends KubernetesObject> {
  private readonly written = new Map<string, { obj: T; at: number }>();
  /** Deleted keys and the resourceVersion of the delete (or of the list that missed them). */
  private readonly tombstones = new Map<string, { rv: bigint; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = MUTATION_TTL_MS,
  ) {}

  /** Records what a write returned, unless a newer version is already recorded. */
  mutated(key: string, obj: T): void {
    const rv = integerVersion(obj);
    const tombstone = this.tombstones.get(key);
    if (tombstone && this.clock.now() - tombstone.at <= this.ttlMs) {
      if (rv === undefined || rv <= tombstone.rv) return;
    }
    if (obj.metadata?.deletionTimestamp && !obj.metadata.finalizers?.length) {
      this.forget(key, obj.metadata.resourceVersion);
      return;
    }
    const kept = this.written.get(key);
    if (kept && !isNewer(obj, kept.obj)) return;
    this.written.set(key, { obj, at: this.clock.now() });
  }

  /** What a reader should see for key, given what the watch has delivered (`observed`). */
  resolve(key: string, observed: T | undefined): T | undefined {
    const kept = this.written.get(key);
    if (!kept) return observed;
    const stale =
      this.clock.now() - kept.at > this.ttlMs || (observed && !isNewer(kept.obj, observed));
    if (stale) {
      this.written.delete(key);
      return observed;
    }
    return kept.obj;
  }

  /** The object is gone (as of resourceVersion rv): nothing written up to then stands in for it. */
  forget(key: string, rv?: string): void {
    this.written.delete(key);
    const version = rv && /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
    if (version === undefined) return;
    const now = this.clock.now();
    this.tombstones.set(key, { rv: version, at: now });
    // Expired tombstones go as new ones come, so the map stays as small as recent deletes.
    for (const [k, t] of this.tombstones) if (now - t.at > this.ttlMs) this.tombstones.delete(k);
  }

  /**
   * A list at resourceVersion rv did not hold key: a written object from before that
   * list is gone (one written after it may simply be newer than the list).
   */
  absentAt(key: string, rv: string | undefined): void {
    const kept = this.written.get(key);
    const version = rv && /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
    const written = kept && integerVersion(kept.obj);
    if (version !== undefined && written !== undefined && written <= version) this.forget(key, rv);
  }

  /** Keys with a written object, for list(): objects we created that the watch has not shown yet. */
  keys(): IterableIterator<string> {
    return this.written.keys();
  }
}

/** Whether a's resourceVersion is after b's (both integers, as etcd's are). */
export function isNewer(a: KubernetesObject, b: KubernetesObject): boolean {
  const x = integerVersion(a);
  const y = integerVersion(b);
  return x !== undefined && y !== undefined && x > y;
}

function integerVersion(obj: KubernetesObject): bigint | undefined {
  const rv = obj.metadata?.resourceVersion;
  return rv && /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}
