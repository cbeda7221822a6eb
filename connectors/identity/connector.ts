/**
 * The Connector for identity providers (ADR 0004): one class for every provider, which
 * brings only its lookups and the HTTP calls of each write (IdentityProvider).
 *
 * plan   reads the ledger and the provider (GETs only) and returns the Changes an apply
 *        would make, each with the exact requests.
 * apply  converges on the request. Ledger entries the request no longer wants (a login
 *        left the values or became never-touch, the group or zone changed, the endpoint
 *        changed) are reversed first; then the new entries are written to the ledger in
 *        one write, and only then are the calls sent, so a crash between the two leaves
 *        an entry to reverse rather than a change nobody knows about. What Forestall
 *        recorded but someone undid (a suspended user re-enabled by hand) is made again.
 *        Nothing that was already so is recorded: a user suspended by someone else, or
 *        already in the group, is left alone and never reversed by us.
 * remove reverses every ledger entry, newest first, then deletes the ledger. It needs no
 *        request: the ledger holds the endpoint and the Secret's name.
 *
 * Reversals look first: a user who no longer exists (or whose login now belongs to
 * another id), a user someone re-enabled, a membership someone removed and a zone that
 * is gone are dropped from the ledger without a write. They show in `skipped`.
 *
 * Never-touch (params.neverTouch plus IdentityAccess.neverTouch, compared without case)
 * and the maxUsers cap are enforced here, whatever the policy's CEL said: a never-touch
 * login is never written and is named in `skipped`; a request naming more users than
 * maxUsers fails validation, which sends the action to review.
 *
 * The HTTP client of an endpoint is built once per endpoint and Secret content (a hash of
 * both) and reused, so an OAuth access token serves many reconciles; a rotated Secret
 * gives a new client. The cache holds a few clients per connector, never process-wide.
 */
import { createHash } from 'node:crypto';
import { aggregateCidrs, wholeFamilyProblems } from '../network/cidrs.js';
import { checkParams } from '../core/params.js';
import { canonicalJson, invalidRequest } from '../core/render.js';
import { ConnectorError } from '../core/errors.js';
import type { ApplyOptions, ApplyOutcome, Change, Connector, ParamSpec } from '../core/types.js';
import { createIdentityHttp, type IdentityHttpOptions } from './http.js';
import {
  identityRef,
  type HttpCall,
  type IdentityAccess,
  type IdentityHttp,
  type IdentityProvider,
  type IdpUser,
  type IpZone,
  type LedgerEntry,
  type LedgerRecord,
} from './types.js';
import type { ActionRequest, ActionType, ObjectRef } from '../../crds/index.js';

const USER_ACTIONS: readonly ActionType[] = ['IdentitySuspend', 'StepUpAuth'];
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Longer than any provider's login (Okta 100, Entra UPN 113, SCIM and Keycloak have no limit that matters here). */
const MAX_VALUE_LENGTH = 256;
/** HTTP clients kept per connector: endpoints in use at once, plus one rotation each. */
const MAX_CLIENTS = 8;
export const DEFAULT_MAX_USERS = 10;

/** The params every identity connector takes, before the provider's endpoint params. */
export const SHARED_IDENTITY_PARAMS: readonly ParamSpec[] = [
  {
    name: 'credentialsSecretRef',
    type: 'string',
    required: true,
    description:
      'The name of the Secret with the provider credentials (its keys depend on the provider).',
  },
  {
    name: 'credentialsSecretNamespace',
    type: 'string',
    format: 'namespace',
    description: "The namespace of that Secret; default the controller's.",
  },
  {
    name: 'neverTouch',
    type: 'stringList',
    default: [],
    maxItems: 1000,
    description:
      'Logins and group names never written, whatever the values say (in addition to the controller flag --identity-never-touch).',
  },
  {
    name: 'maxUsers',
    type: 'integer',
    default: DEFAULT_MAX_USERS,
    minimum: 1,
    maximum: 1000,
    actions: USER_ACTIONS,
    description:
      'The most users one action may name; a request naming more fails validation, which sends the action to review.',
  },
  {
    name: 'group',
    type: 'string',
    required: true,
    actions: ['StepUpAuth'],
    description:
      "The group whose sign-on policy requires MFA; the users are added to it for the action's lifetime.",
  },
  {
    name: 'zone',
    type: 'string',
    required: true,
    actions: ['IdentityBlock'],
    description:
      'Okta: the name of the BLOCKLIST network zone (created when missing). Entra: the id of the IP named location (it must exist).',
  },
];

export interface IdentityConnectorOptions {
  /** HTTP client settings for every endpoint (timeouts, retries; tests shorten them). */
  http?: Omit<IdentityHttpOptions, 'baseUrl' | 'auth' | 'fetch'>;
  /** Default () => new Date(); stamps ledger entries. */
  clock?: () => Date;
}

/** One change: the calls that make it, and the ledger entry it adds or removes. */
interface Step {
  change: Change;
  http: IdentityHttp;
  calls: HttpCall[];
  /** Written to the ledger before the calls are sent. */
  record?: LedgerEntry;
  /** Removed from the ledger once the calls succeeded. */
  drop?: LedgerEntry;
  /** A zone this step creates: its id is looked up afterwards, for the ledger. */
  createdZone?: string;
}

interface Reversal {
  /** Undefined when nothing is left to undo. */
  step?: Step;
  entry: LedgerEntry;
  note?: string;
}

interface Convergence {
  /** The endpoint params of this request (what a new ledger record holds). */
  endpoint: Record<string, unknown>;
  ledger: LedgerRecord | undefined;
  /** Entries no longer wanted: undone (or dropped) first. */
  reversals: Reversal[];
  /** New and re-made changes. */
  forward: Step[];
  objects: ObjectRef[];
  skipped: string[];
}

/** Every param an identity connector takes: the shared ones for the action types its provider supports, then the provider's endpoint params. */
export function identityParams(provider: IdentityProvider): ParamSpec[] {
  return [
    ...SHARED_IDENTITY_PARAMS.filter(
      (spec) =>
        spec.actions === undefined || spec.actions.some((type) => provider.supports.includes(type)),
    ),
    ...provider.endpointParams,
  ];
}

/**
 * The static validation of an identity request: name, type, params, values and their
 * caps. It needs no provider and no Secret, so the CLI and Git delivery run it offline;
 * `clusterNeverTouch` is the operator's never-touch list (IdentityAccess.neverTouch),
 * which only the controller knows.
 */
export function validateIdentityRequest(
  provider: IdentityProvider,
  request: ActionRequest,
  clusterNeverTouch: readonly string[] = [],
): string[] {
  const id = `identity:${provider.kind}`;
  const problems: string[] = [];
  if (request.name.length > 253 || !OBJECT_NAME.test(request.name))
    problems.push(`name is not a valid object name: "${request.name}"`);
  if (!provider.supports.includes(request.type)) {
    const reason = provider.refusals?.[request.type];
    problems.push(
      `type ${request.type} is not enforced by ${id} (it enforces ${provider.supports.join(', ')})${reason ? `: ${reason}` : ''}`,
    );
    return problems;
  }
  const params = request.params ?? {};
  const paramProblems = checkParams(params, identityParams(provider), request.type);
  problems.push(...paramProblems);
  if (!Array.isArray(request.values)) return [...problems, 'values must be a list of strings'];
  request.values.forEach((value, i) => {
    if (typeof value !== 'string' || value.trim() === '')
      problems.push(`values[${i}] must be a non-empty string`);
    else if (value.length > MAX_VALUE_LENGTH)
      problems.push(`values[${i}] is longer than ${MAX_VALUE_LENGTH} characters`);
  });
  const capProblem = paramProblems.some((p) => p.startsWith('params.maxUsers '));
  if (USER_ACTIONS.includes(request.type) && !capProblem) {
    const maxUsers =
      typeof params['maxUsers'] === 'number' ? params['maxUsers'] : DEFAULT_MAX_USERS;
    const users = distinctLogins(request.values.filter((v) => typeof v === 'string')).length;
    if (users > maxUsers) {
      problems.push(
        `values name ${users} users, more than params.maxUsers (${maxUsers}); an identity action this large needs review`,
      );
    }
  }
  if (
    request.type === 'StepUpAuth' &&
    typeof params['group'] === 'string' &&
    neverTouchSet(params, clusterNeverTouch).has(params['group'].toLowerCase())
  ) {
    problems.push(`params.group "${params['group']}" is on the never-touch list`);
  }
  if (request.type === 'IdentityBlock') {
    const cover = aggregateCidrs(request.values.filter((v) => typeof v === 'string'));
    problems.push(
      ...cover.problems,
      ...wholeFamilyProblems(cover, { verb: 'block', noun: 'sign-in' }),
    );
  }
  return problems;
}

function neverTouchSet(
  params: Record<string, unknown>,
  clusterNeverTouch: readonly string[] = [],
): Set<string> {
  const listed = Array.isArray(params['neverTouch'])
    ? params['neverTouch'].filter((v): v is string => typeof v === 'string')
    : [];
  return new Set([...clusterNeverTouch, ...listed].map((v) => v.toLowerCase()));
}

/** The operations a provider may leave out: group membership and IP zones. */
type OptionalOperation =
  'findGroup' | 'isMember' | 'addMember' | 'removeMember' | 'findZone' | 'setZoneRanges';

export class IdentityConnector implements Connector {
  readonly id: string;
  readonly layer = 'identity' as const;
  readonly supports: readonly ActionType[];
  readonly description: string;
  /** Every param this connector takes: the shared ones (for the action types it supports) and the provider's endpoint params. */
  readonly params: readonly ParamSpec[];
  private readonly clients = new Map<string, IdentityHttp>();
  private readonly clock: () => Date;

  constructor(
    readonly provider: IdentityProvider,
    private readonly access: IdentityAccess,
    private readonly options: IdentityConnectorOptions = {},
  ) {
    this.id = `identity:${provider.kind}`;
    this.supports = provider.supports;
    this.description = provider.description;
    this.params = identityParams(provider);
    this.clock = options.clock ?? (() => new Date());
  }

  validate(request: ActionRequest): string[] {
    return validateIdentityRequest(this.provider, request, this.access.neverTouch);
  }

  async plan(request: ActionRequest): Promise<Change[]> {
    const convergence = await this.converge(request);
    return changesOf(convergence);
  }

  async apply(request: ActionRequest, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const convergence = await this.converge(request);
    const outcome: ApplyOutcome = {
      changes: changesOf(convergence),
      objects: convergence.objects,
      skipped: convergence.skipped,
    };
    if (options.dryRun === true) return outcome;
    await this.execute(request.name, convergence);
    return outcome;
  }

  async remove(actionName: string, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const ledger = await this.access.ledger.read(actionName);
    if (ledger === undefined) return { changes: [], objects: [], skipped: [] };
    if (ledger.connector !== this.id) {
      // Another connector's record: reversing it with this provider's calls would be wrong.
      throw new ConnectorError(
        'FST_CONNECTOR_INVALID_REQUEST',
        `${this.id} cannot remove action ${actionName}: its identity ledger was written by ${ledger.connector}`,
      );
    }
    const http = await this.client(ledger.endpoint);
    const reversals = await this.reversals(http, [...ledger.entries].reverse());
    const changes = reversals.flatMap((r) => (r.step ? [r.step.change] : []));
    const skipped = reversals.flatMap((r) => (r.note ? [r.note] : []));
    if (options.dryRun === true) return { changes, objects: [], skipped };
    let entries = [...ledger.entries];
    try {
      for (const reversal of reversals) {
        if (reversal.step) await send(reversal.step);
        entries = entries.filter((e) => e !== reversal.entry);
      }
    } catch (err) {
      // Keep what is still to undo; the next remove() starts from there.
      if (entries.length !== ledger.entries.length)
        await this.access.ledger.write(actionName, { ...ledger, entries });
      throw err;
    }
    await this.access.ledger.delete(actionName);
    return { changes, objects: [], skipped };
  }

  /** What the request wants, against what the ledger and the provider hold. Reads only. */
  private async converge(request: ActionRequest): Promise<Convergence> {
    const problems = this.validate(request);
    if (problems.length > 0) throw invalidRequest(this.id, request.name, problems);
    const params = request.params ?? {};
    const endpoint = this.endpointOf(params);
    const ledger = await this.access.ledger.read(request.name);
    if (ledger !== undefined && ledger.connector !== this.id) {
      throw new ConnectorError(
        'FST_CONNECTOR_INVALID_REQUEST',
        `${this.id} cannot enforce action ${request.name}: its identity ledger is held by ${ledger.connector}; one action can use one identity connector`,
      );
    }
    const http = await this.client(endpoint);
    // Entries made at another endpoint are undone there, with that endpoint's client. A
    // Secret renamed or moved is the same endpoint: its entries stay, and the ledger
    // takes the new name with its next write.
    const sameEndpoint =
      ledger === undefined ||
      canonicalJson(withoutCredentials(ledger.endpoint)) ===
        canonicalJson(withoutCredentials(endpoint));
    const current = sameEndpoint ? (ledger?.entries ?? []) : [];
    const convergence: Convergence = {
      endpoint,
      ledger,
      reversals: [],
      forward: [],
      objects: [],
      skipped: [],
    };
    let wanted: Set<LedgerEntry>;
    switch (request.type) {
      case 'IdentitySuspend':
        wanted = await this.suspensions(http, request, current, convergence);
        break;
      case 'StepUpAuth':
        wanted = await this.memberships(http, request, current, convergence);
        break;
      case 'IdentityBlock':
        wanted = await this.zone(http, request, current, convergence);
        break;
      default:
        throw invalidRequest(this.id, request.name, [
          `type ${request.type} is not an identity action`,
        ]);
    }
    if (!sameEndpoint && ledger !== undefined) {
      convergence.reversals.push(
        ...(await this.reversals(await this.client(ledger.endpoint), ledger.entries)),
      );
    }
    convergence.reversals.push(
      ...(await this.reversals(
        http,
        current.filter((e) => !wanted.has(e)),
      )),
    );
    return convergence;
  }

  /** IdentitySuspend: each active user suspended, each user Forestall suspended kept so. Returns the entries still wanted. */
  private async suspensions(
    http: IdentityHttp,
    request: ActionRequest,
    entries: readonly LedgerEntry[],
    out: Convergence,
  ): Promise<Set<LedgerEntry>> {
    const wanted = new Set<LedgerEntry>();
    const lookup = this.userLookup(http, request, out);
    for (const login of distinctLogins(request.values)) {
      const user = await lookup(login);
      if (user === undefined) continue;
      const ref = identityRef(this.provider.kind, 'User', login);
      const entry = entries.find((e) => e.op === 'suspend' && e.id === user.id);
      if (entry) wanted.add(entry);
      const refusal = user.active && !entry ? this.provider.suspendRefusal?.(user) : undefined;
      if (refusal) {
        out.skipped.push(`user ${login} cannot be suspended: ${refusal}`);
      } else if (user.active) {
        out.forward.push(
          this.step(
            http,
            'update',
            ref,
            this.provider.suspend(user),
            entry ? {} : { record: this.entry('suspend', login, user.id) },
          ),
        );
        out.objects.push(ref);
      } else if (entry) {
        out.objects.push(ref);
      } else {
        out.skipped.push(`user ${login} is already suspended; not ours to re-enable`);
      }
    }
    return wanted;
  }

  /** StepUpAuth: each user a member of params.group. Returns the entries still wanted. */
  private async memberships(
    http: IdentityHttp,
    request: ActionRequest,
    entries: readonly LedgerEntry[],
    out: Convergence,
  ): Promise<Set<LedgerEntry>> {
    const { findGroup, isMember, addMember } = this.groupSupport();
    const name = request.params['group'] as string;
    const group = await findGroup(http, name);
    if (group === undefined) {
      throw invalidRequest(this.id, request.name, [
        `params.group "${name}" does not exist at ${this.provider.kind}; create it, with a sign-on policy that requires MFA, before the action can add users to it`,
      ]);
    }
    const wanted = new Set<LedgerEntry>();
    const lookup = this.userLookup(http, request, out);
    for (const login of distinctLogins(request.values)) {
      const user = await lookup(login);
      if (user === undefined) continue;
      const ref = identityRef(this.provider.kind, 'GroupMember', `${group.name}/${login}`);
      const entry = entries.find(
        (e) => e.op === 'member' && e.id === user.id && e.group?.id === group.id,
      );
      if (entry) wanted.add(entry);
      out.objects.push(ref);
      if (!(await isMember(http, group, user))) {
        out.forward.push(
          this.step(
            http,
            'create',
            ref,
            addMember(group, user),
            entry ? {} : { record: this.entry('member', login, user.id, { group }) },
          ),
        );
      } else if (!entry) {
        out.skipped.push(`user ${login} is already a member of ${group.name}; not ours to remove`);
      }
    }
    return wanted;
  }

  /**
   * IdentityBlock: the zone holds the ranges it held before Forestall first changed it,
   * plus the request's, written as their minimal CIDR cover. A zone Forestall created
   * starts empty. Edits made to the zone
   * while the action holds it are overwritten by the next apply and by remove(), which
   * puts back the ranges recorded first.
   */
  private async zone(
    http: IdentityHttp,
    request: ActionRequest,
    entries: readonly LedgerEntry[],
    out: Convergence,
  ): Promise<Set<LedgerEntry>> {
    const { findZone, setZoneRanges } = this.zoneSupport();
    const key = request.params['zone'] as string;
    const ranges = cover(request.values);
    const ref = identityRef(this.provider.kind, this.zoneKind(), key);
    const created = entries.find((e) => e.op === 'zone-created' && e.subject === key);
    const changed = entries.find((e) => e.op === 'zone-ranges' && e.subject === key);
    const wanted = new Set<LedgerEntry>();
    const zone = await findZone(http, key);
    if (zone === undefined) {
      const createZone = this.provider.createZone?.bind(this.provider);
      if (createZone === undefined) {
        throw invalidRequest(this.id, request.name, [
          `params.zone "${key}" does not exist at ${this.provider.kind}; Forestall sets the ranges of a ${this.zoneKind()} the tenant owns and does not create one`,
        ]);
      }
      if (created) wanted.add(created);
      if (ranges.length > 0) {
        out.forward.push(
          this.step(http, 'create', ref, createZone(key, ranges), {
            ...(created ? {} : { record: this.entry('zone-created', key, '') }),
            createdZone: key,
          }),
        );
        out.objects.push(ref);
      }
      return wanted;
    }
    const entry = created ?? changed;
    if (entry) wanted.add(entry);
    const prior = created ? [] : (changed?.prior?.ranges ?? zone.ranges);
    const desired = cover([...prior, ...ranges]);
    if (!sameCover(zone.ranges, desired)) {
      const record = entry
        ? {}
        : {
            record: this.entry('zone-ranges', key, zone.id, {
              prior: { ranges: [...zone.ranges] },
            }),
          };
      out.forward.push(this.step(http, 'update', ref, setZoneRanges(zone, desired), record));
    }
    out.objects.push(ref);
    return wanted;
  }

  /**
   * Looks up a login of the request: undefined (and a sentence in skipped) for a
   * never-touch login or one the provider does not know, and for a second login of a user
   * already seen, so that each user is handled once.
   */
  private userLookup(
    http: IdentityHttp,
    request: ActionRequest,
    out: Convergence,
  ): (login: string) => Promise<IdpUser | undefined> {
    const never = this.neverTouch(request.params ?? {});
    const seen = new Set<string>();
    return async (login) => {
      if (never.has(login.toLowerCase())) {
        out.skipped.push(`${login} is on the never-touch list; not touched`);
        return undefined;
      }
      const user = await this.provider.findUser(http, login);
      if (user === undefined) {
        out.skipped.push(`user ${login} not found at ${this.provider.kind}`);
        return undefined;
      }
      if (seen.has(user.id)) return undefined;
      seen.add(user.id);
      return user;
    };
  }

  /** How to undo each entry, after looking at what is there now. */
  private async reversals(
    http: IdentityHttp,
    entries: readonly LedgerEntry[],
  ): Promise<Reversal[]> {
    const out: Reversal[] = [];
    for (const entry of entries) out.push(await this.reversal(http, entry));
    return out;
  }

  private async reversal(http: IdentityHttp, entry: LedgerEntry): Promise<Reversal> {
    const kind = this.provider.kind;
    switch (entry.op) {
      case 'suspend': {
        const user = await this.provider.findUser(http, entry.subject);
        if (user === undefined || user.id !== entry.id)
          return {
            entry,
            note: `user ${entry.subject} no longer exists at ${kind}; nothing to re-enable`,
          };
        if (user.active)
          return {
            entry,
            note: `user ${entry.subject} was re-enabled by someone else; left as is`,
          };
        return {
          entry,
          step: this.step(
            http,
            'update',
            identityRef(kind, 'User', entry.subject),
            this.provider.restore(user),
            { drop: entry },
          ),
        };
      }
      case 'member': {
        const { isMember, removeMember } = this.groupSupport();
        const group = entry.group;
        if (group === undefined)
          return { entry, note: `ledger entry for ${entry.subject} names no group; dropped` };
        const user = await this.provider.findUser(http, entry.subject);
        if (user === undefined || user.id !== entry.id)
          return {
            entry,
            note: `user ${entry.subject} no longer exists at ${kind}; nothing to remove from ${group.name}`,
          };
        if (!(await isMember(http, group, user)))
          return {
            entry,
            note: `user ${entry.subject} is no longer a member of ${group.name}; left as is`,
          };
        return {
          entry,
          step: this.step(
            http,
            'delete',
            identityRef(kind, 'GroupMember', `${group.name}/${entry.subject}`),
            removeMember(group, user),
            { drop: entry },
          ),
        };
      }
      case 'zone-created':
      case 'zone-ranges': {
        const { findZone, setZoneRanges } = this.zoneSupport();
        const zone = await findZone(http, entry.subject);
        const ref = identityRef(kind, this.zoneKind(), entry.subject);
        if (zone === undefined)
          return {
            entry,
            note: `${this.zoneKind()} ${entry.subject} no longer exists at ${kind}; nothing to undo`,
          };
        if (entry.op === 'zone-created') {
          const deleteZone = this.provider.deleteZone?.bind(this.provider);
          if (deleteZone === undefined)
            throw new ConnectorError(
              'FST_CONNECTOR_INVALID_REQUEST',
              `${this.id} recorded creating zone ${entry.subject} but cannot delete zones`,
            );
          return { entry, step: this.step(http, 'delete', ref, deleteZone(zone), { drop: entry }) };
        }
        const prior = entry.prior?.ranges ?? [];
        if (sameCover(zone.ranges, prior)) return { entry };
        return {
          entry,
          step: this.step(http, 'update', ref, setZoneRanges(zone, prior), { drop: entry }),
        };
      }
    }
  }

  /**
   * Makes the changes: reversals (each entry dropped once undone), then the new entries
   * in one ledger write, then the calls. The ledger is written only when it changes.
   */
  private async execute(actionName: string, convergence: Convergence): Promise<void> {
    const ledger = this.access.ledger;
    let stored = convergence.ledger;
    let entries = [...(stored?.entries ?? [])];
    const save = async (endpoint: Record<string, unknown>): Promise<void> => {
      if (entries.length === 0) {
        if (stored !== undefined) await ledger.delete(actionName);
        stored = undefined;
        return;
      }
      stored = { connector: this.id, endpoint, entries: [...entries] };
      await ledger.write(actionName, stored);
    };

    const before = entries.length;
    try {
      for (const reversal of convergence.reversals) {
        if (reversal.step) await send(reversal.step);
        entries = entries.filter((e) => e !== reversal.entry);
      }
    } finally {
      if (entries.length !== before) await save(stored?.endpoint ?? convergence.endpoint);
    }

    const records = convergence.forward.flatMap((step) => (step.record ? [step.record] : []));
    const moved =
      stored !== undefined &&
      canonicalJson(stored.endpoint) !== canonicalJson(convergence.endpoint);
    if (records.length > 0 || moved) {
      entries.push(...records);
      await save(convergence.endpoint);
    }
    for (const step of convergence.forward) await send(step);

    // A zone's id is known only once it exists; remove() finds it by name, the id is for people.
    const created = convergence.forward.filter(
      (s) => s.createdZone !== undefined && s.record !== undefined,
    );
    if (created.length > 0 && this.provider.findZone) {
      for (const step of created) {
        const zone: IpZone | undefined = await this.provider.findZone(step.http, step.createdZone!);
        if (zone !== undefined)
          entries = entries.map((e) => (e === step.record ? { ...e, id: zone.id } : e));
      }
      await save(convergence.endpoint);
    }
  }

  /** The endpoint params of a request: what the ledger records to reach the provider again. */
  private endpointOf(params: Record<string, unknown>): Record<string, unknown> {
    const names = [
      'credentialsSecretRef',
      'credentialsSecretNamespace',
      ...this.provider.endpointParams.map((p) => p.name),
    ];
    const endpoint: Record<string, unknown> = {};
    for (const name of names)
      if (params[name] !== undefined && params[name] !== null) endpoint[name] = params[name];
    return endpoint;
  }

  /** The client for an endpoint, built from the Secret it names; reused while the endpoint and the Secret are unchanged. */
  private async client(endpoint: Record<string, unknown>): Promise<IdentityHttp> {
    const name = endpoint['credentialsSecretRef'];
    if (typeof name !== 'string' || name === '') {
      throw new ConnectorError(
        'FST_IDENTITY_CREDENTIALS',
        `${this.id}: params.credentialsSecretRef names no Secret`,
      );
    }
    const namespace =
      typeof endpoint['credentialsSecretNamespace'] === 'string'
        ? endpoint['credentialsSecretNamespace']
        : undefined;
    const secretName = namespace === undefined ? name : `${namespace}/${name}`;
    // The Secret is checked against where its values go (the API and token URLs) before
    // any request: the target is derived from the params and the Secret's keys.
    const secret = await this.access.secret(
      { name, ...(namespace === undefined ? {} : { namespace }) },
      'params.credentialsSecretRef',
      (data) => {
        this.checkKeys(secretName, data);
        const target = this.target(endpoint, data);
        return [
          target.baseUrl,
          ...(target.auth.type === 'client-credentials' ? [target.auth.tokenUrl] : []),
        ];
      },
    );
    this.checkKeys(secretName, secret);
    const key = createHash('sha256').update(canonicalJson({ endpoint, secret })).digest('hex');
    const cached = this.clients.get(key);
    if (cached !== undefined) return cached;
    const target = this.target(endpoint, secret);
    const http = createIdentityHttp({
      ...this.options.http,
      baseUrl: target.baseUrl,
      auth: target.auth,
      ...(this.access.fetch === undefined ? {} : { fetch: this.access.fetch }),
    });
    if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!);
    this.clients.set(key, http);
    return http;
  }

  private checkKeys(secretName: string, secret: Record<string, string>): void {
    for (const key of this.provider.requiredSecretKeys) {
      if (typeof secret[key] !== 'string' || secret[key] === '') {
        throw new ConnectorError(
          'FST_IDENTITY_CREDENTIALS',
          `${this.id}: Secret ${secretName} has no key "${key}" (it needs ${this.provider.requiredSecretKeys.map((k) => `"${k}"`).join(', ')})`,
        );
      }
    }
  }

  private target(
    endpoint: Record<string, unknown>,
    secret: Record<string, string>,
  ): ReturnType<IdentityProvider['endpoint']> {
    try {
      return this.provider.endpoint(endpoint, secret);
    } catch (err) {
      // Provider messages name params, never Secret values; the message is kept short anyway.
      throw new ConnectorError(
        'FST_CONNECTOR_INVALID_REQUEST',
        `${this.id}: unusable endpoint params: ${err instanceof Error ? err.message.slice(0, 300) : 'unknown error'}`,
      );
    }
  }

  private neverTouch(params: Record<string, unknown>): Set<string> {
    return neverTouchSet(params, this.access.neverTouch);
  }

  private entry(
    op: LedgerEntry['op'],
    subject: string,
    id: string,
    extra: Pick<LedgerEntry, 'group' | 'prior'> = {},
  ): LedgerEntry {
    return { op, subject, id, ...extra, at: this.clock().toISOString() };
  }

  private step(
    http: IdentityHttp,
    op: Change['op'],
    ref: ObjectRef,
    calls: HttpCall[],
    extra: Pick<Step, 'record' | 'drop' | 'createdZone'> = {},
  ): Step {
    return { change: { op, ref, requests: calls.map(requestOf) }, http, calls, ...extra };
  }

  private zoneKind(): 'NetworkZone' | 'NamedLocation' {
    return this.provider.createZone ? 'NetworkZone' : 'NamedLocation';
  }

  private groupSupport() {
    return this.support(
      ['findGroup', 'isMember', 'addMember', 'removeMember'],
      'group memberships',
    );
  }

  private zoneSupport() {
    return this.support(['findZone', 'setZoneRanges'], 'IP zones');
  }

  /** The provider's optional operations `names`, bound, or a refusal naming what it cannot manage. */
  private support<K extends OptionalOperation>(
    names: readonly K[],
    what: string,
  ): Required<Pick<IdentityProvider, K>> {
    const bound: Partial<Pick<IdentityProvider, OptionalOperation>> = {};
    for (const name of names) {
      const operation = this.provider[name] as ((...args: never[]) => unknown) | undefined;
      if (!operation)
        throw new ConnectorError(
          'FST_CONNECTOR_INVALID_REQUEST',
          `${this.id} does not manage ${what}`,
        );
      Object.assign(bound, { [name]: operation.bind(this.provider) });
    }
    return bound as Required<Pick<IdentityProvider, K>>;
  }
}

async function send(step: Step): Promise<void> {
  for (const call of step.calls) await step.http.send(call);
}

function changesOf(convergence: Convergence): Change[] {
  return [
    ...convergence.reversals.flatMap((r) => (r.step ? [r.step.change] : [])),
    ...convergence.forward.map((s) => s.change),
  ];
}

/** A call as a Change shows it: no headers, nothing undefined. */
function requestOf(call: HttpCall): NonNullable<Change['requests']>[number] {
  return {
    method: call.method,
    path: call.path,
    ...(call.query === undefined ? {} : { query: { ...call.query } }),
    ...(call.body === undefined ? {} : { body: call.body }),
  };
}

/** The values once each, compared without case, first spelling kept. */
function distinctLogins(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const value of values) {
    const login = value.trim();
    if (login === '' || seen.has(login.toLowerCase())) continue;
    seen.add(login.toLowerCase());
    out.push(login);
  }
  return out;
}

function withoutCredentials(endpoint: Record<string, unknown>): Record<string, unknown> {
  const { credentialsSecretRef: _name, credentialsSecretNamespace: _namespace, ...rest } = endpoint;
  return rest;
}

/** The minimal CIDR cover of addresses and CIDRs, IPv4 first: one spelling for one set of addresses. */
function cover(values: readonly string[]): string[] {
  const { ipv4, ipv6 } = aggregateCidrs(values);
  return [...ipv4, ...ipv6];
}

/**
 * Whether two range lists block the same addresses. Providers spell ranges their own
 * way (a /32, a bare address, an a-b range read back as its cover), so comparing the
 * strings would see a change that is not there and write on every apply.
 */
function sameCover(a: readonly string[], b: readonly string[]): boolean {
  return cover(a).join(',') === cover(b).join(',');
}
