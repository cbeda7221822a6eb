import type { KubernetesObject } from '@kubernetes/client-node';
import { labelValue } from '../../connectors/index.js';
import type {
  IdentityAccess,
  IdentityLedger,
  LedgerRecord,
  SecretRef,
} from '../../connectors/identity/types.js';
import { ConnectorError } from '../../connectors/core/errors.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';
import { readCredential } from '../runtime/secrets.js';
import { LABEL_ACTION, LABEL_MANAGED_BY, MANAGED_BY } from '../../crds/index.js';

/**
 * The identity connectors' view of the controller (connectors/identity/types.ts
 * IdentityAccess): credentials from Secrets, the ledger in ConfigMaps, and the
 * operator-wide never-touch list (--identity-never-touch).
 */
export function kubeIdentityAccess(
  client: KubeClient,
  namespace: string,
  neverTouch: readonly string[] = [],
  fetch?: typeof globalThis.fetch,
): IdentityAccess {
  return {
    // The controller's outbound client (--outbound-allow, cluster ranges); without it the
    // identity client's default, which has no SSRF exceptions.
    ...(fetch === undefined ? {} : { fetch }),
    async secret(
      ref: SecretRef,
      field: string,
      destinations: (data: Record<string, string>) => readonly string[],
    ): Promise<Record<string, string>> {
      const data = await readCredential(client, ref, {
        defaultNamespace: namespace,
        field,
        destinations,
      });
      if (!data)
        throw new ConnectorError(
          'FST_IDENTITY_CREDENTIALS',
          `Secret ${ref.namespace ?? namespace}/${ref.name} (${field}) does not exist`,
        );
      return data;
    },
    ledger: new ConfigMapLedger(client, namespace),
    neverTouch,
  };
}

/** One ledger per action, `forestall-identity-<action>`. */
export function ledgerConfigMapName(action: string): string {
  return `forestall-identity-${action}`.slice(0, 253);
}

const KEY = 'ledger.json';

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

/**
 * The record of what an identity action changed at the provider, and what was there
 * before, so that every change can be reversed: one ConfigMap per action in the
 * controller's namespace, JSON under `ledger.json`. It has no owner on purpose: if it
 * were garbage-collected with the action, a forced deletion would lose the only record
 * of whom to re-enable. The connector deletes it once everything is reversed.
 */
export class ConfigMapLedger implements IdentityLedger {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
  ) {}

  async read(action: string): Promise<LedgerRecord | undefined> {
    const cm = await this.client.get<ConfigMap>(
      'v1',
      'ConfigMap',
      ledgerConfigMapName(action),
      this.namespace,
    );
    const text = cm?.data?.[KEY];
    if (!text) return undefined;
    try {
      return JSON.parse(text) as LedgerRecord;
    } catch (err) {
      throw new ForestallError(
        'FST_SNAPSHOT_DAMAGED',
        `ConfigMap ${this.namespace}/${ledgerConfigMapName(action)} (the identity ledger of ${action}) is not JSON: ${(err as Error).message}; restore it or reverse its changes by hand`,
      );
    }
  }

  async write(action: string, record: LedgerRecord): Promise<void> {
    await this.client.apply<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: ledgerConfigMapName(action),
        namespace: this.namespace,
        labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_ACTION]: labelValue(action) },
        annotations: {
          'forestall.io/purpose':
            'What Forestall changed at the identity provider for this action, so it can be reversed. Do not delete while the action exists.',
        },
      },
      data: { [KEY]: JSON.stringify(record, null, 1) },
    });
  }

  async delete(action: string): Promise<void> {
    await this.client.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ledgerConfigMapName(action), namespace: this.namespace },
    });
  }
}
