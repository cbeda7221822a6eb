/**
 * Offline validation of Forestall objects with the same rules the API server applies:
 * the structural schema (precompiled ajv, which also fills in schema defaults) and the
 * CRD's CEL rules (x-kubernetes-validations), evaluated with cel-js. The CLI uses this
 * for YAML files, so `forestall plan` rejects exactly what `kubectl apply` would.
 */
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { ErrorObject } from 'ajv';
import { API_VERSION, KINDS, type KindDefinition, type SchemaNode } from './schema/index.js';
import * as validators from './generated/validators.js';
import type { ExposurePolicy, PreemptiveAction, ThreatFeed } from './generated/types.js';

export type ForestallObject = ThreatFeed | ExposurePolicy | PreemptiveAction;

export interface ValidationIssue {
  /** Field path in kubectl's style, for example spec.source. */
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; object: T } | { ok: false; issues: ValidationIssue[] };

type AjvValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const byKind = new Map<string, { def: KindDefinition; validate: AjvValidator }>(
  KINDS.map((def) => [def.kind, { def, validate: (validators as unknown as Record<string, AjvValidator>)[`validate${def.kind}`]! }]),
);

type CompiledRule = { rule: string; message: string; fieldPath?: string; evaluate: (ctx: Record<string, unknown>) => unknown };
const compiledRules = new WeakMap<SchemaNode, CompiledRule[]>();

function rulesOf(node: SchemaNode): CompiledRule[] {
  let rules = compiledRules.get(node);
  if (!rules) {
    rules = (node['x-kubernetes-validations'] ?? []).map((r) => ({ ...r, evaluate: parseCel(r.rule) as (ctx: Record<string, unknown>) => unknown }));
    compiledRules.set(node, rules);
  }
  return rules;
}

function pointerToPath(pointer: string): string {
  return pointer.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
}

function celIssues(node: SchemaNode, value: unknown, path: string, out: ValidationIssue[]): void {
  if (value === undefined || value === null) return;
  for (const rule of rulesOf(node)) {
    let ok: unknown;
    try {
      ok = rule.evaluate({ self: value });
    } catch (err) {
      out.push({ path, message: `rule ${rule.rule} could not be evaluated: ${(err as Error).message}` });
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

/** Validates one object, filling in schema defaults in place. */
export function validateObject(object: unknown): ValidationResult<ForestallObject> {
  const o = object as { apiVersion?: unknown; kind?: unknown } | null;
  if (!o || typeof o !== 'object') return { ok: false, issues: [{ path: '', message: 'not an object' }] };
  if (o.apiVersion !== API_VERSION) {
    return { ok: false, issues: [{ path: 'apiVersion', message: `expected ${API_VERSION}, got ${JSON.stringify(o.apiVersion)}` }] };
  }
  const entry = byKind.get(String(o.kind));
  if (!entry) {
    return { ok: false, issues: [{ path: 'kind', message: `unknown kind ${JSON.stringify(o.kind)}; expected one of ${[...byKind.keys()].join(', ')}` }] };
  }
  if (!entry.validate(object)) {
    const issues = (entry.validate.errors ?? []).map((e) => ({
      path: pointerToPath(e.instancePath) + (e.keyword === 'required' ? `.${String(e.params.missingProperty)}` : ''),
      message: e.keyword === 'enum' ? `${e.message}: ${(e.params.allowedValues as unknown[]).join(', ')}` : e.message ?? e.keyword,
    }));
    return { ok: false, issues };
  }
  const issues: ValidationIssue[] = [];
  celIssues(entry.def.spec, (object as { spec?: unknown }).spec, 'spec', issues);
  return issues.length ? { ok: false, issues } : { ok: true, object: object as ForestallObject };
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
