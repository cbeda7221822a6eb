/**
 * Example requests for the endpoints the identity connectors use, as the Okta and
 * Microsoft Graph documentation shows them: the valid ones must pass the contract check,
 * the invalid ones must fail it with the problem given. Shared by request-contract.test.ts
 * and descriptions.test.ts (and a starting point for the connectors' own contract tests).
 */
import type { ContractOptions, ContractRequest } from './request-contract.js';

export interface Example {
  name: string;
  request: ContractRequest;
  /** The operation it must match (valid examples). */
  operationId?: string;
  /** Patterns the problems must match, one each, in order (invalid examples). */
  problems?: RegExp[];
}

/** Graph accepts bound actions with and without the namespace; the description names them with it. */
export const GRAPH_OPTIONS: ContractOptions = { odataNamespace: 'microsoft.graph' };

const USER = '6e7b768e-07e2-4810-8459-485f84f8f204';
const GROUP = '02bd9fd6-8f93-4758-87c3-1fb73740a315';
const LOCATION = '0824dbaf-6277-4db0-8109-3bd7bf8e7ae0';

export const ipNamedLocation = {
  '@odata.type': '#microsoft.graph.ipNamedLocation',
  displayName: 'forestall blocklist',
  isTrusted: false,
  ipRanges: [
    { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: '203.0.113.7/32' },
    { '@odata.type': '#microsoft.graph.iPv6CidrRange', cidrAddress: '2001:db8::/48' },
  ],
};

/** The PATCH that replaces the ranges of the IP named location. */
function rangesPatch(ipRanges: Record<string, unknown>[]): ContractRequest {
  return {
    method: 'PATCH',
    path: `/v1.0/identity/conditionalAccess/namedLocations/${LOCATION}`,
    body: { '@odata.type': '#microsoft.graph.ipNamedLocation', ipRanges },
  };
}

export const GRAPH_VALID: Example[] = [
  {
    name: 'create an IP named location',
    operationId: 'identity.conditionalAccess.CreateNamedLocations',
    request: {
      method: 'POST',
      path: '/v1.0/identity/conditionalAccess/namedLocations',
      body: ipNamedLocation,
    },
  },
  {
    name: 'list named locations',
    operationId: 'identity.conditionalAccess.ListNamedLocations',
    request: {
      method: 'GET',
      path: '/v1.0/identity/conditionalAccess/namedLocations',
      query: { $filter: "displayName eq 'forestall blocklist'" },
    },
  },
  {
    name: 'read a named location',
    operationId: 'identity.conditionalAccess.GetNamedLocations',
    request: { method: 'GET', path: `/v1.0/identity/conditionalAccess/namedLocations/${LOCATION}` },
  },
  {
    name: 'replace the ranges of an IP named location',
    operationId: 'identity.conditionalAccess.UpdateNamedLocations',
    request: rangesPatch([
      { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: '198.51.100.0/24' },
    ]),
  },
  {
    name: 'delete a named location',
    operationId: 'identity.conditionalAccess.DeleteNamedLocations',
    request: {
      method: 'DELETE',
      path: `/v1.0/identity/conditionalAccess/namedLocations/${LOCATION}`,
    },
  },
  {
    name: 'read a user',
    operationId: 'users.user.GetUser',
    request: {
      method: 'GET',
      path: `/v1.0/users/${USER}`,
      query: { $select: 'id,userPrincipalName,accountEnabled' },
    },
  },
  {
    name: 'disable a user',
    operationId: 'users.user.UpdateUser',
    request: { method: 'PATCH', path: `/v1.0/users/${USER}`, body: { accountEnabled: false } },
  },
  {
    name: 'enable a user (full URL)',
    operationId: 'users.user.UpdateUser',
    request: {
      method: 'PATCH',
      path: `https://graph.microsoft.com/v1.0/users/${USER}`,
      body: { accountEnabled: true },
    },
  },
  {
    name: 'revoke sign-in sessions',
    operationId: 'users.user.revokeSignInSessions',
    request: { method: 'POST', path: `/v1.0/users/${USER}/revokeSignInSessions` },
  },
  {
    name: 'revoke sign-in sessions (namespace-qualified)',
    operationId: 'users.user.revokeSignInSessions',
    request: { method: 'POST', path: `/v1.0/users/${USER}/microsoft.graph.revokeSignInSessions` },
  },
  {
    name: 'add a group member',
    operationId: 'groups.CreateRefMembers',
    request: {
      method: 'POST',
      path: `/v1.0/groups/${GROUP}/members/$ref`,
      body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${USER}` },
    },
  },
  {
    name: 'remove a group member',
    operationId: 'groups.DeleteRefMembers',
    request: { method: 'DELETE', path: `/v1.0/groups/${GROUP}/members/${USER}/$ref` },
  },
  {
    name: 'list group members',
    operationId: 'groups.ListMembers',
    request: {
      method: 'GET',
      path: `/v1.0/groups/${GROUP}/members`,
      query: { $select: 'id', $top: '100' },
    },
  },
];

export const GRAPH_INVALID: Example[] = [
  {
    name: 'a mistyped property',
    request: { method: 'PATCH', path: `/v1.0/users/${USER}`, body: { accountEnabeld: false } },
    problems: [/request body: unknown property \/accountEnabeld/],
  },
  {
    name: 'a string for a boolean',
    request: { method: 'PATCH', path: `/v1.0/users/${USER}`, body: { accountEnabled: 'false' } },
    problems: [/request body: \/accountEnabled must be boolean,null/],
  },
  {
    name: 'the wrong method',
    request: { method: 'GET', path: `/v1.0/users/${USER}/revokeSignInSessions` },
    problems: [
      /\/users\/\{user-id\}\/microsoft\.graph\.revokeSignInSessions has no GET operation .*\(it has: POST\)/,
    ],
  },
  {
    name: 'a mistyped path',
    request: { method: 'PATCH', path: `/v1.0/user/${USER}`, body: { accountEnabled: false } },
    problems: [/no path in the description matches \/user\/.*; nearest: \/users\/\{user-id\}/],
  },
  {
    name: 'a path without the base path',
    request: { method: 'PATCH', path: `/users/${USER}`, body: { accountEnabled: false } },
    problems: [/not below the description's base path \/v1\.0/],
  },
  {
    name: 'a body for an action that takes none',
    request: { method: 'POST', path: `/v1.0/users/${USER}/revokeSignInSessions`, body: {} },
    problems: [/takes no request body/],
  },
  {
    name: 'a mistyped @odata.type',
    request: {
      method: 'POST',
      path: '/v1.0/identity/conditionalAccess/namedLocations',
      body: { ...ipNamedLocation, '@odata.type': '#microsoft.graph.ipNamedLocaton' },
    },
    problems: [
      /request body: \/@odata\.type is not a @odata\.type value the description maps for microsoft\.graph\.namedLocation/,
    ],
  },
  {
    name: 'an IP range without its @odata.type, another with a number',
    request: {
      method: 'POST',
      path: '/v1.0/identity/conditionalAccess/namedLocations',
      body: {
        ...ipNamedLocation,
        ipRanges: [
          { cidrAddress: '203.0.113.7/32' },
          { '@odata.type': '#microsoft.graph.iPv4CidrRange', cidrAddress: 7 },
        ],
      },
    },
    problems: [
      /\/ipRanges\/0 must have required property '@odata\.type'/,
      /\/ipRanges\/1\/cidrAddress must be string/,
    ],
  },
  {
    name: 'a property of another IP range type',
    request: rangesPatch([
      {
        '@odata.type': '#microsoft.graph.iPv4CidrRange',
        cidrAddress: '203.0.113.7/32',
        lowerAddress: '203.0.113.7',
      },
    ]),
    problems: [/unknown property \/ipRanges\/0\/lowerAddress/],
  },
  {
    name: 'an unknown query parameter',
    request: {
      method: 'DELETE',
      path: `/v1.0/groups/${GROUP}/members/${USER}/$ref`,
      query: { force: 'true' },
    },
    problems: [/query parameter force is not described for groups\.DeleteRefMembers/],
  },
];

const OKTA_USER = '00ub0oNGTSWTBKOLGLNR';
const OKTA_GROUP = '00g1emaKYZTWRYYRRTSK';
const OKTA_ZONE = 'nzowc1U5Jh5xuAK0o0g3';

export const blocklistZone = {
  type: 'IP',
  name: 'forestall blocklist',
  status: 'ACTIVE',
  usage: 'BLOCKLIST',
  gateways: [
    { type: 'CIDR', value: '203.0.113.7/32' },
    { type: 'RANGE', value: '198.51.100.1-198.51.100.20' },
  ],
};

export const OKTA_VALID: Example[] = [
  {
    name: 'create a blocklist network zone',
    operationId: 'createNetworkZone',
    request: { method: 'POST', path: '/api/v1/zones', body: blocklistZone },
  },
  {
    name: 'list blocklist zones',
    operationId: 'listNetworkZones',
    request: {
      method: 'GET',
      path: '/api/v1/zones',
      query: { filter: 'usage eq "BLOCKLIST"', limit: '20' },
    },
  },
  {
    name: 'read a zone',
    operationId: 'getNetworkZone',
    request: { method: 'GET', path: `/api/v1/zones/${OKTA_ZONE}` },
  },
  {
    name: 'replace a zone',
    operationId: 'updateNetworkZone',
    request: {
      method: 'PUT',
      path: `/api/v1/zones/${OKTA_ZONE}`,
      body: {
        ...blocklistZone,
        id: OKTA_ZONE,
        gateways: [{ type: 'CIDR', value: '192.0.2.0/24' }],
      },
    },
  },
  {
    name: 'deactivate a zone',
    operationId: 'deactivateNetworkZone',
    request: { method: 'POST', path: `/api/v1/zones/${OKTA_ZONE}/lifecycle/deactivate` },
  },
  {
    name: 'delete a zone',
    operationId: 'deleteNetworkZone',
    request: { method: 'DELETE', path: `/api/v1/zones/${OKTA_ZONE}` },
  },
  {
    name: 'read a user',
    operationId: 'getUser',
    request: { method: 'GET', path: `/api/v1/users/${OKTA_USER}` },
  },
  {
    name: 'suspend a user',
    operationId: 'suspendUser',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/lifecycle/suspend` },
  },
  {
    name: 'unsuspend a user',
    operationId: 'unsuspendUser',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/lifecycle/unsuspend` },
  },
  {
    name: 'deactivate a user',
    operationId: 'deactivateUser',
    request: {
      method: 'POST',
      path: `/api/v1/users/${OKTA_USER}/lifecycle/deactivate`,
      query: { sendEmail: 'false' },
    },
  },
  {
    name: 'activate a user',
    operationId: 'activateUser',
    request: {
      method: 'POST',
      path: `https://acme.okta.com/api/v1/users/${OKTA_USER}/lifecycle/activate?sendEmail=false`,
    },
  },
  {
    name: 'clear sessions and tokens',
    operationId: 'clearUserSessions',
    request: {
      method: 'DELETE',
      path: `/api/v1/users/${OKTA_USER}/sessions`,
      query: { oauthTokens: 'true' },
    },
  },
  {
    name: 'add a user to a group',
    operationId: 'addUserToGroup',
    request: { method: 'PUT', path: `/api/v1/groups/${OKTA_GROUP}/users/${OKTA_USER}` },
  },
  {
    name: 'remove a user from a group',
    operationId: 'removeUserFromGroup',
    request: { method: 'DELETE', path: `/api/v1/groups/${OKTA_GROUP}/users/${OKTA_USER}` },
  },
  {
    name: "list a group's users",
    operationId: 'listGroupUsers',
    request: { method: 'GET', path: `/api/v1/groups/${OKTA_GROUP}/users`, query: { limit: '200' } },
  },
];

export const OKTA_INVALID: Example[] = [
  {
    name: 'a mistyped property',
    request: {
      method: 'POST',
      path: '/api/v1/zones',
      body: { ...blocklistZone, gatways: blocklistZone.gateways },
    },
    problems: [/request body: unknown property \/gatways/],
  },
  {
    name: 'a value outside the enum',
    request: { method: 'POST', path: '/api/v1/zones', body: { ...blocklistZone, usage: 'BLOCK' } },
    problems: [/request body: \/usage must be one of "POLICY", "BLOCKLIST"/],
  },
  {
    name: 'a gateway of an unknown type',
    request: {
      method: 'PUT',
      path: `/api/v1/zones/${OKTA_ZONE}`,
      body: { ...blocklistZone, gateways: [{ type: 'CIDRv4', value: '203.0.113.7/32' }] },
    },
    problems: [/\/gateways\/0\/type must be one of "CIDR", "RANGE"/],
  },
  {
    name: 'the wrong method',
    request: { method: 'GET', path: `/api/v1/users/${OKTA_USER}/lifecycle/suspend` },
    problems: [
      /\/api\/v1\/users\/\{userId\}\/lifecycle\/suspend has no GET operation .*\(it has: POST\)/,
    ],
  },
  {
    name: 'a mistyped path',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/lifecycle/suspnd` },
    problems: [
      /no path in the description matches .*; nearest: \/api\/v1\/users\/\{userId\}\/lifecycle\/suspend\b/,
    ],
  },
  {
    name: 'the wrong method for sessions',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/sessions` },
    problems: [/has no POST operation .*\(it has: DELETE\)/],
  },
  {
    name: 'a required query parameter left out',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/lifecycle/activate` },
    problems: [/query parameter sendEmail is required by activateUser/],
  },
  {
    name: 'a query parameter of the wrong type',
    request: {
      method: 'DELETE',
      path: `/api/v1/users/${OKTA_USER}/sessions`,
      query: { oauthTokens: 'yes' },
    },
    problems: [/query parameter oauthTokens="yes": must be boolean/],
  },
  {
    name: 'a body where none is described',
    request: { method: 'POST', path: `/api/v1/users/${OKTA_USER}/lifecycle/suspend`, body: {} },
    problems: [/suspendUser .* takes no request body/],
  },
];
