/**
 * Reading fields of Kubernetes objects that arrive as `unknown`: from informers (the
 * API server validated them) and from the YAML of `forestall plan --cluster` (nobody
 * did). Every reader returns a safe empty value for a missing or mistyped field, so one
 * malformed object never stops the inventory from being built.
 */

export type Fields = Readonly<Record<string, unknown>>;

const EMPTY: Fields = Object.freeze({});

/** The object at `value`, or an empty one. */
export function fields(value: unknown): Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Fields)
    : EMPTY;
}

/** The list at `value`, or an empty one. */
export function items(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The string at `value`, or undefined (numbers and booleans are not strings). */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A string-to-string map such as labels, annotations or a Service selector; other entries are dropped. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

/** apiVersion, kind, metadata.{name, namespace, labels, annotations, ownerReferences} of any object. */
export interface ObjectHeader {
  apiVersion: string;
  kind: string;
  name: string;
  /** '' for cluster-scoped objects and objects that leave it out. */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owners: readonly { kind: string; name: string; controller: boolean }[];
}

export function header(object: unknown): ObjectHeader {
  const o = fields(object);
  const metadata = fields(o.metadata);
  return {
    apiVersion: text(o.apiVersion) ?? '',
    kind: text(o.kind) ?? '',
    name: text(metadata.name) ?? '',
    namespace: text(metadata.namespace) ?? '',
    labels: stringMap(metadata.labels),
    annotations: stringMap(metadata.annotations),
    owners: items(metadata.ownerReferences).map((r) => {
      const ref = fields(r);
      return {
        kind: text(ref.kind) ?? '',
        name: text(ref.name) ?? '',
        controller: ref.controller === true,
      };
    }),
  };
}

/** The API group of an apiVersion: '' for the core group ("v1"). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Every pair of `selector` is in `labels`. An empty selector is a subset of anything. */
export function isSubset(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Code-point order, so output never depends on the locale it runs in. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
