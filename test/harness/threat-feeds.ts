import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { ThreatFeed } from '../../crds/index.js';
import { ControlPlane } from './control-plane.js';
import { eventually } from './eventually.js';
import { condition, configMap } from './objects.js';

// The objects the ThreatFeed integration tests create, read and wait on, written once so
// that each test states only its feed's spec and what it expects of the status.

export const THREATFEEDS = {
  group: 'forestall.io',
  version: 'v1alpha1',
  plural: 'threatfeeds',
} as const;

/** A ThreatFeed manifest with exactly the given spec. */
export function threatFeed(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'forestall.io/v1alpha1', kind: 'ThreatFeed', metadata: { name }, spec };
}

/** A ThreatFeed (format lines unless `spec` says otherwise) reading `key` of ConfigMap `name`. */
export function configMapFeed(
  name: string,
  namespace: string,
  key: string,
  spec: Record<string, unknown>,
): KubernetesObject {
  return threatFeed(name, {
    format: 'lines',
    source: { configMapRef: { name, namespace, key } },
    ...spec,
  });
}

/** IPsum's score (column 1) as confidence: 8 or more is certain, below that 12 per point. */
export const IPSUM_CONFIDENCE = 'int(record.score) >= 8 ? 100 : int(record.score) * 12';

/** ThreatFeed reads and writes through the typed client. */
export function threatFeedApi(kc: KubeConfig) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const read = async (name: string) =>
    (await custom.getClusterCustomObject({ ...THREATFEEDS, name })) as ThreatFeed;
  /** Waits until the feed satisfies `accept` and returns it as last read. */
  const until = (
    name: string,
    what: string,
    accept: (f: ThreatFeed) => boolean,
    timeoutMs?: number,
  ) =>
    eventually(
      what,
      async () => {
        const f = await read(name);
        return accept(f) && f;
      },
      timeoutMs,
    );
  return {
    read,
    create: (name: string, spec: Record<string, unknown>) =>
      custom.createClusterCustomObject({ ...THREATFEEDS, body: threatFeed(name, spec) }),
    patchSpec: (name: string, spec: Record<string, unknown>) =>
      custom.patchClusterCustomObject(
        { ...THREATFEEDS, name, body: { spec } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    until,
    /** Waits until the feed has synced once: its status counts indicators. */
    synced: (name: string, timeoutMs?: number) =>
      until(name, `${name} synced`, (f) => f.status?.indicatorCount !== undefined, timeoutMs),
    /** Waits until the feed holds exactly `count` indicators. */
    holding: (name: string, count: number, timeoutMs?: number) =>
      until(
        name,
        `${name} holding ${count} indicators`,
        (f) => f.status?.indicatorCount === count,
        timeoutMs,
      ),
    /** Waits until the feed is Degraded, at `generation` when one is given. */
    degraded: (name: string, timeoutMs?: number, generation?: number) =>
      until(
        name,
        generation === undefined
          ? `${name} Degraded`
          : `${name} Degraded at generation ${generation}`,
        (f) =>
          (generation === undefined || f.status?.observedGeneration === generation) &&
          condition(f, 'Degraded')?.status === 'True',
        timeoutMs,
      ),
  };
}

/** Replaces a feed's ConfigMap with `data`, as an operator editing it would. */
export const replaceConfigMap = (
  core: CoreV1Api,
  namespace: string,
  name: string,
  data: Record<string, string>,
) => core.replaceNamespacedConfigMap({ name, namespace, body: configMap(namespace, name, data) });

/**
 * A fresh control plane with the controller's namespace and the ConfigMaps (name to
 * data) the test's feeds read: the start every ThreatFeed test shares.
 */
export async function startFeedCluster(
  namespace: string,
  configMaps: Record<string, Record<string, string>> = {},
  options: { controllerManager?: boolean } = {},
) {
  const cp = await ControlPlane.start(options);
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const [name, data] of Object.entries(configMaps))
    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, name, data) });
  return { cp, kc, core, custom: kc.makeApiClient(CustomObjectsApi), feeds: threatFeedApi(kc) };
}
