import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ForestallError, fromKube, statusOf } from './errors.js';
import type { Metrics } from './metrics.js';

/** Every write Forestall makes uses this field manager, so server-side apply tracks one owner. */
export const FIELD_MANAGER = 'forestall';
/** Pass as the namespace to path() for the collection across every namespace ("*" is no valid namespace name). */
export const ALL_NAMESPACES = '*';

export interface ApplyOptions {
  dryRun?: boolean;
}

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** Thrown for non-2xx answers; shaped like client-node's ApiException (code, body). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${code}`);
  }
}

interface Resource {
  plural: string;
  namespaced: boolean;
}

/**
 * The controller's one way to the API server for generic objects: reads, lists,
 * server-side apply (force, fixed field manager) for objects and for the status
 * subresource, merge patches and deletes.
 *
 * Why not client-node's KubernetesObjectApi: it passes bodies through its typed model
 * serializer, which drops every field the model does not know and every key whose
 * wire name differs from the model's (x-kubernetes-validations, default, enum), and
 * turns responses into model instances. For server-side apply that silently changes
 * what is applied (docs/adr/0002-raw-json-kube-client.md). This client sends and
 * returns the JSON as is; KubeConfig still provides TLS and authentication.
 */
export class KubeClient {
  private readonly resources = new Map<string, Resource>();
  private readonly writeListeners = new Set<(obj: KubernetesObject) => void>();

  constructor(
    readonly kc: KubeConfig,
    private readonly metrics?: Metrics,
    readonly fieldManager = FIELD_MANAGER,
  ) {}

  /**
   * Tells listener about every object a write returns (apply, create, replace, status,
   * finalizers; not dry runs), so informers can read their own writes. Returns the
   * unsubscribe function.
   */
  onWrite(listener: (obj: KubernetesObject) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private written<T extends KubernetesObject>(out: T): T {
    for (const listener of this.writeListeners) listener(out);
    return out;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', await this.path(apiVersion, kind, namespace, name));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw fromKube(err, `get ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
    }
  }

  /** Objects of a kind: in opts.namespace, or in every namespace when none is given. */
  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<ListResult<T>> {
    const query = opts.labelSelector ? { labelSelector: opts.labelSelector } : undefined;
    try {
      return await this.call<ListResult<T>>(
        'GET',
        await this.path(apiVersion, kind, opts.namespace ?? ALL_NAMESPACES),
        { query },
      );
    } catch (err) {
      throw fromKube(err, `list ${kind}`);
    }
  }

  async apply<T extends KubernetesObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      const out = await this.call<T>(
        'PATCH',
        await this.path(apiVersion, kind, metadata?.namespace, metadata?.name),
        {
          body: obj,
          contentType: 'application/apply-patch+yaml',
          query: {
            fieldManager: this.fieldManager,
            force: 'true',
            ...(opts.dryRun ? { dryRun: 'All' } : {}),
          },
        },
      );
      if (opts.dryRun) return out;
      this.metrics?.writes.inc({ verb: 'apply', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `apply ${kind} ${metadata?.name}`);
    }
  }

  /** Creates obj; 409 (AlreadyExists) surfaces as FST_KUBE_CONFLICT. */
  async create<T extends KubernetesObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      const out = await this.call<T>(
        'POST',
        await this.path(apiVersion, kind, metadata?.namespace),
        {
          body: obj,
          query: { fieldManager: this.fieldManager, ...(opts.dryRun ? { dryRun: 'All' } : {}) },
        },
      );
      if (opts.dryRun) return out;
      this.metrics?.writes.inc({ verb: 'create', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `create ${kind} ${metadata?.name}`);
    }
  }

  /** Replaces obj (PUT); its metadata.resourceVersion makes this an optimistic-concurrency write. */
  async replace<T extends KubernetesObject>(obj: T): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      const out = await this.call<T>(
        'PUT',
        await this.path(apiVersion, kind, metadata?.namespace, metadata?.name),
        { body: obj, query: { fieldManager: this.fieldManager } },
      );
      this.metrics?.writes.inc({ verb: 'replace', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `replace ${kind} ${metadata?.name}`);
    }
  }

  /** Server-side applies obj.status through the status subresource. */
  async applyStatus<T extends KubernetesObject & { status?: unknown }>(obj: T): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    const body = {
      apiVersion,
      kind,
      metadata: { name: metadata?.name, namespace: metadata?.namespace },
      status: obj.status,
    };
    try {
      const out = await this.call<T>(
        'PATCH',
        `${await this.path(apiVersion, kind, metadata?.namespace, metadata?.name)}/status`,
        {
          body,
          contentType: 'application/apply-patch+yaml',
          query: { fieldManager: this.fieldManager, force: 'true' },
        },
      );
      this.metrics?.writes.inc({ verb: 'apply-status', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `apply status of ${kind} ${metadata?.name}`);
    }
  }

  /**
   * Merge-patches part of obj.status through the status subresource, guarded by
   * obj.metadata.resourceVersion (409 on a race): for a status field another writer
   * keeps, read, changed and written back (a feed's source confidence).
   */
  async mergeStatus<T extends KubernetesObject>(
    obj: T,
    status: Record<string, unknown>,
  ): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      const out = await this.call<T>(
        'PATCH',
        `${await this.path(apiVersion, kind, metadata?.namespace, metadata?.name)}/status`,
        {
          body: { metadata: { resourceVersion: metadata?.resourceVersion }, status },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: `${this.fieldManager}-status-merge` },
        },
      );
      this.metrics?.writes.inc({ verb: 'patch-status', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `patch status of ${kind} ${metadata?.name}`);
    }
  }

  /** Replaces metadata.finalizers with a merge patch guarded by resourceVersion (409 on a race). */
  async setFinalizers<T extends KubernetesObject>(obj: T, finalizers: string[]): Promise<T> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      const out = await this.call<T>(
        'PATCH',
        await this.path(apiVersion, kind, metadata?.namespace, metadata?.name),
        {
          body: { metadata: { resourceVersion: metadata?.resourceVersion, finalizers } },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: this.fieldManager },
        },
      );
      this.metrics?.writes.inc({ verb: 'patch-finalizers', kind });
      return this.written(out);
    } catch (err) {
      throw fromKube(err, `update finalizers of ${kind} ${metadata?.name}`);
    }
  }

  /** Deletes the object in the background; a missing object counts as deleted. dryRun: the server checks the delete and keeps the object. */
  async delete(obj: KubernetesObject, opts: ApplyOptions = {}): Promise<void> {
    const { apiVersion = '', kind = '', metadata } = obj;
    try {
      await this.call(
        'DELETE',
        await this.path(apiVersion, kind, metadata?.namespace, metadata?.name),
        {
          // With a DeleteOptions body the server reads dryRun from the body, not from the query.
          body: { propagationPolicy: 'Background', ...(opts.dryRun ? { dryRun: ['All'] } : {}) },
          contentType: 'application/json',
        },
      );
      if (!opts.dryRun) this.metrics?.writes.inc({ verb: 'delete', kind });
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw fromKube(err, `delete ${kind} ${metadata?.name}`);
    }
  }

  /** The REST path of a kind (and optionally one object), resolved by discovery once per group/version. */
  async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let resource = this.resources.get(`${apiVersion}/${kind}`);
    if (!resource) {
      const discovery = await this.call<{
        resources: { name: string; kind: string; namespaced: boolean }[];
      }>('GET', base).catch((err: unknown) => {
        if (statusOf(err) === 404) {
          const hint = apiVersion.startsWith('forestall.io/')
            ? ': are the Forestall CRDs installed? (the Helm chart installs them)'
            : '';
          throw new ForestallError(
            'FST_KUBE_NOT_FOUND',
            `the API server does not serve ${apiVersion}${hint}`,
            { status: 404 },
          );
        }
        throw fromKube(err, `discover ${apiVersion}`);
      });
      for (const r of discovery.resources) {
        if (!r.name.includes('/'))
          this.resources.set(`${apiVersion}/${r.kind}`, {
            plural: r.name,
            namespaced: r.namespaced,
          });
      }
      resource = this.resources.get(`${apiVersion}/${kind}`);
      if (!resource)
        throw new ForestallError(
          'FST_KUBE_NOT_FOUND',
          `the API server does not serve ${kind} in ${apiVersion}`,
          { status: 404 },
        );
    }
    const ns =
      !resource.namespaced || namespace === ALL_NAMESPACES
        ? ''
        : `/namespaces/${encodeURIComponent(namespace || 'default')}`;
    return `${base}${ns}/${resource.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  /** One HTTP call with the kubeconfig's TLS and credentials; JSON in, JSON out. */
  async call<T>(
    method: string,
    path: string,
    opts: { body?: unknown; contentType?: string; query?: Record<string, string> } = {},
  ): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster)
      throw new ForestallError('FST_CONFIG_INVALID', 'the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const reqOpts: RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(reqOpts);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (payload !== undefined) {
      reqOpts.headers = {
        ...reqOpts.headers,
        'content-type': opts.contentType ?? 'application/json',
        'content-length': Buffer.byteLength(payload),
      };
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { ...reqOpts, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch (err) {
              reject(err);
            }
          } else {
            reject(new ApiError(status, text, `${method} ${path}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after 30s`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}
