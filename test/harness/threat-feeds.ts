import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { ThreatFeed } from '../../crds/index.js';
import { ControlPlane } from './control-plane.js';
import { eventually } from './eventually.js';

// The objects the ThreatFeed integration tests create, read and wait on, written once so
// that each test states only its feed's spec and what it expects of the status.

export const THREATFEEDS = {
  group: 'forestall.io',
  version: 'v1alpha1',
  plural: 'threatfeeds',
} as const;

/** The condition of one type on any object with standard status conditions. */
export function condition<C extends { type: string }>(
  o: { status?: { conditions?: C[] } } | undefined,
  type: string,
): C | undefined {
  return o?.status?.conditions?.find((c) => c.type === type);
}

/** A ThreatFeed manifest with exactly the given spec. */
export function threatFeed(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'forestall.io/v1alpha1', kind: 'ThreatFeed', metadata: { name }, spec };
}

/** A ConfigMap manifest, for the air-gapped feeds the tests serve from the cluster. */
export function configMap(namespace: string, name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

/** ThreatFeed reads and writes through the typed client. */
export function threatFeedApi(kc: KubeConfig) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const read = async (name: string) =>
    (await custom.getClusterCustomObject({ ...THREATFEEDS, name })) as ThreatFeed;
  return {
    read,
    create: (name: string, spec: Record<string, unknown>) =>
      custom.createClusterCustomObject({ ...THREATFEEDS, body: threatFeed(name, spec) }),
    patchSpec: (name: string, spec: Record<string, unknown>) =>
      custom.patchClusterCustomObject(
        { ...THREATFEEDS, name, body: { spec } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    /** Waits until the feed satisfies `accept` and returns it as last read. */
    until: (name: string, what: string, accept: (f: ThreatFeed) => boolean, timeoutMs?: number) =>
      eventually(
        what,
        async () => {
          const f = await read(name);
          return accept(f) && f;
        },
        timeoutMs,
      ),
  };
}

/**
 * A fresh control plane with the controller's namespace and the ConfigMaps (name to
 * data) the test's feeds read: the start every ThreatFeed test shares.
 */
export async function startFeedCluster(
  namespace: string,
  configMaps: Record<string, Record<string, string>> = {},
) {
  const cp = await ControlPlane.start();
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const [name, data] of Object.entries(configMaps))
    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, name, data) });
  return { cp, kc, core, custom: kc.makeApiClient(CustomObjectsApi), feeds: threatFeedApi(kc) };
}
