/**
 * Regular expressions in policy CEL.
 *
 * Kubernetes runs CEL regexes on RE2, which is linear in the input. cel-js uses the
 * JavaScript engine, which backtracks: `(a+)+$` against forty a's and a b takes
 * minutes. An indicator value is feed data, so a pattern must be safe whatever the
 * value is. The compile step therefore requires every pattern given to `matches`,
 * `find` and `findAll` to be a string literal that passes {@link regexProblem}:
 *
 * - at most {@link MAX_REGEX_LENGTH} characters, and valid;
 * - no backreferences and no lookaround (neither exists in RE2, and backreferences
 *   make matching NP-hard);
 * - star height one: a group that repeats (`*`, `+`, `{n,}`, `{n,m}` with m > 1) may
 *   contain neither a quantifier nor an alternation, which rules out the exponential
 *   shapes `(a+)+`, `(a|a)*`, `(a?){20}`. The one exception is a group of bounded
 *   choices repeated at most four times, such as `(\.[0-9]{1,3}){3}`: at most
 *   (choices)^4 paths.
 *
 * What stays is polynomial backtracking from quantifiers in sequence, such as
 * `.*a.*b.*c` (cubic), which the cost estimate charges through {@link regexDegree}.
 * Running Node with `--enable-experimental-regexp-engine-on-excessive-backtracks`
 * removes the risk at its root, because V8 then falls back to its linear engine.
 */

export const MAX_REGEX_LENGTH = 256;

/** Why `pattern` is refused, or undefined when its structure is safe (its cost still depends on the input: {@link regexDegree}). */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH)
    return `regular expression longer than ${MAX_REGEX_LENGTH} characters`;
  try {
    new RegExp(pattern);
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
  return scan(pattern).problem;
}

/**
 * The exponent of a safe pattern's worst-case backtracking: matching an input of n
 * characters can take about n^degree steps. Each unbounded quantifier (`*`, `+`,
 * `{n,}`) may retry every split of the input, and an unanchored pattern is tried from
 * every start position. Measured with V8: `.*\.php$` (degree 2) takes 75 ms on 8192
 * characters, `a.*b.*c` (degree 3) 36 s. The cost estimate (analysis.ts) charges
 * n^degree, which in practice allows degree 1 on indicator values (anchor the pattern
 * with ^, or drop a leading `.*`) and degree 2 on short strings such as tags.
 */
export function regexDegree(pattern: string): number {
  const { unboundedQuantifiers, anchored } = scan(pattern);
  return Math.max(1, unboundedQuantifiers + (anchored ? 0 : 1));
}

interface Group {
  /** The group holds a quantifier, directly or in a nested group. */
  quantified: boolean;
  /** The group holds an unbounded quantifier (*, +, {n,}), directly or in a nested group. */
  unbounded: boolean;
  /** The group holds an alternation, directly or in a nested group. */
  alternated: boolean;
}

const QUANTIFIER_BRACES = /^\{(\d+)(,(\d*))?\}/;

interface Scan {
  problem?: string;
  unboundedQuantifiers: number;
  /** Starts with ^ and has no alternation at the top level, so it is tried at position 0 only. */
  anchored: boolean;
}

function scan(pattern: string): Scan {
  const problem = (text: string): Scan => ({
    problem: text,
    unboundedQuantifiers: 0,
    anchored: false,
  });
  const stack: Group[] = [{ quantified: false, unbounded: false, alternated: false }];
  let unboundedQuantifiers = 0;
  let topLevelAlternation = false;
  // The group that just closed, if the previous atom was a group; a quantifier after it applies to it.
  let closed: Group | undefined;
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i]!;
    const top = stack[stack.length - 1]!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<'))
        return problem('backreferences are not allowed in regular expressions');
      closed = undefined;
      i += 2;
      continue;
    }
    if (c === '[') {
      i = endOfClass(pattern, i);
      closed = undefined;
      continue;
    }
    if (c === '(') {
      if (/^\(\?<?[=!]/.test(pattern.slice(i, i + 4)))
        return problem('lookahead and lookbehind are not allowed in regular expressions');
      stack.push({ quantified: false, unbounded: false, alternated: false });
      closed = undefined;
      // Skip the group's header, so its `?` is not read as a quantifier: (?:, (?<name>.
      if (pattern.startsWith('(?:', i)) i += 3;
      else if (pattern.startsWith('(?<', i)) i = pattern.indexOf('>', i) + 1;
      else i++;
      continue;
    }
    if (c === ')') {
      const group = stack.pop()!;
      const parent = stack[stack.length - 1]!;
      parent.quantified ||= group.quantified;
      parent.unbounded ||= group.unbounded;
      parent.alternated ||= group.alternated;
      closed = group;
      i++;
      continue;
    }
    if (c === '|') {
      top.alternated = true;
      if (stack.length === 1) topLevelAlternation = true;
      closed = undefined;
      i++;
      continue;
    }
    const quantifier = readQuantifier(pattern, i);
    if (quantifier) {
      if (quantifier.max > 1 && closed && (closed.quantified || closed.alternated)) {
        // A few bounded repetitions of a group of bounded choices stay small: (\.[0-9]{1,3}){3}.
        const small = quantifier.max <= MAX_NESTED_REPETITIONS && !closed.unbounded;
        if (!small)
          return problem(
            'nested quantifiers are not allowed in regular expressions (a repeated group may not contain a quantifier or an alternation)',
          );
      }
      top.quantified = true;
      closed = undefined;
      i += quantifier.length;
      if (pattern[i] === '?') i++; // lazy modifier
      if (quantifier.max === Infinity) {
        top.unbounded = true;
        // A repeat that ends the whole pattern never has to give characters back: once it
        // has its minimum, the match has succeeded. `[0-9]+` scans linearly.
        if (!(i === pattern.length && stack.length === 1)) unboundedQuantifiers++;
      }
      continue;
    }
    closed = undefined;
    i++;
  }
  return { unboundedQuantifiers, anchored: pattern.startsWith('^') && !topLevelAlternation };
}

/** How often a group of bounded choices may repeat; the work grows as (choices)^repetitions. */
const MAX_NESTED_REPETITIONS = 4;

function readQuantifier(pattern: string, i: number): { max: number; length: number } | undefined {
  const c = pattern[i];
  if (c === '*' || c === '+') return { max: Infinity, length: 1 };
  if (c === '?') return { max: 1, length: 1 };
  if (c !== '{') return undefined;
  const braces = QUANTIFIER_BRACES.exec(pattern.slice(i));
  if (!braces) return undefined; // a literal brace
  const min = Number(braces[1]);
  const unbounded = braces[2] !== undefined && braces[3] === '';
  const max = braces[2] === undefined ? min : unbounded ? Infinity : Number(braces[3]);
  return { max, length: braces[0].length };
}

/** Index after the `]` closing the class that starts at `start`. */
function endOfClass(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++; // a leading ] is literal
  while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * Compiled patterns, by flags and source. Patterns are literals of compiled programs,
 * so the set is small; the bound only guards against an unusual number of policies.
 */
const compiled = new Map<string, RegExp>();
const COMPILED_LIMIT = 512;

export function compiledRegex(pattern: string, global: boolean): RegExp {
  const key = `${global ? 'g' : '-'}${pattern}`;
  let re = compiled.get(key);
  if (re === undefined) {
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    re = new RegExp(pattern, global ? 'g' : '');
    compiled.set(key, re);
  }
  return re;
}
