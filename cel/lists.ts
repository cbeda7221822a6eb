import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { CelCidr, CelIp } from './net.js';

/**
 * List helpers beyond CEL's macros (all, exists, exists_one, filter, map, which cel-js
 * has natively): the Kubernetes list library and the most useful part of cel-go's
 * lists extension.
 *
 *   l.isSorted()  l.sum()  l.min()  l.max()  l.indexOf(x)  l.lastIndexOf(x)
 *   l.sort()  l.distinct()  l.reverse()  l.slice(start, end)
 *
 * Ordering works on ints, doubles (and the two mixed), strings, bools, timestamps and
 * durations; anything else is a runtime error. sum() is defined for list<int> and
 * list<double>; an empty list sums to 0.
 */

const sync = { async: false } as const;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

function items(list: readonly unknown[] | ReadonlySet<unknown>): readonly unknown[] {
  return Array.isArray(list) ? list : [...list];
}

function notComparable(a: unknown, b: unknown): EvaluationError {
  return new EvaluationError({
    code: 'not_comparable',
    message: `cannot order ${describe(a)} and ${describe(b)}`,
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** A number (or bigint) to order objects by: timestamps by time, durations and uints by value. */
function orderKey(v: object): number | bigint | undefined {
  if (v instanceof Date) return v.getTime();
  const key: unknown = v.valueOf();
  return typeof key === 'number' || typeof key === 'bigint' ? key : undefined;
}

export function compareValues(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'bigint' || ta === 'number') && (tb === 'bigint' || tb === 'number')) {
    // JavaScript orders a bigint against a number exactly.
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if ((ta === 'string' && tb === 'string') || (ta === 'boolean' && tb === 'boolean')) {
    return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  }
  if (
    ta === 'object' &&
    tb === 'object' &&
    a !== null &&
    b !== null &&
    (a as object).constructor === (b as object).constructor
  ) {
    const ka = orderKey(a as object);
    const kb = orderKey(b as object);
    if (ka !== undefined && kb !== undefined) return ka < kb ? -1 : ka > kb ? 1 : 0;
  }
  throw notComparable(a, b);
}

/** CEL equality for the values a policy list holds. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  // CEL compares ints and doubles by value; == between a bigint and a number does exactly that.
  if ((ta === 'bigint' && tb === 'number') || (ta === 'number' && tb === 'bigint')) return a == b;
  if (ta !== 'object' || tb !== 'object' || a === null || b === null) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof CelIp && b instanceof CelIp) return a.equals(b);
  if (a instanceof CelCidr && b instanceof CelCidr) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  return false;
}

function sumInts(list: readonly bigint[]): bigint {
  let total = 0n;
  for (const v of items(list) as bigint[]) total += v;
  if (total > INT64_MAX || total < INT64_MIN)
    throw new EvaluationError({ code: 'numeric_overflow', message: 'sum(): integer overflow' });
  return total;
}

function sumDoubles(list: readonly number[]): number {
  let total = 0;
  for (const v of items(list) as number[]) total += v;
  return total;
}

function extreme(list: readonly unknown[], sign: 1 | -1, name: string): unknown {
  const all = items(list);
  if (all.length === 0)
    throw new EvaluationError({ code: 'empty_list', message: `${name}(): the list is empty` });
  let best = all[0];
  for (let i = 1; i < all.length; i++) if (compareValues(all[i], best) * sign > 0) best = all[i];
  return best;
}

function isSorted(list: readonly unknown[]): boolean {
  const all = items(list);
  for (let i = 1; i < all.length; i++) if (compareValues(all[i - 1], all[i]) > 0) return false;
  return true;
}

function indexOf(list: readonly unknown[], value: unknown): bigint {
  const all = items(list);
  for (let i = 0; i < all.length; i++) if (celEquals(all[i], value)) return BigInt(i);
  return -1n;
}

function lastIndexOf(list: readonly unknown[], value: unknown): bigint {
  const all = items(list);
  for (let i = all.length - 1; i >= 0; i--) if (celEquals(all[i], value)) return BigInt(i);
  return -1n;
}

/** A string that is equal for CEL-equal objects (timestamps, durations, IPs), or undefined for lists and maps. */
function objectKey(v: object): string | undefined {
  if (v instanceof Date) return `timestamp:${v.getTime()}`;
  if (v instanceof CelIp || v instanceof CelCidr) return `${v.constructor.name}:${v.toString()}`;
  if (
    Array.isArray(v) ||
    v instanceof Map ||
    v.constructor === Object ||
    v.constructor === undefined
  )
    return undefined;
  return `${v.constructor.name}:${String(v.valueOf())}`;
}

/** Keeps the first of equal elements; linear except for lists of lists or maps, which compare pairwise. */
function distinct(list: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const primitives = new Set<unknown>();
  const objects = new Set<string>();
  for (const v of items(list)) {
    if (typeof v !== 'object' || v === null) {
      // 1 and 1.0 are equal in CEL: integral doubles dedupe with ints.
      const key = typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v;
      if (primitives.has(key)) continue;
      primitives.add(key);
    } else {
      const key = objectKey(v);
      if (key === undefined ? out.some((o) => celEquals(o, v)) : objects.has(key)) continue;
      if (key !== undefined) objects.add(key);
    }
    out.push(v);
  }
  return out;
}

function slice(list: readonly unknown[], start: bigint, end: bigint): unknown[] {
  const all = items(list);
  if (start < 0n || end < start || end > BigInt(all.length)) {
    throw new EvaluationError({
      code: 'index_out_of_range',
      message: 'slice(): range out of bounds',
    });
  }
  return all.slice(Number(start), Number(end));
}

export function listsLibrary(env: Environment): Environment {
  return env
    .registerFunction('list<T>.isSorted(): bool', isSorted, sync)
    .registerFunction('list<int>.sum(): int', sumInts, sync)
    .registerFunction('list<double>.sum(): double', sumDoubles, sync)
    .registerFunction('list<T>.min(): T', (l: unknown[]) => extreme(l, -1, 'min'), sync)
    .registerFunction('list<T>.max(): T', (l: unknown[]) => extreme(l, 1, 'max'), sync)
    .registerFunction('list<T>.indexOf(T): int', indexOf, sync)
    .registerFunction('list<T>.lastIndexOf(T): int', lastIndexOf, sync)
    .registerFunction(
      'list<T>.sort(): list<T>',
      (l: unknown[]) => [...items(l)].sort(compareValues),
      sync,
    )
    .registerFunction('list<T>.distinct(): list<T>', distinct, sync)
    .registerFunction('list<T>.reverse(): list<T>', (l: unknown[]) => [...items(l)].reverse(), sync)
    .registerFunction('list<T>.slice(int, int): list<T>', slice, sync);
}
