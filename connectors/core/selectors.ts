import type { LabelSelector } from '../../crds/index.js';
/**
 * Label selectors from ActionRequest.scope, checked before they are copied into objects
 * or translated into another policy language (Calico's selector expressions, Cilium's
 * endpoint labels). The checks follow Kubernetes' own rules for label keys and values,
 * which also guarantees that a translated expression cannot be broken out of with a
 * quote or a bracket.
 */

export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (
    prefix !== undefined &&
    (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))
  )
    return false;
  return name.length > 0 && name.length <= 63 && NAME_PART.test(name);
}

export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && NAME_PART.test(value));
}

/** Problems with a selector, each naming `path`. */
export function checkSelector(selector: LabelSelector | undefined, path: string): string[] {
  if (selector === undefined) return [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!isLabelKey(key)) problems.push(`${path}.matchLabels has an invalid label key "${key}"`);
    if (value !== undefined && !isLabelValue(value))
      problems.push(`${path}.matchLabels["${key}"] is not a valid label value: "${value}"`);
  }
  (selector.matchExpressions ?? []).forEach((expression, i) => {
    const at = `${path}.matchExpressions[${i}]`;
    if (!isLabelKey(expression.key))
      problems.push(`${at}.key is not a valid label key: "${expression.key}"`);
    const values = expression.values ?? [];
    if (expression.operator === 'In' || expression.operator === 'NotIn') {
      if (values.length === 0)
        problems.push(`${at}.values must not be empty for operator ${expression.operator}`);
    } else if (values.length > 0) {
      problems.push(`${at}.values must be empty for operator ${expression.operator}`);
    }
    values.forEach((value, j) => {
      if (!isLabelValue(value))
        problems.push(`${at}.values[${j}] is not a valid label value: "${value}"`);
    });
  });
  return problems;
}

/** The selector as a list of requirements (matchLabels first, sorted by key, then the expressions in order). */
export function requirements(selector: LabelSelector | undefined): Requirement[] {
  if (selector === undefined) return [];
  const out: Requirement[] = [];
  for (const key of Object.keys(selector.matchLabels ?? {}).sort()) {
    const value = selector.matchLabels?.[key];
    if (value !== undefined) out.push({ key, operator: 'In', values: [value] });
  }
  for (const expression of selector.matchExpressions ?? []) {
    out.push({
      key: expression.key,
      operator: expression.operator,
      values: [...(expression.values ?? [])],
    });
  }
  return out;
}

/** A plain copy of the selector with undefined entries dropped; `{}` (everything) when absent or empty. */
export function plainSelector(selector: LabelSelector | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const labels = Object.entries(selector?.matchLabels ?? {}).filter(
    (e): e is [string, string] => e[1] !== undefined,
  );
  if (labels.length > 0) out.matchLabels = Object.fromEntries(labels);
  const expressions = (selector?.matchExpressions ?? []).map((e) => ({
    key: e.key,
    operator: e.operator,
    ...(e.values && e.values.length > 0 ? { values: [...e.values] } : {}),
  }));
  if (expressions.length > 0) out.matchExpressions = expressions;
  return out;
}
