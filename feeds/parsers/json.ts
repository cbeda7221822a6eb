/**
 * The json format: a JSONPath expression (spec.parser.path) selects the records of a
 * JSON document.
 *
 * Each selected item is either
 * - a string: the indicator value itself, exposed as record { value }; or
 * - an object: the value is its first string among the keys `value`, `indicator`, `ip`,
 *   `domain`, `url` (in that order), and the record is the object itself, so a
 *   confidence expression can read any field (record.score, record.confidence, ...).
 * Anything else (a number, an array, null, an object without such a key) is rejected.
 *
 * Type hints: an `ip`, `domain` or `url` key states the type; for `value`/`indicator`,
 * a string `type` field in the same object does, when it names a known type.
 *
 * JSONPath is evaluated by jsonpath-plus in its "safe" mode: filter expressions
 * ($..[?(@.score > 5)]) run in its own interpreter, never through eval, because the path
 * is configuration and the document is untrusted input.
 */
import { JSONPath } from 'jsonpath-plus';
import type { ParsedRecord, Parser, ParserItem, ParserOptions } from '../indicator.js';
import { describeJsonValue, readJsonBody } from './body.js';
import { ipHint, typeHintFor, type TypeHint } from './type-hints.js';

/** Keys an object's value is taken from, in order of preference. */
export const VALUE_KEYS = ['value', 'indicator', 'ip', 'domain', 'url'] as const;

interface Selected {
  path: string;
  value: unknown;
}

/** Evaluates `path` over `document`; throws `json: ...` when the expression is unusable. */
export function selectJsonPath(document: unknown, path: string): Selected[] {
  try {
    const found = JSONPath({
      path,
      json: document as object,
      resultType: 'all',
      wrap: true,
      eval: 'safe',
      ignoreEvalErrors: false,
    }) as Array<{ path: string; value: unknown }>;
    return found.map((f) => ({ path: f.path, value: f.value }));
  } catch (err) {
    throw new Error(
      `json: path ${JSON.stringify(path)} cannot be evaluated: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export const parseJson: Parser = async function* parseJson(
  body: AsyncIterable<Uint8Array>,
  options: ParserOptions,
): AsyncGenerator<ParserItem> {
  const path = options.path?.trim();
  if (!path) throw new Error('json: parser.path is required (a JSONPath such as $.data[*].ip)');
  const document = await readJsonBody(body, 'json');
  const selected = selectJsonPath(document, path);
  for (const { path: ref, value } of selected) {
    yield toItem(ref, value);
  }
};

function toItem(ref: string, item: unknown): ParserItem {
  if (typeof item === 'string') {
    const value = item.trim();
    if (value === '') return { kind: 'rejected', ref, reason: 'the selected string is empty' };
    return { kind: 'record', value, record: { value }, ref };
  }
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return {
      kind: 'rejected',
      ref,
      reason: `the selected item is ${describeJsonValue(item)}, not a string or an object`,
    };
  }
  const object = item as Record<string, unknown>;
  for (const key of VALUE_KEYS) {
    const raw = object[key];
    if (typeof raw !== 'string' || raw.trim() === '') continue;
    const value = raw.trim();
    const record: ParsedRecord = { kind: 'record', value, record: object, ref };
    const hint = hintFor(key, value, object);
    if (hint) {
      record.typeHint = hint.typeHint;
      if (hint.hashAlgorithm) record.attributes = { hashAlgorithm: hint.hashAlgorithm };
    }
    return record;
  }
  return {
    kind: 'rejected',
    ref,
    reason: `the selected object has no non-empty string in any of ${VALUE_KEYS.join(', ')}`,
  };
}

function hintFor(
  key: (typeof VALUE_KEYS)[number],
  value: string,
  object: Record<string, unknown>,
): TypeHint | undefined {
  switch (key) {
    case 'ip':
      return { typeHint: ipHint(value) };
    case 'domain':
      return { typeHint: 'domain' };
    case 'url':
      return { typeHint: 'url' };
    default:
      return typeof object.type === 'string' ? typeHintFor(object.type, value) : undefined;
  }
}
