import {
  CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type KubeConfig, type KubernetesObject,
} from '@kubernetes/client-node';
import { fromKube, statusOf } from './errors.js';
import type { Metrics } from './metrics.js';

/** Every write Forestall makes uses this field manager, so server-side apply tracks one owner. */
export const FIELD_MANAGER = 'forestall';

export interface ApplyOptions {
  dryRun?: boolean;
}

/**
 * The controller's one way to the API server: reads, server-side apply (force, fixed
 * field manager) for objects and for the status subresource, and deletes. Errors
 * become ForestallErrors with stable codes; every write is counted in metrics.
 */
export class KubeClient {
  readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;

  constructor(readonly kc: KubeConfig, private readonly metrics?: Metrics, readonly fieldManager = FIELD_MANAGER) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubernetesObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.objects.read<T>({ apiVersion, kind, metadata: { name, namespace } } as never);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw fromKube(err, `get ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
    }
  }

  async apply<T extends KubernetesObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    try {
      const out = await this.objects.patch<T>(obj, undefined, opts.dryRun ? 'All' : undefined, this.fieldManager, true, PatchStrategy.ServerSideApply);
      if (!opts.dryRun) this.metrics?.writes.inc({ verb: 'apply', kind: obj.kind ?? '' });
      return out;
    } catch (err) {
      throw fromKube(err, `apply ${obj.kind} ${obj.metadata?.name}`);
    }
  }

  /** Server-side applies the status of a cluster-scoped custom object. */
  async applyStatus<T extends KubernetesObject & { status?: unknown }>(obj: T, plural: string): Promise<T> {
    const [group, version] = (obj.apiVersion ?? '').split('/') as [string, string];
    const name = obj.metadata?.name ?? '';
    try {
      const body = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name }, status: obj.status };
      const out = await this.custom.patchClusterCustomObjectStatus(
        { group, version, plural, name, body, fieldManager: this.fieldManager, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
      this.metrics?.writes.inc({ verb: 'apply-status', kind: obj.kind ?? '' });
      return out as T;
    } catch (err) {
      throw fromKube(err, `apply status of ${obj.kind} ${name}`);
    }
  }

  /** Replaces metadata.finalizers with a merge patch guarded by resourceVersion (409 on a race). */
  async setFinalizers(obj: KubernetesObject, finalizers: string[]): Promise<KubernetesObject> {
    const patch = {
      apiVersion: obj.apiVersion, kind: obj.kind,
      metadata: { name: obj.metadata?.name, namespace: obj.metadata?.namespace, resourceVersion: obj.metadata?.resourceVersion, finalizers },
    };
    try {
      const out = await this.objects.patch(patch, undefined, undefined, this.fieldManager, undefined, PatchStrategy.MergePatch);
      this.metrics?.writes.inc({ verb: 'patch-finalizers', kind: obj.kind ?? '' });
      return out;
    } catch (err) {
      throw fromKube(err, `update finalizers of ${obj.kind} ${obj.metadata?.name}`);
    }
  }

  /** Deletes the object; a missing object counts as deleted. */
  async delete(obj: KubernetesObject): Promise<void> {
    try {
      await this.objects.delete(obj, undefined, undefined, undefined, undefined, 'Background');
      this.metrics?.writes.inc({ verb: 'delete', kind: obj.kind ?? '' });
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw fromKube(err, `delete ${obj.kind} ${obj.metadata?.name}`);
    }
  }
}
