import type { KubernetesObject } from '@kubernetes/client-node';
import {
  ANNOTATION_ALLOWED_DESTINATIONS,
  LABEL_CREDENTIAL,
} from '../../controller/runtime/secrets.js';

/**
 * A credential Secret as an administrator writes it for Forestall: opted in with the
 * label forestall.io/credential=true and bound to `destinations` (hosts, host:port or
 * URL prefixes) in forestall.io/allowed-destinations. Without both, the controller
 * refuses to send its values anywhere (FST_SECRET_NOT_ALLOWED).
 */
export function credentialSecret(
  name: string,
  namespace: string,
  stringData: Record<string, string>,
  destinations: readonly string[],
): KubernetesObject & { stringData: Record<string, string> } {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { [LABEL_CREDENTIAL]: 'true' },
      annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: destinations.join(',') },
    },
    stringData,
  };
}

/** The host:port of a URL, the narrowest host entry for forestall.io/allowed-destinations. */
export function hostOf(url: string): string {
  return new URL(url).host;
}
