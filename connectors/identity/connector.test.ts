import { describe, expect, it, vi } from 'vitest';
import { ConnectorError } from '../core/errors.js';
import { IdentityConnector } from './connector.js';
import { keycloakProvider } from './keycloak/index.js';
import { scimProvider } from './scim/index.js';
import type {
  IdentityAccess,
  IdentityLedger,
  IdentityProvider,
  IpZone,
  LedgerRecord,
} from './types.js';
import type { ActionRequest, ActionType } from '../../crds/index.js';

// The connector's own logic: validation, never-touch, the cap, the ledger and its order,
// convergence and reversal. The provider here is a toy with its own tiny API (served by
// an injected fetch), which stands in for the provider-specific calls; SCIM and Keycloak
// themselves are tested against the real servers in
// test/integration/identity-connectors.test.ts.

interface ToyUser {
  id: string;
  login: string;
  active: boolean;
}

/** The toy provider's state, and the API that serves it. */
class ToyDirectory {
  users = new Map<string, ToyUser>();
  groups = new Map<string, { id: string; name: string; members: Set<string> }>();
  zones = new Map<string, IpZone>();
  /** Every write, as "METHOD path". */
  writes: string[] = [];
  /** Called before each write: lets a test look at the ledger at that moment. */
  onWrite: (what: string) => void = () => undefined;
  private next = 1;

  addUser(login: string, active = true): ToyUser {
    const user = { id: `u${this.next++}`, login, active };
    this.users.set(user.id, user);
    return user;
  }

  addGroup(name: string, members: string[] = []): void {
    this.groups.set(`g-${name}`, { id: `g-${name}`, name, members: new Set(members) });
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const path = url.pathname.replace(/^\/api/, '');
    const ok = (body?: unknown): Response =>
      body === undefined ? new Response(null, { status: 204 }) : Response.json(body);
    if (method !== 'GET') {
      this.onWrite(`${method} ${path}`);
      this.writes.push(`${method} ${path}`);
    }
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/users')
      return ok(
        [...this.users.values()].filter(
          (u) => u.login.toLowerCase() === url.searchParams.get('login')!.toLowerCase(),
        ),
      );
    if ((m = /^\/users\/(\w+)\/(suspend|restore)$/.exec(path))) {
      this.users.get(m[1]!)!.active = m[2] === 'restore';
      return ok();
    }
    if (method === 'GET' && path === '/groups')
      return ok(
        [...this.groups.values()]
          .filter((g) => g.name === url.searchParams.get('name'))
          .map(({ id, name }) => ({ id, name })),
      );
    if ((m = /^\/groups\/([\w-]+)\/members\/(\w+)$/.exec(path))) {
      const group = this.groups.get(m[1]!)!;
      if (method === 'GET')
        return group.members.has(m[2]!) ? ok({}) : new Response(null, { status: 404 });
      if (method === 'PUT') group.members.add(m[2]!);
      else group.members.delete(m[2]!);
      return ok();
    }
    if (method === 'GET' && path === '/zones')
      return ok([...this.zones.values()].filter((z) => z.name === url.searchParams.get('name')));
    if (method === 'POST' && path === '/zones') {
      const body = JSON.parse(init!.body as string) as { name: string; ranges: string[] };
      const zone = { id: `z${this.next++}`, name: body.name, ranges: body.ranges };
      this.zones.set(zone.id, zone);
      return ok(zone);
    }
    if ((m = /^\/zones\/(\w+)$/.exec(path))) {
      if (method === 'DELETE') this.zones.delete(m[1]!);
      else
        this.zones.get(m[1]!)!.ranges = (
          JSON.parse(init!.body as string) as { ranges: string[] }
        ).ranges;
      return ok();
    }
    return new Response('no such route', { status: 404 });
  };
}

function toyProvider(
  options: { zonesCreated?: boolean } = {},
): IdentityProvider & { endpointCalls: number } {
  const provider: IdentityProvider & { endpointCalls: number } = {
    kind: 'okta',
    supports: ['IdentitySuspend', 'StepUpAuth', 'IdentityBlock'],
    description: 'toy',
    endpointParams: [{ name: 'url', type: 'string', required: true, description: 'The API base.' }],
    requiredSecretKeys: ['token'],
    example: {
      type: 'IdentitySuspend',
      params: { url: 'https://idp.test', credentialsSecretRef: 'toy' },
    },
    endpointCalls: 0,
    endpoint(params, secret) {
      provider.endpointCalls++;
      return {
        baseUrl: `${String(params['url'])}/api`,
        auth: { type: 'bearer', token: secret['token']! },
      };
    },
    async findUser(http, login) {
      const users = (
        await http.send<ToyUser[]>({ method: 'GET', path: '/users', query: { login } })
      ).body;
      return users[0];
    },
    suspend: (user) => [{ method: 'POST', path: `/users/${user.id}/suspend` }],
    restore: (user) => [{ method: 'POST', path: `/users/${user.id}/restore` }],
    async findGroup(http, name) {
      return (
        await http.send<{ id: string; name: string }[]>({
          method: 'GET',
          path: '/groups',
          query: { name },
        })
      ).body[0];
    },
    async isMember(http, group, user) {
      return (
        (
          await http.send(
            { method: 'GET', path: `/groups/${group.id}/members/${user.id}` },
            { accept: [404] },
          )
        ).status === 200
      );
    },
    addMember: (group, user) => [{ method: 'PUT', path: `/groups/${group.id}/members/${user.id}` }],
    removeMember: (group, user) => [
      { method: 'DELETE', path: `/groups/${group.id}/members/${user.id}` },
    ],
    async findZone(http, name) {
      return (await http.send<IpZone[]>({ method: 'GET', path: '/zones', query: { name } }))
        .body[0];
    },
    setZoneRanges: (zone, ranges) => [
      { method: 'PUT', path: `/zones/${zone.id}`, body: { ranges } },
    ],
    deleteZone: (zone) => [{ method: 'DELETE', path: `/zones/${zone.id}` }],
  };
  if (options.zonesCreated !== false)
    provider.createZone = (name, ranges) => [
      { method: 'POST', path: '/zones', body: { name, ranges } },
    ];
  return provider;
}

class MemoryLedger implements IdentityLedger {
  records = new Map<string, LedgerRecord>();
  writes = 0;
  async read(action: string) {
    const record = this.records.get(action);
    return record === undefined ? undefined : structuredClone(record);
  }
  async write(action: string, record: LedgerRecord) {
    this.writes++;
    this.records.set(action, structuredClone(record));
  }
  async delete(action: string) {
    this.writes++;
    this.records.delete(action);
  }
}

function setUp(
  options: { neverTouch?: string[]; secret?: Record<string, string>; zonesCreated?: boolean } = {},
) {
  const directory = new ToyDirectory();
  const ledger = new MemoryLedger();
  const secret = vi.fn(async () => options.secret ?? { token: 'toy-token-0123456789' });
  const access: IdentityAccess = {
    secret,
    ledger,
    fetch: directory.fetch as typeof globalThis.fetch,
    ...(options.neverTouch ? { neverTouch: options.neverTouch } : {}),
  };
  const provider = toyProvider(options);
  const connector = new IdentityConnector(provider, access, {
    http: { retries: 0 },
    clock: () => new Date('2026-05-01T10:00:00Z'),
  });
  return { directory, ledger, connector, provider, secret };
}

function request(
  type: ActionType,
  values: string[],
  params: Record<string, unknown> = {},
): ActionRequest {
  return {
    name: 'act-1',
    type,
    values,
    scope: { namespaces: [] },
    params: { credentialsSecretRef: 'toy-creds', url: 'https://toy.example.test', ...params },
  };
}

describe('IdentityConnector with a provider that refuses some suspensions', () => {
  it('GIVEN one user the provider cannot suspend THEN that user is skipped and named, and the others are suspended', async () => {
    const { connector, directory, provider, ledger } = setUp();
    provider.suspendRefusal = (user) => (user.login === 'locked' ? 'status LOCKED_OUT' : undefined);
    const alice = directory.addUser('alice');
    const locked = directory.addUser('locked');
    const outcome = await connector.apply(request('IdentitySuspend', ['alice', 'locked']));
    expect(outcome.skipped).toEqual(['user locked cannot be suspended: status LOCKED_OUT']);
    expect(directory.users.get(alice.id)!.active).toBe(false);
    expect(directory.users.get(locked.id)!.active).toBe(true);
    expect((await ledger.read('act-1'))!.entries.map((e) => e.subject)).toEqual(['alice']);
  });
});

describe('IdentityConnector.validate', () => {
  const { connector } = setUp();

  it('GIVEN a valid request THEN no problems', () => {
    expect(connector.validate(request('IdentitySuspend', ['alice']))).toEqual([]);
    expect(connector.id).toBe('identity:okta');
    expect(connector.layer).toBe('identity');
  });

  it('GIVEN unknown, missing or misplaced params THEN each is named', () => {
    expect(connector.validate(request('IdentitySuspend', ['alice'], { prority: 1 }))).toEqual([
      expect.stringMatching(/^params\.prority is not a parameter of this connector/),
    ]);
    expect(
      connector.validate({
        ...request('IdentitySuspend', ['alice']),
        params: { url: 'https://x' },
      }),
    ).toEqual([expect.stringMatching(/^params\.credentialsSecretRef is required/)]);
    expect(connector.validate(request('StepUpAuth', ['alice']))).toEqual([
      expect.stringMatching(/^params\.group is required for StepUpAuth/),
    ]);
    expect(connector.validate(request('IdentitySuspend', ['alice'], { zone: 'z' }))).toEqual([
      'params.zone is a parameter for IdentityBlock only, not for IdentitySuspend',
    ]);
    expect(connector.validate(request('IdentitySuspend', ['alice'], { maxUsers: 0 }))).toEqual([
      'params.maxUsers must be at least 1, not 0',
    ]);
  });

  it('GIVEN more users than maxUsers THEN validation fails (the action goes to review); a higher cap lets it through', () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `user${i}`);
    expect(connector.validate(request('IdentitySuspend', eleven))).toEqual([
      'values name 11 users, more than params.maxUsers (10); an identity action this large needs review',
    ]);
    expect(
      connector.validate(request('StepUpAuth', eleven.slice(0, 3), { group: 'mfa', maxUsers: 2 })),
    ).toHaveLength(1);
    expect(connector.validate(request('IdentitySuspend', eleven, { maxUsers: 11 }))).toEqual([]);
    // The same login in another case counts once.
    expect(
      connector.validate(request('IdentitySuspend', ['a', 'A', 'b'], { maxUsers: 2 })),
    ).toEqual([]);
  });

  it('GIVEN empty values, bad addresses or a whole address family THEN they are refused', () => {
    expect(connector.validate(request('IdentitySuspend', ['alice', ' ']))).toEqual([
      'values[1] must be a non-empty string',
    ]);
    expect(
      connector.validate(request('IdentityBlock', ['10.0.0.1', 'nope'], { zone: 'z' })),
    ).toEqual(['values[1] "nope" is not an IP address or CIDR']);
    expect(connector.validate(request('IdentityBlock', ['0.0.0.0/0'], { zone: 'z' }))).toEqual([
      expect.stringMatching(/every IPv4 sign-in/),
    ]);
  });

  it('GIVEN a never-touch group for StepUpAuth THEN it is refused', () => {
    const { connector: guarded } = setUp({ neverTouch: ['Admins'] });
    expect(guarded.validate(request('StepUpAuth', ['alice'], { group: 'admins' }))).toEqual([
      'params.group "admins" is on the never-touch list',
    ]);
  });

  it('GIVEN an action type the provider cannot carry THEN the refusal says why', () => {
    const keycloak = new IdentityConnector(keycloakProvider, {
      secret: async () => ({}),
      ledger: new MemoryLedger(),
    });
    expect(keycloak.validate(request('IdentityBlock', ['10.0.0.1'], { zone: 'z' }))).toEqual([
      'type IdentityBlock is not enforced by identity:keycloak (it enforces IdentitySuspend, StepUpAuth): Keycloak has no IP blocklist, so IdentityBlock is refused.',
    ]);
    const scim = new IdentityConnector(scimProvider, {
      secret: async () => ({}),
      ledger: new MemoryLedger(),
    });
    expect(scim.params.map((p) => p.name)).toEqual([
      'credentialsSecretRef',
      'credentialsSecretNamespace',
      'neverTouch',
      'maxUsers',
      'group',
      'url',
    ]);
  });

  it('GIVEN an invalid request WHEN applied THEN FST_CONNECTOR_INVALID_REQUEST and nothing is read or written', async () => {
    const { connector: c, directory, ledger, secret } = setUp();
    const err = await c
      .apply(
        request(
          'IdentitySuspend',
          Array.from({ length: 11 }, (_, i) => `u${i}`),
        ),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('FST_CONNECTOR_INVALID_REQUEST');
    expect(secret).not.toHaveBeenCalled();
    expect(directory.writes).toEqual([]);
    expect(ledger.writes).toBe(0);
  });
});

describe('IdentityConnector IdentitySuspend', () => {
  it('GIVEN active, never-touch, unknown and already-suspended users WHEN applied THEN only the active ones are suspended, each recorded before its write', async () => {
    const { connector, directory, ledger } = setUp({ neverTouch: ['BreakGlass-Admin'] });
    const alice = directory.addUser('alice');
    const breakGlass = directory.addUser('breakglass-admin');
    const ops = directory.addUser('ops-oncall');
    const dormant = directory.addUser('dormant', false);
    directory.onWrite = (what) => {
      if (what.endsWith('/suspend'))
        expect(ledger.records.get('act-1')?.entries.map((e) => e.id)).toContain(what.split('/')[2]);
    };
    const req = request(
      'IdentitySuspend',
      ['alice', 'breakglass-admin', 'ghost', 'dormant', 'ops-oncall'],
      { neverTouch: ['OPS-ONCALL'] },
    );

    const outcome = await connector.apply(req);
    expect(outcome.changes).toEqual([
      {
        op: 'update',
        ref: { apiVersion: 'identity.forestall.io/okta', kind: 'User', name: 'alice' },
        requests: [{ method: 'POST', path: `/users/${alice.id}/suspend` }],
      },
    ]);
    expect(outcome.objects).toEqual([
      { apiVersion: 'identity.forestall.io/okta', kind: 'User', name: 'alice' },
    ]);
    expect(outcome.skipped).toEqual([
      'breakglass-admin is on the never-touch list; not touched',
      'user ghost not found at okta',
      'user dormant is already suspended; not ours to re-enable',
      'ops-oncall is on the never-touch list; not touched',
    ]);
    expect(directory.writes).toEqual([`POST /users/${alice.id}/suspend`]);
    expect([alice.active, breakGlass.active, ops.active, dormant.active]).toEqual([
      false,
      true,
      true,
      false,
    ]);
    expect(ledger.records.get('act-1')).toEqual({
      connector: 'identity:okta',
      endpoint: { credentialsSecretRef: 'toy-creds', url: 'https://toy.example.test' },
      entries: [{ op: 'suspend', subject: 'alice', id: alice.id, at: '2026-05-01T10:00:00.000Z' }],
    });

    // Twice equals once; the plan after apply is empty.
    const writes = ledger.writes;
    expect((await connector.apply(req)).changes).toEqual([]);
    expect(await connector.plan(req)).toEqual([]);
    expect(ledger.writes).toBe(writes);
    expect(directory.writes).toHaveLength(1);

    // remove() re-enables alice only: dormant was never ours.
    const removed = await connector.remove('act-1');
    expect(removed.changes.map((c) => c.ref.name)).toEqual(['alice']);
    expect([alice.active, dormant.active]).toEqual([true, false]);
    expect(ledger.records.has('act-1')).toBe(false);
    expect((await connector.remove('act-1')).changes).toEqual([]);
  });

  it('GIVEN a dry run THEN the plan is returned and neither the provider nor the ledger is written', async () => {
    const { connector, directory, ledger } = setUp();
    directory.addUser('alice');
    const req = request('IdentitySuspend', ['alice']);
    const dry = await connector.apply(req, { dryRun: true });
    expect(dry.changes).toEqual(await connector.plan(req));
    expect(dry.changes).toHaveLength(1);
    expect(directory.writes).toEqual([]);
    expect(ledger.writes).toBe(0);
  });

  it('GIVEN a user Forestall suspended and someone re-enabled THEN the next apply suspends them again without a second entry', async () => {
    const { connector, directory, ledger } = setUp();
    const alice = directory.addUser('alice');
    const req = request('IdentitySuspend', ['alice']);
    await connector.apply(req);
    alice.active = true;
    expect((await connector.plan(req)).map((c) => c.op)).toEqual(['update']);
    await connector.apply(req);
    expect(alice.active).toBe(false);
    expect(ledger.records.get('act-1')?.entries).toHaveLength(1);
  });

  it('GIVEN a suspended user WHEN the login leaves the values or becomes never-touch THEN they are restored and dropped from the ledger', async () => {
    const { connector, directory, ledger } = setUp();
    const alice = directory.addUser('alice');
    const bob = directory.addUser('bob');
    await connector.apply(request('IdentitySuspend', ['alice', 'bob']));
    expect([alice.active, bob.active]).toEqual([false, false]);

    const shrunk = await connector.apply(
      request('IdentitySuspend', ['alice', 'bob'], { neverTouch: ['bob'] }),
    );
    expect(shrunk.changes).toEqual([
      {
        op: 'update',
        ref: expect.objectContaining({ name: 'bob' }),
        requests: [{ method: 'POST', path: `/users/${bob.id}/restore` }],
      },
    ]);
    expect(bob.active).toBe(true);
    expect(ledger.records.get('act-1')?.entries.map((e) => e.subject)).toEqual(['alice']);

    await connector.apply(request('IdentitySuspend', []));
    expect(alice.active).toBe(true);
    expect(ledger.records.has('act-1')).toBe(false);
  });

  it('GIVEN a recorded user someone re-enabled, or deleted, WHEN removed THEN nothing is written for them and the ledger goes', async () => {
    const { connector, directory, ledger } = setUp();
    const alice = directory.addUser('alice');
    const bob = directory.addUser('bob');
    await connector.apply(request('IdentitySuspend', ['alice', 'bob']));
    alice.active = true;
    directory.users.delete(bob.id);
    directory.writes = [];
    const removed = await connector.remove('act-1');
    expect(removed.changes).toEqual([]);
    expect(removed.skipped).toEqual([
      'user bob no longer exists at okta; nothing to re-enable',
      'user alice was re-enabled by someone else; left as is',
    ]);
    expect(directory.writes).toEqual([]);
    expect(ledger.records.has('act-1')).toBe(false);
  });

  it('GIVEN a Secret without the key the provider needs THEN FST_IDENTITY_CREDENTIALS names the Secret and the key', async () => {
    const { connector } = setUp({ secret: { other: 'x' } });
    const err = (await connector
      .plan(request('IdentitySuspend', ['alice'], { credentialsSecretNamespace: 'idp' }))
      .catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('FST_IDENTITY_CREDENTIALS');
    expect(err.message).toBe(
      'identity:okta: Secret idp/toy-creds has no key "token" (it needs "token")',
    );
  });

  it('GIVEN the same endpoint and Secret THEN the client is reused; a rotated Secret gives a new one', async () => {
    const { connector, directory, provider, secret } = setUp();
    directory.addUser('alice');
    await connector.plan(request('IdentitySuspend', ['alice']));
    await connector.plan(request('IdentitySuspend', ['alice']));
    expect(provider.endpointCalls).toBe(1);
    secret.mockResolvedValue({ token: 'rotated-token-0123456789' });
    await connector.plan(request('IdentitySuspend', ['alice']));
    expect(provider.endpointCalls).toBe(2);
    expect(secret).toHaveBeenCalledWith(
      { name: 'toy-creds' },
      'params.credentialsSecretRef',
      expect.any(Function),
    );
  });

  it('GIVEN an endpoint WHEN its Secret is read THEN the access is told every URL the credentials go to', async () => {
    const { connector, directory, secret } = setUp();
    directory.addUser('alice');
    await connector.plan(request('IdentitySuspend', ['alice']));
    const destinations = (
      secret.mock.calls[0] as unknown as [unknown, string, (d: Record<string, string>) => string[]]
    )[2];
    expect(destinations({ token: 'toy-token-0123456789' })).toEqual([
      'https://toy.example.test/api',
    ]);
    expect(() => destinations({})).toThrow(/has no key "token"/);
  });

  it('GIVEN a ledger written by another connector THEN apply refuses instead of overwriting it', async () => {
    const { connector, ledger } = setUp();
    ledger.records.set('act-1', { connector: 'identity:entra', endpoint: {}, entries: [] });
    await expect(connector.apply(request('IdentitySuspend', []))).rejects.toThrow(
      /held by identity:entra/,
    );
  });
});

describe('IdentityConnector StepUpAuth', () => {
  it('GIVEN users in and out of the group THEN only the missing ones are added, and only those are removed again', async () => {
    const { connector, directory, ledger } = setUp();
    const alice = directory.addUser('alice');
    const bob = directory.addUser('bob');
    directory.addGroup('mfa', [bob.id]);
    const req = request('StepUpAuth', ['alice', 'bob'], { group: 'mfa' });
    const outcome = await connector.apply(req);
    expect(outcome.changes).toEqual([
      {
        op: 'create',
        ref: expect.objectContaining({ kind: 'GroupMember', name: 'mfa/alice' }),
        requests: [{ method: 'PUT', path: `/groups/g-mfa/members/${alice.id}` }],
      },
    ]);
    expect(outcome.objects.map((o) => o.name)).toEqual(['mfa/alice', 'mfa/bob']);
    expect(outcome.skipped).toEqual(['user bob is already a member of mfa; not ours to remove']);
    expect(ledger.records.get('act-1')?.entries).toEqual([
      {
        op: 'member',
        subject: 'alice',
        id: alice.id,
        group: { id: 'g-mfa', name: 'mfa' },
        at: '2026-05-01T10:00:00.000Z',
      },
    ]);
    expect(await connector.plan(req)).toEqual([]);

    await connector.remove('act-1');
    expect([...directory.groups.get('g-mfa')!.members]).toEqual([bob.id]);
  });

  it('GIVEN a group that does not exist THEN the error names it', async () => {
    const { connector, directory } = setUp();
    directory.addUser('alice');
    await expect(
      connector.plan(request('StepUpAuth', ['alice'], { group: 'nope' })),
    ).rejects.toThrow(/params\.group "nope" does not exist at okta/);
  });
});

describe('IdentityConnector IdentityBlock', () => {
  it('GIVEN no zone and a provider that creates zones THEN it is created (recorded with its id) and deleted by remove()', async () => {
    const { connector, directory, ledger } = setUp();
    const req = request('IdentityBlock', ['203.0.113.7', '198.51.100.0/24'], {
      zone: 'forestall-block',
    });
    const outcome = await connector.apply(req);
    expect(outcome.changes).toEqual([
      {
        op: 'create',
        ref: {
          apiVersion: 'identity.forestall.io/okta',
          kind: 'NetworkZone',
          name: 'forestall-block',
        },
        requests: [
          {
            method: 'POST',
            path: '/zones',
            body: { name: 'forestall-block', ranges: ['198.51.100.0/24', '203.0.113.7/32'] },
          },
        ],
      },
    ]);
    const zone = [...directory.zones.values()][0]!;
    expect(ledger.records.get('act-1')?.entries).toEqual([
      expect.objectContaining({ op: 'zone-created', subject: 'forestall-block', id: zone.id }),
    ]);
    expect(await connector.plan(req)).toEqual([]);

    const grown = request('IdentityBlock', ['203.0.113.7', '198.51.100.0/24', '192.0.2.1'], {
      zone: 'forestall-block',
    });
    await connector.apply(grown);
    expect(zone.ranges).toEqual(['192.0.2.1/32', '198.51.100.0/24', '203.0.113.7/32']);
    expect(ledger.records.get('act-1')?.entries).toHaveLength(1);

    await connector.remove('act-1');
    expect(directory.zones.size).toBe(0);
  });

  it('GIVEN a zone with ranges of its own THEN ours are added to them, and remove() puts back exactly what was there', async () => {
    const { connector, directory } = setUp();
    directory.zones.set('z9', { id: 'z9', name: 'corp-block', ranges: ['192.0.2.0/28'] });
    await connector.apply(request('IdentityBlock', ['203.0.113.7'], { zone: 'corp-block' }));
    expect(directory.zones.get('z9')!.ranges).toEqual(['192.0.2.0/28', '203.0.113.7/32']);
    await connector.remove('act-1');
    expect(directory.zones.get('z9')!.ranges).toEqual(['192.0.2.0/28']);
  });

  it('GIVEN a zone that already blocks the addresses, spelt differently THEN nothing is written or recorded', async () => {
    const { connector, directory, ledger } = setUp();
    directory.zones.set('z9', {
      id: 'z9',
      name: 'corp-block',
      ranges: ['192.0.2.128/25', '192.0.2.0/25'],
    });
    const outcome = await connector.apply(
      request('IdentityBlock', ['192.0.2.0/24', '192.0.2.77'], { zone: 'corp-block' }),
    );
    expect(outcome.changes).toEqual([]);
    expect(outcome.objects.map((o) => o.name)).toEqual(['corp-block']);
    expect(directory.writes).toEqual([]);
    expect(ledger.writes).toBe(0);
  });

  it('GIVEN a provider that does not create zones (Entra) and no such zone THEN the error names it', async () => {
    const { connector } = setUp({ zonesCreated: false });
    await expect(
      connector.plan(request('IdentityBlock', ['203.0.113.7'], { zone: 'loc-1' })),
    ).rejects.toThrow(
      /params\.zone "loc-1" does not exist at okta; Forestall sets the ranges of a NamedLocation/,
    );
  });
});
