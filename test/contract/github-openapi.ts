/**
 * Contract checks of GitHub REST requests against GitHub's published OpenAPI
 * description (the @octokit/openapi package, generated/api.github.com.json: the
 * description GitHub publishes in github/rest-api-description, as packaged by octokit).
 *
 * This is not a fake GitHub: it has no state and no behaviour. recordingFetch() stands
 * in for fetch under octokit, records each request, finds the operation the request
 * addresses, checks the request against it (path template, path and query parameters,
 * required parameters, unknown query parameters, the JSON body against the request
 * schema) and answers with a response the test supplies, after checking that response
 * against the operation's response schema for its status. A response that does not
 * validate fails the test too, so the client is never tested against shapes GitHub
 * would not send.
 *
 * OpenAPI 3.0 specifics: `nullable` is understood by ajv itself; unknown keywords
 * (`example`, `x-github`) and unknown formats (`repo.nwo`) are ignored (strict: false).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default;

/** The package and version the contract tests are written against. */
export const OPENAPI_PACKAGE = '@octokit/openapi';
export const OPENAPI_VERSION = '23.0.2';
const DESCRIPTION_FILE = `${OPENAPI_PACKAGE}/generated/api.github.com.json`;

type Json = unknown;
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: object;
}
interface Operation {
  operationId: string;
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: object }> }>;
}
export interface Description {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, object>;
    parameters: Record<string, Parameter>;
    responses: Record<string, { content?: Record<string, { schema: object }> }>;
    examples: Record<string, { value: Json }>;
  };
}

let cached: Description | undefined;

/** GitHub's description, from the installed package; a clear error naming the package when it is missing. */
export function loadDescription(): Description {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let file: string;
  try {
    file = require.resolve(DESCRIPTION_FILE);
  } catch {
    throw new Error(
      `GitHub's OpenAPI description is not installed: run \`npm i -D ${OPENAPI_PACKAGE}@${OPENAPI_VERSION}\` (the contract tests load ${DESCRIPTION_FILE})`,
    );
  }
  cached = JSON.parse(readFileSync(file, 'utf8')) as Description;
  return cached;
}

/** A copy of one of the description's own examples (components/examples), to shape canned responses from. */
export function example<T = Record<string, unknown>>(name: string): T {
  const ex = loadDescription().components.examples[name];
  if (!ex) throw new Error(`no example ${name} in the description`);
  return structuredClone(ex.value) as T;
}

export interface RecordedRequest {
  method: string;
  /** Path below the API base URL, e.g. /repos/acme/p/pulls. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Json;
  /** Filled in by the validator. */
  operationId?: string;
  pathParams?: Record<string, string>;
}

export interface CannedResponse {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
}

interface CompiledOperation {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  operation: Operation;
}

export class GitHubContract {
  private readonly description: Description;
  private readonly ajv: Ajv;
  private readonly params: Ajv;
  private readonly operations: CompiledOperation[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(description: Description = loadDescription()) {
    this.description = description;
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ components: { schemas: description.components.schemas } }, 'gh');
    // Path and query values arrive as strings; coerce them to the declared type before checking.
    this.params = new Ajv({
      strict: false,
      allErrors: true,
      logger: false,
      coerceTypes: true,
      validateSchema: false,
    });
    addFormats(this.params);
    for (const [template, item] of Object.entries(description.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (typeof operation !== 'object' || !('operationId' in operation)) continue;
        const names: string[] = [];
        const pattern = template
          .replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === '{' || c === '}' ? c : `\\${c}`))
          .replace(/\{([^}]+)\}/g, (_m, name: string) => {
            names.push(name);
            return '([^/]+)';
          });
        this.operations.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${pattern}$`),
          names,
          operation,
        });
      }
    }
  }

  /** Problems with the request, as sentences; empty when it matches an operation in every respect checked. */
  check(request: RecordedRequest): string[] {
    const matches = this.operations.filter(
      (op) => op.method === request.method && op.regex.test(request.path),
    );
    // A literal segment beats a template one (/pulls/comments vs /pulls/{pull_number}): fewest parameters wins.
    matches.sort((a, b) => a.names.length - b.names.length);
    const op = matches[0];
    if (!op)
      return [`${request.method} ${request.path} matches no operation in GitHub's description`];
    request.operationId = op.operation.operationId;
    const problems: string[] = [];
    const values = op.regex.exec(request.path)!.slice(1).map(decodeURIComponent);
    request.pathParams = Object.fromEntries(op.names.map((n, i) => [n, values[i]!]));
    const declared = (op.operation.parameters ?? []).map((p) => this.deref<Parameter>(p));
    for (const param of declared) {
      const where =
        param.in === 'path' ? request.pathParams : param.in === 'query' ? request.query : undefined;
      if (!where) continue;
      const value = where[param.name];
      if (value === undefined || value === '') {
        if (param.required || param.in === 'path')
          problems.push(`${param.in} parameter ${param.name} is required`);
        continue;
      }
      if (param.schema) {
        const holder = { v: value };
        const validate = this.params.compile({
          type: 'object',
          properties: { v: this.inline(param.schema) },
        });
        if (!validate(holder))
          problems.push(
            `${param.in} parameter ${param.name}=${JSON.stringify(value)}: ${errorsText(validate.errors)}`,
          );
      }
    }
    const known = new Set(declared.filter((p) => p.in === 'query').map((p) => p.name));
    for (const name of Object.keys(request.query))
      if (!known.has(name))
        problems.push(`query parameter ${name} is not defined for ${op.operation.operationId}`);

    const bodySpec = op.operation.requestBody;
    if (request.body === undefined) {
      if (bodySpec?.required) problems.push(`${op.operation.operationId} requires a request body`);
    } else if (!bodySpec) {
      problems.push(`${op.operation.operationId} takes no request body, but one was sent`);
    } else {
      const media = bodySpec.content['application/json'];
      if (!media) problems.push(`${op.operation.operationId} does not take application/json`);
      else if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
        problems.push('content-type is not application/json');
      else {
        const validate = this.validator(`req:${op.operation.operationId}`, media.schema);
        if (!validate(request.body)) problems.push(`request body: ${errorsText(validate.errors)}`);
      }
    }
    return problems;
  }

  /** Problems with a response the test wants to return for the operation (by id) and status. */
  checkResponse(operationId: string, response: CannedResponse): string[] {
    const op = this.operations.find((o) => o.operation.operationId === operationId);
    if (!op) return [`no operation ${operationId}`];
    const declared = op.operation.responses[String(response.status)];
    if (!declared)
      return [
        `${operationId} declares no response ${response.status} (declared: ${Object.keys(op.operation.responses).join(', ')})`,
      ];
    const resolved = declared.$ref
      ? this.deref<{ content?: Record<string, { schema: object }> }>(declared)
      : declared;
    const schema = resolved.content?.['application/json']?.schema;
    if (!schema)
      return response.body === undefined
        ? []
        : [`${operationId} ${response.status} declares no JSON body`];
    const validate = this.validator(`res:${operationId}:${response.status}`, schema);
    return validate(response.body)
      ? []
      : [`response ${operationId} ${response.status}: ${errorsText(validate.errors)}`];
  }

  private validator(key: string, schema: object): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.inline(schema));
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Points local refs (#/components/...) at the schema added under the id `gh`. */
  private inline(schema: object): object {
    return JSON.parse(
      JSON.stringify(schema).replace(/"\$ref":"#\/components\//g, '"$ref":"gh#/components/'),
    ) as object;
  }

  private deref<T>(value: T | { $ref: string }): T {
    if (value && typeof value === 'object' && '$ref' in value && typeof value.$ref === 'string') {
      const parts = value.$ref.replace(/^#\//, '').split('/');
      let node: unknown = this.description;
      for (const part of parts) node = (node as Record<string, unknown>)[part];
      if (node === undefined) throw new Error(`unresolvable $ref ${value.$ref}`);
      return node as T;
    }
    return value as T;
  }
}

export type Responder = (request: RecordedRequest) => CannedResponse;

/**
 * A fetch for octokit's `request.fetch`. Every request is recorded and checked; the
 * responder's answer is checked against the operation's response schema. Problems are
 * collected in `problems` (and the request is still answered, so one test reports all
 * of them at once).
 */
export function recordingFetch(contract: GitHubContract, baseUrl: string, responder: Responder) {
  const requests: RecordedRequest[] = [];
  const problems: string[] = [];
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const fetch = async (
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> => {
    const url = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    if (url.origin !== base.origin || !url.pathname.startsWith(prefix))
      problems.push(`request to ${url.origin}${url.pathname} is outside the API base ${baseUrl}`);
    const request: RecordedRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      path: url.pathname.slice(prefix.length) || '/',
      query: Object.fromEntries(url.searchParams),
      headers,
      body: typeof init.body === 'string' && init.body !== '' ? JSON.parse(init.body) : undefined,
    };
    requests.push(request);
    problems.push(...contract.check(request).map((p) => `${request.method} ${request.path}: ${p}`));
    const response = responder(request);
    if (request.operationId)
      problems.push(...contract.checkResponse(request.operationId, response));
    const body = response.body === undefined ? null : JSON.stringify(response.body);
    return new Response(response.status === 204 ? null : body, {
      status: response.status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...response.headers },
    });
  };
  return { fetch, requests, problems };
}

function errorsText(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 5)
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    )
    .join('; ');
}
