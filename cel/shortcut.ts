import type { IndicatorFacts } from './activation.js';

/**
 * The common shapes of spec.match decided in plain JavaScript, before (or instead of)
 * running CEL on each of a million indicators.
 *
 * A match expression is a conjunction (`&&`) of terms. The terms this module knows
 * compare one of the indicator's always-present fields with literals:
 *   indicator.type == 'ipv4'       indicator.type != 'cidr'     indicator.type in ['ipv4', 'cidr']
 *   indicator.confidence >= 80     (any of == != < <= > >=, an int literal on either side)
 *   indicator.value == 'x'         'c2' in indicator.tags
 * In CEL, `a && b` is false whenever either side is false, even when the other fails at
 * run time. So when a known term is false the whole expression is false, and CEL need
 * not run; when every term is known and true the expression is true. Any other term
 * (a function call, a macro, a field of `workload`) leaves the shortcut as a prefilter:
 * CEL runs on the indicators the known terms let through.
 *
 * Only well-formed indicators take the shortcut (a string type and value, an integer
 * confidence, a list of tags), which is what every feed sync produces; anything else
 * goes to CEL, which reports it.
 */
export interface MatchShortcut {
  /** 'no': certainly does not match. 'yes': certainly matches. 'cel': run the expression. */
  judge(i: IndicatorFacts): 'no' | 'yes' | 'cel';
  /** Every term is known: judge() never answers 'cel' for a well-formed indicator. */
  readonly exact: boolean;
  /** The only types that can match (from `type ==` and `type in` terms); undefined: any. */
  readonly types?: ReadonlySet<string>;
  /** Bounds every match's confidence is within (from the comparisons with literals). */
  readonly confidence: { readonly min: number; readonly max: number };
}

/** The part of cel-js's checked AST this module reads. */
interface Node {
  op: string;
  args: unknown;
  meta?: { alternate?: Node; macro?: unknown };
}

type Term = (i: IndicatorFacts) => boolean;

/** What a term also says for the index: the types it allows, or bounds on confidence. */
interface Facts {
  types?: ReadonlySet<string>;
  min?: number;
  max?: number;
}

/** The bounds `confidence <op> bound` puts on an integer confidence. */
function bounds(op: string, bound: number): Facts {
  switch (op) {
    case '==':
      return { min: bound, max: bound };
    case '<':
      return { max: Math.ceil(bound) - 1 };
    case '<=':
      return { max: Math.floor(bound) };
    case '>':
      return { min: Math.floor(bound) + 1 };
    case '>=':
      return { min: Math.ceil(bound) };
    default:
      return {};
  }
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};
/** The comparison with its sides swapped: `80 <= x` is `x >= 80`. */
const MIRROR: Record<string, string> = {
  '==': '==',
  '!=': '!=',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
};

function unwrap(node: Node): Node {
  let n = node;
  while (n.meta?.alternate) n = n.meta.alternate;
  return n;
}

/** `indicator.<field>` read straight off the variable, or undefined. */
function indicatorField(node: Node): string | undefined {
  const n = unwrap(node);
  if (n.op !== '.' || n.meta?.macro) return undefined;
  const [target, name] = n.args as [Node, string];
  const t = unwrap(target);
  return t.op === 'id' && t.args === 'indicator' ? name : undefined;
}

function literal(node: Node): unknown {
  const n = unwrap(node);
  return n.op === 'value' && !n.meta?.macro ? n.args : undefined;
}

function stringLiterals(node: Node): string[] | undefined {
  const n = unwrap(node);
  if (n.op !== 'list') return undefined;
  const values = (n.args as Node[]).map(literal);
  return values.every((v) => typeof v === 'string') ? (values as string[]) : undefined;
}

/** A known term, or undefined when this module does not know it. */
function term(node: Node): (Term & { facts?: Facts }) | undefined {
  const n = unwrap(node);
  if (n.meta?.macro || !Array.isArray(n.args) || n.args.length !== 2) return undefined;
  const [left, right] = n.args as [Node, Node];
  if (n.op === 'in') {
    const field = indicatorField(left);
    const list = stringLiterals(right);
    if (field === 'type' && list) {
      const set = new Set(list);
      return Object.assign((i: IndicatorFacts) => set.has(i.type), { facts: { types: set } });
    }
    const tag = literal(left);
    if (typeof tag === 'string' && indicatorField(right) === 'tags')
      return (i) => i.tags.includes(tag);
    return undefined;
  }
  const compare = COMPARE[n.op];
  if (!compare) return undefined;
  let op = n.op;
  let field = indicatorField(left);
  let value = literal(right);
  if (field === undefined) {
    field = indicatorField(right);
    value = literal(left);
    op = MIRROR[op]!;
  }
  if (field === 'confidence' && typeof value === 'bigint') {
    const bound = Number(value);
    const cmp = COMPARE[op]!;
    return Object.assign((i: IndicatorFacts) => cmp(i.confidence, bound), {
      facts: bounds(op, bound),
    });
  }
  if ((field === 'type' || field === 'value') && typeof value === 'string') {
    if (op === '==')
      return Object.assign((i: IndicatorFacts) => i[field] === value, {
        facts: field === 'type' ? { types: new Set([value]) } : {},
      });
    if (op === '!=') return (i) => i[field] !== value;
  }
  return undefined;
}

function conjuncts(node: Node, out: Node[]): Node[] {
  const n = unwrap(node);
  if (n.op === '&&' && !n.meta?.macro && Array.isArray(n.args)) {
    for (const side of n.args as Node[]) conjuncts(side, out);
  } else out.push(n);
  return out;
}

function wellFormed(i: IndicatorFacts): boolean {
  return (
    typeof i.type === 'string' &&
    typeof i.value === 'string' &&
    Number.isInteger(i.confidence) &&
    Array.isArray(i.tags)
  );
}

/** The shortcut for a checked match expression's AST, or undefined when none of its terms is known. */
export function matchShortcut(ast: unknown): MatchShortcut | undefined {
  const parts = conjuncts(ast as Node, []);
  const terms = parts.map(term);
  const known = terms.filter((t): t is Term => t !== undefined);
  if (known.length === 0) return undefined;
  const exact = known.length === parts.length;
  const whenTrue = exact ? 'yes' : 'cel';
  let types: Set<string> | undefined;
  let min = -Infinity;
  let max = Infinity;
  for (const t of known) {
    const facts = (t as { facts?: Facts }).facts;
    if (facts?.types) types = new Set([...facts.types].filter((x) => !types || types.has(x)));
    if (facts?.min !== undefined) min = Math.max(min, facts.min);
    if (facts?.max !== undefined) max = Math.min(max, facts.max);
  }
  return {
    exact,
    ...(types ? { types } : {}),
    confidence: { min, max },
    judge(i) {
      if (!wellFormed(i)) return 'cel';
      for (const t of known) if (!t(i)) return 'no';
      return whenTrue;
    },
  };
}
