/**
 * Checks an HTTP request against an OpenAPI description (OpenAPI 3.0.x or Swagger 2.0):
 * does the description have an operation for it, are its path and query parameters the
 * described ones, and does its JSON body validate against the operation's request schema.
 *
 *   checkRequest(doc, { method: 'PATCH', path: '/v1.0/users/42', body: { accountEnabled: false } })
 *     → [] when the request is one the description accepts, else one sentence per problem.
 *
 * What is checked:
 * - Path: the description's base path (Swagger `basePath`, or the path of `servers[].url`
 *   with server variables at their defaults) must prefix the request path and is removed,
 *   unless `relativePath` is set. The rest must match a path template segment by segment
 *   (segments are percent-decoded first; a literal segment beats a `{param}` one). Path
 *   keys with a fixed query (`/x?mode=a`, as Okta's description has) match only requests
 *   that carry that query. Then the method must be described for that path.
 * - Parameters: path parameters and query parameters against their schemas (values are
 *   strings on the wire and are coerced to the declared type first; arrays are split by
 *   their style / collectionFormat); required query parameters must be present; a query
 *   parameter the operation does not describe is a problem.
 * - Body: a body sent to an operation without one, a required body missing, a content
 *   type the operation does not take; a JSON body against the request schema, with
 *   $refs resolved, allOf/anyOf/oneOf, OpenAPI 3.0 `nullable` (and Swagger `x-nullable`),
 *   boolean exclusiveMinimum/Maximum, and OpenAPI 3 discriminators (explicit `mapping` or
 *   implicit by schema name): the object is validated against the schema its
 *   discriminator value selects, and a value the description does not map is a problem.
 *   Unknown properties are problems: a property that no schema the value passes through
 *   declares (in `properties`, `patternProperties` or `additionalProperties`) is reported,
 *   even though OpenAPI's default is to allow them. This is what catches `accountEnabeld`.
 *   Schemas that declare no properties at all (`{type: object}`) stay free-form.
 *   readOnly properties are not required in requests. PATCH bodies are partial
 *   (`partialPatch`, default true): `required` is not enforced for the body and the
 *   objects nested in it through properties, as JSON Merge Patch and OData define;
 *   array items are whole values and keep their required properties.
 *
 * What is not checked (see also the README beside this file):
 * - headers (including content negotiation and auth), cookies, the host or scheme of a
 *   full URL, path-level or operation-level `servers`, path item `$ref`s;
 * - non-JSON bodies (form data, binary): only their content type is checked;
 * - query parameters in `deepObject` or `content` form (present/required only);
 * - readOnly properties sent in a request are not reported (clients send back what they
 *   read); writeOnly, `deprecated`, `example`s and vendor extensions are ignored;
 * - Swagger 2.0 `discriminator` (a bare property name) and Okta's
 *   `x-openapi-v3-discriminator` are not dispatched: the base schema is used;
 * - `required` listed in one allOf member for a readOnly property declared in another;
 * - unknown formats are ignored (ajv-formats' formats are checked);
 * - an unknown property in an object that has another error is reported only once that
 *   error is fixed (a failing schema's properties no longer count as declared, so the
 *   unknown-property errors of such objects are dropped as noise); a free-form
 *   alternative in anyOf/oneOf does not make properties known;
 * - responses (test/contract/github-openapi.ts does those for GitHub).
 */
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2019.js';
import type { SchemaValidateFunction } from 'ajv/dist/types/index.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default;

/** An OpenAPI 3.0.x or Swagger 2.0 description, as parsed JSON. */
export type OpenApiDescription = Record<string, unknown>;

export interface ContractRequest {
  /** HTTP method, any case. */
  method: string;
  /**
   * The URL path as sent ('/v1.0/users/42'), or the full URL, whose query is added to
   * `query`. With `relativePath`, the path below the server URL ('/users/42').
   */
  path: string;
  /** Decoded query parameters; a repeated parameter as an array. */
  query?: Record<string, string | readonly string[] | undefined>;
  /** The parsed JSON body; undefined when the request has none. */
  body?: unknown;
  /** Content type of the body; application/json when a body is given without one. */
  contentType?: string;
}

export interface ContractOptions {
  /** The request path is already relative to the server URL (default false). */
  relativePath?: boolean;
  /**
   * OData namespace of bound actions and functions, e.g. 'microsoft.graph'. Microsoft
   * Graph accepts both `/users/{id}/revokeSignInSessions` and the namespace-qualified
   * `/users/{id}/microsoft.graph.revokeSignInSessions`; descriptions generated before
   * Microsoft.OpenApi.OData's unqualified-call option list only the latter. With this
   * option, a request segment `X` also matches a template segment `<namespace>.X`.
   */
  odataNamespace?: string;
  /** PATCH bodies are partial updates (default true): see the module comment. */
  partialPatch?: boolean;
}

export interface Inspection {
  problems: string[];
  /** The matched operation, when the path and method matched one. */
  operationId?: string;
  /** The matched path key as written in the description. */
  template?: string;
  pathParams?: Record<string, string>;
}

type JsonObject = Record<string, unknown>;
type Mode = 'full' | 'partial';
type Position = 'value' | 'allOf' | 'member';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** A keyword that always fails with its value as the message (for problems ajv cannot phrase). */
const FAIL = 'x-contract-fail';
/** Validation keywords passed to ajv as they are; every other keyword is dropped. */
const PLAIN_KEYWORDS = new Set([
  'enum',
  'const',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);

const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Problems with the request, as sentences; empty when the description accepts it in every respect checked. */
export function checkRequest(
  doc: OpenApiDescription,
  request: ContractRequest,
  options: ContractOptions = {},
): string[] {
  return contractFor(doc, options).check(request);
}

const contracts = new WeakMap<OpenApiDescription, Map<string, RequestContract>>();

/** The (cached) compiled contract for a description and options. */
export function contractFor(
  doc: OpenApiDescription,
  options: ContractOptions = {},
): RequestContract {
  let byOptions = contracts.get(doc);
  if (!byOptions) contracts.set(doc, (byOptions = new Map()));
  const key = JSON.stringify([
    options.relativePath ?? false,
    options.odataNamespace ?? '',
    options.partialPatch ?? true,
  ]);
  let contract = byOptions.get(key);
  if (!contract) byOptions.set(key, (contract = new RequestContract(doc, options)));
  return contract;
}

interface Segment {
  literal?: string;
  /** The literal without the OData namespace, when odataNamespace is set and it has it. */
  alias?: string;
  regex?: RegExp;
  names: string[];
}

interface Param {
  name: string;
  in: string;
  required: boolean;
  /** undefined: not validated (content-encoded or deepObject parameters). */
  schema?: unknown;
  array: boolean;
  /** How an array arrives: repeated parameters ('multi') or joined by a delimiter. */
  split: string;
}

interface BodySpec {
  required: boolean;
  /** Media type → schema (undefined: any). */
  media: Map<string, unknown>;
}

interface Operation {
  method: string;
  template: string;
  operationId?: string;
  label: string;
  segments: Segment[];
  fixedQuery: [string, string][];
  params: Param[];
  body?: BodySpec;
}

interface Match {
  op: Operation;
  score: number[];
  pathParams: Record<string, string>;
}

export class RequestContract {
  private readonly doc: OpenApiDescription;
  private readonly options: ContractOptions;
  private readonly swagger2: boolean;
  private readonly operations: Operation[] = [];
  private readonly basePaths: string[];
  private readonly schemas: SchemaTranslator;
  private readonly bodySpace: SchemaSpace;
  private readonly paramSpace: SchemaSpace;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(doc: OpenApiDescription, options: ContractOptions = {}) {
    this.doc = doc;
    this.options = options;
    this.swagger2 = doc.swagger === '2.0';
    if (!this.swagger2 && !(typeof doc.openapi === 'string' && doc.openapi.startsWith('3.0'))) {
      throw new Error(
        `not an OpenAPI 3.0 or Swagger 2.0 description (openapi: ${JSON.stringify(doc.openapi ?? doc.swagger)})`,
      );
    }
    this.schemas = new SchemaTranslator(doc, this.swagger2);
    this.bodySpace = new SchemaSpace(this.schemas, false);
    this.paramSpace = new SchemaSpace(this.schemas, true);
    this.basePaths = this.findBasePaths();
    const paths = isObject(doc.paths) ? doc.paths : {};
    for (const [key, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      const q = key.indexOf('?');
      const pathPart = q < 0 ? key : key.slice(0, q);
      const fixedQuery = q < 0 ? [] : [...new URLSearchParams(key.slice(q + 1))];
      const segments = pathPart
        .split('/')
        .slice(1)
        .map((s) => this.segment(s));
      const shared = this.parameterList(item.parameters);
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op)) continue;
        const own = this.parameterList(op.parameters);
        const params = [
          ...shared.filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)),
          ...own,
        ];
        const operationId = typeof op.operationId === 'string' ? op.operationId : undefined;
        const label = `${operationId ? `${operationId} (` : ''}${method.toUpperCase()} ${key}${operationId ? ')' : ''}`;
        this.operations.push({
          method,
          template: key,
          operationId,
          label,
          segments,
          fixedQuery,
          params: params.filter((p) => p.in !== 'body' && p.in !== 'formData'),
          body: this.bodySpec(op, [...shared, ...own]),
        });
      }
    }
  }

  check(request: ContractRequest): string[] {
    return this.inspect(request).problems;
  }

  /** Like check, and also says which operation the request matched. */
  inspect(request: ContractRequest): Inspection {
    const method = request.method.toLowerCase();
    const said = `${request.method.toUpperCase()} ${request.path}`;
    const problems: string[] = [];
    const report = (p: string) => problems.push(`${said}: ${p}`);

    // The path and query as sent.
    let rawPath = request.path;
    const query = new Map<string, string[]>();
    const add = (k: string, v: string) => query.set(k, [...(query.get(k) ?? []), v]);
    if (/^https?:\/\//i.test(rawPath)) {
      const url = new URL(rawPath);
      rawPath = url.pathname;
      url.searchParams.forEach((v, k) => add(k, v));
    } else if (rawPath.includes('?')) {
      const q = rawPath.indexOf('?');
      new URLSearchParams(rawPath.slice(q + 1)).forEach((v, k) => add(k, v));
      rawPath = rawPath.slice(0, q);
    }
    for (const [k, v] of Object.entries(request.query ?? {})) {
      if (v === undefined) continue;
      for (const one of typeof v === 'string' ? [v] : v) add(k, one);
    }

    let path = rawPath;
    if (!this.options.relativePath) {
      const base = this.basePaths.find(
        (b) => b === '' || rawPath === b || rawPath.startsWith(`${b}/`),
      );
      if (base === undefined) {
        report(`the path is not below the description's base path ${this.basePaths.join(' or ')}`);
        return { problems };
      }
      path = rawPath.slice(base.length) || '/';
    }
    const segments = path
      .split('/')
      .slice(1)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });

    const matches = this.operations
      .map((op) => this.match(op, segments, query))
      .filter((m): m is Match => m !== undefined);
    matches.sort((a, b) => compareScores(b.score, a.score));
    const match = matches.find((m) => m.op.method === method);
    if (!match) {
      if (matches.length === 0) {
        const near = this.nearest(segments);
        report(
          `no path in the description matches ${path}${near.length ? `; nearest: ${near.join(', ')}` : ''}`,
        );
      } else {
        const template = matches[0]!.op.template;
        const allowed = matches
          .filter((m) => m.op.template === template)
          .map((m) => m.op.method.toUpperCase());
        report(
          `${template} has no ${request.method.toUpperCase()} operation in the description (it has: ${allowed.join(', ')})`,
        );
      }
      return { problems };
    }
    const { op, pathParams } = match;

    // Parameters.
    for (const p of op.params) {
      if (p.in === 'path') {
        const value = pathParams[p.name];
        if (value === undefined)
          report(`path parameter ${p.name} of ${op.label} is not in the path template`);
        else this.checkParam(op, p, [value], report);
      } else if (p.in === 'query') {
        const values = query.get(p.name);
        if (!values || values.length === 0) {
          if (p.required) report(`query parameter ${p.name} is required by ${op.label}`);
        } else this.checkParam(op, p, values, report);
      }
    }
    const knownQuery = new Set([
      ...op.params.filter((p) => p.in === 'query').map((p) => p.name),
      ...op.fixedQuery.map(([k]) => k),
    ]);
    for (const name of query.keys())
      if (!knownQuery.has(name)) report(`query parameter ${name} is not described for ${op.label}`);

    // Body.
    if (request.body === undefined) {
      if (op.body?.required) report(`${op.label} requires a request body`);
    } else if (!op.body) {
      report(`${op.label} takes no request body, but one was sent`);
    } else {
      const contentType = (request.contentType ?? 'application/json')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      const mediaType = findMediaType(op.body.media, contentType);
      if (mediaType === undefined) {
        report(
          `${op.label} does not take ${contentType} (it takes: ${[...op.body.media.keys()].join(', ') || 'nothing described'})`,
        );
      } else if (isJsonMediaType(contentType) && op.body.media.get(mediaType) !== undefined) {
        const mode: Mode =
          method === 'patch' && this.options.partialPatch !== false ? 'partial' : 'full';
        const key = `body ${op.method} ${op.template} ${mediaType} ${mode}`;
        const validate = this.compile(this.bodySpace, key, op.body.media.get(mediaType), mode);
        if (typeof validate === 'string') report(`request body cannot be checked: ${validate}`);
        else if (!validate(request.body))
          for (const e of describeErrors(validate.errors)) report(`request body: ${e}`);
      }
    }
    return { problems, operationId: op.operationId, template: op.template, pathParams };
  }

  private checkParam(op: Operation, p: Param, values: string[], report: (p: string) => void): void {
    if (!p.array && values.length > 1) {
      report(
        `${p.in} parameter ${p.name} is given ${values.length} times, but ${op.label} describes one value`,
      );
      return;
    }
    if (p.schema === undefined) return;
    const value = p.array
      ? p.split === 'multi'
        ? [...values]
        : values.flatMap((v) => v.split(p.split))
      : values[0];
    const key = `param ${op.method} ${op.template} ${p.in} ${p.name}`;
    const validate = this.compile(
      this.paramSpace,
      key,
      { type: 'object', properties: { v: p.schema } },
      'full',
    );
    if (typeof validate === 'string') {
      report(`${p.in} parameter ${p.name} cannot be checked: ${validate}`);
      return;
    }
    const holder = { v: value };
    if (!validate(holder)) {
      const text = describeErrors(validate.errors).map((e) =>
        e.replace(/^\/v(\/|\b)/, (_m, slash: string) => (slash ? '/' : '')).trim(),
      );
      report(
        `${p.in} parameter ${p.name}=${JSON.stringify(values.length === 1 ? values[0] : values)}: ${text.join('; ')}`,
      );
    }
  }

  private compile(
    space: SchemaSpace,
    key: string,
    schema: unknown,
    mode: Mode,
  ): ValidateFunction | string {
    let validate = this.validators.get(key);
    if (!validate) {
      try {
        validate = space.compile(schema, mode);
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
      this.validators.set(key, validate);
    }
    return validate;
  }

  private match(
    op: Operation,
    segments: string[],
    query: Map<string, string[]>,
  ): Match | undefined {
    if (op.segments.length !== segments.length) return undefined;
    const score: number[] = [];
    const pathParams: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
      const t = op.segments[i]!;
      const s = segments[i]!;
      if (t.literal !== undefined) {
        if (s === t.literal) score.push(3);
        else if (t.alias !== undefined && s === t.alias) score.push(2);
        else return undefined;
      } else {
        const m = t.regex!.exec(s);
        if (!m) return undefined;
        t.names.forEach((n, j) => {
          pathParams[n] = m[j + 1]!;
        });
        score.push(1);
      }
    }
    for (const [k, v] of op.fixedQuery) if (!(query.get(k) ?? []).includes(v)) return undefined;
    score.push(op.fixedQuery.length);
    return { op, score, pathParams };
  }

  /** Templates of the same length that differ from the request in one segment, by a few letters; the closest first. */
  private nearest(segments: string[]): string[] {
    const scored = new Map<string, number>();
    for (const op of this.operations) {
      if (op.segments.length !== segments.length || scored.has(op.template)) continue;
      let misses = 0;
      let distance = 0;
      op.segments.forEach((t, i) => {
        const s = segments[i]!;
        if (t.literal !== undefined ? s === t.literal || s === t.alias : t.regex!.test(s)) return;
        const meant = t.literal ?? t.names.map((n) => `{${n}}`).join('');
        misses++;
        // An OData operation named without its namespace counts as near.
        distance = meant.endsWith(`.${s}`) ? 0 : editDistance(s, meant);
        if (distance > Math.max(2, Math.floor(meant.length / 3))) misses++;
      });
      if (misses === 1) scored.set(op.template, distance);
    }
    return [...scored.entries()]
      .sort((a, b) => a[1] - b[1])
      .slice(0, 3)
      .map(([t]) => t);
  }

  private segment(text: string): Segment {
    if (!text.includes('{')) {
      const ns = this.options.odataNamespace ? `${this.options.odataNamespace}.` : undefined;
      return {
        literal: text,
        alias: ns && text.startsWith(ns) ? text.slice(ns.length) : undefined,
        names: [],
      };
    }
    const names: string[] = [];
    const pattern = text
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const m = /^\{([^}]+)\}$/.exec(part);
        if (m) {
          names.push(m[1]!);
          return '(.+?)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    return { regex: new RegExp(`^${pattern}$`), names };
  }

  private findBasePaths(): string[] {
    const trim = (p: string) => p.replace(/\/+$/, '');
    if (this.swagger2)
      return [trim(typeof this.doc.basePath === 'string' ? this.doc.basePath : '')];
    const servers = Array.isArray(this.doc.servers) ? this.doc.servers.filter(isObject) : [];
    const bases = servers.map((s) => {
      const variables = isObject(s.variables) ? s.variables : {};
      const url = String(s.url ?? '').replace(/\{([^}]+)\}/g, (_m, name: string) => {
        const v = variables[name];
        return isObject(v) && typeof v.default === 'string' ? v.default : 'x';
      });
      try {
        return trim(decodeURI(new URL(url, 'http://relative.invalid').pathname));
      } catch {
        return '';
      }
    });
    const unique = [...new Set(bases.length ? bases : [''])];
    return unique.sort((a, b) => b.length - a.length);
  }

  private resolve(value: unknown): unknown {
    let node = value;
    for (let i = 0; i < 20 && isObject(node) && typeof node.$ref === 'string'; i++)
      node = resolvePointer(this.doc, node.$ref);
    return node;
  }

  private parameterList(list: unknown): Param[] {
    if (!Array.isArray(list)) return [];
    const out: Param[] = [];
    for (const entry of list) {
      const p = this.resolve(entry);
      if (!isObject(p) || typeof p.name !== 'string' || typeof p.in !== 'string') continue;
      const required = p.required === true || p.in === 'path';
      if (this.swagger2) {
        if (p.in === 'body') {
          out.push({
            name: p.name,
            in: 'body',
            required,
            schema: p.schema,
            array: false,
            split: ',',
          });
          continue;
        }
        const schema: JsonObject = {};
        for (const k of [
          'type',
          'format',
          'items',
          'enum',
          'pattern',
          'minimum',
          'maximum',
          'exclusiveMinimum',
          'exclusiveMaximum',
          'minLength',
          'maxLength',
          'minItems',
          'maxItems',
          'uniqueItems',
          'multipleOf',
        ]) {
          if (k in p) schema[k] = p[k];
        }
        const format = typeof p.collectionFormat === 'string' ? p.collectionFormat : 'csv';
        const split = { csv: ',', ssv: ' ', tsv: '\t', pipes: '|', multi: 'multi' }[format] ?? ',';
        out.push({ name: p.name, in: p.in, required, schema, array: p.type === 'array', split });
      } else {
        const schema = p.schema;
        const resolved = this.resolve(schema);
        const array = isObject(resolved) && resolved.type === 'array';
        const style =
          typeof p.style === 'string'
            ? p.style
            : p.in === 'query' || p.in === 'cookie'
              ? 'form'
              : 'simple';
        const explode = typeof p.explode === 'boolean' ? p.explode : style === 'form';
        const split =
          style === 'form'
            ? explode
              ? 'multi'
              : ','
            : style === 'spaceDelimited'
              ? ' '
              : style === 'pipeDelimited'
                ? '|'
                : ',';
        const checkable =
          schema !== undefined &&
          style !== 'deepObject' &&
          !(isObject(resolved) && resolved.type === 'object');
        out.push({
          name: p.name,
          in: p.in,
          required,
          schema: checkable ? schema : undefined,
          array,
          split,
        });
      }
    }
    return out;
  }

  private bodySpec(op: JsonObject, params: Param[]): BodySpec | undefined {
    if (this.swagger2) {
      const consumes = Array.isArray(op.consumes)
        ? op.consumes
        : Array.isArray(this.doc.consumes)
          ? this.doc.consumes
          : ['application/json'];
      const types = consumes
        .filter((c): c is string => typeof c === 'string')
        .map((c) => c.split(';')[0]!.trim().toLowerCase());
      const body = [...params].reverse().find((p) => p.in === 'body');
      if (body)
        return {
          required: body.required,
          media: new Map(
            types.map((t) => [t, isJsonMediaType(t) ? (body.schema ?? {}) : undefined]),
          ),
        };
      if (params.some((p) => p.in === 'formData'))
        return {
          required: params.some((p) => p.in === 'formData' && p.required),
          media: new Map(types.map((t) => [t, undefined])),
        };
      return undefined;
    }
    const requestBody = this.resolve(op.requestBody);
    if (!isObject(requestBody)) return undefined;
    const content = isObject(requestBody.content) ? requestBody.content : {};
    const media = new Map<string, unknown>();
    for (const [type, m] of Object.entries(content)) {
      const key = type.split(';')[0]!.trim().toLowerCase();
      if (!media.has(key))
        media.set(
          key,
          isObject(m) && m.schema !== undefined ? m.schema : isJsonMediaType(key) ? {} : undefined,
        );
    }
    return { required: requestBody.required === true, media };
  }
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isJsonMediaType(type: string): boolean {
  const t = type.split(';')[0]!.trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json') || t === '*/*' || t === 'application/*';
}

function findMediaType(media: Map<string, unknown>, contentType: string): string | undefined {
  if (media.has(contentType)) return contentType;
  const wildcard = `${contentType.split('/')[0]}/*`;
  if (media.has(wildcard)) return wildcard;
  return media.has('*/*') ? '*/*' : undefined;
}

function unescapePointer(segment: string): string {
  let s = segment;
  try {
    s = decodeURIComponent(s);
  } catch {
    /* keep as written */
  }
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = doc;
  for (const part of ref.slice(1).split('/').slice(1)) {
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[unescapePointer(part)];
  }
  return node;
}

/**
 * Sentences for ajv's errors, without the noise of if/then plumbing, each once.
 * When a schema fails, the properties it evaluated no longer count as evaluated, so
 * every property of that object would also be reported as unknown: unknown-property
 * errors are kept only for objects with no other error on them or below them. (A typo
 * next to another error is then reported once that error is fixed.)
 */
function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  const list = (errors ?? []).filter((e) => e.keyword !== 'if');
  const unknown = (e: ErrorObject) =>
    e.keyword === 'unevaluatedProperties' || e.keyword === 'additionalProperties';
  const otherPaths = list.filter((e) => !unknown(e)).map((e) => e.instancePath);
  const allPaths = list.map((e) => e.instancePath);
  const out = new Set<string>();
  for (const e of list) {
    const at = e.instancePath || '/';
    const params = e.params as Record<string, unknown>;
    if (unknown(e)) {
      if (
        otherPaths.includes(e.instancePath) ||
        allPaths.some((p) => p.startsWith(`${e.instancePath}/`))
      )
        continue;
      const name = String(params.unevaluatedProperty ?? params.additionalProperty);
      out.add(
        `unknown property ${e.instancePath}/${name.replace(/~/g, '~0').replace(/\//g, '~1')} (the description does not declare it here)`,
      );
    } else if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      const values = params.allowedValues.map((v) => JSON.stringify(v));
      out.add(
        `${at} must be one of ${values.slice(0, 12).join(', ')}${values.length > 12 ? `, … (${values.length} in all)` : ''}`,
      );
    } else {
      out.add(`${at} ${e.message ?? e.keyword}`);
    }
  }
  return [...out];
}

/** Edit distance, for suggesting the path a mistyped one was meant to be. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length]!;
}

interface Discriminator {
  property: string;
  /** Value → component name (or, when the description lacks it, the mapping's target as written). */
  mapping: Map<string, string>;
}

/**
 * Turns the description's schemas into JSON Schema 2019-09 for ajv, one schema per
 * component and mode, each with its own $id, so only what a request needs is compiled.
 * Ids: `oas:<mode>:<main|base>:<name>`; `main` dispatches on the discriminator, `base`
 * is the schema itself (allOf members point at base: that is inheritance, not dispatch).
 */
class SchemaTranslator {
  private readonly components: JsonObject;
  private readonly prefix: string;
  private readonly discriminators = new Map<string, Discriminator | undefined>();
  private readonly declares = new Map<string, boolean>();
  private readonly ids = new Map<string, { mode: Mode; kind: 'main' | 'base'; name: string }>();

  constructor(
    private readonly doc: OpenApiDescription,
    private readonly swagger2: boolean,
  ) {
    const holder = swagger2
      ? doc.definitions
      : isObject(doc.components)
        ? doc.components.schemas
        : undefined;
    this.components = isObject(holder) ? holder : {};
    this.prefix = swagger2 ? '#/definitions/' : '#/components/schemas/';
  }

  /** A schema for ajv; adds the ids of the definitions it references to `refs`. */
  translate(schema: unknown, mode: Mode, refs: Set<string>): unknown {
    return this.node(schema, mode, 'value', refs);
  }

  /** The schema for one id made by `id()`. */
  definition(id: string, refs: Set<string>): JsonObject {
    const entry = this.ids.get(id);
    if (!entry) return { [FAIL]: `internal: unknown schema id ${id}` };
    const { mode, kind, name } = entry;
    const component = this.components[name];
    if (component === undefined) return { [FAIL]: `the description has no schema ${name}` };
    const disc = kind === 'main' ? this.discriminatorOf(name) : undefined;
    const schema = disc
      ? this.dispatcher(name, disc, mode, refs)
      : this.node(component, mode, 'member', refs);
    return isObject(schema) ? schema : { allOf: [schema] };
  }

  private id(mode: Mode, kind: 'main' | 'base', name: string): string {
    const id = `oas:${mode}:${kind}:${name.replace(/[^A-Za-z0-9._-]/g, (c) => `~${c.charCodeAt(0).toString(16)}~`)}`;
    this.ids.set(id, { mode, kind, name });
    return id;
  }

  private componentName(ref: string): { name: string; rest: string } | undefined {
    if (!ref.startsWith(this.prefix)) return undefined;
    const tail = ref.slice(this.prefix.length);
    const slash = tail.indexOf('/');
    return {
      name: unescapePointer(slash < 0 ? tail : tail.slice(0, slash)),
      rest: slash < 0 ? '' : tail.slice(slash),
    };
  }

  private refTo(ref: string, mode: Mode, pos: Position, refs: Set<string>): JsonObject {
    const target = this.componentName(ref);
    if (!target)
      return {
        [FAIL]: `unsupported $ref ${ref} (only ${this.prefix}… is resolved inside schemas)`,
      };
    if (!(target.name in this.components))
      return { [FAIL]: `$ref ${ref}: the description has no schema ${target.name}` };
    const kind = pos === 'allOf' || target.rest !== '' ? 'base' : 'main';
    const id = this.id(mode, kind, target.name);
    refs.add(id);
    return { $ref: target.rest ? `${id}#${target.rest}` : id };
  }

  private node(v: unknown, mode: Mode, pos: Position, refs: Set<string>): unknown {
    if (typeof v === 'boolean') return v;
    if (!isObject(v)) return {};
    let out: JsonObject;
    if (typeof v.$ref === 'string') {
      // OpenAPI 3.0 and Swagger 2.0: a $ref's siblings are ignored (nullable is honoured).
      out = this.refTo(v.$ref, mode, pos, refs);
    } else {
      out = {};
      for (const [k, x] of Object.entries(v)) {
        if (PLAIN_KEYWORDS.has(k)) out[k] = x;
        else if ((k === 'properties' || k === 'patternProperties') && isObject(x)) {
          out[k] = Object.fromEntries(
            Object.entries(x).map(([name, s]) => [name, this.node(s, mode, 'value', refs)]),
          );
        } else if (k === 'additionalProperties') {
          out[k] = typeof x === 'boolean' ? x : this.node(x, mode, 'value', refs);
        } else if (k === 'items') {
          // Array items are whole values, even in a PATCH.
          out[k] = Array.isArray(x)
            ? x.map((s) => this.node(s, 'full', 'value', refs))
            : this.node(x, 'full', 'value', refs);
        } else if (k === 'allOf' && Array.isArray(x)) {
          out[k] = x.map((s) => this.node(s, mode, 'allOf', refs));
        } else if ((k === 'anyOf' || k === 'oneOf') && Array.isArray(x)) {
          out[k] = x.map((s) => this.node(s, mode, 'member', refs));
        } else if (k === 'not') {
          out[k] = this.node(x, mode, 'member', refs);
        } else if (k === 'type' && x !== 'file') {
          out[k] = x;
        } else if (k === 'required' && mode === 'full' && Array.isArray(x)) {
          const props = isObject(v.properties) ? v.properties : {};
          const required = x.filter(
            (n): n is string =>
              typeof n === 'string' && !(isObject(props[n]) && props[n].readOnly === true),
          );
          if (required.length) out[k] = required;
        }
      }
      for (const [bound, flag] of [
        ['minimum', 'exclusiveMinimum'],
        ['maximum', 'exclusiveMaximum'],
      ] as const) {
        if (v[flag] === true && typeof v[bound] === 'number') {
          out[flag] = v[bound];
          delete out[bound];
        } else if (typeof v[flag] === 'number') out[flag] = v[flag];
      }
    }
    if (v.nullable === true || v['x-nullable'] === true) {
      if (typeof out.type === 'string') {
        out.type = [out.type, 'null'];
        if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      } else {
        out = { if: { type: 'null' }, else: out };
      }
    }
    if (pos === 'value' && !('additionalProperties' in v) && this.declaresProperties(v, new Set()))
      out.unevaluatedProperties = false;
    return out;
  }

  /** Does the schema (through $refs and compositions) name any property? Free-form objects do not. */
  private declaresProperties(v: unknown, seen: Set<string>): boolean {
    if (!isObject(v)) return false;
    if (typeof v.$ref === 'string') {
      const target = this.componentName(v.$ref);
      if (!target) return false;
      if (target.rest) return this.declaresProperties(resolvePointer(this.doc, v.$ref), seen);
      const known = this.declares.get(target.name);
      if (known !== undefined) return known;
      if (seen.has(target.name)) return false;
      seen.add(target.name);
      const result = this.declaresProperties(this.components[target.name], seen);
      this.declares.set(target.name, result);
      return result;
    }
    if ('properties' in v || 'patternProperties' in v || 'additionalProperties' in v) return true;
    return ['allOf', 'anyOf', 'oneOf'].some(
      (k) =>
        Array.isArray(v[k]) && (v[k] as unknown[]).some((s) => this.declaresProperties(s, seen)),
    );
  }

  /** OpenAPI 3 discriminator of a component, on itself or on one of its inline allOf members. */
  private discriminatorOf(name: string): Discriminator | undefined {
    if (this.discriminators.has(name)) return this.discriminators.get(name);
    let found: Discriminator | undefined;
    const schema = this.components[name];
    if (!this.swagger2 && isObject(schema)) {
      const holders = [
        schema,
        ...(Array.isArray(schema.allOf)
          ? schema.allOf.filter((m) => isObject(m) && m.$ref === undefined)
          : []),
      ];
      const d = holders.map((h) => (isObject(h) ? h.discriminator : undefined)).find(isObject);
      if (d && typeof d.propertyName === 'string') {
        const mapping = new Map<string, string>();
        if (isObject(d.mapping)) {
          for (const [value, target] of Object.entries(d.mapping)) {
            if (typeof target !== 'string') continue;
            const t = target.startsWith('#') ? this.componentName(target)?.name : target;
            mapping.set(value, t ?? target);
          }
        } else {
          // Implicit mapping: the schema names of the components that extend this one.
          const ref = `${this.prefix}${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
          for (const [other, s] of Object.entries(this.components)) {
            if (
              isObject(s) &&
              Array.isArray(s.allOf) &&
              s.allOf.some((m) => isObject(m) && m.$ref === ref)
            )
              mapping.set(other, other);
          }
        }
        found = { property: d.propertyName, mapping };
      }
    }
    this.discriminators.set(name, found);
    return found;
  }

  /** The values a schema itself stands for (not mapped to another schema). */
  private ownValues(name: string, property: string): string[] {
    const values = [name, `#${name}`];
    const schema = this.components[name];
    const parts = isObject(schema)
      ? [schema, ...(Array.isArray(schema.allOf) ? schema.allOf : [])]
      : [];
    for (const part of parts) {
      if (!isObject(part)) continue;
      if (typeof part['x-ms-discriminator-value'] === 'string')
        values.push(part['x-ms-discriminator-value']);
      const prop = isObject(part.properties) ? part.properties[property] : undefined;
      if (isObject(prop) && typeof prop.default === 'string') values.push(prop.default);
    }
    return values;
  }

  private dispatcher(name: string, disc: Discriminator, mode: Mode, refs: Set<string>): JsonObject {
    const { property } = disc;
    const base = this.id(mode, 'base', name);
    refs.add(base);
    const others = [...disc.mapping].filter(([, target]) => target !== name);
    const members: JsonObject[] = others.map(([value, target]) => {
      let then: JsonObject;
      if (!(target in this.components)) {
        then = {
          properties: {
            [property]: {
              [FAIL]: `${JSON.stringify(value)} is mapped to ${target}, which this description does not contain`,
            },
          },
        };
      } else {
        const again = this.discriminatorOf(target);
        const kind =
          again && again.mapping.has(value) && again.mapping.get(value) !== target
            ? 'main'
            : 'base';
        const id = this.id(mode, kind, target);
        refs.add(id);
        then = { $ref: id };
      }
      return { if: { required: [property], properties: { [property]: { const: value } } }, then };
    });
    const otherValues = others.map(([value]) => value);
    members.push(
      otherValues.length
        ? {
            if: { required: [property], properties: { [property]: { enum: otherValues } } },
            else: { $ref: base },
          }
        : { $ref: base },
    );
    const allowed = [...new Set([...disc.mapping.keys(), ...this.ownValues(name, property)])];
    const shown =
      allowed
        .slice(0, 8)
        .map((a) => JSON.stringify(a))
        .join(', ') + (allowed.length > 8 ? `, … (${allowed.length} in all)` : '');
    members.push({
      if: { required: [property], properties: { [property]: { not: { enum: allowed } } } },
      then: {
        properties: {
          [property]: {
            [FAIL]: `is not a ${property} value the description maps for ${name} (${shown})`,
          },
        },
      },
    });
    return { allOf: members };
  }
}

/** One ajv instance with the translated definitions a request has needed so far. */
class SchemaSpace {
  private readonly ajv: Ajv2019;
  private readonly added = new Set<string>();

  constructor(
    private readonly translator: SchemaTranslator,
    coerce: boolean,
  ) {
    this.ajv = new Ajv2019({
      strict: false,
      allErrors: true,
      logger: false,
      validateSchema: false,
      unicodeRegExp: false,
      coerceTypes: coerce,
    });
    addFormats(this.ajv);
    const fail: SchemaValidateFunction = (message: string) => {
      fail.errors = [{ keyword: FAIL, message, params: {} }];
      return false;
    };
    this.ajv.addKeyword({ keyword: FAIL, schemaType: 'string', errors: true, validate: fail });
  }

  compile(schema: unknown, mode: Mode): ValidateFunction {
    const refs = new Set<string>();
    const root = this.translator.translate(schema, mode, refs);
    const queue = [...refs];
    while (queue.length) {
      const id = queue.pop()!;
      if (this.added.has(id)) continue;
      this.added.add(id);
      const more = new Set<string>();
      this.ajv.addSchema({ ...this.translator.definition(id, more), $id: id });
      queue.push(...more);
    }
    return this.ajv.compile(isObject(root) ? root : { allOf: [root] });
  }
}
