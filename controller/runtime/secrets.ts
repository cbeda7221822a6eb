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
  const secret = await client.get<{ data?: Record<string, string> } & { metadata?: object }>('v1', 'Secret', ref.name, namespace);
  const decode = (name: string) => {
    const v = secret?.data?.[name];
    return v ? Buffer.from(v, 'base64').toString('utf8').trim() : undefined;
  };
  const value = decode(key);
  if (!value) {
    throw new ForestallError('FST_KUBE_NOT_FOUND', secret
      ? `Secret ${namespace}/${ref.name} (${opts.field}) has no key ${key}`
      : `Secret ${namespace}/${ref.name} (${opts.field}) does not exist`);
  }
  return { value, optional: decode };
}
