import { parse as parseDynamic, type ASTNode } from '@marcbachmann/cel-js';
import {
  ACTION_FIELDS,
  BLAST_RADIUS_FIELDS,
  EXPOSURE_PATH_FIELDS,
  INDICATOR_FIELDS,
  WORKLOAD_FIELDS,
} from './activation.js';
import { CelCompileError, firstLine } from './errors.js';
import { ASSUMED_INPUT_BOUNDS as BOUNDS, MAX_ESTIMATED_COST } from './limits.js';
import { NET_LITERAL_CHECKS } from './net.js';
import { regexDegree, regexProblem } from './regex.js';
import { URL_LITERAL_CHECKS } from './url.js';

/**
 * Static checks on a parsed and type-checked expression, in one walk of the AST:
 *
 * - the worst-case cost estimate (limits.ts explains the budget);
 * - regex patterns are safe literals (regex.ts);
 * - literal arguments of ip(), cidr(), url(), duration(), timestamp() and of
 *   containsIP()/containsCIDR() parse, so `cidr('10.0.0.0/33')` fails at compile time;
 * - has() names a declared field of the Indicator, Workload and Action types (cel-js does not
 *   type-check inside has(), and a misspelt field there would silently be false);
 * - which fields of the variables the expression reads (`action.layer`), for rules that
 *   depend on what an expression looks at (policies/engine.ts, identity approval).
 *
 * This reads cel-js's AST after check(): `op`, `args`, `checkedType`, and `meta` for
 * macros and constants. Those are not part of its typed API, so the unit tests pin the
 * shapes this relies on; an unknown node kind is refused rather than guessed at.
 */

/** An upper bound on a value's size: characters of a string, elements of a list, entries of a map. */
interface Shape {
  len: number;
  /** For lists cut from one string (split, findAll): the elements' characters together, at most. */
  total?: number;
  /** The element shape of a list, the value shape of a map. */
  elem?: Shape;
  key?: Shape;
}

interface Estimate {
  cost: number;
  shape: Shape;
}

/** The parts of cel-js's AST node this walk reads (see the module comment). */
interface Node {
  op: string;
  args: unknown;
  pos: number;
  start: number;
  checkedType?: { name: string; kind: string };
  meta?: { alternate?: Node; macro?: Record<string, unknown> };
}

interface Comprehension {
  kind?: string;
  iterable: Node;
  iterVarName: string;
  init: Node;
  step: Node;
}

const SCALAR: Shape = { len: 1 };
const NOTHING: Shape = { len: 0 };
/** Characters are cheaper than nodes: scanning ten costs about as much as one node. */
const PER_CHARACTER = 0.1;

const list = (len: number, itemLength: number): Shape => ({ len, elem: { len: itemLength } });

/** Assumed sizes of the fields of the view types (limits.ts ASSUMED_INPUT_BOUNDS); other fields are scalars. */
const FIELD_SHAPES: Readonly<Record<string, Readonly<Record<string, Shape>>>> = {
  Indicator: {
    type: { len: 8 },
    value: { len: BOUNDS.valueLength },
    sources: list(BOUNDS.listLength, BOUNDS.shortStringLength),
    tags: list(BOUNDS.listLength, BOUNDS.listItemLength),
    techniques: list(BOUNDS.listLength, 16),
    attributes: {
      len: BOUNDS.attributeEntries,
      key: { len: BOUNDS.listItemLength },
      elem: { len: BOUNDS.attributeValueLength },
    },
  },
  Action: {
    type: { len: BOUNDS.shortStringLength },
    layer: { len: BOUNDS.shortStringLength },
    connector: { len: BOUNDS.shortStringLength },
    policy: { len: BOUNDS.shortStringLength },
    feeds: list(BOUNDS.listLength, BOUNDS.shortStringLength),
  },
  Workload: {
    kind: { len: BOUNDS.shortStringLength },
    namespace: { len: BOUNDS.shortStringLength },
    name: { len: BOUNDS.shortStringLength },
    labels: {
      len: BOUNDS.listLength,
      key: { len: BOUNDS.shortStringLength },
      elem: { len: BOUNDS.shortStringLength },
    },
    podLabels: {
      len: BOUNDS.listLength,
      key: { len: BOUNDS.shortStringLength },
      elem: { len: BOUNDS.shortStringLength },
    },
    exposure: { len: BOUNDS.listLength, elem: SCALAR },
    images: list(BOUNDS.listLength, BOUNDS.shortStringLength),
    container: { len: BOUNDS.shortStringLength },
    installedVersion: { len: BOUNDS.shortStringLength },
    fixedVersion: { len: BOUNDS.shortStringLength },
    severity: { len: 16 },
  },
  ExposurePath: {
    kind: { len: 16 },
    via: { len: BOUNDS.attributeValueLength },
  },
};

/**
 * The shapes of variables that are not one of the view types above. A ThreatFeed's
 * `record` is whatever the feed's parser produced (a CSV row, a JSON object, a STIX
 * object, a MISP attribute), so it is assumed at the bound feeds/ingest.ts
 * (recordBoundsProblem) enforces before the expression runs: every string at most
 * valueLength characters, every list or map at most valueLength entries. Nested values
 * are taken as the largest of those, which overestimates every smaller value.
 */
const RECORD_SHAPE: Shape = {
  len: BOUNDS.valueLength,
  key: { len: BOUNDS.valueLength },
  elem: { len: BOUNDS.valueLength },
};

const VARIABLE_SHAPES: Readonly<Partial<Record<string, ReadonlyMap<string, Shape>>>> = {
  confidence: new Map([['record', RECORD_SHAPE]]),
};

/** The assumed shapes of a kind's free variables (the view types' fields are in FIELD_SHAPES). */
export function variableShapes(kind: string): ReadonlyMap<string, Shape> {
  return VARIABLE_SHAPES[kind] ?? new Map();
}

/** Declared fields by type, for has(). */
const MESSAGE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Indicator: INDICATOR_FIELDS,
  Action: ACTION_FIELDS,
  BlastRadius: BLAST_RADIUS_FIELDS,
  Workload: WORKLOAD_FIELDS,
  ExposurePath: EXPOSURE_PATH_FIELDS,
};

const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', 'in', ...COMPARISONS]);
const REGEX_FUNCTIONS = new Set(['matches', 'find', 'findAll']);
const SCALAR_TYPES = new Set(['bool', 'int', 'uint', 'double', 'null', 'type']);

/** Literal checks by function name; duration and timestamp use cel-js's own parsers. */
const LITERAL_CHECKS: Readonly<Record<string, (text: string) => string | undefined>> = {
  ...NET_LITERAL_CHECKS,
  ...URL_LITERAL_CHECKS,
  duration: (text) => viaCel('duration', text),
  timestamp: (text) => viaCel('timestamp', text),
};
const RECEIVER_LITERAL_CHECKS: Readonly<Record<string, (text: string) => string | undefined>> = {
  containsIP: NET_LITERAL_CHECKS.ip!,
  containsCIDR: NET_LITERAL_CHECKS.cidr!,
};

const celParsers: Record<string, (ctx: { s: string }) => unknown> = {};
function viaCel(name: 'duration' | 'timestamp', text: string): string | undefined {
  try {
    (celParsers[name] ??= parseDynamic(`${name}(s)`))({ s: text });
    return undefined;
  } catch (err) {
    return firstLine(err);
  }
}

function work(shape: Shape): number {
  // A list or map visits its elements; anything else is text scanned by character.
  if (shape.elem === undefined && shape.key === undefined) return shape.len * PER_CHARACTER;
  const nested =
    shape.len * (1 + (shape.elem ? work(shape.elem) : 0) + (shape.key ? work(shape.key) : 0));
  return shape.total === undefined
    ? nested
    : Math.min(nested, shape.len + shape.total * PER_CHARACTER);
}

/** The pieces of a string of `length` characters: up to length + 1 of them, together no longer than the string. */
const pieces = (length: number): Shape => ({
  len: length + 1,
  elem: { len: length },
  total: length,
});

function larger(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const elem = larger(a.elem, b.elem);
  const key = larger(a.key, b.key);
  return { len: Math.max(a.len, b.len), ...(elem ? { elem } : {}), ...(key ? { key } : {}) };
}

function largest(shapes: readonly Shape[]): Shape {
  return shapes.reduce<Shape | undefined>((a, b) => larger(a, b), undefined) ?? NOTHING;
}

function isScalarType(type: Node['checkedType']): boolean {
  if (type === undefined) return false;
  if (type.kind === 'message') return true; // timestamps, durations, net.IP, Indicator, ...
  return type.kind === 'primitive' && SCALAR_TYPES.has(type.name);
}

/** Extra cost and result shape of functions whose cost or output is not linear in their inputs. */
type CallRule = (inputs: readonly Shape[], args: readonly Node[]) => { cost: number; shape: Shape };

/** Backtracking steps of the literal pattern args[1] on a string of `length` characters (regex.ts regexDegree). */
const regexCost = (length: number, args: readonly Node[]): number =>
  PER_CHARACTER * Math.max(1, length) ** regexDegree(literalString(args[1]) ?? '');

const CALL_RULES: Readonly<Record<string, CallRule>> = {
  matches: ([s = NOTHING], args) => ({ cost: regexCost(s.len, args), shape: SCALAR }),
  find: ([s = NOTHING], args) => ({ cost: regexCost(s.len, args), shape: { len: s.len } }),
  // findAll restarts after each match, so it costs as much as an unanchored search.
  findAll: ([s = NOTHING], args) => ({ cost: regexCost(s.len, args), shape: pieces(s.len) }),
  split: ([s = NOTHING]) => ({ cost: work(s), shape: pieces(s.len) }),
  size: () => ({ cost: 1, shape: SCALAR }),
  join: ([l = NOTHING, sep = NOTHING]) => {
    const len = l.len * ((l.elem?.len ?? 1) + sep.len);
    return { cost: work(l) + len * PER_CHARACTER, shape: { len } };
  },
  replace: ([s = NOTHING, , to = NOTHING]) => {
    const len = s.len + (s.len + 1) * to.len;
    return { cost: work(s) + len * PER_CHARACTER, shape: { len } };
  },
  sort: ([l = NOTHING]) => ({
    cost: l.len * Math.ceil(Math.log2(l.len + 1)) * (1 + work(l.elem ?? NOTHING)),
    shape: l,
  }),
  // Linear through a Set, except lists of lists or maps, which compare pairwise.
  distinct: ([l = NOTHING]) => ({
    cost: (l.elem?.elem || l.elem?.key ? l.len : 1) * l.len * (1 + work(l.elem ?? NOTHING)),
    shape: l,
  }),
  min: ([l = NOTHING]) => ({ cost: work(l), shape: l.elem ?? l }),
  max: ([l = NOTHING]) => ({ cost: work(l), shape: l.elem ?? l }),
  hex: ([b = NOTHING]) => ({ cost: work(b), shape: { len: 2 * b.len } }),
  base64: ([b = NOTHING]) => ({ cost: work(b), shape: { len: 2 * b.len } }),
  bytes: ([s = NOTHING]) => ({ cost: work(s), shape: { len: 4 * s.len } }),
  string: ([v = NOTHING]) => ({ cost: work(v), shape: { len: Math.max(v.len, 64) } }),
  url: ([s = NOTHING]) => ({ cost: work(s), shape: { len: s.len } }),
  getQuery: ([u = NOTHING]) => ({
    cost: work(u),
    shape: { len: u.len, key: { len: u.len }, elem: list(u.len, u.len) },
  }),
};

function literalString(node: Node | undefined): string | undefined {
  let n = node;
  while (n?.meta?.alternate) n = n.meta.alternate;
  return n?.op === 'value' && typeof n.args === 'string' ? n.args : undefined;
}

function literalShape(value: unknown): Shape {
  if (typeof value === 'string') return { len: value.length };
  if (value instanceof Uint8Array) return { len: value.length };
  return SCALAR;
}

class Analysis {
  /** `variable.field` for every field read straight off a variable (not off a comprehension or bind variable). */
  readonly reads = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly field: string,
  ) {}

  fail(reason: string, problem: string, node?: Node): never {
    throw new CelCompileError(this.field, reason, problem, this.source, node?.start);
  }

  estimate(node: Node, scope: ReadonlyMap<string, Shape>): Estimate {
    const meta = node.meta;
    if (meta?.alternate) return this.estimate(meta.alternate, scope);
    if (meta?.macro) return this.macro(node, meta.macro, scope);
    if (BINARY_OPERATORS.has(node.op)) return this.binary(node, scope);
    switch (node.op) {
      case 'value':
        return { cost: 1, shape: literalShape(node.args) };
      case 'id':
        return { cost: 1, shape: scope.get(node.args as string) ?? SCALAR };
      case '.':
      case '.?': {
        const [target, name] = node.args as [Node, string];
        if (target.op === 'id' && !scope.has(target.args as string))
          this.reads.add(`${target.args as string}.${name}`);
        const left = this.estimate(target, scope);
        const declared = FIELD_SHAPES[target.checkedType?.name ?? ''];
        const shape = declared ? (declared[name] ?? SCALAR) : (left.shape.elem ?? left.shape);
        return { cost: left.cost + 1, shape };
      }
      case '[]':
      case '[?]': {
        const [targetNode, indexNode] = node.args as [Node, Node];
        const key = literalString(indexNode);
        if (targetNode.op === 'id' && !scope.has(targetNode.args as string) && key !== undefined)
          this.reads.add(`${targetNode.args as string}.${key}`);
        const [target, index] = [targetNode, indexNode].map((n) => this.estimate(n, scope)) as [
          Estimate,
          Estimate,
        ];
        return { cost: target.cost + index.cost + 1, shape: target.shape.elem ?? target.shape };
      }
      case 'list': {
        const items = (node.args as Node[]).map((n) => this.estimate(n, scope));
        return {
          cost: 1 + sum(items),
          shape: { len: items.length, elem: largest(items.map((i) => i.shape)) },
        };
      }
      case 'map': {
        const entries = (node.args as [Node, Node][]).map(
          ([k, v]) => [this.estimate(k, scope), this.estimate(v, scope)] as const,
        );
        return {
          cost: 1 + sum(entries.flat()),
          shape: {
            len: entries.length,
            key: largest(entries.map(([k]) => k.shape)),
            elem: largest(entries.map(([, v]) => v.shape)),
          },
        };
      }
      case '?:': {
        const [condition, yes, no] = (node.args as Node[]).map((n) => this.estimate(n, scope)) as [
          Estimate,
          Estimate,
          Estimate,
        ];
        return {
          cost: 1 + condition.cost + Math.max(yes.cost, no.cost),
          shape: larger(yes.shape, no.shape)!,
        };
      }
      case '&&':
      case '||': {
        const parts = (node.args as Node[]).map((n) => this.estimate(n, scope));
        return { cost: 1 + sum(parts), shape: SCALAR };
      }
      case '!_':
      case '-_':
        return { cost: 1 + this.estimate(node.args as Node, scope).cost, shape: SCALAR };
      case 'call':
      case 'rcall':
        return this.call(node, scope);
      case 'comprehension':
        return this.comprehension(node.args as Comprehension, scope);
      case 'accuPush': {
        const pushed = this.estimate(node.args as Node, scope);
        return { cost: pushed.cost + 1, shape: pushed.shape };
      }
      case 'accuValue':
      case 'accuInc':
        return { cost: 1, shape: NOTHING };
      default:
        return this.fail(
          'unsupported_construct',
          `the cost of '${node.op}' expressions cannot be estimated`,
          node,
        );
    }
  }

  binary(node: Node, scope: ReadonlyMap<string, Shape>): Estimate {
    const [l, r] = (node.args as [Node, Node]).map((n) => this.estimate(n, scope)) as [
      Estimate,
      Estimate,
    ];
    const base = 1 + l.cost + r.cost;
    switch (node.op) {
      case '+': {
        if (isScalarType(node.checkedType)) return { cost: base, shape: SCALAR };
        const elem = larger(l.shape.elem, r.shape.elem);
        const shape: Shape = { len: l.shape.len + r.shape.len, ...(elem ? { elem } : {}) };
        return { cost: base + work(shape), shape };
      }
      case 'in':
        return { cost: base + work(r.shape), shape: SCALAR };
      default: {
        // A comparison costs at most the work of its smaller side.
        const compared = COMPARISONS.has(node.op) ? Math.min(work(l.shape), work(r.shape)) : 0;
        return { cost: base + compared, shape: SCALAR };
      }
    }
  }

  call(node: Node, scope: ReadonlyMap<string, Shape>): Estimate {
    const name = (node.args as [string])[0];
    const argNodes =
      node.op === 'rcall'
        ? [(node.args as [string, Node, Node[]])[1], ...(node.args as [string, Node, Node[]])[2]]
        : (node.args as [string, Node[]])[1];
    this.checkLiterals(node, name, argNodes);
    const inputs = argNodes.map((n) => this.estimate(n, scope));
    const base = 1 + sum(inputs);
    const shapes = inputs.map((i) => i.shape);
    const rule = CALL_RULES[name];
    if (rule) {
      const extra = rule(shapes, argNodes);
      if (REGEX_FUNCTIONS.has(name) && extra.cost > MAX_ESTIMATED_COST) {
        this.fail(
          'unsafe_regex',
          `${name}(): on a string of up to ${shapes[0]?.len} characters this pattern can backtrack for about ${shapes[0]?.len}^${regexDegree(literalString(argNodes[1]) ?? '')} steps; ` +
            "anchor it with '^', avoid unbounded repeats in sequence such as '.*a.*', or use startsWith, endsWith or contains",
          argNodes[1],
        );
      }
      return {
        cost: base + extra.cost,
        shape: isScalarType(node.checkedType) ? SCALAR : extra.shape,
      };
    }
    return {
      cost: base + shapes.reduce((total, s) => total + work(s), 0),
      shape: isScalarType(node.checkedType) ? SCALAR : largest(shapes),
    };
  }

  comprehension(c: Comprehension, scope: ReadonlyMap<string, Shape>): Estimate {
    const range = this.estimate(c.iterable, scope);
    const overMap = c.iterable.checkedType?.kind === 'map';
    const variable = (overMap ? range.shape.key : range.shape.elem) ?? range.shape;
    const init = this.estimate(c.init, scope);
    const step = this.estimate(c.step, new Map(scope).set(c.iterVarName, variable));
    const iterations = range.shape.len;
    return {
      cost: 1 + range.cost + init.cost + iterations * (step.cost + 1),
      shape: c.kind === 'quantifier' ? SCALAR : { len: iterations, elem: step.shape },
    };
  }

  macro(node: Node, macro: Record<string, unknown>, scope: ReadonlyMap<string, Shape>): Estimate {
    if ('exp' in macro && 'val' in macro && typeof macro.var === 'string') {
      // cel.bind(var, val, exp)
      const value = this.estimate(macro.val as Node, scope);
      const body = this.estimate(macro.exp as Node, new Map(scope).set(macro.var, value.shape));
      return { cost: 1 + value.cost + body.cost, shape: body.shape };
    }
    const args = macro.args as Node[] | undefined;
    if (Array.isArray(args) && args.length === 1) {
      // has(a.b.c)
      this.checkHasFields(args[0]!);
      return { cost: 1 + this.estimate(args[0]!, scope).cost, shape: SCALAR };
    }
    return this.fail('unsupported_construct', 'the cost of this macro cannot be estimated', node);
  }

  checkLiterals(node: Node, name: string, args: readonly Node[]): void {
    const receiver = node.op === 'rcall';
    if (REGEX_FUNCTIONS.has(name) && receiver) {
      const patternNode = args[1];
      const pattern = literalString(patternNode);
      if (pattern === undefined)
        this.fail(
          'unsafe_regex',
          `the pattern of ${name}() must be a string literal`,
          patternNode ?? node,
        );
      const problem = regexProblem(pattern);
      if (problem) this.fail('unsafe_regex', `${name}(): ${problem}`, patternNode);
      return;
    }
    const check = receiver ? RECEIVER_LITERAL_CHECKS[name] : LITERAL_CHECKS[name];
    const argument = receiver ? args[1] : args[0];
    const text = args.length === (receiver ? 2 : 1) ? literalString(argument) : undefined;
    if (check && text !== undefined) {
      const problem = check(text);
      if (problem) this.fail('invalid_literal', `${name}(): ${problem}`, argument);
    }
  }

  /** has(indicator.tpye) would be false for every indicator; refuse fields the type does not declare. */
  checkHasFields(select: Node): void {
    const chain: [Node, string][] = [];
    let n: Node = select;
    while ((n.op === '.' || n.op === '.?') && Array.isArray(n.args)) {
      const [target, name] = n.args as [Node, string];
      chain.unshift([n, name]);
      n = target;
    }
    let typeName = n.checkedType?.name;
    for (const [at, name] of chain) {
      const fields = typeName === undefined ? undefined : MESSAGE_FIELDS[typeName];
      if (fields === undefined) return;
      if (!Object.hasOwn(fields, name)) this.fail('no_such_key', `No such key: ${name}`, at);
      typeName = fields[name];
    }
  }
}

function sum(items: readonly Estimate[]): number {
  return items.reduce((total, i) => total + i.cost, 0);
}

/** What the static checks found out about an expression that passed them. */
export interface AnalysisResult {
  /** The estimated worst-case cost, rounded up. */
  cost: number;
  /** Fields read straight off the variables, as `variable.field` (`action.layer`, `indicator.type`). */
  reads: ReadonlySet<string>;
}

/**
 * Runs the static checks on a checked AST; returns the estimated worst-case cost and
 * the variables' fields read, or throws a CelCompileError naming `field`.
 */
export function analyse(
  ast: ASTNode,
  source: string,
  field: string,
  variables: ReadonlyMap<string, Shape> = new Map(),
): AnalysisResult {
  const analysis = new Analysis(source, field);
  const { cost } = analysis.estimate(ast as unknown as Node, variables);
  const rounded = Math.ceil(cost);
  if (!(rounded <= MAX_ESTIMATED_COST)) {
    analysis.fail(
      'cost_limit',
      `the estimated worst-case cost ${Number.isFinite(rounded) ? rounded : 'Infinity'} exceeds the limit of ${MAX_ESTIMATED_COST} (nested loops over long lists, or strings and lists grown in a loop?)`,
    );
  }
  return { cost: rounded, reads: analysis.reads };
}
