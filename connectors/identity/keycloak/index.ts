/**
 * identity:keycloak, the Keycloak admin REST API: IdentitySuspend disables a user and
 * logs them out, StepUpAuth adds the user to a group.
 *
 * Keycloak has no IP blocklist, so IdentityBlock is refused.
 *
 * Credentials: a confidential client with a service account (Secret keys `client-id`
 * and `client-secret`), whose service account holds the realm-management roles
 * manage-users and view-users. The client-credentials token comes from
 * {url}/realms/{tokenRealm}/protocol/openid-connect/token (tokenRealm defaults to the
 * realm); the API base is {url}/admin/realms/{realm}.
 *
 * Calls:
 *   find a user   GET    /users?username=<login>&exact=true     (usernames are lower case)
 *   suspend       PUT    /users/{id} {"enabled": false}, then
 *                 POST   /users/{id}/logout                       (ends the user's sessions:
 *                        their refresh tokens stop working at once)
 *   restore       PUT    /users/{id} {"enabled": true}            (sessions stay ended)
 *   find a group  GET    /groups?search=<name>&exact=true         (case-sensitive; a name
 *                        starting with '/' is a path: GET /group-by-path/<path>)
 *   membership    GET    /users/{id}/groups?search=<name>
 *   add / remove  PUT / DELETE /users/{id}/groups/{groupId}
 *
 * Limits, as the real server shows (test/harness/keycloak-server.ts): access tokens are
 * JWTs, so a resource server that only checks signatures accepts one until it expires
 * (5 min by default). Logout leaves offline sessions stored; while the user is disabled
 * they cannot be refreshed, and Keycloak's not-before (set by the logout) rejects offline
 * tokens issued before it, to the second, after the user is restored.
 */
import { ConnectorError } from '../../core/errors.js';
import type { HttpCall, IdentityHttp, IdentityProvider, IdpGroup, IdpUser } from '../types.js';

interface UserRepresentation {
  id?: unknown;
  username?: unknown;
  enabled?: unknown;
}

interface GroupRepresentation {
  id?: unknown;
  name?: unknown;
  path?: unknown;
  subGroups?: GroupRepresentation[];
}

const userPath = (user: IdpUser): string => `/users/${encodeURIComponent(user.id)}`;
const membershipPath = (group: IdpGroup, user: IdpUser): string =>
  `${userPath(user)}/groups/${encodeURIComponent(group.id)}`;

/** Every group named `name` in a search answer, at any depth (a match below a parent comes back inside it). */
function named(groups: readonly GroupRepresentation[], name: string): GroupRepresentation[] {
  return groups.flatMap((g) => [
    ...(g.name === name && typeof g.id === 'string' ? [g] : []),
    ...named(g.subGroups ?? [], name),
  ]);
}

/** The last segment of a group path, which is what Keycloak's group search matches. */
function leafName(name: string): string {
  return name.startsWith('/')
    ? (name
        .split('/')
        .filter((s) => s !== '')
        .at(-1) ?? name)
    : name;
}

export const keycloakProvider: IdentityProvider = {
  kind: 'keycloak',
  supports: ['IdentitySuspend', 'StepUpAuth'],
  description:
    'Keycloak: disables users and ends their sessions, and adds them to an MFA group; Keycloak has no IP blocklist.',
  refusals: {
    IdentityBlock: 'Keycloak has no IP blocklist, so IdentityBlock is refused.',
  },
  example: {
    type: 'StepUpAuth',
    params: {
      url: 'https://keycloak.example.com',
      realm: 'corp',
      credentialsSecretRef: 'forestall-keycloak',
      group: 'mfa-required',
    },
  },
  endpointParams: [
    {
      name: 'url',
      type: 'string',
      required: true,
      description:
        'The Keycloak server root, for example https://keycloak.example.com (without /realms or /admin).',
    },
    {
      name: 'realm',
      type: 'string',
      required: true,
      description: 'The realm whose users the action changes.',
    },
    {
      name: 'tokenRealm',
      type: 'string',
      description:
        "The realm of the connector's client, when it is not `realm` (for example master).",
    },
  ],
  requiredSecretKeys: ['client-id', 'client-secret'],

  endpoint(params, secret) {
    const root = String(params['url']).replace(/\/+$/, '');
    const realm = String(params['realm']);
    const tokenRealm = typeof params['tokenRealm'] === 'string' ? params['tokenRealm'] : realm;
    return {
      baseUrl: `${root}/admin/realms/${encodeURIComponent(realm)}`,
      auth: {
        type: 'client-credentials',
        tokenUrl: `${root}/realms/${encodeURIComponent(tokenRealm)}/protocol/openid-connect/token`,
        clientId: secret['client-id']!,
        clientSecret: secret['client-secret']!,
      },
    };
  },

  async findUser(http, login) {
    const answer = await http.send<UserRepresentation[]>({
      method: 'GET',
      path: '/users',
      query: { username: login, exact: 'true', briefRepresentation: 'true' },
    });
    const match = (answer.body ?? []).find(
      (u) => typeof u.username === 'string' && u.username.toLowerCase() === login.toLowerCase(),
    );
    if (match === undefined || typeof match.id !== 'string') return undefined;
    return { id: match.id, login: match.username as string, active: match.enabled !== false };
  },

  suspend(user): HttpCall[] {
    return [
      { method: 'PUT', path: userPath(user), body: { enabled: false } },
      { method: 'POST', path: `${userPath(user)}/logout` },
    ];
  },

  restore(user): HttpCall[] {
    return [{ method: 'PUT', path: userPath(user), body: { enabled: true } }];
  },

  async findGroup(http: IdentityHttp, name: string) {
    if (name.startsWith('/')) {
      const path = name
        .split('/')
        .filter((s) => s !== '')
        .map(encodeURIComponent)
        .join('/');
      const answer = await http.send<GroupRepresentation>(
        { method: 'GET', path: `/group-by-path/${path}` },
        { accept: [404] },
      );
      return answer.status === 404 || typeof answer.body?.id !== 'string'
        ? undefined
        : { id: answer.body.id, name };
    }
    const answer = await http.send<GroupRepresentation[]>({
      method: 'GET',
      path: '/groups',
      query: { search: name, exact: 'true', briefRepresentation: 'true' },
    });
    const matches = named(answer.body ?? [], name);
    if (matches.length > 1) {
      const paths = matches
        .map((g) => (typeof g.path === 'string' ? g.path : String(g.id)))
        .join(', ');
      throw new ConnectorError(
        'FST_CONNECTOR_INVALID_REQUEST',
        `identity:keycloak: more than one group is named "${name}" (${paths}); give params.group as a path`,
      );
    }
    const match = matches[0];
    return match === undefined ? undefined : { id: match.id as string, name };
  },

  async isMember(http, group, user) {
    // A user deleted since it was recorded is in no group.
    const answer = await http.send<GroupRepresentation[]>(
      {
        method: 'GET',
        path: `${userPath(user)}/groups`,
        query: { search: leafName(group.name), briefRepresentation: 'true' },
      },
      { accept: [404] },
    );
    if (answer.status === 404) return false;
    return (answer.body ?? []).some((g) => g.id === group.id);
  },

  addMember(group, user) {
    return [{ method: 'PUT', path: membershipPath(group, user) }];
  },

  removeMember(group, user) {
    return [{ method: 'DELETE', path: membershipPath(group, user) }];
  },
};
