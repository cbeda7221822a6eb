/**
 * Identity connectors (ADR 0004): Okta, Microsoft Entra ID, Keycloak and SCIM 2.0.
 *
 * They implement the one Connector interface (connectors/core/types.ts) over the provider's
 * HTTP API instead of Kubernetes objects. Every change is data: plan() returns Changes
 * whose `request` is the exact HTTP call (no credentials), so a dry run and
 * `forestall plan` show what would be sent. Every change is reversible: before a write,
 * the state Forestall found is recorded in the action's ledger, and remove() (expiry,
 * lift, deletion) puts back exactly what the ledger holds, then deletes it. A user that
 * was already suspended is never recorded, so Forestall never re-enables it.
 *
 * This file holds the pieces every provider shares; connectors/identity/<provider>/
 * holds one provider each. connectors/ never imports controller/: Secrets and the
 * ledger's storage come in through IdentityAccess, which the controller implements.
 */
import type { ConnectorExample, ParamSpec } from '../core/types.js';
import type { ActionType, ObjectRef } from '../../crds/index.js';

export type ProviderKind = 'scim' | 'keycloak' | 'okta' | 'entra';

/** One HTTP request to a provider, relative to its API base URL. Never carries credentials. */
export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the API base, starting with '/': `/Users/2819c223`, `/users/{id}/logout`. Already URL-encoded. */
  path: string;
  query?: Record<string, string>;
  /** JSON body. */
  body?: unknown;
  /** Extra headers (If-Match, Content-Type for SCIM). Never Authorization: the client adds it. */
  headers?: Record<string, string>;
}

export interface HttpAnswer<T = unknown> {
  status: number;
  /** Parsed JSON; undefined for an empty body (204). */
  body: T;
  headers: Headers;
}

/**
 * The authenticated client of one provider endpoint. It adds credentials, sets a
 * per-attempt timeout, retries 429 (honouring Retry-After), 5xx and network errors a
 * bounded number of times, and throws ConnectorError for anything else:
 *   FST_IDENTITY_AUTH (401/403: wrong or under-privileged credentials; terminal),
 *   FST_IDENTITY_REJECTED (other 4xx; terminal),
 *   FST_IDENTITY_UNAVAILABLE (5xx, network, timeouts after retries; transient),
 *   FST_IDENTITY_RATE_LIMITED (429 after retries; transient, with retryAfterMs).
 * Statuses listed in `accept` are returned, not thrown (a lookup's 404).
 * Tokens never appear in messages or logs.
 */
export interface IdentityHttp {
  send<T = unknown>(
    call: HttpCall,
    options?: { accept?: readonly number[] },
  ): Promise<HttpAnswer<T>>;
}

/** How a client authenticates. */
export type AuthScheme =
  /** Authorization: Bearer <token> (SCIM). */
  | { type: 'bearer'; token: string }
  /** Authorization: SSWS <token> (Okta API token). */
  | { type: 'ssws'; token: string }
  /** OAuth 2.0 client credentials (Keycloak service account, Microsoft Graph); the access token is cached until shortly before it expires. */
  | {
      type: 'client-credentials';
      tokenUrl: string;
      clientId: string;
      clientSecret: string;
      scope?: string;
    };

/** A user as the provider has it. */
export interface IdpUser {
  /** The provider's id (SCIM id, Keycloak UUID, Okta id, Entra object id). */
  id: string;
  /** The login the indicator named (userName, username, login, userPrincipalName). */
  login: string;
  /** Can sign in now: SCIM active, Keycloak enabled, Okta status ACTIVE (or PASSWORD_EXPIRED, RECOVERY, LOCKED_OUT), Entra accountEnabled. */
  active: boolean;
  /** SCIM ETag, for If-Match. */
  version?: string;
  /** The provider's own state word (Okta status), for messages. */
  status?: string;
}

export interface IdpGroup {
  id: string;
  name: string;
}

/** An IP list at the provider that Forestall keeps in sync (Okta network zone, Entra named location). */
export interface IpZone {
  id: string;
  name: string;
  /** CIDRs (and, for Okta, single addresses as /32 or /128). */
  ranges: string[];
}

/**
 * What one provider knows how to do. Lookups take the client; writes are returned as
 * HttpCalls, so the same calls serve plan() (shown) and apply() (sent).
 */
export interface IdentityProvider {
  readonly kind: ProviderKind;
  /** Action types this provider can carry. */
  readonly supports: readonly ActionType[];
  /** One sentence for `forestall connectors` and the docs. */
  readonly description: string;
  /** Why an action type outside `supports` is refused, as a sentence for the validation message ("Keycloak has no IP blocklist."). */
  readonly refusals?: Partial<Record<ActionType, string>>;
  /** Params naming the endpoint (url, realm, tenant, tokenUrl, ...), beyond the shared ones (credentialsSecretRef, neverTouch, maxUsers, group, zone). */
  readonly endpointParams: readonly ParamSpec[];
  /** A typical use, for `forestall connectors` and the docs; a test checks it validates. */
  readonly example: ConnectorExample;
  /** The key of the credentials Secret that must exist (the others are optional), for a clear error. */
  readonly requiredSecretKeys: readonly string[];
  /** The API base URL and how to authenticate, from validated params and the Secret's keys. */
  endpoint(
    params: Record<string, unknown>,
    secret: Record<string, string>,
  ): { baseUrl: string; auth: AuthScheme };
  /** The user whose login is `login` (exact match), or undefined. */
  findUser(http: IdentityHttp, login: string): Promise<IdpUser | undefined>;
  /** Suspend or disable the user and revoke their sessions and refresh tokens. */
  suspend(user: IdpUser): HttpCall[];
  /** Undo suspend(): re-enable (sessions stay revoked). */
  restore(user: IdpUser): HttpCall[];
  /** Why this active user cannot be suspended here (the provider would refuse), or undefined; the user is then skipped and named, and the rest of the action goes on. */
  suspendRefusal?(user: IdpUser): string | undefined;

  // StepUpAuth: membership of a group that the customer's sign-on policy makes require MFA.
  findGroup?(http: IdentityHttp, name: string): Promise<IdpGroup | undefined>;
  isMember?(http: IdentityHttp, group: IdpGroup, user: IdpUser): Promise<boolean>;
  addMember?(group: IdpGroup, user: IdpUser): HttpCall[];
  removeMember?(group: IdpGroup, user: IdpUser): HttpCall[];

  // IdentityBlock: an IP zone (Okta BLOCKLIST network zone, Entra IP named location).
  /** The zone the params name (Okta: by name, created when missing; Entra: by id, owned by the customer). */
  findZone?(http: IdentityHttp, nameOrId: string): Promise<IpZone | undefined>;
  /** Calls that create the zone with these ranges (Okta). Providers without it require the zone to exist. */
  createZone?(name: string, ranges: readonly string[]): HttpCall[];
  /** Calls that set the zone's ranges to exactly `ranges`. */
  setZoneRanges?(zone: IpZone, ranges: readonly string[]): HttpCall[];
  /** Calls that delete a zone Forestall created (Okta: deactivate, then delete). */
  deleteZone?(zone: IpZone): HttpCall[];
}

/** A Secret the controller reads for the connector; `key` defaults per connector. */
export interface SecretRef {
  name: string;
  namespace?: string;
  key?: string;
}

/**
 * One reversible change Forestall made, recorded before it was made:
 *   suspend       the user was active; restore() puts it back.
 *   member        the user was not in the group; removeMember() puts it back.
 *   zone-created  Forestall created the zone; deleteZone() puts it back.
 *   zone-ranges   the zone had `prior.ranges`; setZoneRanges(prior) puts it back.
 */
export interface LedgerEntry {
  op: 'suspend' | 'member' | 'zone-created' | 'zone-ranges';
  /** The login, group name or zone name the change is about (for messages and status). */
  subject: string;
  /** The provider id of the user or zone. */
  id: string;
  /** For member: the group. */
  group?: IdpGroup;
  /** What was there before (zone-ranges: { ranges }). */
  prior?: { ranges?: string[] };
  /** RFC 3339, when it was recorded. */
  at: string;
}

/** Everything needed to reverse an action's changes without its request: where, with which credentials, and what. */
export interface LedgerRecord {
  connector: string;
  /** The provider endpoint params the changes were made with (url, realm, tenant, credentialsSecretRef, tokenUrl). */
  endpoint: Record<string, unknown>;
  entries: LedgerEntry[];
}

/** Durable per-action storage for ledger records (the controller keeps them in a ConfigMap). */
export interface IdentityLedger {
  read(action: string): Promise<LedgerRecord | undefined>;
  write(action: string, record: LedgerRecord): Promise<void>;
  delete(action: string): Promise<void>;
}

/** What an identity connector needs from its host. */
export interface IdentityAccess {
  /**
   * Every key of the Secret, decoded; throws a clear error naming the Secret when it or a
   * key is missing, or when the Secret does not admit every URL `destinations` derives
   * from its data (the controller binds credentials to hosts: controller/runtime/secrets.ts).
   */
  secret(
    ref: SecretRef,
    field: string,
    destinations: (secret: Record<string, string>) => readonly string[],
  ): Promise<Record<string, string>>;
  ledger: IdentityLedger;
  /** Logins and group names never touched whatever the action says (--identity-never-touch); the params may add more. */
  neverTouch?: readonly string[];
  /** The outbound client (lib/http createOutboundFetch); the controller passes its own, with --outbound-allow. */
  fetch?: typeof globalThis.fetch;
}

/** A provider object as a Change ref: apiVersion `identity.forestall.io/<provider>`. */
export function identityRef(
  provider: ProviderKind,
  kind: 'User' | 'Group' | 'GroupMember' | 'NetworkZone' | 'NamedLocation',
  name: string,
): ObjectRef {
  return { apiVersion: `identity.forestall.io/${provider}`, kind, name };
}
