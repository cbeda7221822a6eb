import type { KubernetesObject } from '@kubernetes/client-node';

/** The finalizer every Forestall object carries while it may own enforcement. */
export const FINALIZER = 'forestall.io/finalizer';

export function hasFinalizer(obj: KubernetesObject, name = FINALIZER): boolean {
  return obj.metadata?.finalizers?.includes(name) ?? false;
}

export function isDeleting(obj: KubernetesObject): boolean {
  return Boolean(obj.metadata?.deletionTimestamp);
}

/** The finalizer list with name added (unchanged when present). */
export function withFinalizer(obj: KubernetesObject, name = FINALIZER): string[] {
  const list = obj.metadata?.finalizers ?? [];
  return list.includes(name) ? [...list] : [...list, name];
}

/** The finalizer list with name removed. */
export function withoutFinalizer(obj: KubernetesObject, name = FINALIZER): string[] {
  return (obj.metadata?.finalizers ?? []).filter((f) => f !== name);
}
