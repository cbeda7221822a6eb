/**
 * The Connector for every enforcement point that is made of Kubernetes objects: a
 * Renderer says what the objects should be, a ClusterAccess reads and writes them.
 *
 * plan   renders, lists the live objects of the renderer's kinds that carry the action's
 *        label, and compares: a rendered object that is missing is a create, one that
 *        differs is an update, a labelled object no longer rendered is a delete.
 * apply  makes exactly the plan's writes, by server-side apply (field manager
 *        `forestall`) and delete, so an unchanged render writes nothing; with dryRun the
 *        same requests go to the server as dry runs, which validate and write nothing.
 * remove deletes every labelled object of the renderer's kinds.
 *
 * "Differs" means: the render hash annotation changed (the render itself changed, which
 * also catches a field that was dropped), or a field Forestall renders has a different
 * value on the live object (someone edited it). Fields the server or other managers add
 * (status, managedFields, defaults, extra labels) are ignored.
 *
 * Order: writes go kind by kind in the renderer's order (CIDR groups before the policy
 * that refers to them), deletes in the reverse order (the policy before its groups), so a
 * policy never refers to a group that is gone, and a shrinking list prunes shards only
 * after the policy stopped using them.
 */
import { ConnectorError } from './errors.js';
import { actionSelector, invalidRequest, refKey, refOf } from './render.js';
import {
  ANNOTATION_RENDER_HASH,
  type ApplyOptions,
  type ApplyOutcome,
  type Change,
  type ClusterAccess,
  type Connector,
  type Manifest,
  type Renderer,
} from './types.js';
import type { ActionRequest, ObjectRef } from '../../crds/index.js';

/** Writes in flight at once within one kind: enough to hide latency for hundreds of namespaces, few enough not to flood the API server. */
const WRITE_CONCURRENCY = 4;

interface Diff {
  desired: Manifest[];
  changes: Change[];
}

export class ManifestConnector implements Connector {
  readonly id: string;
  readonly layer: Renderer['layer'];
  readonly supports: Renderer['supports'];

  constructor(
    readonly renderer: Renderer,
    private readonly access: ClusterAccess,
  ) {
    this.id = renderer.id;
    this.layer = renderer.layer;
    this.supports = renderer.supports;
  }

  validate(request: ActionRequest): string[] {
    return this.renderer.validate(request);
  }

  async plan(request: ActionRequest): Promise<Change[]> {
    return (await this.diff(request)).changes;
  }

  async apply(request: ActionRequest, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const { desired, changes } = await this.diff(request);
    const dryRun = options.dryRun === true;
    const byKey = new Map(desired.map((m) => [refKey(refOf(m)), m]));
    const writes = changes.filter((c) => c.op !== 'delete').map((c) => byKey.get(refKey(c.ref))!);
    for (const { apiVersion, kind } of this.renderer.kinds) {
      await inParallel(
        writes.filter((m) => m.apiVersion === apiVersion && m.kind === kind),
        (m) => this.access.apply(m, { dryRun }),
      );
    }
    await this.deleteInOrder(
      changes.filter((c) => c.op === 'delete').map((c) => c.ref),
      dryRun,
    );
    return { changes, objects: desired.map(refOf) };
  }

  async remove(actionName: string, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    // A kind that is not served has no objects left to delete: skipping it lets cleanup
    // (a finalizer) finish after the enforcement point was uninstalled.
    const served = await this.servedKinds();
    const live = await this.live(actionName, served);
    const refs = live.map(refOf);
    await this.deleteInOrder(refs, options.dryRun === true);
    return { changes: refs.map((ref) => ({ op: 'delete', ref })), objects: [] };
  }

  private async diff(request: ActionRequest): Promise<Diff> {
    const problems = this.renderer.validate(request);
    if (problems.length > 0) throw invalidRequest(this.id, request.name, problems);
    const served = await this.servedKinds();
    const missing = this.renderer.kinds.filter((_, i) => !served[i]);
    if (missing.length > 0) {
      const kinds = missing.map((k) => `${k.kind} (${k.apiVersion})`).join(', ');
      throw new ConnectorError(
        'FST_CONNECTOR_KIND_NOT_SERVED',
        `${this.id} cannot enforce action ${request.name}: the API server does not serve ${kinds}; the CustomResourceDefinition is missing. ` +
          'Install the enforcement point (its CRDs) or choose another connector.',
      );
    }
    const desired = this.renderer.render(request);
    const live = new Map((await this.live(request.name, served)).map((m) => [refKey(refOf(m)), m]));
    const changes: Change[] = [];
    for (const manifest of desired) {
      const ref = refOf(manifest);
      const key = refKey(ref);
      // Not found by label: it may still exist without it (made by hand, or labels edited away).
      const current = live.get(key) ?? (await this.access.get(ref));
      live.delete(key);
      if (current === undefined) changes.push({ op: 'create', ref });
      else if (!inSync(manifest, current)) changes.push({ op: 'update', ref });
    }
    for (const stale of live.values()) changes.push({ op: 'delete', ref: refOf(stale) });
    return { desired, changes };
  }

  private async servedKinds(): Promise<boolean[]> {
    return Promise.all(this.renderer.kinds.map((k) => this.access.served(k.apiVersion, k.kind)));
  }

  /** Live objects of the renderer's (served) kinds labelled with the action, in the renderer's kind order. */
  private async live(actionName: string, served: readonly boolean[]): Promise<Manifest[]> {
    const selector = actionSelector(actionName);
    const lists = await Promise.all(
      this.renderer.kinds.map((k, i) =>
        served[i] ? this.access.list(k.apiVersion, k.kind, selector) : Promise.resolve([]),
      ),
    );
    return lists
      .flat()
      .sort(
        (a, b) =>
          kindIndex(this.renderer, a) - kindIndex(this.renderer, b) ||
          refKey(refOf(a)).localeCompare(refKey(refOf(b))),
      );
  }

  private async deleteInOrder(refs: readonly ObjectRef[], dryRun: boolean): Promise<void> {
    for (const { apiVersion, kind } of [...this.renderer.kinds].reverse()) {
      await inParallel(
        refs.filter((r) => r.apiVersion === apiVersion && r.kind === kind),
        (ref) => this.access.delete(ref, { dryRun }),
      );
    }
  }
}

function kindIndex(renderer: Renderer, manifest: Manifest): number {
  return renderer.kinds.findIndex(
    (k) => k.apiVersion === manifest.apiVersion && k.kind === manifest.kind,
  );
}

/**
 * Whether the live object already is what was rendered: the same render hash, and every
 * label, annotation and body field Forestall renders has the rendered value.
 */
export function inSync(desired: Manifest, live: Manifest): boolean {
  const hash = desired.metadata.annotations?.[ANNOTATION_RENDER_HASH];
  if (hash !== undefined && live.metadata.annotations?.[ANNOTATION_RENDER_HASH] !== hash)
    return false;
  if (!contains(live.metadata.labels ?? {}, desired.metadata.labels ?? {})) return false;
  if (!contains(live.metadata.annotations ?? {}, desired.metadata.annotations ?? {})) return false;
  for (const [key, value] of Object.entries(desired)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
    if (!contains(live[key], value)) return false;
  }
  return true;
}

/**
 * Whether `actual` holds everything in `expected`: equal scalars, objects with at least
 * the expected keys (extra keys are someone else's), arrays of the same length whose
 * items contain the expected items in order.
 */
export function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, i) => contains(actual[i], item))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) =>
      contains((actual as Record<string, unknown>)[k], v),
    );
  }
  return actual === expected;
}

async function inParallel<T>(
  items: readonly T[],
  run: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
}
