/**
 * Offline validation of Forestall objects with the same rules the API server applies:
 * the structural schema (precompiled ajv, which also fills in schema defaults) and the
 * CRD's CEL rules (x-kubernetes-validations), evaluated with cel-js. The CLI uses this
 * for YAML files, so `forestall plan` rejects exactly what `kubectl apply` would.
 *
 * Unknown fields are errors, as under strict field validation (kubectl's default since
 * 1.27): without it the API server silently prunes them, and a `matchh:` that vanishes
 * leaves a policy matching every indicator. Only the fields the schema marks
 * x-kubernetes-preserve-unknown-fields (action params, which each connector checks
 * against its own parameter list) take any key. metadata is checked against ObjectMeta's
 * top-level fields; what is inside them (labels, ownerReferences) is the API server's.
 */
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { ErrorObject } from 'ajv';
import { API_VERSION, KINDS, type KindDefinition, type SchemaNode } from './schema/index.js';
import * as validators from './generated/validators.js';
import type {
  ExposurePolicy,
  PreemptiveAction,
  ThreatException,
  ThreatFeed,
} from './generated/types.js';

export type ForestallObject = ThreatFeed | ExposurePolicy | PreemptiveAction | ThreatException;

export interface ValidationIssue {
  /** Field path in kubectl's style, for example spec.source. */
  path: string;
  message: string;
}

export type ValidationResult<T> =
  { ok: true; object: T } | { ok: false; issues: ValidationIssue[] };

type AjvValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const byKind = new Map<string, { def: KindDefinition; validate: AjvValidator }>(
  KINDS.map((def) => [
    def.kind,
    {
      def,
      validate: (validators as unknown as Record<string, AjvValidator>)[`validate${def.kind}`]!,
    },
  ]),
);

type CompiledRule = {
  rule: string;
  message: string;
  fieldPath?: string;
  evaluate: (ctx: Record<string, unknown>) => unknown;
};
const compiledRules = new WeakMap<SchemaNode, CompiledRule[]>();

function rulesOf(node: SchemaNode): CompiledRule[] {
  let rules = compiledRules.get(node);
  if (!rules) {
    rules = (node['x-kubernetes-validations'] ?? []).map((r) => ({
      ...r,
      evaluate: parseCel(r.rule) as (ctx: Record<string, unknown>) => unknown,
    }));
    compiledRules.set(node, rules);
  }
  return rules;
}

/** ObjectMeta's fields (k8s.io/apimachinery metav1.ObjectMeta), which strict decoding knows. */
const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

/** Fields of `value` that `node` does not declare, depth first, in kubectl's path style. */
function unknownFields(
  node: SchemaNode,
  value: unknown,
  path: string,
  out: ValidationIssue[],
): void {
  if (value === null || typeof value !== 'object' || node['x-kubernetes-preserve-unknown-fields'])
    return;
  if (Array.isArray(value)) {
    if (node.items)
      value.forEach((item, i) => unknownFields(node.items!, item, `${path}[${i}]`, out));
    return;
  }
  const extra = node.additionalProperties;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const at = path ? `${path}.${key}` : key;
    const declared = node.properties?.[key] ?? (typeof extra === 'object' ? extra : undefined);
    if (declared) unknownFields(declared, child, at, out);
    else if (extra !== true)
      out.push({
        path: at,
        message: 'unknown field (the API server refuses it under strict field validation)',
      });
  }
}

/** Unknown fields of a whole object: its top level, metadata's own fields, spec and status. */
function unknownObjectFields(
  def: KindDefinition,
  object: Record<string, unknown>,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const metadata = object.metadata;
  const metaNode: SchemaNode = { type: 'object', additionalProperties: true };
  unknownFields(
    {
      type: 'object',
      properties: {
        apiVersion: {},
        kind: {},
        metadata: metaNode,
        spec: def.spec,
        status: def.status,
      },
    },
    object,
    '',
    out,
  );
  if (metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)) {
    for (const key of Object.keys(metadata)) {
      if (!OBJECT_META_FIELDS.has(key))
        out.push({ path: `metadata.${key}`, message: 'unknown field (not a field of ObjectMeta)' });
    }
  }
  return out;
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

function celIssues(node: SchemaNode, value: unknown, path: string, out: ValidationIssue[]): void {
  if (value === undefined || value === null) return;
  for (const rule of rulesOf(node)) {
    let ok: unknown;
    try {
      ok = rule.evaluate({ self: value });
    } catch (err) {
      out.push({
        path,
        message: `rule ${rule.rule} could not be evaluated: ${(err as Error).message}`,
      });
      continue;
    }
    if (ok !== true) out.push({ path: path + (rule.fieldPath ?? ''), message: rule.message });
  }
  if (node.properties && typeof value === 'object') {
    for (const [key, child] of Object.entries(node.properties)) {
      celIssues(child, (value as Record<string, unknown>)[key], `${path}.${key}`, out);
    }
  }
  if (node.items && Array.isArray(value)) {
    value.forEach((item, i) => celIssues(node.items!, item, `${path}[${i}]`, out));
  }
}

/**
 * A deep copy of `object` with the schema's defaults filled in, as the API server stores
 * it, so that what a controller wants can be compared with what it reads back (a
 * defaulted field would otherwise differ on every comparison). Validity is not checked.
 */
export function withSchemaDefaults<T extends ForestallObject>(object: T): T {
  const copy = structuredClone(object);
  byKind.get(copy.kind)?.validate(copy);
  return copy;
}

/** Validates one object, filling in schema defaults in place. */
export function validateObject(object: unknown): ValidationResult<ForestallObject> {
  const o = object as { apiVersion?: unknown; kind?: unknown } | null;
  if (!o || typeof o !== 'object')
    return { ok: false, issues: [{ path: '', message: 'not an object' }] };
  if (o.apiVersion !== API_VERSION) {
    return {
      ok: false,
      issues: [
        {
          path: 'apiVersion',
          message: `expected ${API_VERSION}, got ${JSON.stringify(o.apiVersion)}`,
        },
      ],
    };
  }
  const entry = byKind.get(String(o.kind));
  if (!entry) {
    return {
      ok: false,
      issues: [
        {
          path: 'kind',
          message: `unknown kind ${JSON.stringify(o.kind)}; expected one of ${[...byKind.keys()].join(', ')}`,
        },
      ],
    };
  }
  const unknown = unknownObjectFields(entry.def, object as Record<string, unknown>);
  if (!entry.validate(object)) {
    const issues = (entry.validate.errors ?? []).map((e) => ({
      path:
        pointerToPath(e.instancePath) +
        (e.keyword === 'required' ? `.${String(e.params.missingProperty)}` : ''),
      message:
        e.keyword === 'enum'
          ? `${e.message}: ${(e.params.allowedValues as unknown[]).join(', ')}`
          : (e.message ?? e.keyword),
    }));
    return { ok: false, issues: [...unknown, ...issues] };
  }
  const issues: ValidationIssue[] = [...unknown];
  celIssues(entry.def.spec, (object as { spec?: unknown }).spec, 'spec', issues);
  return issues.length ? { ok: false, issues } : { ok: true, object: object as ForestallObject };
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
