/**
 * Static validation of ActionRequest.params against a connector's ParamSpec list (the
 * Falco Talon split: parameters are checked before anything runs, separately from the
 * effect). Unknown keys are errors, so a typo such as `prority` cannot silently fall
 * back to the default.
 */
import type { ParamSpec } from './types.js';

/** Problems with `params`, as sentences naming the field. Empty when fine. */
export function checkParams(params: Record<string, unknown>, specs: readonly ParamSpec[]): string[] {
  const problems: string[] = [];
  const known = new Map(specs.map((s) => [s.name, s]));
  for (const key of Object.keys(params).sort()) {
    const spec = known.get(key);
    if (!spec) {
      const names = specs.map((s) => s.name);
      problems.push(`params.${key} is not a parameter of this connector (${names.length > 0 ? `known: ${names.join(', ')}` : 'it takes none'})`);
      continue;
    }
    const value = params[key];
    if (value === undefined || value === null) continue;
    const problem = checkValue(value, spec);
    if (problem) problems.push(`params.${key} ${problem}`);
  }
  return problems;
}

function checkValue(value: unknown, spec: ParamSpec): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `must be a string, not ${describe(value)}`;
      if (spec.enum && !spec.enum.includes(value)) return `must be one of ${spec.enum.join(', ')}, not "${value}"`;
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false, not ${describe(value)}`;
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number, not ${describe(value)}`;
      if (spec.type === 'integer' && !Number.isInteger(value)) return `must be a whole number, not ${value}`;
      if (spec.minimum !== undefined && value < spec.minimum) return `must be at least ${spec.minimum}, not ${value}`;
      if (spec.maximum !== undefined && value > spec.maximum) return `must be at most ${spec.maximum}, not ${value}`;
      return undefined;
    }
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : String(value);
}

/** The value of a validated param, or its default. Call only after checkParams found no problem. */
export function paramValue<T extends string | number | boolean>(params: Record<string, unknown>, spec: ParamSpec & { default: T }): T {
  const value = params[spec.name];
  return value === undefined || value === null ? spec.default : (value as T);
}
