import type { KubeClient } from './client.js';
import { ForestallError } from './errors.js';

export interface SecretRef {
  name: string;
  namespace?: string;
  key?: string;
}

/**
 * Reads a Secret that a spec field points at: the required key (ref.key, else
 * `defaultKey`) and any optional keys, decoded and trimmed. A missing Secret or key is
 * FST_KUBE_NOT_FOUND naming the Secret and the field, so the condition tells the user
 * exactly what to create. Values never appear in messages.
 */
export async function readSecret(
  client: KubeClient, ref: SecretRef, opts: { defaultNamespace: string; defaultKey: string; field: string },
): Promise<{ value: string; optional: (key: string) => string | undefined }> {
  const namespace = ref.namespace ?? opts.defaultNamespace;
  const key = ref.key ?? opts.defaultKey;
  const data = await readSecretData(client, ref.name, namespace);
  const value = data?.[key];
  if (!value) {
    throw new ForestallError('FST_KUBE_NOT_FOUND', data
      ? `Secret ${namespace}/${ref.name} (${opts.field}) has no key ${key}`
      : `Secret ${namespace}/${ref.name} (${opts.field}) does not exist`);
  }
  return { value, optional: (name) => data[name] || undefined };
}

/** Every key of a Secret, decoded and trimmed; undefined when the Secret does not exist. */
export async function readSecretData(client: KubeClient, name: string, namespace: string): Promise<Record<string, string> | undefined> {
  const secret = await client.get<{ data?: Record<string, string> } & { metadata?: object }>('v1', 'Secret', name, namespace);
  if (!secret) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) out[key] = Buffer.from(value, 'base64').toString('utf8').trim();
  return out;
}
