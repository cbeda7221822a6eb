/**
 * Reads STIX 2.1 patterns (STIX 2.1 part 9, "STIX Patterning") far enough to decide
 * which indicator values can be enforced on their own.
 *
 * The whole grammar is parsed (observation expressions, FOLLOWEDBY/OR/AND, qualifiers,
 * comparison expressions with AND/OR/NOT and every operator) so that a pattern we do not
 * enforce is still told apart from one that is malformed. What comes out is the list of
 * comparisons the pattern ORs together, because only a disjunction can be enforced one
 * value at a time: blocking each side of an OR blocks exactly what the pattern matches,
 * while blocking one side of an AND, a FOLLOWEDBY or a qualified observation (WITHIN,
 * REPEATS, START/STOP) blocks more than the intelligence says.
 */

export type PatternValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'binary' | 'hex' | 'timestamp'; value: string }
  | { kind: 'set'; values: PatternValue[] };

export interface Comparison {
  /** e.g. "file" */
  objectType: string;
  /** Property path after the colon, e.g. ["hashes", "SHA-256"]; list indexes as "[0]" or "[*]". */
  path: string[];
  /** The path as written, for messages: "file:hashes.'SHA-256'". */
  pathText: string;
  /** "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET" or "EXISTS". */
  operator: string;
  negated: boolean;
  /** Absent for EXISTS. */
  value?: PatternValue;
}

export type PatternReading =
  | { ok: true; comparisons: Comparison[] }
  /** `combination` is set when the pattern is valid but not a plain disjunction. */
  | { ok: false; reason: string; combination?: boolean };

type Node =
  | { kind: 'or' | 'and' | 'followedby'; items: Node[]; scope: 'observation' | 'comparison' }
  | { kind: 'qualified'; inner: Node; qualifier: string }
  | { kind: 'comparison'; comparison: Comparison };

type Token =
  | { t: 'punct'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'word'; v: string; at: number }
  | { t: 'path'; objectType: string; path: string[]; text: string; at: number }
  | { t: 'value'; v: PatternValue; at: number }
  | { t: 'end'; at: number };

class PatternSyntaxError extends Error {}

const KEYWORDS = new Set([
  'AND',
  'OR',
  'NOT',
  'FOLLOWEDBY',
  'LIKE',
  'MATCHES',
  'ISSUBSET',
  'ISSUPERSET',
  'IN',
  'EXISTS',
  'WITHIN',
  'REPEATS',
  'TIMES',
  'SECONDS',
  'START',
  'STOP',
]);
const WORD_OPERATORS = new Set(['LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET', 'IN']);

/**
 * The observation qualifiers: the keyword, the kind of value after it, the word that
 * must follow (and for START, the second value after it).
 */
const QUALIFIERS: readonly {
  word: string;
  value: PatternValue['kind'];
  then: string;
  last?: PatternValue['kind'];
  qualifier: string;
}[] = [
  { word: 'WITHIN', value: 'number', then: 'SECONDS', qualifier: 'WITHIN' },
  { word: 'REPEATS', value: 'number', then: 'TIMES', qualifier: 'REPEATS' },
  { word: 'START', value: 'timestamp', then: 'STOP', last: 'timestamp', qualifier: 'START/STOP' },
];

function comparisonNode(
  p: { objectType: string; path: string[]; text: string },
  operator: string,
  negated: boolean,
  value?: PatternValue,
): Node {
  const comparison: Comparison = {
    objectType: p.objectType,
    path: p.path,
    pathText: p.text,
    operator,
    negated,
  };
  if (value !== undefined) comparison.value = value;
  return { kind: 'comparison', comparison };
}

/** Reads a quoted literal starting at the quote at `i`; returns the unescaped text and the index after it. */
function readQuoted(src: string, i: number): { text: string; end: number } {
  let text = '';
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j]!;
    if (c === '\\') {
      const next = src[j + 1];
      // The spec allows escaping only the quote and the backslash itself.
      if (next !== "'" && next !== '\\')
        throw new PatternSyntaxError(`invalid escape \\${next ?? ''} at character ${j}`);
      text += next;
      j++;
    } else if (c === "'") {
      return { text, end: j + 1 };
    } else {
      text += c;
    }
  }
  throw new PatternSyntaxError(`unterminated string starting at character ${i}`);
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if ('[]()'.includes(c) || c === ',') {
      tokens.push({ t: 'punct', v: c, at });
      i++;
      continue;
    }
    const op = /^(?:==|!=|<>|<=|>=|=|<|>)/.exec(src.slice(i, i + 2));
    if (op) {
      const v = op[0] === '==' ? '=' : op[0] === '<>' ? '!=' : op[0];
      tokens.push({ t: 'op', v, at });
      i += op[0].length;
      continue;
    }
    if (c === "'") {
      const q = readQuoted(src, i);
      tokens.push({ t: 'value', v: { kind: 'string', value: q.text }, at });
      i = q.end;
      continue;
    }
    if ((c === 'b' || c === 'h' || c === 't') && src[i + 1] === "'") {
      const q = readQuoted(src, i + 1);
      const kind = c === 'b' ? 'binary' : c === 'h' ? 'hex' : 'timestamp';
      tokens.push({ t: 'value', v: { kind, value: q.text }, at });
      i = q.end;
      continue;
    }
    const num = /^[-+]?\d+(?:\.\d+)?/.exec(src.slice(i));
    if (num) {
      tokens.push({ t: 'value', v: { kind: 'number', value: Number(num[0]) }, at });
      i += num[0].length;
      continue;
    }
    // An object path: <object-type>:<property>(.<property> | .'<quoted>' | [<index>|*])*
    const head = /^([a-z0-9][a-z0-9-]*):([A-Za-z0-9_]+)/.exec(src.slice(i));
    if (head) {
      const path = [head[2]!];
      let j = i + head[0].length;
      for (;;) {
        if (src[j] === '.' && src[j + 1] === "'") {
          const q = readQuoted(src, j + 1);
          path.push(q.text);
          j = q.end;
        } else if (src[j] === '.') {
          const part = /^[A-Za-z0-9_-]+/.exec(src.slice(j + 1));
          if (!part) throw new PatternSyntaxError(`incomplete object path at character ${j}`);
          path.push(part[0]);
          j += 1 + part[0].length;
        } else if (src[j] === '[') {
          const index = /^\[(\d+|\*)\]/.exec(src.slice(j));
          if (!index) throw new PatternSyntaxError(`invalid list index at character ${j}`);
          path.push(index[0]);
          j += index[0].length;
        } else {
          break;
        }
      }
      tokens.push({ t: 'path', objectType: head[1]!, path, text: src.slice(i, j), at });
      i = j;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (word) {
      const upper = word[0].toUpperCase();
      if (upper === 'TRUE' || upper === 'FALSE')
        tokens.push({ t: 'value', v: { kind: 'boolean', value: upper === 'TRUE' }, at });
      else if (KEYWORDS.has(upper)) tokens.push({ t: 'word', v: upper, at });
      else throw new PatternSyntaxError(`unexpected ${JSON.stringify(word[0])} at character ${at}`);
      i += word[0].length;
      continue;
    }
    throw new PatternSyntaxError(`unexpected ${JSON.stringify(c)} at character ${at}`);
  }
  tokens.push({ t: 'end', at: src.length });
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isWord(v: string): boolean {
    const t = this.peek();
    return t.t === 'word' && t.v === v;
  }

  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === v;
  }

  private expectPunct(v: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v)
      throw new PatternSyntaxError(`expected ${JSON.stringify(v)} at character ${t.at}`);
  }

  pattern(): Node {
    const node = this.observationSequence();
    const t = this.peek();
    if (t.t !== 'end') throw new PatternSyntaxError(`unexpected text at character ${t.at}`);
    return node;
  }

  // Precedence, loosest first: FOLLOWEDBY, OR, AND, then qualifiers.
  private observationSequence(): Node {
    return this.binary('FOLLOWEDBY', 'followedby', 'observation', () =>
      this.binary('OR', 'or', 'observation', () =>
        this.binary('AND', 'and', 'observation', () => this.qualifiedObservation()),
      ),
    );
  }

  private binary(
    word: string,
    kind: 'or' | 'and' | 'followedby',
    scope: 'observation' | 'comparison',
    operand: () => Node,
  ): Node {
    const items = [operand()];
    while (this.isWord(word)) {
      this.next();
      items.push(operand());
    }
    return items.length === 1 ? items[0]! : { kind, items, scope };
  }

  private qualifiedObservation(): Node {
    let node: Node;
    if (this.isPunct('[')) {
      this.next();
      node = this.comparisonOr();
      this.expectPunct(']');
    } else if (this.isPunct('(')) {
      this.next();
      node = this.observationSequence();
      this.expectPunct(')');
    } else {
      throw new PatternSyntaxError(`expected "[" or "(" at character ${this.peek().at}`);
    }
    for (;;) {
      const q = QUALIFIERS.find(({ word }) => this.isWord(word));
      if (q === undefined) return node;
      this.next();
      this.value(q.value);
      if (!this.isWord(q.then))
        throw new PatternSyntaxError(`expected ${q.then} at character ${this.peek().at}`);
      this.next();
      if (q.last !== undefined) this.value(q.last);
      node = { kind: 'qualified', inner: node, qualifier: q.qualifier };
    }
  }

  private value(kind?: PatternValue['kind']): PatternValue {
    const t = this.next();
    if (t.t !== 'value' || (kind && t.v.kind !== kind))
      throw new PatternSyntaxError(`expected ${kind ?? 'a value'} at character ${t.at}`);
    return t.v;
  }

  private comparisonOr(): Node {
    return this.binary('OR', 'or', 'comparison', () =>
      this.binary('AND', 'and', 'comparison', () => this.comparisonPrimary()),
    );
  }

  private comparisonPrimary(): Node {
    if (this.isPunct('(')) {
      this.next();
      const node = this.comparisonOr();
      this.expectPunct(')');
      return node;
    }
    if (this.isWord('EXISTS')) {
      this.next();
      return comparisonNode(this.path(), 'EXISTS', false);
    }
    const p = this.path();
    let negated = false;
    if (this.isWord('NOT')) {
      this.next();
      negated = true;
    }
    const t = this.next();
    let operator: string;
    if (t.t === 'op') operator = t.v;
    else if (t.t === 'word' && WORD_OPERATORS.has(t.v)) operator = t.v;
    else throw new PatternSyntaxError(`expected a comparison operator at character ${t.at}`);
    const value = operator === 'IN' ? this.set() : this.value();
    return comparisonNode(p, operator, negated, value);
  }

  private set(): PatternValue {
    this.expectPunct('(');
    const values = [this.value()];
    while (this.isPunct(',')) {
      this.next();
      values.push(this.value());
    }
    this.expectPunct(')');
    return { kind: 'set', values };
  }

  private path(): { objectType: string; path: string[]; text: string } {
    const t = this.next();
    if (t.t !== 'path')
      throw new PatternSyntaxError(`expected an object path (type:property) at character ${t.at}`);
    return t;
  }
}

function describeCombination(node: Node): string | undefined {
  switch (node.kind) {
    case 'comparison':
      return undefined;
    case 'qualified':
      return `the ${node.qualifier} qualifier`;
    case 'or':
      for (const item of node.items) {
        const found = describeCombination(item);
        if (found) return found;
      }
      return undefined;
    case 'and':
      return node.scope === 'observation' ? 'AND between observations' : 'AND between comparisons';
    case 'followedby':
      return 'FOLLOWEDBY';
  }
}

function flatten(node: Node, out: Comparison[]): void {
  if (node.kind === 'comparison') out.push(node.comparison);
  else if (node.kind === 'or') for (const item of node.items) flatten(item, out);
}

/**
 * The comparisons a pattern ORs together, or why it is not such a disjunction (or not
 * a valid pattern at all).
 */
export function readStixPattern(pattern: string): PatternReading {
  let ast: Node;
  try {
    ast = new Parser(tokenize(pattern)).pattern();
  } catch (err) {
    if (err instanceof PatternSyntaxError)
      return { ok: false, reason: `the pattern is not valid STIX patterning: ${err.message}` };
    throw err;
  }
  const combination = describeCombination(ast);
  if (combination) {
    return {
      ok: false,
      combination: true,
      reason: `the pattern uses ${combination}, so no single value it names can be enforced on its own`,
    };
  }
  const comparisons: Comparison[] = [];
  flatten(ast, comparisons);
  return { ok: true, comparisons };
}
