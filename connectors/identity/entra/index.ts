/**
 * identity:entra: Microsoft Entra ID through Microsoft Graph v1.0, as an app registration
 * with OAuth client credentials (scope https://graph.microsoft.com/.default). The app
 * needs these application permissions, with admin consent:
 *   IdentitySuspend  User.Read.All, User.EnableDisableAccount.All, User.RevokeSessions.All
 *   StepUpAuth       GroupMember.ReadWrite.All, User.Read.All
 *   IdentityBlock    Policy.Read.All, Policy.ReadWrite.ConditionalAccess
 * Graph lets an app disable a user who holds an administrator role only when the app
 * itself has a sufficiently privileged directory role; otherwise it answers 403, which
 * surfaces as FST_IDENTITY_AUTH.
 *
 * - IdentitySuspend: PATCH /users/{id} {accountEnabled: false}, then
 *   POST /users/{id}/revokeSignInSessions, which invalidates the refresh tokens and
 *   session cookies issued to the user. Access tokens already issued stay valid until
 *   they expire (typically an hour or so), except at services that honour continuous access
 *   evaluation. Restore is PATCH {accountEnabled: true}.
 * - StepUpAuth: direct membership of a security or Microsoft 365 group that the
 *   customer's Conditional Access policy makes require MFA
 *   (POST /groups/{gid}/members/$ref, DELETE /groups/{gid}/members/{uid}/$ref).
 * - IdentityBlock: the ranges of an IP named location, named by id. There is no
 *   createZone or deleteZone: a named location blocks nothing by itself, only a
 *   Conditional Access policy that refers to it with a block grant does, and writing
 *   Conditional Access policies is a tenant-wide decision Forestall leaves to people.
 *   The customer creates the location and the policy once; Forestall only replaces the
 *   ranges, and remove() puts back the ranges it found.
 *
 * The Graph base URL and token URL are params so that tests (and national clouds) can
 * point elsewhere. Contract: checked against Microsoft's Graph v1.0 description (the
 * committed subset test/openapi/msgraph-v1.0.subset.json) in entra.contract.test.ts;
 * there is no Graph server to test against.
 */
import { ConnectorError } from '../../core/errors.js';
import type { ParamSpec } from '../../core/types.js';
import { checkedBaseUrl } from '../base-url.js';
import { findUserByLogin } from '../find-user.js';
import { canonicalCidr, coveredCidrs, isIpv6Cidr } from '../ip-ranges.js';
import type { AuthScheme, HttpAnswer, HttpCall, IdentityHttp, IdentityProvider } from '../types.js';

export const GRAPH_V1_URL = 'https://graph.microsoft.com/v1.0';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/**
 * The form Graph's documentation gives for the member reference added to a group. Write
 * calls do not see the endpoint params, so it names the global Graph service even when
 * `url` points elsewhere.
 */
export const GRAPH_DIRECTORY_OBJECTS = `${GRAPH_V1_URL}/directoryObjects/`;

const IP_NAMED_LOCATION = '#microsoft.graph.ipNamedLocation';
const USER_FIELDS = 'id,userPrincipalName,accountEnabled';
const GROUP_FIELDS = 'id,displayName,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled';
/** Pages followed through @odata.nextLink before a listing is treated as runaway. */
const MAX_PAGES = 200;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;

/** The fields of Graph's objects the provider reads. */
interface GraphUser {
  id: string;
  userPrincipalName?: string | null;
  accountEnabled?: boolean | null;
}
interface GraphGroup {
  id: string;
  displayName?: string | null;
  groupTypes?: string[];
  mailEnabled?: boolean | null;
  securityEnabled?: boolean | null;
  onPremisesSyncEnabled?: boolean | null;
}
interface GraphIpRange {
  '@odata.type'?: string;
  cidrAddress?: string | null;
  lowerAddress?: string | null;
  upperAddress?: string | null;
}
interface GraphNamedLocation {
  id: string;
  '@odata.type'?: string;
  displayName?: string;
  ipRanges?: GraphIpRange[];
}
interface GraphCollection<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

const endpointParams: readonly ParamSpec[] = [
  {
    name: 'tenant',
    type: 'string',
    required: true,
    description:
      'The Entra tenant: its id (a GUID) or one of its verified domains (contoso.onmicrosoft.com).',
  },
  {
    name: 'url',
    type: 'string',
    description: 'The Microsoft Graph v1.0 base URL.',
    default: GRAPH_V1_URL,
  },
  {
    name: 'tokenUrl',
    type: 'string',
    description:
      'The OAuth 2.0 token endpoint; default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.',
  },
];

export const entraProvider: IdentityProvider = {
  kind: 'entra',
  supports: ['IdentitySuspend', 'StepUpAuth', 'IdentityBlock'],
  description:
    'Microsoft Entra ID (Graph): disables users and revokes their sessions, adds users to an MFA group, and keeps the ranges of an IP named location.',
  example: {
    type: 'IdentitySuspend',
    params: {
      tenant: 'contoso.onmicrosoft.com',
      credentialsSecretRef: 'forestall-entra',
      maxUsers: 5,
    },
  },
  endpointParams,
  requiredSecretKeys: ['client-id', 'client-secret'],

  endpoint(params, secret): { baseUrl: string; auth: AuthScheme } {
    const tenant = checkedTenant(params.tenant);
    const baseUrl =
      params.url === undefined || params.url === null
        ? GRAPH_V1_URL
        : checkedBaseUrl('url', params.url, { path: true });
    const tokenUrl =
      params.tokenUrl === undefined || params.tokenUrl === null
        ? `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0/token`
        : checkedBaseUrl('tokenUrl', params.tokenUrl, { path: true });
    const clientId = secret['client-id']?.trim();
    const clientSecret = secret['client-secret']?.trim();
    for (const [key, value] of [
      ['client-id', clientId],
      ['client-secret', clientSecret],
    ] as const) {
      if (!value)
        throw new ConnectorError(
          'FST_IDENTITY_CREDENTIALS',
          `the credentials Secret has no key "${key}" (of the Entra app registration) or it is empty`,
        );
    }
    return {
      baseUrl,
      auth: {
        type: 'client-credentials',
        tokenUrl,
        clientId: clientId!,
        clientSecret: clientSecret!,
        scope: graphScope(baseUrl),
      },
    };
  },

  /**
   * GET /users/{userPrincipalName}. Graph reads a user principal name that starts with
   * "$" as a system segment and one with an apostrophe needs OData quoting, so those are
   * looked up with $filter instead (quotes doubled). The answer counts only when its
   * userPrincipalName is `login` (without case): an object id resolves too, and that
   * is not the login the indicator named.
   */
  async findUser(http, login) {
    const found = await findUserByLogin<GraphUser, GraphCollection<GraphUser>>(http, login, {
      byFilter:
        login.startsWith('$') || login.includes("'")
          ? {
              method: 'GET',
              path: '/users',
              query: {
                $filter: `userPrincipalName eq ${odataString(login)}`,
                $select: USER_FIELDS,
              },
            }
          : undefined,
      listed: (body) => body?.value ?? [],
      byPath: {
        method: 'GET',
        path: `/users/${encodeURIComponent(login)}`,
        query: { $select: USER_FIELDS },
      },
      loginOf: (user) => user.userPrincipalName,
    });
    if (!found) return undefined;
    // accountEnabled is null only when Graph does not know; count that as able to sign in, so the user is not left alone.
    return {
      id: found.id,
      login: found.userPrincipalName ?? login,
      active: found.accountEnabled !== false,
    };
  },

  suspend(user) {
    const id = encodeURIComponent(user.id);
    return [
      { method: 'PATCH', path: `/users/${id}`, body: { accountEnabled: false } },
      { method: 'POST', path: `/users/${id}/revokeSignInSessions` },
    ];
  },

  restore(user) {
    return [
      {
        method: 'PATCH',
        path: `/users/${encodeURIComponent(user.id)}`,
        body: { accountEnabled: true },
      },
    ];
  },

  /**
   * GET /groups?$filter=displayName eq '<name>'. Display names are not unique in Entra,
   * so several groups of that exact name are refused as ambiguous. So is a group whose
   * members Graph cannot change: dynamic membership (set by its rule), synchronised from
   * on-premises AD (changed there), and mail-enabled security groups and distribution
   * lists (changed in Exchange).
   */
  async findGroup(http, name) {
    const matches: GraphGroup[] = [];
    for await (const group of pages<GraphGroup>(http, {
      method: 'GET',
      path: '/groups',
      query: { $filter: `displayName eq ${odataString(name)}`, $select: GROUP_FIELDS },
    })) {
      if (group.displayName === name) matches.push(group);
    }
    if (matches.length === 0) return undefined;
    if (matches.length > 1)
      throw invalid(
        `${matches.length} Entra groups are named "${name}"; give the group a unique display name`,
      );
    const group = matches[0]!;
    const why = unwritable(group);
    if (why)
      throw invalid(
        `the members of the Entra group "${name}" cannot be changed through Microsoft Graph: ${why}`,
      );
    return { id: group.id, name };
  },

  /**
   * GET /users/{uid}/memberOf/{gid}: 200 when the user is a direct member, 404 when not.
   * Direct, not transitive (checkMemberGroups would be): membership through a nested
   * group is not Forestall's to rely on, since it can end without Forestall knowing.
   */
  async isMember(http, group, user) {
    const answer = await http.send(
      {
        method: 'GET',
        path: `/users/${encodeURIComponent(user.id)}/memberOf/${encodeURIComponent(group.id)}`,
        query: { $select: 'id' },
      },
      { accept: [404] },
    );
    return answer.status !== 404;
  },

  addMember(group, user) {
    return [
      {
        method: 'POST',
        path: `/groups/${encodeURIComponent(group.id)}/members/$ref`,
        body: { '@odata.id': `${GRAPH_DIRECTORY_OBJECTS}${user.id}` },
      },
    ];
  },

  removeMember(group, user) {
    return [
      {
        method: 'DELETE',
        path: `/groups/${encodeURIComponent(group.id)}/members/${encodeURIComponent(user.id)}/$ref`,
      },
    ];
  },

  /**
   * GET /identity/conditionalAccess/namedLocations/{id}; undefined on 404. A country
   * named location is refused: it has no IP ranges to write.
   */
  async findZone(http, id) {
    const answer = await http.send<GraphNamedLocation>(
      { method: 'GET', path: namedLocationPath(id) },
      { accept: [404] },
    );
    if (answer.status === 404 || !answer.body?.id) return undefined;
    const location = answer.body;
    if (location['@odata.type'] !== IP_NAMED_LOCATION) {
      throw invalid(
        `the Entra named location ${id} ("${location.displayName ?? ''}") is ${location['@odata.type'] ?? 'of no stated type'}, not an IP named location (${IP_NAMED_LOCATION})`,
      );
    }
    return { id: location.id, name: location.displayName ?? id, ranges: locationRanges(location) };
  },

  /**
   * PATCH with the whole ipRanges list, which replaces it; @odata.type is required on an
   * update of a named location. displayName and isTrusted stay as the customer set them.
   * Graph requires ipRanges on an IP named location, so do not empty one: restore the
   * ranges it had instead (a location the customer created always had some).
   */
  setZoneRanges(zone, ranges) {
    return [
      {
        method: 'PATCH',
        path: namedLocationPath(zone.id),
        body: { '@odata.type': IP_NAMED_LOCATION, ipRanges: ipRanges(ranges) },
      },
    ];
  },
};

function invalid(message: string): ConnectorError {
  return new ConnectorError('FST_CONNECTOR_INVALID_REQUEST', message);
}

function checkedTenant(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid('params.tenant is required: the Entra tenant id (a GUID) or one of its domains');
  const tenant = value.trim();
  if (!GUID.test(tenant) && !DOMAIN.test(tenant)) {
    throw invalid(
      `params.tenant must be a tenant id (a GUID) or a domain name such as contoso.onmicrosoft.com, not "${value}" (common, organizations and consumers do not work with client credentials)`,
    );
  }
  return tenant;
}

/** The .default scope of the Graph service `baseUrl` is on (national clouds have their own host); the global one for a loopback test server. */
function graphScope(baseUrl: string): string {
  const url = new URL(baseUrl);
  return url.protocol === 'https:' ? `${url.origin}/.default` : GRAPH_SCOPE;
}

function namedLocationPath(id: string): string {
  return `/identity/conditionalAccess/namedLocations/${encodeURIComponent(id)}`;
}

/** A string literal in an OData $filter: single quotes, a quote inside doubled. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function unwritable(group: GraphGroup): string | undefined {
  const types = group.groupTypes ?? [];
  if (types.includes('DynamicMembership'))
    return 'its membership is dynamic (set by its membership rule)';
  if (group.onPremisesSyncEnabled === true)
    return 'it is synchronised from on-premises Active Directory, where its members are managed';
  if (group.mailEnabled === true && !types.includes('Unified'))
    return group.securityEnabled === true
      ? 'it is a mail-enabled security group, managed in Exchange'
      : 'it is a distribution list, managed in Exchange';
  return undefined;
}

/** `ranges` as Graph IP ranges: canonical CIDRs, each once, iPv4CidrRange or iPv6CidrRange by family. */
function ipRanges(ranges: readonly string[]): { '@odata.type': string; cidrAddress: string }[] {
  const cidrs = new Set<string>();
  for (const range of ranges) {
    const cidr = canonicalCidr(range);
    if (cidr === undefined)
      throw invalid(
        `"${range}" is not an IP address or CIDR, so it cannot be a range of an Entra named location`,
      );
    cidrs.add(cidr);
  }
  return [...cidrs].map((cidr) => ({
    '@odata.type': isIpv6Cidr(cidr)
      ? '#microsoft.graph.iPv6CidrRange'
      : '#microsoft.graph.iPv4CidrRange',
    cidrAddress: cidr,
  }));
}

/** The location's ranges as canonical CIDRs: CIDR ranges as they are, lower/upper ranges as their CIDR cover. */
function locationRanges(location: GraphNamedLocation): string[] {
  return coveredCidrs(
    location.ipRanges ?? [],
    (range) =>
      range.cidrAddress
        ? { cidr: range.cidrAddress }
        : range.lowerAddress && range.upperAddress
          ? { lower: range.lowerAddress, upper: range.upperAddress }
          : undefined,
    (range) =>
      invalid(
        `the Entra named location ${location.id} has an IP range Forestall cannot read: ${JSON.stringify(range)}`,
      ),
  );
}

/**
 * Every item of a Graph collection, following @odata.nextLink. The next page is asked
 * for with the link's query ($skiptoken and the original options) on the same path, so
 * the client keeps its base URL and credentials.
 */
async function* pages<T>(http: IdentityHttp, first: HttpCall): AsyncGenerator<T> {
  let call: HttpCall | undefined = first;
  const seen = new Set<string>();
  for (let page = 0; call !== undefined; page++) {
    if (page >= MAX_PAGES)
      throw new ConnectorError(
        'FST_IDENTITY_UNAVAILABLE',
        `Graph's listing of ${first.path} did not end after ${MAX_PAGES} pages`,
      );
    const answer: HttpAnswer<GraphCollection<T>> = await http.send<GraphCollection<T>>(call);
    yield* answer.body?.value ?? [];
    const next: string | undefined = answer.body?.['@odata.nextLink'];
    let query: Record<string, string> | undefined;
    try {
      query = next ? Object.fromEntries(new URL(next).searchParams) : undefined;
    } catch {
      query = undefined;
    }
    const key = JSON.stringify(query);
    call = query === undefined || seen.has(key) ? undefined : { ...first, query };
    seen.add(key);
  }
}
