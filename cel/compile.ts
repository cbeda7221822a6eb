import type { ParseResult } from '@marcbachmann/cel-js';
import { analyse, variableShapes } from './analysis.js';
import { celEnvironment, knownFunctionNames, type CelKind } from './environment.js';
import { CelCompileError, firstLine, lineAndColumn } from './errors.js';
import { CEL_PARSE_LIMITS, MAX_SOURCE_LENGTH } from './limits.js';
import { matchShortcut, type MatchShortcut } from './shortcut.js';

export interface CelProgram {
  readonly source: string;
  /** Field path the expression came from, for messages: spec.match. */
  readonly field: string;
  readonly kind: CelKind;
  /** The static worst-case cost estimate (limits.ts); at most MAX_ESTIMATED_COST. */
  readonly cost: number;
  /**
   * The variables' fields the expression reads anywhere, as `variable.field`
   * (`action.layer`, `indicator.type`), whether or not a given evaluation reaches them.
   * Fields read off a comprehension or cel.bind variable are not listed.
   */
  readonly reads: ReadonlySet<string>;
  /**
   * For spec.match: the terms decided without CEL (shortcut.ts), so a million
   * indicators need not each run the expression. Undefined when there are none.
   */
  readonly shortcut?: MatchShortcut;
  /**
   * Runs the expression. `vars` holds the kind's variables: for match
   * `{ indicator: indicatorActivation(i), now: Date }`, for autoApprove
   * `{ action: actionActivation(a), now: Date }`. Throws on a runtime error.
   */
  evaluate(vars: Record<string, unknown>): unknown;
}

class Program implements CelProgram {
  readonly evaluate: (vars: Record<string, unknown>) => unknown;

  constructor(
    readonly source: string,
    readonly field: string,
    readonly kind: CelKind,
    readonly cost: number,
    readonly reads: ReadonlySet<string>,
    run: ParseResult,
    readonly shortcut?: MatchShortcut,
  ) {
    // The parsed, checked expression is called directly: nothing between the caller and cel-js.
    this.evaluate = run;
    Object.freeze(this);
  }
}

interface CelErrorLike {
  code?: unknown;
  range?: { start: number };
  node?: { op?: unknown; args?: unknown };
}

const LIMIT_MESSAGES: Readonly<Record<string, string>> = {
  maxAstNodes: `the expression is too large (more than ${CEL_PARSE_LIMITS.maxAstNodes} syntax nodes)`,
  maxDepth: `the expression is nested too deeply (more than ${CEL_PARSE_LIMITS.maxDepth} levels)`,
  maxListElements: `a list literal has more than ${CEL_PARSE_LIMITS.maxListElements} elements`,
  maxMapEntries: `a map literal has more than ${CEL_PARSE_LIMITS.maxMapEntries} entries`,
  maxCallArguments: `a call has more than ${CEL_PARSE_LIMITS.maxCallArguments} arguments`,
};

/** Rewrites a cel-js ParseError or TypeError into a one-line CelCompileError naming the field. */
function compileError(err: unknown, source: string, field: string): CelCompileError {
  const e = (err ?? {}) as CelErrorLike;
  const reason = typeof e.code === 'string' ? e.code : 'invalid_expression';
  let problem = firstLine(err);
  if (reason === 'limit_exceeded') {
    const limit = /Exceeded (\w+)/.exec(problem)?.[1];
    problem = (limit && LIMIT_MESSAGES[limit]) ?? problem;
  } else if (
    reason === 'no_matching_overload' &&
    (e.node?.op === 'call' || e.node?.op === 'rcall')
  ) {
    const name = (e.node.args as unknown[] | undefined)?.[0];
    if (typeof name === 'string' && !knownFunctionNames().has(name))
      problem = `unknown function '${name}'`;
  } else if (reason === 'unexpected_character' && problem.endsWith(': =')) {
    problem += " (use '==' to compare)";
  } else if (problem === 'Unexpected token: EOF') {
    problem = 'the expression ends where an operand was expected';
  }
  return new CelCompileError(field, reason, problem, source, e.range?.start);
}

/** What each kind must return; `dyn` passes the check and is judged when it runs. */
const RESULT_TYPES: Readonly<
  Record<CelKind, { types: readonly string[]; what: string; reason: string }>
> = {
  match: { types: ['bool'], what: 'a bool', reason: 'not_bool' },
  autoApprove: { types: ['bool'], what: 'a bool', reason: 'not_bool' },
  confidence: { types: ['int', 'uint', 'double'], what: 'a number', reason: 'not_number' },
};

/**
 * Parses, type-checks and statically checks `source` as an expression of `kind`.
 * Throws CelCompileError for syntax errors, unknown variables, fields of Indicator and
 * Action, and functions, type errors the checker finds, a result that is not a bool,
 * and anything over the limits of limits.ts. Compiling costs tens of microseconds;
 * cache programs with CelCache.
 */
export function compileCel(source: string, field: string, kind: CelKind): CelProgram {
  if (typeof source !== 'string')
    throw new CelCompileError(field, 'invalid_expression', 'the expression must be a string');
  if (source.length > MAX_SOURCE_LENGTH) {
    throw new CelCompileError(
      field,
      'source_too_long',
      `the expression is ${source.length} characters long; at most ${MAX_SOURCE_LENGTH} are allowed`,
    );
  }
  if (source.trim() === '')
    throw new CelCompileError(field, 'invalid_expression', 'the expression is empty');
  const env = celEnvironment(kind);
  let run: ParseResult;
  try {
    run = env.parse(source);
  } catch (err) {
    throw compileError(err, source, field);
  }
  const checked = run.check();
  if (!checked.valid) throw compileError(checked.error, source, field);
  const result = RESULT_TYPES[kind];
  const type = String(checked.type);
  if (!result.types.includes(type) && type !== 'dyn') {
    throw new CelCompileError(
      field,
      result.reason,
      `the expression must evaluate to ${result.what}, not ${type}`,
    );
  }
  const { cost, reads } = analyse(run.ast, source, field, variableShapes(kind));
  const shortcut = kind === 'match' ? matchShortcut(run.ast) : undefined;
  return new Program(source, field, kind, cost, reads, run, shortcut);
}

/**
 * Runs a boolean expression. A runtime error (a missing map key, a bad ip() argument,
 * division by zero) or a result that is not a bool counts as false, and its one-line
 * message, starting with the field path, goes to `onError`; the messages do not
 * include the variables' values, so the caller can report each distinct one once.
 */
export function evaluateBool(
  program: CelProgram,
  vars: Record<string, unknown>,
  onError?: (message: string) => void,
): boolean {
  let result: unknown;
  try {
    result = program.evaluate(vars);
  } catch (err) {
    onError?.(`${program.field}: ${firstLine(err)}${at(err, program.source)}`);
    return false;
  }
  if (result === true) return true;
  if (result !== false)
    onError?.(`${program.field}: the expression returned ${describe(result)}, not a bool`);
  return false;
}

function at(err: unknown, source: string): string {
  const start = (err as CelErrorLike | null)?.range?.start;
  return typeof start === 'number' ? ` (at ${lineAndColumn(source, start)})` : '';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Promise) return 'a promise';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'map'}`;
  return `a ${typeof value}`;
}
