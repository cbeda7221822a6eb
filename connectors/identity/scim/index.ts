/**
 * identity:scim, a SCIM 2.0 service provider (RFC 7643/7644): IdentitySuspend sets a
 * user's `active` to false, StepUpAuth adds the user to a group.
 *
 * SCIM has no sessions or tokens: it provisions accounts, it does not sign anyone in. A
 * SCIM suspension therefore ends no session that is already open; it stops new sign-ins
 * wherever the provisioned application honours `active`. Pair it with the identity
 * provider's own connector where sessions matter.
 *
 * Calls (base URL from params.url, Bearer token from the Secret key `token`):
 *   find a user   GET   /Users?filter=userName eq "<login>"      (userName is not case-exact)
 *   suspend       PATCH /Users/{id}  PatchOp replace active=false  (204, or 200 with the user)
 *   restore       PATCH /Users/{id}  PatchOp replace active=true
 *   find a group  GET   /Groups?filter=displayName eq "<name>"
 *   membership    GET   /Groups/{id}?attributes=members
 *   add / remove  PATCH /Groups/{id}  PatchOp add members / remove members[value eq "<id>"]
 * Bodies are sent as application/scim+json. The PatchOps carry no If-Match: each sets
 * one attribute or one member to a fixed value, so repeating one is harmless, and a
 * concurrent edit of something else must not make a suspension fail.
 */
import type { IdentityHttp, IdentityProvider, IdpGroup, IdpUser } from '../types.js';

export const SCIM_MEDIA_TYPE = 'application/scim+json';
export const SCIM_PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface ScimListResponse<T> {
  totalResults?: number;
  Resources?: T[];
}

interface ScimUserResource {
  id?: unknown;
  userName?: unknown;
  active?: unknown;
  meta?: { version?: unknown };
}

interface ScimGroupResource {
  id?: unknown;
  displayName?: unknown;
  members?: { value?: unknown }[];
}

const SCIM_HEADERS = {
  'content-type': SCIM_MEDIA_TYPE,
  accept: `${SCIM_MEDIA_TYPE}, application/json`,
};

/** A string as a SCIM filter literal: JSON string escaping (RFC 7644 3.4.2.2). */
export function scimString(value: string): string {
  return JSON.stringify(value);
}

function patch(
  path: string,
  operations: Record<string, unknown>[],
): { method: 'PATCH'; path: string; body: unknown; headers: Record<string, string> } {
  return {
    method: 'PATCH',
    path,
    body: { schemas: [SCIM_PATCH_OP], Operations: operations },
    headers: SCIM_HEADERS,
  };
}

const userPath = (user: IdpUser): string => `/Users/${encodeURIComponent(user.id)}`;
const groupPath = (group: IdpGroup): string => `/Groups/${encodeURIComponent(group.id)}`;

async function list<T>(
  http: IdentityHttp,
  path: string,
  filter: string,
  attributes: string,
): Promise<T[]> {
  const answer = await http.send<ScimListResponse<T>>({
    method: 'GET',
    path,
    query: { filter, attributes },
    headers: { accept: SCIM_HEADERS.accept },
  });
  return Array.isArray(answer.body?.Resources) ? answer.body.Resources : [];
}

export const scimProvider: IdentityProvider = {
  kind: 'scim',
  supports: ['IdentitySuspend', 'StepUpAuth'],
  description:
    'SCIM 2.0: suspends users (active=false) and adds them to an MFA group; SCIM has no sessions to revoke.',
  refusals: {
    IdentityBlock: 'SCIM provisions accounts and has no IP blocklist.',
  },
  example: {
    type: 'IdentitySuspend',
    params: { url: 'https://idp.example.com/scim/v2', credentialsSecretRef: 'forestall-scim' },
  },
  endpointParams: [
    {
      name: 'url',
      type: 'string',
      required: true,
      description:
        'The SCIM base URL, for example https://idp.example.com/scim/v2 (the /Users endpoint is below it).',
    },
  ],
  requiredSecretKeys: ['token'],

  endpoint(params, secret) {
    return { baseUrl: String(params['url']), auth: { type: 'bearer', token: secret['token']! } };
  },

  async findUser(http, login) {
    const users = await list<ScimUserResource>(
      http,
      '/Users',
      `userName eq ${scimString(login)}`,
      'userName,active,meta.version',
    );
    const match = users.find(
      (u) => typeof u.userName === 'string' && u.userName.toLowerCase() === login.toLowerCase(),
    );
    if (match === undefined || typeof match.id !== 'string') return undefined;
    return {
      id: match.id,
      login: match.userName as string,
      // RFC 7643 leaves an absent `active` undefined; providers treat such accounts as enabled.
      active: match.active !== false,
      ...(typeof match.meta?.version === 'string' ? { version: match.meta.version } : {}),
    };
  },

  suspend(user) {
    return [patch(userPath(user), [{ op: 'replace', path: 'active', value: false }])];
  },

  restore(user) {
    return [patch(userPath(user), [{ op: 'replace', path: 'active', value: true }])];
  },

  async findGroup(http, name) {
    const groups = await list<ScimGroupResource>(
      http,
      '/Groups',
      `displayName eq ${scimString(name)}`,
      'displayName',
    );
    const exact = groups.filter((g) => g.displayName === name && typeof g.id === 'string');
    const match =
      exact[0] ??
      groups.find(
        (g) =>
          typeof g.displayName === 'string' && g.displayName.toLowerCase() === name.toLowerCase(),
      );
    return match === undefined || typeof match.id !== 'string'
      ? undefined
      : { id: match.id, name: match.displayName as string };
  },

  async isMember(http, group, user) {
    // A group deleted since it was recorded has no members.
    const answer = await http.send<ScimGroupResource>(
      {
        method: 'GET',
        path: groupPath(group),
        query: { attributes: 'members' },
        headers: { accept: SCIM_HEADERS.accept },
      },
      { accept: [404] },
    );
    if (answer.status === 404) return false;
    return (answer.body?.members ?? []).some((m) => m.value === user.id);
  },

  addMember(group, user) {
    return [patch(groupPath(group), [{ op: 'add', path: 'members', value: [{ value: user.id }] }])];
  },

  removeMember(group, user) {
    return [
      patch(groupPath(group), [{ op: 'remove', path: `members[value eq ${scimString(user.id)}]` }]),
    ];
  },
};
