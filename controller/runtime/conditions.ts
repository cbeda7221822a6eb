/** metav1.Condition helpers with apimachinery's meta.SetStatusCondition semantics. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/**
 * Returns conditions with `next` set. lastTransitionTime changes only when the status
 * changes, so a reconcile that finds nothing new produces an identical list (and so
 * writes nothing).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionInput,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime =
    prev && prev.status === next.status ? prev.lastTransitionTime : rfc3339(now);
  const merged: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** RFC 3339 at second precision, as metav1.Time serialises. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A status with conditions, as every Forestall kind has. */
export interface StatusWithConditions {
  observedGeneration?: number;
  conditions?: unknown[];
}

/** The conditions to set, applied in order onto the stored ones, and observedGeneration (pure; time passed in). */
export function withConditions<S extends StatusWithConditions>(
  status: S,
  generation: number,
  now: Date,
  conditions: Omit<ConditionInput, 'observedGeneration'>[],
): S {
  let list = status.conditions as Condition[] | undefined;
  for (const c of conditions)
    list = setCondition(list, { ...c, observedGeneration: generation }, now);
  return { ...status, observedGeneration: generation, conditions: list };
}
