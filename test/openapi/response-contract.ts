/**
 * Checks a response body that a test feeds to a client against the schema the OpenAPI
 * description gives for that operation and status, by the rules request-contract.ts
 * applies to request bodies: $refs, allOf/anyOf/oneOf, nullable, OpenAPI 3
 * discriminators, and unknown properties are problems.
 *
 *   checkResponse(doc, { method: 'GET', template: '/api/v1/users/{userId}', status: 200 }, { id: '00u1', profile: { logon: 'a' } })
 *     → ['GET /api/v1/users/{userId} → 200: unknown property /profile/logon (...)']
 *
 * Why: the identity providers' contract tests drive the lookups (findUser, findGroup, ...)
 * with canned answers. An answer the real API could not send (a field it does not have,
 * an array where it sends an object) would make those tests prove nothing, because the
 * provider and the test would share the same mistake.
 *
 * How: each described response schema becomes the request body of an operation of a
 * synthetic description that keeps the original's components, and request-contract
 * checks the body against it. So the same limits apply (see request-contract.ts), plus:
 * readOnly properties are accepted (responses are where they belong), and with
 * `partial` (OData $select answers, which carry only the selected fields) `required`
 * is not enforced.
 */
import { checkRequest, type OpenApiDescription } from './request-contract.js';

export interface ResponseRef {
  method: string;
  /** The path key exactly as in the description (contractFor(...).inspect(request).template). */
  template: string;
  status: number;
}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface Synthetic {
  doc: OpenApiDescription;
  /** `${method} ${template} ${status key}` → synthetic path. */
  paths: Map<string, string>;
}

const synthetics = new WeakMap<OpenApiDescription, Synthetic>();

/** Problems with `body` as the answer to `ref`, as sentences; empty when the description allows it. */
export function checkResponse(
  doc: OpenApiDescription,
  ref: ResponseRef,
  body: unknown,
  options: { partial?: boolean } = {},
): string[] {
  const said = `${ref.method.toUpperCase()} ${ref.template} → ${ref.status}`;
  const operation = (doc.paths as Record<string, JsonObject | undefined> | undefined)?.[
    ref.template
  ]?.[ref.method.toLowerCase()];
  if (!isObject(operation)) return [`${said}: the description has no such operation`];
  const responses = isObject(operation.responses) ? operation.responses : {};
  const key = [String(ref.status), `${String(ref.status)[0]}XX`, 'default'].find(
    (k) => k in responses,
  );
  if (key === undefined)
    return [
      `${said}: the operation describes no such response (it has: ${Object.keys(responses).join(', ')})`,
    ];
  const synthetic = syntheticFor(doc);
  const path = synthetic.paths.get(`${ref.method.toLowerCase()} ${ref.template} ${key}`);
  if (path === undefined)
    return body === undefined
      ? []
      : [`${said}: the response has no JSON body in the description, but the test sends one`];
  if (body === undefined)
    return [`${said}: the description gives the response a body, but the test sends none`];
  // PATCH bodies are partial in request-contract; POST bodies are whole.
  const method = options.partial ? 'PATCH' : 'POST';
  return checkRequest(synthetic.doc, { method, path, body }).map((p) =>
    p
      .replace(`${method} ${path}: request body: `, `${said}: `)
      .replace(`${method} ${path}: `, `${said}: `),
  );
}

function syntheticFor(doc: OpenApiDescription): Synthetic {
  const hit = synthetics.get(doc);
  if (hit) return hit;
  const swagger2 = doc.swagger === '2.0';
  const paths: Record<string, unknown> = {};
  const index = new Map<string, string>();
  for (const [template, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (!isObject(operation) || !isObject(operation.responses)) continue;
      for (const [status, response] of Object.entries(operation.responses)) {
        const schema = responseSchema(doc, response, swagger2);
        if (schema === undefined) continue;
        const path = `/response/${index.size}`;
        index.set(`${method} ${template} ${status}`, path);
        const take = swagger2
          ? {
              consumes: ['application/json'],
              parameters: [{ in: 'body', name: 'response', required: true, schema }],
            }
          : { requestBody: { required: true, content: { 'application/json': { schema } } } };
        paths[path] = { post: take, patch: take };
      }
    }
  }
  const synthetic: OpenApiDescription = swagger2
    ? {
        swagger: '2.0',
        info: doc.info,
        basePath: '/',
        paths,
        definitions: doc.definitions,
        parameters: doc.parameters,
        responses: doc.responses,
      }
    : {
        openapi: doc.openapi,
        info: doc.info,
        servers: [{ url: '/' }],
        paths,
        components: doc.components,
      };
  const made = { doc: synthetic, paths: index };
  synthetics.set(doc, made);
  return made;
}

/** The JSON schema of a response object (after its $ref), or undefined when it has no JSON body. */
function responseSchema(doc: OpenApiDescription, response: unknown, swagger2: boolean): unknown {
  let node = response;
  for (let i = 0; i < 10 && isObject(node) && typeof node.$ref === 'string'; i++)
    node = pointer(doc, node.$ref);
  if (!isObject(node)) return undefined;
  if (swagger2) return node.schema;
  const content = isObject(node.content) ? node.content : {};
  const json = Object.entries(content).find(([type]) => /^application\/(.+\+)?json\b/.test(type));
  return json && isObject(json[1]) ? json[1].schema : undefined;
}

function pointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node = doc;
  for (const part of ref.slice(2).split('/')) {
    if (!isObject(node)) return undefined;
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}
