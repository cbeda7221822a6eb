/**
 * Static validation of ActionRequest.params against a connector's ParamSpec list (the
 * Falco Talon split: parameters are checked before anything runs, separately from the
 * effect). Unknown keys are errors, so a typo such as `prority` cannot silently fall
 * back to the default; so is a param that belongs to another action type of the same
 * connector (network:networkpolicy's Isolate params on an EgressDeny action). So is a
 * missing param whose spec says `required`.
 */
import type { ParamSpec } from './types.js';
import type { ActionType } from '../../crds/index.js';

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Problems with `params`, as sentences naming the field. Empty when fine. With `type`,
 * only the specs for that action type count (ParamSpec.actions).
 */
export function checkParams(
  params: Record<string, unknown>,
  specs: readonly ParamSpec[],
  type?: ActionType,
): string[] {
  const problems: string[] = [];
  const applicable = specs.filter(
    (s) => type === undefined || s.actions === undefined || s.actions.includes(type),
  );
  const known = new Map(applicable.map((s) => [s.name, s]));
  for (const key of Object.keys(params).sort()) {
    const spec = known.get(key);
    if (!spec) {
      const other = specs.find((s) => s.name === key);
      if (other?.actions && type !== undefined) {
        problems.push(
          `params.${key} is a parameter for ${other.actions.join(', ')} only, not for ${type}`,
        );
        continue;
      }
      const names = applicable.map((s) => s.name);
      const none =
        specs.length > 0 && type !== undefined ? `it takes none for ${type}` : 'it takes none';
      problems.push(
        `params.${key} is not a parameter of this connector (${names.length > 0 ? `known: ${names.join(', ')}` : none})`,
      );
      continue;
    }
    const value = params[key];
    if (value === undefined || value === null) continue;
    problems.push(...checkValue(value, spec, `params.${key}`));
  }
  for (const spec of applicable) {
    if (spec.required === true && (params[spec.name] === undefined || params[spec.name] === null)) {
      problems.push(
        `params.${spec.name} is required${type !== undefined && spec.actions !== undefined ? ` for ${type}` : ''}: ${spec.description}`,
      );
    }
  }
  return problems;
}

function checkValue(value: unknown, spec: ParamSpec, path: string): string[] {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return [`${path} must be a string, not ${describe(value)}`];
      if (spec.enum && !spec.enum.includes(value))
        return [`${path} must be one of ${spec.enum.join(', ')}, not "${value}"`];
      return checkFormat(value, spec, path);
    }
    case 'stringList': {
      if (!Array.isArray(value))
        return [`${path} must be a list of strings, not ${describe(value)}`];
      if (spec.maxItems !== undefined && value.length > spec.maxItems)
        return [`${path} must have at most ${spec.maxItems} items, not ${value.length}`];
      return value.flatMap((item: unknown, i) =>
        typeof item === 'string'
          ? checkFormat(item, spec, `${path}[${i}]`)
          : [`${path}[${i}] must be a string, not ${describe(item)}`],
      );
    }
    case 'boolean':
      return typeof value === 'boolean'
        ? []
        : [`${path} must be true or false, not ${describe(value)}`];
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return [`${path} must be a number, not ${describe(value)}`];
      if (spec.type === 'integer' && !Number.isInteger(value))
        return [`${path} must be a whole number, not ${value}`];
      if (spec.minimum !== undefined && value < spec.minimum)
        return [`${path} must be at least ${spec.minimum}, not ${value}`];
      if (spec.maximum !== undefined && value > spec.maximum)
        return [`${path} must be at most ${spec.maximum}, not ${value}`];
      return [];
    }
  }
}

function checkFormat(value: string, spec: ParamSpec, path: string): string[] {
  if (spec.format === 'namespace' && (value.length > 63 || !NAMESPACE_NAME.test(value))) {
    return [
      `${path} is not a namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters): "${value}"`,
    ];
  }
  return [];
}

function describe(value: unknown): string {
  return typeof value === 'string'
    ? `"${value}"`
    : Array.isArray(value)
      ? 'a list'
      : typeof value === 'object'
        ? 'an object'
        : String(value);
}

/** The value of a validated param, or its default. Call only after checkParams found no problem. */
export function paramValue<T extends string | number | boolean>(
  params: Record<string, unknown>,
  spec: ParamSpec & { default: T },
): T {
  const value = params[spec.name];
  return value === undefined || value === null ? spec.default : (value as T);
}

/** The value of a validated stringList param, or its default, sorted and without duplicates. Call only after checkParams found no problem. */
export function paramList(
  params: Record<string, unknown>,
  spec: ParamSpec & { default: readonly string[] },
): string[] {
  const value = params[spec.name];
  const list = value === undefined || value === null ? spec.default : (value as readonly string[]);
  return [...new Set(list)].sort();
}
