import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { compiledRegex } from './regex.js';

/**
 * String helpers Kubernetes offers (cel-go's strings extension and the Kubernetes regex
 * library) that cel-js lacks. cel-js already has contains, startsWith, endsWith,
 * matches, size, lowerAscii, upperAscii, trim, indexOf, lastIndexOf, substring, split
 * and join; this adds:
 *
 *   s.charAt(i)                  the character at i, '' at i == size
 *   s.replace(old, new)          every occurrence
 *   s.replace(old, new, n)       the first n occurrences (n < 0: all)
 *   s.reverse()                  by code point
 *   s.find(re)                   the first match of re, or ''
 *   s.findAll(re) / (re, n)      all matches / the first n (n < 0: all)
 *
 * Indices count UTF-16 code units, as cel-js's own indexOf and substring do, so the
 * helpers compose; they equal CEL's code-point indices for the ASCII that canonical
 * indicator values are. Patterns for find and findAll must be safe literals; the
 * compile step checks that (regex.ts).
 */

const sync = { async: false } as const;

function outOfRange(message: string): EvaluationError {
  return new EvaluationError({ code: 'index_out_of_range', message });
}

function charAt(s: string, index: bigint): string {
  // Messages leave out the index and the size: they may come from the indicator (see compile.ts evaluateBool).
  if (index < 0n || index > BigInt(s.length)) throw outOfRange('charAt(): index out of range');
  return s.charAt(Number(index));
}

function replaceFirst(s: string, from: string, to: string, count: bigint): string {
  if (count < 0n) return s.replaceAll(from, to);
  if (from === '') {
    // An empty pattern matches before every character and at the end, as replaceAll reads it.
    const slots = Math.min(Number(count), s.length + 1);
    let out = '';
    for (let i = 0; i < slots; i++) out += to + (s[i] ?? '');
    return out + s.slice(slots);
  }
  let out = '';
  let rest = s;
  for (let n = 0n; n < count; n++) {
    const at = rest.indexOf(from);
    if (at < 0) break;
    out += rest.slice(0, at) + to;
    rest = rest.slice(at + from.length);
  }
  return out + rest;
}

function findAll(s: string, pattern: string, limit: bigint): string[] {
  if (limit === 0n) return [];
  const out: string[] = [];
  for (const match of s.matchAll(compiledRegex(pattern, true))) {
    out.push(match[0]);
    if (limit > 0n && BigInt(out.length) >= limit) break;
  }
  return out;
}

export function stringsLibrary(env: Environment): Environment {
  return env
    .registerFunction('string.charAt(int): string', charAt, sync)
    .registerFunction(
      'string.replace(string, string): string',
      (s: string, a: string, b: string) => s.replaceAll(a, b),
      sync,
    )
    .registerFunction('string.replace(string, string, int): string', replaceFirst, sync)
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''), sync)
    .registerFunction(
      'string.find(string): string',
      (s: string, p: string) => compiledRegex(p, false).exec(s)?.[0] ?? '',
      sync,
    )
    .registerFunction(
      'string.findAll(string): list<string>',
      (s: string, p: string) => findAll(s, p, -1n),
      sync,
    )
    .registerFunction('string.findAll(string, int): list<string>', findAll, sync);
}
