/**
 * The one renderer behind every Kubernetes-object connector: a connector describes its
 * objects as drafts, and this file turns them into manifests through cdk8s (an App with
 * one Chart of ApiObjects), with the labels and annotations every Forestall object
 * carries. The same manifests go to direct apply (ManifestConnector), to `forestall plan
 * --out` and to Git delivery (writeKustomization).
 *
 * What cdk8s is allowed to do here, and what it is not: names are always set explicitly
 * (cdk8s would otherwise generate one with a hash suffix), no chart-level namespace or
 * label is used, construct metadata is not recorded, and nothing is written to disk by
 * cdk8s itself. Its output keeps every empty object and array in the body (an empty
 * `podSelector: {}` means "all pods" and must survive), sorts keys, and drops only
 * null/undefined; metadata loses empty maps. The result is deterministic for the same
 * drafts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, App, Chart } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { ConnectorError } from './errors.js';
import {
  ANNOTATION_EXPIRES_AT,
  ANNOTATION_RENDER_HASH,
  type Manifest,
  type Renderer,
} from './types.js';
import {
  type ActionRequest,
  LABEL_ACTION,
  LABEL_MANAGED_BY,
  LABEL_POLICY,
  MANAGED_BY,
  type ObjectRef,
} from '../../crds/index.js';

/**
 * The size budget of one rendered object, as compact JSON. etcd refuses requests over
 * 1.5 MiB and the API server's own guidance is to keep objects under 1 MiB; 900 KiB leaves
 * room for what the server adds (managedFields, status) and for the YAML or
 * pretty-printed JSON a client may send instead.
 */
export const MAX_OBJECT_BYTES = 900 * 1024;

/** Options of the renderer factories; tests use a small budget to exercise sharding. */
export interface RendererLimits {
  /** Size budget of one object as compact JSON; defaults to MAX_OBJECT_BYTES. */
  maxObjectBytes?: number;
}

/** Throws if a rendered object is over the budget: a renderer bug, never an input problem. */
export function assertWithinBudget(manifest: Manifest, maxObjectBytes: number): void {
  const bytes = manifestBytes(manifest);
  if (bytes > maxObjectBytes)
    throw new Error(
      `rendered ${manifest.kind} ${manifest.metadata.name} is ${bytes} bytes, over the budget of ${maxObjectBytes}`,
    );
}

/** A Kubernetes object before the common metadata is added. */
export interface ObjectDraft {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  /** Labels beyond the common ones (which win on a clash). */
  labels?: Record<string, string>;
  /** Annotations beyond the common ones (which win on a clash); part of the render hash. */
  annotations?: Record<string, string>;
  /** Every top-level field other than apiVersion, kind and metadata: spec, data, ... */
  body: Record<string, unknown>;
}

const LABEL_VALUE_MAX = 63;
const DNS_SUBDOMAIN_MAX = 253;

/** The first `length` hex digits of sha256(text). */
export function shortHash(text: string, length = 10): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * A label value for a name that may be longer than the 63 characters a label value
 * allows (PreemptiveAction names may have up to 253): long names keep a readable prefix
 * and end in a hash of the whole name, so the value stays unique and stable. Every
 * lookup by label must go through this function, or long names would never be found.
 */
export function labelValue(name: string): string {
  if (name.length <= LABEL_VALUE_MAX) return name;
  const hash = shortHash(name);
  const prefix = trimToAlphanumeric(name.slice(0, LABEL_VALUE_MAX - hash.length - 1));
  return prefix ? `${prefix}-${hash}` : hash;
}

/**
 * A valid object name (DNS-1123 subdomain, at most `max` characters) made of `base` and an
 * optional suffix. When too long, `base` is cut and a hash of the untruncated name is
 * added before the suffix, so distinct long names stay distinct and the suffix (a shard
 * index) stays visible.
 */
export function objectName(base: string, suffix?: string, max = DNS_SUBDOMAIN_MAX): string {
  const tail = suffix === undefined ? '' : `-${suffix}`;
  const full = `${base}${tail}`;
  if (full.length <= max) return full;
  const hash = shortHash(full);
  const room = max - tail.length - hash.length - 1;
  const prefix = trimToAlphanumeric(base.slice(0, Math.max(0, room)));
  return `${prefix ? `${prefix}-` : ''}${hash}${tail}`;
}

function trimToAlphanumeric(text: string): string {
  return text.replace(/[^a-z0-9]+$/i, '').replace(/^[^a-z0-9]+/i, '');
}

/** The labels every object rendered for `request` carries. */
export function commonLabels(
  request: Pick<ActionRequest, 'name' | 'policy'>,
): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_ACTION]: labelValue(request.name),
    ...(request.policy ? { [LABEL_POLICY]: labelValue(request.policy) } : {}),
  };
}

/** The label selector that finds every object rendered for an action. */
export function actionSelector(actionName: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_ACTION}=${labelValue(actionName)}`;
}

/**
 * Turns drafts into manifests through cdk8s, adding the common labels and annotations
 * and the render hash. Throws when two drafts name the same object.
 */
export function synthesize(request: ActionRequest, drafts: readonly ObjectDraft[]): Manifest[] {
  // outdir and recordConstructMetadata are passed so that no environment variable can
  // change what is produced; nothing is synthesized to disk.
  const app = new App({ outdir: '.', recordConstructMetadata: false });
  const chart = new Chart(app, 'forestall');
  const seen = new Set<string>();
  drafts.forEach((draft, index) => {
    const key = refKey({
      apiVersion: draft.apiVersion,
      kind: draft.kind,
      namespace: draft.namespace,
      name: draft.name,
    });
    if (seen.has(key)) throw new Error(`two rendered objects are both ${key}`);
    seen.add(key);
    const labels = { ...draft.labels, ...commonLabels(request) };
    const annotations: Record<string, string> = {
      ...draft.annotations,
      ...(request.expiresAt ? { [ANNOTATION_EXPIRES_AT]: request.expiresAt } : {}),
    };
    annotations[ANNOTATION_RENDER_HASH] = shortHash(
      canonicalJson({
        apiVersion: draft.apiVersion,
        kind: draft.kind,
        name: draft.name,
        namespace: draft.namespace ?? null,
        labels,
        annotations,
        body: draft.body,
      }),
      16,
    );
    new ApiObject(chart, `object-${index}`, {
      apiVersion: draft.apiVersion,
      kind: draft.kind,
      metadata: {
        name: draft.name,
        ...(draft.namespace ? { namespace: draft.namespace } : {}),
        labels,
        annotations,
      },
      ...draft.body,
    });
  });
  return chart.toJson() as Manifest[];
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** Bytes of the object as compact JSON: what the size budget is measured in. */
export function manifestBytes(manifest: unknown): number {
  return Buffer.byteLength(JSON.stringify(manifest), 'utf8');
}

export function refOf(manifest: Manifest): ObjectRef {
  const { apiVersion, kind, metadata } = manifest;
  return metadata.namespace
    ? { apiVersion, kind, namespace: metadata.namespace, name: metadata.name }
    : { apiVersion, kind, name: metadata.name };
}

/** A string that identifies one object: apiVersion, kind, namespace and name. */
export function refKey(ref: ObjectRef): string {
  return `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ''}|${ref.name}`;
}

/** Renders the request, refusing it (FST_CONNECTOR_INVALID_REQUEST) when the renderer's validation fails. */
export function renderValidated(renderer: Renderer, request: ActionRequest): Manifest[] {
  const problems = renderer.validate(request);
  if (problems.length > 0) throw invalidRequest(renderer.id, request.name, problems);
  return renderer.render(request);
}

export function invalidRequest(
  connectorId: string,
  actionName: string,
  problems: readonly string[],
): ConnectorError {
  return new ConnectorError(
    'FST_CONNECTOR_INVALID_REQUEST',
    `${connectorId} cannot enforce action ${actionName}: ${problems.join('; ')}`,
  );
}

/**
 * The manifests for many actions at once (the CLI's plan, one Git commit). Each action
 * is validated and rendered by its own renderer; two actions rendering the same object
 * is an error, since applying both would make them fight over it.
 */
export function renderActions(
  items: readonly { renderer: Renderer; request: ActionRequest }[],
): Manifest[] {
  const out: Manifest[] = [];
  const owner = new Map<string, string>();
  for (const { renderer, request } of items) {
    for (const manifest of renderValidated(renderer, request)) {
      const key = refKey(refOf(manifest));
      const previous = owner.get(key);
      if (previous !== undefined) {
        throw new Error(
          `actions ${previous} and ${request.name} both render ${manifest.kind} ${manifest.metadata.namespace ? `${manifest.metadata.namespace}/` : ''}${manifest.metadata.name}`,
        );
      }
      owner.set(key, request.name);
      out.push(manifest);
    }
  }
  return out;
}

export const KUSTOMIZATION_FILE = 'kustomization.yaml';

/** The file a manifest is written to: kind.group_namespace_name.yaml, like kubectl's kind.group notation. */
export function manifestFileName(manifest: Manifest): string {
  const group = manifest.apiVersion.includes('/')
    ? manifest.apiVersion.slice(0, manifest.apiVersion.indexOf('/'))
    : 'core';
  const kind = `${manifest.kind.toLowerCase()}.${group}`;
  const name = `${kind}_${manifest.metadata.namespace ? `${manifest.metadata.namespace}_` : ''}${manifest.metadata.name}.yaml`;
  // Most file systems stop at 255 bytes; object names alone may have 253.
  return name.length <= 200 ? name : `${kind}_${shortHash(name, 20)}.yaml`;
}

export interface WriteResult {
  /** Every manifest file now listed in the kustomization, sorted. */
  files: string[];
  /** Files listed by the previous kustomization that were removed. */
  removed: string[];
}

/**
 * Writes the manifests into `dir` as a kustomization that `kubectl kustomize dir` (and
 * so Argo CD and Flux) build: one YAML file per object and a kustomization.yaml listing
 * them as resources. Files the previous kustomization.yaml in `dir` listed and that are
 * no longer rendered are removed; nothing else in `dir` is touched. Files whose content
 * is unchanged are not rewritten, so a Git working tree sees only real changes.
 */
export function writeKustomization(
  dir: string,
  manifests: readonly Manifest[],
  options: WriteOptions = {},
): WriteResult {
  mkdirSync(dir, { recursive: true });
  const contents = new Map<string, string>();
  for (const manifest of manifests) {
    const file = manifestFileName(manifest);
    if (contents.has(file)) throw new Error(`two manifests would both be written to ${file}`);
    const existing = options.keepExpiry ? readManifest(join(dir, file)) : undefined;
    // No line folding and no YAML anchors: the files are read by people in pull requests.
    contents.set(
      file,
      existing && sameButExpiry(existing.manifest, manifest)
        ? existing.text
        : stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false }),
    );
  }
  const files = [...contents.keys()].sort();
  const previous = listedResources(join(dir, KUSTOMIZATION_FILE));
  const removed: string[] = [];
  for (const file of previous) {
    if (contents.has(file) || file.includes('/') || !file.endsWith('.yaml')) continue;
    const path = join(dir, file);
    if (existsSync(path)) {
      rmSync(path);
      removed.push(file);
    }
  }
  for (const [file, text] of contents) writeIfChanged(join(dir, file), text);
  writeIfChanged(
    join(dir, KUSTOMIZATION_FILE),
    stringify(
      { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: files },
      { lineWidth: 0 },
    ),
  );
  return { files, removed: removed.sort() };
}

export interface WriteOptions {
  /**
   * Leave a file as it is when the new render differs from it only in its expiry (and
   * the render hash, which covers the expiry): `forestall plan --out` computes expiries
   * from the time it runs, and a second run over the same inputs must change no file.
   * Git delivery does not set it: there the expiry comes from the action and is news.
   */
  keepExpiry?: boolean;
}

/** The manifest in a file written before, with its text; undefined when there is none or it cannot be read. */
function readManifest(path: string): { text: string; manifest: Manifest } | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const text = readFileSync(path, 'utf8');
    return { text, manifest: parse(text) as Manifest };
  } catch {
    return undefined;
  }
}

/** Whether two renders are the same object apart from the expiry annotation and the render hash. */
function sameButExpiry(a: Manifest, b: Manifest): boolean {
  const strip = (m: Manifest) => {
    const annotations = { ...m.metadata?.annotations };
    delete annotations[ANNOTATION_EXPIRES_AT];
    delete annotations[ANNOTATION_RENDER_HASH];
    return canonicalJson({ ...m, metadata: { ...m.metadata, annotations } });
  };
  return strip(a) === strip(b);
}

function listedResources(path: string): string[] {
  if (!existsSync(path)) return [];
  const doc = parse(readFileSync(path, 'utf8')) as { resources?: unknown } | null;
  return Array.isArray(doc?.resources)
    ? doc.resources.filter((r): r is string => typeof r === 'string')
    : [];
}

function writeIfChanged(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  writeFileSync(path, text);
}
