/**
 * Errors of the policy CEL environment.
 *
 * A CelCompileError is a spec problem: the controller reports it as FST_INVALID_SPEC
 * (docs/errors.md) with the message as it is, so the message is one line that starts
 * with the field path ("spec.match: ...") and says where in the expression the problem
 * is when cel-js knows.
 */

import { ForestallError } from '../lib/errors.js';

/** Why an expression was refused; cel-js codes (unknown_variable, no_matching_overload, ...) pass through unchanged. */
export type CelCompileReason =
  | 'source_too_long'
  | 'limit_exceeded'
  | 'cost_limit'
  | 'not_bool'
  | 'not_number'
  | 'unsafe_regex'
  | 'invalid_literal'
  | 'unsupported_construct'
  | (string & {});

/** A spec that does not compile is terminal until the spec changes (docs/errors.md FST_INVALID_SPEC). */
export class CelCompileError extends ForestallError<'FST_INVALID_SPEC'> {
  override readonly name = 'CelCompileError';
  /** Field path of the expression, for example spec.match or spec.rules[2].expression. */
  readonly field: string;
  readonly reason: CelCompileReason;
  /** Zero-based character offset into the source, when known. */
  readonly position: number | undefined;

  constructor(
    field: string,
    reason: CelCompileReason,
    problem: string,
    source?: string,
    position?: number,
  ) {
    super(
      'FST_INVALID_SPEC',
      `${field}: ${problem}${source === undefined || position === undefined ? '' : ` ${describePosition(source, position)}`}`,
      // Built from the author's own expression: nothing to redact, and "token: AND" is not a credential.
      { errorClass: 'terminal', redact: false },
    );
    this.field = field;
    this.reason = reason;
    this.position = position;
  }
}

/** "at column 12 near `== 'ipv4'`" (or "at line 2, column 3 ..."), or "at the end of the expression". */
export function describePosition(source: string, position: number): string {
  if (position >= source.trimEnd().length) return 'at the end of the expression';
  return `at ${lineAndColumn(source, position)} near ${JSON.stringify(snippet(source, position))}`;
}

/** "column 12", or "line 2, column 3" when the source has several lines. */
export function lineAndColumn(source: string, position: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = position - lineStart + 1;
  return source.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
}

/** Up to 24 characters from the position, on one line. */
function snippet(source: string, position: number): string {
  const rest = source.slice(position).split('\n', 1)[0]!;
  return rest.length > 24 ? `${rest.slice(0, 24)}…` : rest;
}

/** The first line of any thrown value, for one-line messages. */
export function firstLine(err: unknown): string {
  const summary = (err as { summary?: unknown } | null)?.summary;
  const text =
    typeof summary === 'string' ? summary : err instanceof Error ? err.message : String(err);
  return text.split('\n', 1)[0]!;
}
