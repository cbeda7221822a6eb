import { describe, expect, it } from 'vitest';
import { loadOktaDescription } from '../../../test/openapi/descriptions.js';
import {
  answers,
  recordingHttp,
  type ProviderDescription,
} from '../../../test/openapi/identity-recorder.js';
import { contractFor } from '../../../test/openapi/request-contract.js';
import { ConnectorError } from '../../core/errors.js';
import type { HttpCall, IdpGroup, IdpUser, IpZone } from '../types.js';
import { OKTA_BLOCKLIST_MAX_GATEWAYS, oktaProvider } from './index.js';

// Okta has no server we can run: every call the provider makes or returns is checked
// against Okta's published description (@okta/openapi 2.15.0, Swagger 2.0, whose paths
// carry /api/v1), and every canned answer against the response schema of the operation.

const OKTA: ProviderDescription = {
  doc: loadOktaDescription(),
  toRequest: (call) => ({
    method: call.method,
    path: `/api/v1${call.path}`,
    query: call.query,
    body: call.body,
  }),
};
const inspect = (call: HttpCall) => contractFor(OKTA.doc).inspect(OKTA.toRequest(call));
const problems = (call: HttpCall) => inspect(call).problems;

const USER_ID = '00ub0oNGTSWTBKOLGLNR';
const GROUP_ID = '00g1emaKYZTWRYYRRTSK';
const ZONE_ID = 'nzowc1U5Jh5xuAK0o0g3';
const user: IdpUser = { id: USER_ID, login: 'alice@example.com', active: true };
const group: IdpGroup = { id: GROUP_ID, name: 'mfa-required' };
const zone: IpZone = { id: ZONE_ID, name: 'forestall blocklist', ranges: ['203.0.113.7/32'] };

/** A user as GET /users/{id} returns it (fields from the description's User). */
function oktaUser(login: string, status: string, id = USER_ID) {
  return {
    id,
    status,
    created: '2024-03-01T10:00:00.000Z',
    activated: '2024-03-01T10:00:01.000Z',
    statusChanged: '2024-03-01T10:00:01.000Z',
    lastLogin: '2024-06-01T08:00:00.000Z',
    lastUpdated: '2024-06-01T08:00:00.000Z',
    passwordChanged: '2024-03-01T10:00:01.000Z',
    profile: {
      firstName: 'Alice',
      lastName: 'Liddell',
      email: login.includes('@') ? login : 'alice@example.com',
      login,
    },
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `https://acme.okta.com/api/v1/users/${id}` } },
  };
}

function oktaGroup(id: string, name: string, type = 'OKTA_GROUP') {
  return {
    id,
    type,
    created: '2024-03-01T10:00:00.000Z',
    lastUpdated: '2024-03-01T10:00:00.000Z',
    lastMembershipUpdated: '2024-06-01T08:00:00.000Z',
    objectClass: ['okta:user_group'],
    profile: { name, description: `${name} (test)` },
    _links: { self: { href: `https://acme.okta.com/api/v1/groups/${id}` } },
  };
}

function oktaZone(id: string, name: string, fields: Record<string, unknown> = {}) {
  return {
    id,
    name,
    type: 'IP',
    usage: 'BLOCKLIST',
    status: 'ACTIVE',
    system: false,
    created: '2024-03-01T10:00:00.000Z',
    lastUpdated: '2024-03-01T10:00:00.000Z',
    gateways: [{ type: 'CIDR', value: '203.0.113.7/32' }],
    _links: { self: { href: `https://acme.okta.com/api/v1/zones/${id}` } },
    ...fields,
  };
}

describe('oktaProvider.endpoint', { timeout: 60_000 }, () => {
  it('GIVEN the org URL and a token THEN the API base is <url>/api/v1 and the token goes as SSWS', () => {
    expect(oktaProvider.endpoint({ url: 'https://acme.okta.com' }, { token: '00abc\n' })).toEqual({
      baseUrl: 'https://acme.okta.com/api/v1',
      auth: { type: 'ssws', token: '00abc' },
    });
    expect(oktaProvider.endpoint({ url: 'https://login.acme.com/' }, { token: 't' }).baseUrl).toBe(
      'https://login.acme.com/api/v1',
    );
    expect(oktaProvider.endpoint({ url: 'http://127.0.0.1:8080' }, { token: 't' }).baseUrl).toBe(
      'http://127.0.0.1:8080/api/v1',
    );
  });

  it('GIVEN a missing or unusable URL THEN a terminal invalid-request error names params.url', () => {
    for (const [url, message] of [
      [undefined, /params\.url is required/],
      ['', /params\.url is required/],
      ['acme.okta.com', /not an absolute URL/],
      ['http://acme.okta.com', /must be an https URL/],
      ['https://acme.okta.com/api/v1', /origin only/],
      ['https://acme.okta.com?x=1', /no query or fragment/],
      ['https://admin:pw@acme.okta.com', /user info/],
    ] as const) {
      const call = () => oktaProvider.endpoint({ url }, { token: 't' });
      expect(call, String(url)).toThrow(message);
      expect(call).toThrow(
        expect.objectContaining({ code: 'FST_CONNECTOR_INVALID_REQUEST', errorClass: 'terminal' }),
      );
    }
  });

  it('GIVEN a Secret without a token THEN a credentials error', () => {
    expect(() => oktaProvider.endpoint({ url: 'https://acme.okta.com' }, {})).toThrow(
      expect.objectContaining({ code: 'FST_IDENTITY_CREDENTIALS' }),
    );
    expect(() => oktaProvider.endpoint({ url: 'https://acme.okta.com' }, { token: '  ' })).toThrow(
      /no key "token"/,
    );
    expect(oktaProvider.requiredSecretKeys).toEqual(['token']);
    expect(oktaProvider.endpointParams).toEqual([
      expect.objectContaining({ name: 'url', type: 'string', required: true }),
    ]);
  });
});

describe('oktaProvider lookups, against the description', { timeout: 60_000 }, () => {
  it('GIVEN a login WHEN findUser THEN GET /users/{login} (URL-encoded) matches getUser and the user comes back', async () => {
    const http = recordingHttp(
      OKTA,
      answers({
        [`GET /users/${encodeURIComponent('alice+ops@example.com')}`]: {
          body: oktaUser('Alice+Ops@example.com', 'ACTIVE'),
        },
      }),
    );
    expect(await oktaProvider.findUser(http, 'alice+ops@example.com')).toEqual({
      id: USER_ID,
      login: 'Alice+Ops@example.com',
      active: true,
      status: 'ACTIVE',
    });
    expect(http.calls).toEqual([
      {
        call: { method: 'GET', path: '/users/alice%2Bops%40example.com' },
        accept: [404],
        operationId: 'getUser',
      },
    ]);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN every status the description lists THEN active is true exactly for those in which the user can sign in', async () => {
    const statuses = (OKTA.doc.definitions as Record<string, { enum: string[] }>).UserStatus!.enum;
    const active: Record<string, boolean> = {};
    for (const status of statuses) {
      const http = recordingHttp(OKTA, () => ({ body: oktaUser('alice@example.com', status) }));
      active[status] = (await oktaProvider.findUser(http, 'alice@example.com'))!.active;
      expect(http.problems).toEqual([]);
    }
    expect(active).toEqual({
      ACTIVE: true,
      PASSWORD_EXPIRED: true,
      RECOVERY: true,
      LOCKED_OUT: true,
      SUSPENDED: false,
      DEPROVISIONED: false,
      STAGED: false,
      PROVISIONED: false,
    });
  });

  it('GIVEN a user who can sign in but is not ACTIVE THEN suspendRefusal names the status (Okta would answer 400); an ACTIVE user has none', () => {
    expect(
      oktaProvider.suspendRefusal!({
        id: USER_ID,
        login: 'alice@example.com',
        active: true,
        status: 'LOCKED_OUT',
      }),
    ).toMatch(
      /^Okta status LOCKED_OUT: Okta suspends only ACTIVE users; resolve the locked out state/,
    );
    expect(
      oktaProvider.suspendRefusal!({
        id: USER_ID,
        login: 'alice@example.com',
        active: true,
        status: 'ACTIVE',
      }),
    ).toBeUndefined();
  });

  it('GIVEN a 404, or an answer for another login (a short name or an id that resolved) THEN no user', async () => {
    const missing = recordingHttp(OKTA, () => ({
      status: 404,
      body: { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found: bob (User)' },
    }));
    expect(await oktaProvider.findUser(missing, 'bob@example.com')).toBeUndefined();
    const shortName = recordingHttp(OKTA, () => ({
      body: oktaUser('alice@example.com', 'ACTIVE'),
    }));
    expect(await oktaProvider.findUser(shortName, 'alice')).toBeUndefined();
    expect(await oktaProvider.findUser(shortName, USER_ID)).toBeUndefined();
    expect([...missing.problems, ...shortName.problems]).toEqual([]);
  });

  it('GIVEN a login with "/" (which Okta cannot take in the path) THEN a filter on profile.login, matching listUsers', async () => {
    const http = recordingHttp(
      OKTA,
      answers({ 'GET /users': { body: [oktaUser('ops/alice@example.com', 'SUSPENDED')] } }),
    );
    expect(await oktaProvider.findUser(http, 'ops/alice@example.com')).toEqual({
      id: USER_ID,
      login: 'ops/alice@example.com',
      active: false,
      status: 'SUSPENDED',
    });
    expect(http.calls.map((r) => [r.call.query, r.operationId])).toEqual([
      [{ filter: 'profile.login eq "ops/alice@example.com"' }, 'listUsers'],
    ]);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN groups whose names start with the name, over two pages THEN the exact OKTA_GROUP is found, the next page asked for with the Link cursor', async () => {
    const http = recordingHttp(
      OKTA,
      answers({
        'GET /groups': (call) =>
          call.query?.after === undefined
            ? {
                body: [oktaGroup('00g0000000000000001', 'mfa-required-legacy')],
                headers: {
                  link: '<https://acme.okta.com/api/v1/groups?q=mfa-required&limit=1>; rel="self", <https://acme.okta.com/api/v1/groups?after=00g0000000000000001&q=mfa-required&limit=1>; rel="next"',
                },
              }
            : {
                body: [oktaGroup(GROUP_ID, 'mfa-required')],
                headers: {
                  link: '<https://acme.okta.com/api/v1/groups?after=00g0000000000000001&q=mfa-required&limit=1>; rel="self"',
                },
              },
      }),
    );
    expect(await oktaProvider.findGroup!(http, 'mfa-required')).toEqual(group);
    expect(http.calls.map((r) => [r.call.query, r.operationId])).toEqual([
      [{ q: 'mfa-required' }, 'listGroups'],
      [{ after: '00g0000000000000001', q: 'mfa-required', limit: '1' }, 'listGroups'],
    ]);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN no such group THEN undefined; GIVEN only an APP_GROUP, or two OKTA_GROUPs of the name THEN a terminal error that says why', async () => {
    const none = recordingHttp(OKTA, () => ({
      body: [oktaGroup('00g0000000000000001', 'mfa-required-legacy')],
    }));
    expect(await oktaProvider.findGroup!(none, 'mfa-required')).toBeUndefined();
    const app = recordingHttp(OKTA, () => ({
      body: [oktaGroup(GROUP_ID, 'mfa-required', 'APP_GROUP')],
    }));
    await expect(oktaProvider.findGroup!(app, 'mfa-required')).rejects.toThrow(
      /is of type APP_GROUP; only an OKTA_GROUP's members can be changed/,
    );
    const two = recordingHttp(OKTA, () => ({
      body: [oktaGroup(GROUP_ID, 'mfa-required'), oktaGroup('00g0000000000000002', 'mfa-required')],
    }));
    await expect(oktaProvider.findGroup!(two, 'mfa-required')).rejects.toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_INVALID_REQUEST',
        message: expect.stringMatching(/2 Okta groups are named "mfa-required"/),
      }),
    );
    expect([...none.problems, ...app.problems, ...two.problems]).toEqual([]);
  });

  it("GIVEN the user's groups THEN isMember says whether the group is one of them (listUserGroups)", async () => {
    const member = recordingHttp(
      OKTA,
      answers({
        [`GET /users/${USER_ID}/groups`]: {
          body: [
            oktaGroup('00g0000000000000009', 'Everyone', 'BUILT_IN'),
            oktaGroup(GROUP_ID, 'mfa-required'),
          ],
        },
      }),
    );
    expect(await oktaProvider.isMember!(member, group, user)).toBe(true);
    const stranger = recordingHttp(
      OKTA,
      answers({
        [`GET /users/${USER_ID}/groups`]: {
          body: [oktaGroup('00g0000000000000009', 'Everyone', 'BUILT_IN')],
        },
      }),
    );
    expect(await oktaProvider.isMember!(stranger, group, user)).toBe(false);
    expect(member.calls.map((r) => r.operationId)).toEqual(['listUserGroups']);
    expect([...member.problems, ...stranger.problems]).toEqual([]);
  });

  it('GIVEN a blocklist zone of the name with CIDR and RANGE gateways THEN findZone returns it with the gateways as canonical CIDRs', async () => {
    const http = recordingHttp(
      OKTA,
      answers({
        'GET /zones': {
          body: [
            oktaZone('nzo0000000000000001', 'LegacyIpZone', { usage: 'POLICY', system: true }),
            oktaZone(ZONE_ID, 'forestall blocklist', {
              gateways: [
                { type: 'CIDR', value: '203.0.113.7/32' },
                { type: 'RANGE', value: '198.51.100.1-198.51.100.6' },
                { type: 'RANGE', value: '192.0.2.9-192.0.2.9' },
                { type: 'CIDR', value: '2001:DB8:0:0::/48' },
              ],
            }),
          ],
        },
      }),
    );
    expect(await oktaProvider.findZone!(http, 'forestall blocklist')).toEqual({
      id: ZONE_ID,
      name: 'forestall blocklist',
      ranges: [
        '203.0.113.7/32',
        '198.51.100.1/32',
        '198.51.100.2/31',
        '198.51.100.4/31',
        '198.51.100.6/32',
        '192.0.2.9/32',
        '2001:db8::/48',
      ],
    });
    expect(http.calls.map((r) => r.operationId)).toEqual(['listNetworkZones']);
    expect(http.problems).toEqual([]);
  });

  it('GIVEN no zone of the name THEN undefined; GIVEN a POLICY zone of the name THEN a terminal error, never writing its gateways', async () => {
    const none = recordingHttp(OKTA, () => ({
      body: [oktaZone(ZONE_ID, 'BlockedIpZone', { system: true })],
    }));
    expect(await oktaProvider.findZone!(none, 'forestall blocklist')).toBeUndefined();
    const policy = recordingHttp(OKTA, () => ({
      body: [oktaZone(ZONE_ID, 'forestall blocklist', { usage: 'POLICY' })],
    }));
    await expect(oktaProvider.findZone!(policy, 'forestall blocklist')).rejects.toThrow(
      /is a IP zone with usage POLICY; IdentityBlock needs an IP zone with usage BLOCKLIST/,
    );
    expect([...none.problems, ...policy.problems]).toEqual([]);
  });
});

describe('oktaProvider write calls, against the description', { timeout: 60_000 }, () => {
  const ranges = ['203.0.113.7/32', '198.51.100.0/24', '2001:db8::/48'];
  const cases: [string, HttpCall[], string[]][] = [
    ['suspend', oktaProvider.suspend(user), ['suspendUser', 'clearUserSessions']],
    ['restore', oktaProvider.restore(user), ['unsuspendUser']],
    ['addMember', oktaProvider.addMember!(group, user), ['addUserToGroup']],
    ['removeMember', oktaProvider.removeMember!(group, user), ['removeUserFromGroup']],
    ['createZone', oktaProvider.createZone!('forestall blocklist', ranges), ['createNetworkZone']],
    ['setZoneRanges', oktaProvider.setZoneRanges!(zone, ranges), ['updateNetworkZone']],
    ['deleteZone', oktaProvider.deleteZone!(zone), ['deactivateNetworkZone', 'deleteNetworkZone']],
  ];

  it.each(cases)(
    'GIVEN %s THEN every call is one the description accepts, in the documented order',
    (_name, calls, operations) => {
      for (const call of calls) expect(problems(call), `${call.method} ${call.path}`).toEqual([]);
      expect(calls.map((c) => inspect(c).operationId)).toEqual(operations);
    },
  );

  it('GIVEN a user THEN suspend suspends, then clears sessions and OAuth tokens; restore unsuspends', () => {
    expect(oktaProvider.suspend(user)).toEqual([
      { method: 'POST', path: `/users/${USER_ID}/lifecycle/suspend` },
      { method: 'DELETE', path: `/users/${USER_ID}/sessions`, query: { oauthTokens: 'true' } },
    ]);
    expect(oktaProvider.restore(user)).toEqual([
      { method: 'POST', path: `/users/${USER_ID}/lifecycle/unsuspend` },
    ]);
    expect(oktaProvider.addMember!(group, user)).toEqual([
      { method: 'PUT', path: `/groups/${GROUP_ID}/users/${USER_ID}` },
    ]);
    expect(oktaProvider.removeMember!(group, user)).toEqual([
      { method: 'DELETE', path: `/groups/${GROUP_ID}/users/${USER_ID}` },
    ]);
  });

  it('GIVEN ranges THEN createZone posts an active IP BLOCKLIST zone whose gateways are CIDRs, one per canonical range', () => {
    expect(
      oktaProvider.createZone!('forestall blocklist', [
        '203.0.113.7',
        '198.51.100.9/24',
        '2001:DB8::1',
        '203.0.113.7/32',
      ]),
    ).toEqual([
      {
        method: 'POST',
        path: '/zones',
        body: {
          type: 'IP',
          name: 'forestall blocklist',
          status: 'ACTIVE',
          usage: 'BLOCKLIST',
          gateways: [
            { type: 'CIDR', value: '203.0.113.7/32' },
            { type: 'CIDR', value: '198.51.100.0/24' },
            { type: 'CIDR', value: '2001:db8::1/128' },
          ],
        },
      },
    ]);
  });

  it('GIVEN a zone THEN setZoneRanges replaces the whole zone without touching its status, and deleteZone deactivates before it deletes', () => {
    expect(oktaProvider.setZoneRanges!(zone, ['192.0.2.0/24'])).toEqual([
      {
        method: 'PUT',
        path: `/zones/${ZONE_ID}`,
        body: {
          type: 'IP',
          name: 'forestall blocklist',
          usage: 'BLOCKLIST',
          gateways: [{ type: 'CIDR', value: '192.0.2.0/24' }],
        },
      },
    ]);
    expect(oktaProvider.deleteZone!(zone)).toEqual([
      { method: 'POST', path: `/zones/${ZONE_ID}/lifecycle/deactivate` },
      { method: 'DELETE', path: `/zones/${ZONE_ID}` },
    ]);
  });

  it(`GIVEN more than ${OKTA_BLOCKLIST_MAX_GATEWAYS} ranges, none, or a value that is no address THEN the zone calls refuse to build a request Okta would refuse`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    expect(
      oktaProvider.setZoneRanges!(zone, many(OKTA_BLOCKLIST_MAX_GATEWAYS))[0]!.body,
    ).toMatchObject({ gateways: expect.any(Array) });
    expect(() => oktaProvider.setZoneRanges!(zone, many(OKTA_BLOCKLIST_MAX_GATEWAYS + 1))).toThrow(
      /1001 ranges do not fit one Okta blocklist zone \(at most 1000 gateways\)/,
    );
    expect(() => oktaProvider.createZone!('z', [])).toThrow(/needs at least one gateway/);
    expect(() => oktaProvider.setZoneRanges!(zone, ['evil.example'])).toThrow(ConnectorError);
  });
});

// The checks above would pass vacuously if the contract accepted anything: each of these
// must be reported.
describe('the Okta contract checks can fail', { timeout: 60_000 }, () => {
  const writes: HttpCall[] = [
    ...oktaProvider.suspend(user),
    ...oktaProvider.restore(user),
    ...oktaProvider.addMember!(group, user),
    ...oktaProvider.removeMember!(group, user),
    ...oktaProvider.createZone!('z', ['192.0.2.0/24']),
    ...oktaProvider.setZoneRanges!(zone, ['192.0.2.0/24']),
    ...oktaProvider.deleteZone!(zone),
  ];

  it.each(writes.map((c) => [`${c.method} ${c.path}`, c] as const))(
    'GIVEN %s sent with a method the path does not have, or to a misspelt path THEN it is reported',
    (_name, call) => {
      expect(problems({ ...call, method: 'PATCH' })).toEqual([
        expect.stringMatching(/has no PATCH operation/),
      ]);
      expect(
        problems({
          ...call,
          path: call.path.replace(/\/(\w+)$/, '/$1x').replace(/^\/(\w+)/, '/$1s'),
        }),
      ).not.toEqual([]);
    },
  );

  it('GIVEN wrong bodies and queries THEN each is reported', () => {
    const [create] = oktaProvider.createZone!('z', ['192.0.2.0/24']);
    const body = create!.body as Record<string, unknown>;
    expect(problems({ ...create!, body: { ...body, gatways: body.gateways } })).toEqual([
      expect.stringMatching(/unknown property \/gatways/),
    ]);
    expect(problems({ ...create!, body: { ...body, usage: 'BLOCK' } })).toEqual([
      expect.stringMatching(/\/usage must be one of "POLICY", "BLOCKLIST"/),
    ]);
    expect(
      problems({
        ...create!,
        body: { ...body, gateways: [{ type: 'CIDRv4', value: '192.0.2.0/24' }] },
      }),
    ).toEqual([expect.stringMatching(/\/gateways\/0\/type must be one of "CIDR", "RANGE"/)]);
    const [, clear] = oktaProvider.suspend(user);
    expect(problems({ ...clear!, query: { oauthTokens: 'yes' } })).toEqual([
      expect.stringMatching(/oauthTokens="yes": must be boolean/),
    ]);
    expect(problems({ ...clear!, query: { oauthToken: 'true' } })).toEqual([
      expect.stringMatching(/query parameter oauthToken is not described/),
    ]);
    const [suspend] = oktaProvider.suspend(user);
    expect(problems({ ...suspend!, body: {} })).toEqual([
      expect.stringMatching(/takes no request body/),
    ]);
  });

  it('GIVEN a canned answer the description does not allow THEN the recorder reports it', async () => {
    const wrong = {
      ...oktaUser('alice@example.com', 'ACTIVE'),
      status: 'ENABLED',
      profile: { logon: 'alice@example.com' },
    };
    const http = recordingHttp(OKTA, () => ({ body: wrong }));
    await oktaProvider.findUser(http, 'alice@example.com');
    expect(http.problems).toEqual([
      expect.stringMatching(/unknown property \/profile\/logon/),
      expect.stringMatching(/\/status must be one of/),
    ]);
    const zones = recordingHttp(OKTA, () => ({ body: { zones: [] } }));
    await oktaProvider.findZone!(zones, 'z').catch(() => undefined);
    expect(zones.problems).toEqual([
      expect.stringMatching(/GET \/api\/v1\/zones → 200: .*must be array/),
    ]);
  });
});
