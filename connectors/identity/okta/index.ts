/**
 * identity:okta: the Okta Management API (https://<org>.okta.com/api/v1) with an SSWS
 * API token. The token acts with the permissions of the admin who created it, so that
 * admin's role must cover user lifecycle, group membership and (for IdentityBlock)
 * network zones, for the users and groups concerned.
 *
 * - IdentitySuspend: POST /users/{id}/lifecycle/suspend, then
 *   DELETE /users/{id}/sessions?oauthTokens=true, which ends the user's Okta sessions and
 *   revokes the OpenID Connect and OAuth tokens issued to them. Restore is
 *   POST /users/{id}/lifecycle/unsuspend; the sessions stay ended.
 * - StepUpAuth: membership of an OKTA_GROUP that the customer's sign-on or
 *   authentication policy makes require MFA (PUT / DELETE /groups/{gid}/users/{uid}).
 *   Forestall never writes the policy itself.
 * - IdentityBlock: an IP network zone with usage BLOCKLIST, found by name and created
 *   when missing. Okta refuses every request from a blocklisted address, for every URL
 *   of the org, before any policy runs. setZoneRanges replaces the whole zone (PUT) with
 *   exactly the ranges it is given, so the caller passes what the zone held before as
 *   well as the action's ranges.
 *
 * Limits (Okta's documentation on network zones; the 2.15.0 OpenAPI description states
 * none): a blocklist zone holds at most 1000 gateways (OKTA_BLOCKLIST_MAX_GATEWAYS), all
 * IP zones of an org together 25,000, and an org at most 100 zones. A zone needs at
 * least one gateway. Changes take about a minute to reach every Okta server. Okta's API
 * reference says an org needs Adaptive MFA to create network zones beyond its defaults;
 * without it, name the system blocklist zone BlockedIpZone, whose gateways Forestall then
 * holds while the action lasts (remove() puts back the ones it found).
 *
 * Contract: checked against Okta's published description (@okta/openapi 2.15.0) in
 * okta.contract.test.ts; there is no Okta server to test against.
 */
import { ConnectorError } from '../../core/errors.js';
import type { ParamSpec } from '../../core/types.js';
import { checkedBaseUrl } from '../base-url.js';
import { findUserByLogin } from '../find-user.js';
import { canonicalCidr, coveredCidrs } from '../ip-ranges.js';
import type {
  AuthScheme,
  HttpAnswer,
  HttpCall,
  IdentityHttp,
  IdentityProvider,
  IdpGroup,
  IdpUser,
} from '../types.js';

/**
 * The most gateways (IPs, ranges or CIDRs) Okta allows in one blocklist zone. Exported so
 * that validation can refuse an IdentityBlock whose ranges need more; createZone and
 * setZoneRanges also refuse to build such a request, rather than let Okta answer 400.
 */
export const OKTA_BLOCKLIST_MAX_GATEWAYS = 1000;

/** Statuses in which the user can sign in, or will again without an administrator (a lockout ends, a password is reset). */
export const OKTA_SIGN_IN_STATUSES: readonly string[] = [
  'ACTIVE',
  'PASSWORD_EXPIRED',
  'RECOVERY',
  'LOCKED_OUT',
];

/** Pages followed through Link headers before a listing is treated as runaway. */
const MAX_PAGES = 200;

/** The fields of Okta's objects the provider reads. */
interface OktaUser {
  id: string;
  status?: string;
  profile?: { login?: string };
}
interface OktaGroup {
  id: string;
  type?: string;
  profile?: { name?: string };
}
interface OktaGateway {
  type?: string;
  value?: string;
}
interface OktaZone {
  id: string;
  name?: string;
  type?: string;
  usage?: string;
  status?: string;
  gateways?: OktaGateway[] | null;
}

const endpointParams: readonly ParamSpec[] = [
  {
    name: 'url',
    type: 'string',
    required: true,
    description:
      "The Okta org URL, https://<org>.okta.com (or the org's custom domain); the API base is <url>/api/v1.",
  },
];

export const oktaProvider: IdentityProvider = {
  kind: 'okta',
  supports: ['IdentitySuspend', 'StepUpAuth', 'IdentityBlock'],
  description:
    'Okta: suspends users and ends their sessions and OAuth tokens, adds users to an MFA group, and keeps an IP blocklist network zone.',
  example: {
    type: 'IdentityBlock',
    params: {
      url: 'https://example.okta.com',
      credentialsSecretRef: 'forestall-okta',
      zone: 'forestall-blocklist',
    },
  },
  endpointParams,
  requiredSecretKeys: ['token'],

  endpoint(params, secret): { baseUrl: string; auth: AuthScheme } {
    const origin = checkedBaseUrl('url', params.url, { path: false });
    const token = secret.token?.trim();
    if (!token)
      throw new ConnectorError(
        'FST_IDENTITY_CREDENTIALS',
        'the credentials Secret has no key "token" (an Okta API token) or it is empty',
      );
    return { baseUrl: `${origin}/api/v1`, auth: { type: 'ssws', token } };
  },

  /**
   * GET /users/{login}: Okta takes a login (or its short name) wherever it takes a user
   * id. A login with "/" cannot be escaped into the path (Okta's documentation says so),
   * so that one is looked up with a filter. The answer counts only when its
   * profile.login is `login` (Okta compares logins without case): a short name or an id
   * that happens to resolve to another user is not the user the indicator named.
   */
  async findUser(http, login) {
    const found = await findUserByLogin<OktaUser, OktaUser[]>(http, login, {
      byFilter: login.includes('/')
        ? {
            method: 'GET',
            path: '/users',
            query: { filter: `profile.login eq ${oktaString(login)}` },
          }
        : undefined,
      listed: (body) => body ?? [],
      byPath: { method: 'GET', path: `/users/${encodeURIComponent(login)}` },
      loginOf: (user) => user.profile?.login,
    });
    if (!found) return undefined;
    return {
      id: found.id,
      login: found.profile?.login ?? login,
      active: OKTA_SIGN_IN_STATUSES.includes(found.status ?? ''),
      ...(found.status ? { status: found.status } : {}),
    };
  },

  /**
   * Okta suspends only ACTIVE users: a LOCKED_OUT, PASSWORD_EXPIRED or RECOVERY user
   * (active for IdpUser, since they get back in without an administrator) would be
   * refused with a 400, so suspendRefusal() names them and the connector skips them
   * instead of failing the whole action. Sessions are cleared after the suspension, so
   * the user cannot sign in again in between.
   */
  suspendRefusal(user) {
    return user.status !== undefined && user.status !== 'ACTIVE'
      ? `Okta status ${user.status}: Okta suspends only ACTIVE users; resolve the ${user.status.toLowerCase().replace(/_/g, ' ')} state or suspend the user by hand`
      : undefined;
  },

  suspend(user) {
    const id = encodeURIComponent(user.id);
    return [
      { method: 'POST', path: `/users/${id}/lifecycle/suspend` },
      { method: 'DELETE', path: `/users/${id}/sessions`, query: { oauthTokens: 'true' } },
    ];
  },

  restore(user) {
    return [{ method: 'POST', path: `/users/${encodeURIComponent(user.id)}/lifecycle/unsuspend` }];
  },

  /**
   * GET /groups?q=<name> matches names by prefix; the group is the one whose
   * profile.name is exactly `name`. Only an OKTA_GROUP can take members through the API
   * (APP_GROUPs are mastered by their directory, BUILT_IN ones by Okta), so a name that
   * only such a group has is refused here, and so is a name several groups share.
   */
  async findGroup(http, name) {
    const matches: OktaGroup[] = [];
    for await (const group of pages<OktaGroup>(http, {
      method: 'GET',
      path: '/groups',
      query: { q: name },
    })) {
      if (group.profile?.name === name) matches.push(group);
    }
    if (matches.length === 0) return undefined;
    const writable = matches.filter((g) => g.type === 'OKTA_GROUP');
    if (writable.length > 1)
      throw invalid(
        `${writable.length} Okta groups are named "${name}"; give the group a unique name`,
      );
    if (writable.length === 0)
      throw invalid(
        `the Okta group "${name}" is of type ${matches.map((g) => g.type ?? 'unknown').join(', ')}; only an OKTA_GROUP's members can be changed through the API`,
      );
    return { id: writable[0]!.id, name };
  },

  /** GET /users/{uid}/groups: a user is in far fewer groups than a group such as Everyone has members. Direct membership only, as Okta has no nested groups. */
  async isMember(http, group, user) {
    for await (const g of pages<OktaGroup>(http, {
      method: 'GET',
      path: `/users/${encodeURIComponent(user.id)}/groups`,
    })) {
      if (g.id === group.id) return true;
    }
    return false;
  },

  addMember(group, user) {
    return [{ method: 'PUT', path: memberPath(group, user) }];
  },

  removeMember(group, user) {
    return [{ method: 'DELETE', path: memberPath(group, user) }];
  },

  /**
   * Every zone is listed (an org has at most 100) and matched by exact name. A zone of
   * that name that is not an IP blocklist zone is refused rather than skipped: Okta
   * would refuse to create a second one, and writing gateways into a POLICY zone would
   * loosen or tighten the customer's sign-on policies instead of blocking.
   */
  async findZone(http, name) {
    const matches: OktaZone[] = [];
    for await (const zone of pages<OktaZone>(http, { method: 'GET', path: '/zones' })) {
      if (zone.name === name) matches.push(zone);
    }
    if (matches.length === 0) return undefined;
    if (matches.length > 1)
      throw invalid(
        `${matches.length} Okta network zones are named "${name}"; name one that is unique`,
      );
    const zone = matches[0]!;
    if (zone.type !== 'IP' || zone.usage !== 'BLOCKLIST') {
      throw invalid(
        `the Okta network zone "${name}" is a ${zone.type ?? '?'} zone with usage ${zone.usage ?? '?'}; IdentityBlock needs an IP zone with usage BLOCKLIST (name a new zone and Forestall creates it)`,
      );
    }
    return { id: zone.id, name, ranges: zoneRanges(zone) };
  },

  createZone(name, ranges) {
    return [
      {
        method: 'POST',
        path: '/zones',
        body: {
          type: 'IP',
          name,
          status: 'ACTIVE',
          usage: 'BLOCKLIST',
          gateways: gateways(ranges),
        },
      },
    ];
  },

  /**
   * PUT replaces the zone: the body is the whole blocklist zone as Forestall keeps it.
   * Status is left out so that Okta keeps it: a zone a person deactivated stays
   * deactivated (and blocks nothing) until they activate it again.
   */
  setZoneRanges(zone, ranges) {
    return [
      {
        method: 'PUT',
        path: `/zones/${encodeURIComponent(zone.id)}`,
        body: { type: 'IP', name: zone.name, usage: 'BLOCKLIST', gateways: gateways(ranges) },
      },
    ];
  },

  /** Okta deletes only an inactive zone. */
  deleteZone(zone) {
    const id = encodeURIComponent(zone.id);
    return [
      { method: 'POST', path: `/zones/${id}/lifecycle/deactivate` },
      { method: 'DELETE', path: `/zones/${id}` },
    ];
  },
};

function invalid(message: string): ConnectorError {
  return new ConnectorError('FST_CONNECTOR_INVALID_REQUEST', message);
}

function memberPath(group: IdpGroup, user: IdpUser): string {
  return `/groups/${encodeURIComponent(group.id)}/users/${encodeURIComponent(user.id)}`;
}

/** A string literal in an Okta filter expression. */
function oktaString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The gateways for `ranges`: canonical CIDRs, each once, as type CIDR (a single address
 * as /32 or /128). Refuses what Okta would refuse: no gateway at all, more than
 * OKTA_BLOCKLIST_MAX_GATEWAYS, a value that is not an address or CIDR.
 */
function gateways(ranges: readonly string[]): { type: 'CIDR'; value: string }[] {
  const cidrs = new Set<string>();
  for (const range of ranges) {
    const cidr = canonicalCidr(range);
    if (cidr === undefined)
      throw invalid(
        `"${range}" is not an IP address or CIDR, so it cannot be an Okta zone gateway`,
      );
    cidrs.add(cidr);
  }
  if (cidrs.size === 0)
    throw invalid(
      'an Okta IP zone needs at least one gateway; delete the zone instead of emptying it',
    );
  if (cidrs.size > OKTA_BLOCKLIST_MAX_GATEWAYS)
    throw invalid(
      `${cidrs.size} ranges do not fit one Okta blocklist zone (at most ${OKTA_BLOCKLIST_MAX_GATEWAYS} gateways)`,
    );
  return [...cidrs].map((value) => ({ type: 'CIDR', value }));
}

/** The zone's gateways as canonical CIDRs: CIDR values as they are, RANGE "a-b" as its CIDR cover. */
function zoneRanges(zone: OktaZone): string[] {
  return coveredCidrs(
    zone.gateways ?? [],
    (gateway) => {
      const value = gateway.value ?? '';
      const dash = value.indexOf('-');
      return gateway.type === 'RANGE' && dash > 0
        ? { lower: value.slice(0, dash), upper: value.slice(dash + 1) }
        : { cidr: value };
    },
    (gateway) =>
      invalid(
        `the Okta network zone "${zone.name ?? zone.id}" has a gateway Forestall cannot read: ${JSON.stringify(gateway)}`,
      ),
  );
}

/**
 * Every item of a listing, following Okta's `Link: <...>; rel="next"` headers. The next
 * page is asked for with the query of the link (the `after` cursor and the limit) on
 * the same path, so the client keeps its base URL and credentials.
 */
async function* pages<T>(http: IdentityHttp, first: HttpCall): AsyncGenerator<T> {
  let call: HttpCall | undefined = first;
  const seen = new Set<string>();
  for (let page = 0; call !== undefined; page++) {
    if (page >= MAX_PAGES)
      throw new ConnectorError(
        'FST_IDENTITY_UNAVAILABLE',
        `Okta's listing of ${first.path} did not end after ${MAX_PAGES} pages`,
      );
    const answer: HttpAnswer<T[]> = await http.send<T[]>(call);
    yield* answer.body ?? [];
    const query = nextQuery(answer.headers);
    const key = JSON.stringify(query);
    call = query === undefined || seen.has(key) ? undefined : { ...first, query };
    seen.add(key);
  }
}

/** The query of the rel="next" link, if there is one. */
function nextQuery(headers: Headers): Record<string, string> | undefined {
  const link = headers.get('link');
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;(?:[^;]*;)*\s*rel="?next"?/i.exec(part.trim());
    if (!m) continue;
    try {
      return Object.fromEntries(new URL(m[1]!).searchParams);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
