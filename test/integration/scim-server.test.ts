import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SCIM2_SERVER_VERSION,
  SCIM_ERROR_SCHEMA,
  SCIM_LIST_RESPONSE_SCHEMA,
  SCIM_MEDIA_TYPE,
  SCIM_PATCH_OP_SCHEMA,
  SCIM_USER_SCHEMA,
  startScimServer,
  type ScimGroup,
  type ScimServer,
  type ScimUser,
} from '../harness/scim-server.js';

// The SCIM test server itself: a real scim2-server (from PyPI, installed by
// test/scim/setup.sh) on loopback, driven the way the Forestall SCIM connector will
// drive it: a user disabled with a PatchOp on `active`, read back, re-enabled, with
// ETags guarding against concurrent writes. Each claim of the harness's header
// comment about what the server supports is checked here.

let scim: ScimServer;

beforeAll(async () => {
  scim = await startScimServer();
  console.log(
    `scim2-server ${scim.version} answered on ${scim.url} ${scim.startupMs} ms after spawn`,
  );
});

afterAll(async () => {
  await scim?.stop();
});

interface ListResponse<T> {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

interface ScimError {
  schemas: string[];
  status: string;
  scimType?: string;
  detail?: string;
}

const patchOp = (...operations: Array<Record<string, unknown>>): Record<string, unknown> => ({
  schemas: [SCIM_PATCH_OP_SCHEMA],
  Operations: operations,
});
const setActive = (active: boolean): Record<string, unknown> =>
  patchOp({ op: 'replace', path: 'active', value: active });

/** The counter of a weak ETag W/"<n>". */
function versionNumber(etag: string | undefined): number {
  const n = /^W\/"(\d+)"$/.exec(etag ?? '')?.[1];
  if (n === undefined) throw new Error(`not a W/"<n>" ETag: ${String(etag)}`);
  return Number(n);
}

function expectScimError(
  res: { status: number; body: unknown; headers: Headers },
  status: number,
  scimType?: string,
): void {
  expect(res.headers.get('content-type')).toBe(SCIM_MEDIA_TYPE);
  const body = res.body as ScimError;
  expect(body.schemas).toEqual([SCIM_ERROR_SCHEMA]);
  expect(body.status).toBe(String(status));
  if (scimType !== undefined) expect(body.scimType).toBe(scimType);
}

describe('scim2-server test server', () => {
  it('GIVEN the harness THEN the pinned scim2-server answers on loopback and the bearer token is really checked', async () => {
    expect(scim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    expect(scim.version).toBe(SCIM2_SERVER_VERSION);
    expect(scim.token.length).toBeGreaterThanOrEqual(32);

    for (const token of [null, 'wrong-token']) {
      const res = await scim.request('GET', '/Users', undefined, { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="SCIM"');
      expectScimError(res, 401);
    }
    expect((await scim.request('GET', '/Users')).status).toBe(200);
    // RFC 7643 §5: the service provider configuration needs no authentication.
    const spc = await scim.request<
      Record<
        string,
        {
          supported?: boolean;
          maxOperations?: number;
          maxPayloadSize?: number;
          maxResults?: number;
        }
      > & {
        authenticationSchemes: Array<{ type: string }>;
      }
    >('GET', '/ServiceProviderConfig', undefined, { token: null });
    expect(spc.status).toBe(200);
    expect(spc.headers.get('content-type')).toBe(SCIM_MEDIA_TYPE);
    for (const feature of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag']) {
      expect(spc.body[feature]?.supported, feature).toBe(true);
    }
    expect(spc.body['bulk']).toMatchObject({ maxOperations: 1000, maxPayloadSize: 1048576 });
    expect(spc.body['filter']).toMatchObject({ maxResults: 1000 });
    expect(spc.body.authenticationSchemes.map((s) => s.type)).toEqual(['oauthbearertoken']);

    // The /v2 prefix is optional on the server side.
    expect((await scim.request('GET', `${scim.origin}/ServiceProviderConfig`)).status).toBe(200);

    const types = await scim.request<
      ListResponse<{ name: string; endpoint: string; schemaExtensions?: Array<{ schema: string }> }>
    >('GET', '/ResourceTypes');
    expect(types.status).toBe(200);
    expect(types.body.Resources.map((t) => [t.name, t.endpoint])).toEqual([
      ['User', '/Users'],
      ['Group', '/Groups'],
    ]);
    expect(types.body.Resources[0]?.schemaExtensions?.map((e) => e.schema)).toEqual([
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    ]);
    const schemas = await scim.request<ListResponse<{ id: string }>>('GET', '/Schemas');
    expect(schemas.status).toBe(200);
    expect(schemas.body.Resources.map((s) => s.id)).toContain(SCIM_USER_SCHEMA);
  });

  it('GIVEN a user WHEN a PatchOp sets active=false, then back to true THEN each read shows it, and the ETag guards each write', async () => {
    const created = await scim.createUser({
      userName: 'alice@forestall.test',
      active: true,
      displayName: 'Alice',
      name: { givenName: 'Alice', familyName: 'Example' },
      emails: [{ value: 'alice@forestall.test', type: 'work', primary: true }],
      password: 'not-returned-1',
    });
    expect(created.id).toMatch(/^[0-9a-f]{32}$/);
    expect(created).toMatchObject({
      userName: 'alice@forestall.test',
      active: true,
      schemas: [SCIM_USER_SCHEMA],
    });
    expect(created.emails).toEqual([
      { value: 'alice@forestall.test', type: 'work', primary: true },
    ]);
    expect(created.meta).toMatchObject({
      resourceType: 'User',
      location: `${scim.url}/Users/${created.id}`,
    });
    expect(created).not.toHaveProperty('password');
    const v1 = created.meta.version;
    versionNumber(v1);

    // The create response itself: 201, Location and ETag headers.
    const bob = await scim.request<ScimUser>('POST', '/Users', {
      schemas: [SCIM_USER_SCHEMA],
      userName: 'bob@forestall.test',
    });
    expect(bob.status).toBe(201);
    expect(bob.headers.get('location')).toBe(`${scim.url}/Users/${bob.body.id}`);
    expect(bob.etag).toBe(bob.body.meta.version);
    // One server-wide counter: the next write of any resource takes the next number.
    expect(versionNumber(bob.etag)).toBe(versionNumber(v1) + 1);

    const read = await scim.request<ScimUser>('GET', `/Users/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.etag).toBe(v1);

    // Disable: 204, no body, a new ETag.
    const disabled = await scim.request('PATCH', `/Users/${created.id}`, setActive(false));
    expect(disabled.status).toBe(204);
    expect(disabled.text).toBe('');
    expect(disabled.etag).toBeDefined();
    expect(versionNumber(disabled.etag)).toBeGreaterThan(versionNumber(v1));
    const v2 = disabled.etag;
    const afterDisable = await scim.getUser(created.id);
    expect(afterDisable?.active).toBe(false);
    expect(afterDisable?.meta.version).toBe(v2);
    expect(afterDisable?.emails).toEqual(created.emails); // PATCH leaves the rest alone
    // The filter the connector uses to check a user by name sees it too.
    expect((await scim.findUserByUserName('alice@forestall.test'))?.active).toBe(false);

    // A PATCH that changes nothing keeps the version.
    const again = await scim.request('PATCH', `/Users/${created.id}`, setActive(false));
    expect(again.status).toBe(204);
    expect(again.etag).toBe(v2);

    // A write with a stale If-Match is refused and changes nothing.
    const stale = await scim.request('PATCH', `/Users/${created.id}`, setActive(true), {
      headers: { 'if-match': v1 },
    });
    expect(stale.status).toBe(412);
    expectScimError(stale, 412);
    expect((await scim.getUser(created.id))?.active).toBe(false);

    // GET with If-None-Match of the current version: 304 with the ETag.
    const notModified = await scim.request('GET', `/Users/${created.id}`, undefined, {
      headers: { 'if-none-match': v2! },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.etag).toBe(v2);

    // Re-enable with the current version in If-Match.
    const enabled = await scim.request('PATCH', `/Users/${created.id}`, setActive(true), {
      headers: { 'if-match': v2! },
    });
    expect(enabled.status).toBe(204);
    const v3 = enabled.etag;
    expect(versionNumber(v3)).toBeGreaterThan(versionNumber(v2));
    expect((await scim.getUser(created.id))?.active).toBe(true);

    // ?attributes= makes a PATCH answer 200 with the selected attributes.
    const withBody = await scim.request<Record<string, unknown>>(
      'PATCH',
      `/Users/${created.id}?attributes=active`,
      setActive(false),
    );
    expect(withBody.status).toBe(200);
    expect(withBody.body).toEqual({ schemas: [SCIM_USER_SCHEMA], id: created.id, active: false });
    // replace without a path, a value object: what Entra ID sends.
    const noPath = await scim.request(
      'PATCH',
      `/Users/${created.id}`,
      patchOp({ op: 'replace', value: { active: true } }),
    );
    expect(noPath.status).toBe(204);
    const current = await scim.getUser(created.id);
    expect(current?.active).toBe(true);

    // PUT replaces the whole resource: what it leaves out is cleared.
    const replacement = {
      schemas: [SCIM_USER_SCHEMA],
      userName: 'alice@forestall.test',
      active: false,
    };
    const stalePut = await scim.request('PUT', `/Users/${created.id}`, replacement, {
      headers: { 'if-match': v3! },
    });
    expect(stalePut.status).toBe(412);
    const put = await scim.request<ScimUser>('PUT', `/Users/${created.id}`, replacement, {
      headers: { 'if-match': current!.meta.version },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      id: created.id,
      userName: 'alice@forestall.test',
      active: false,
    });
    expect(put.body).not.toHaveProperty('emails');
    expect(put.body).not.toHaveProperty('name');
    expect(put.etag).toBe(put.body.meta.version);
    const putBack = await scim.request<ScimUser>('PUT', `/Users/${created.id}`, {
      ...replacement,
      active: true,
      emails: created.emails,
    });
    expect(putBack.status).toBe(200);
    expect(await scim.getUser(created.id)).toMatchObject({ active: true, emails: created.emails });

    // DELETE: a stale If-Match is refused; then 204, and the user is gone.
    const staleDelete = await scim.request('DELETE', `/Users/${created.id}`, undefined, {
      headers: { 'if-match': v1 },
    });
    expect(staleDelete.status).toBe(412);
    const deleted = await scim.request('DELETE', `/Users/${created.id}`);
    expect(deleted.status).toBe(204);
    expect(await scim.getUser(created.id)).toBeUndefined();
    expect(await scim.findUserByUserName('alice@forestall.test')).toBeUndefined();
  });

  it('GIVEN no such user THEN GET, PATCH, PUT and DELETE answer 404 with a SCIM error', async () => {
    const missing = '0123456789abcdef0123456789abcdef';
    expect(await scim.getUser(missing)).toBeUndefined();
    const attempts = [
      await scim.request('GET', `/Users/${missing}`),
      await scim.request('PATCH', `/Users/${missing}`, setActive(false)),
      await scim.request('PUT', `/Users/${missing}`, {
        schemas: [SCIM_USER_SCHEMA],
        userName: 'nobody',
      }),
      await scim.request('DELETE', `/Users/${missing}`),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(404);
      expectScimError(res, 404);
    }
  });

  it('GIVEN a user THEN another whose userName differs only in case is refused with 409 uniqueness', async () => {
    await scim.createUser({ userName: 'carol@forestall.test' });
    const dup = await scim.request('POST', '/Users', {
      schemas: [SCIM_USER_SCHEMA],
      userName: 'CAROL@forestall.test',
    });
    expect(dup.status).toBe(409);
    expectScimError(dup, 409, 'uniqueness');
  });

  it('GIVEN several users THEN filters, attribute selection, counting, sorting and .search work', async () => {
    const names = ['filter-b@forestall.test', 'filter-a@forestall.test', 'filter-c@forestall.test'];
    const users: ScimUser[] = [];
    for (const [i, userName] of names.entries()) {
      users.push(
        await scim.createUser({
          userName,
          active: i !== 2,
          emails: [{ value: `mail-${i}@forestall.test`, primary: true }],
        }),
      );
    }
    const search = async (query: string): Promise<ListResponse<ScimUser>> => {
      const res = await scim.request<ListResponse<ScimUser>>('GET', `/Users?${query}`);
      expect(res.status, `${query}: ${res.text}`).toBe(200);
      expect(res.body.schemas).toEqual([SCIM_LIST_RESPONSE_SCHEMA]);
      return res.body;
    };
    const q = (filter: string, extra = ''): string =>
      `filter=${encodeURIComponent(filter)}${extra}`;

    // userName eq is case-insensitive (userName is not caseExact).
    const byName = await search(q('userName eq "FILTER-A@forestall.test"'));
    expect(byName).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(byName.Resources[0]?.id).toBe(users[1]?.id);
    expect(
      (await search(q('emails[value eq "mail-0@forestall.test"]'))).Resources.map((u) => u.id),
    ).toEqual([users[0]?.id]);
    const inactive = await search(q('active eq false and userName sw "filter-"'));
    expect(inactive.Resources.map((u) => u.userName)).toEqual(['filter-c@forestall.test']);

    const sorted = await search(
      q('userName sw "filter-"', '&sortBy=userName&sortOrder=descending'),
    );
    expect(sorted.Resources.map((u) => u.userName)).toEqual([
      'filter-c@forestall.test',
      'filter-b@forestall.test',
      'filter-a@forestall.test',
    ]);
    const counted = await search(q('userName sw "filter-"', '&count=0'));
    expect(counted).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
    const page = await search(q('userName sw "filter-"', '&sortBy=userName&startIndex=2&count=1'));
    expect(page).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(page.Resources.map((u) => u.userName)).toEqual(['filter-b@forestall.test']);

    const selected = await search(
      q('userName eq "filter-b@forestall.test"', '&attributes=userName,active'),
    );
    expect(selected.Resources).toEqual([
      {
        schemas: [SCIM_USER_SCHEMA],
        id: users[0]?.id,
        userName: 'filter-b@forestall.test',
        active: true,
      },
    ]);

    const bad = await scim.request('GET', `/Users?${q('userName eq')}`);
    expect(bad.status).toBe(400);
    expectScimError(bad, 400, 'invalidFilter');

    const viaPost = await scim.request<ListResponse<ScimUser>>('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'userName sw "filter-" and active eq true',
      sortBy: 'userName',
    });
    expect(viaPost.status).toBe(200);
    expect(viaPost.body.Resources.map((u) => u.userName)).toEqual([
      'filter-a@forestall.test',
      'filter-b@forestall.test',
    ]);
  });

  it('GIVEN request bodies THEN application/json is accepted and other media types are 415', async () => {
    const asJson = await scim.request<ScimUser>(
      'POST',
      '/Users',
      { schemas: [SCIM_USER_SCHEMA], userName: 'json@forestall.test' },
      { contentType: 'application/json' },
    );
    expect(asJson.status).toBe(201);
    expect(asJson.headers.get('content-type')).toBe(SCIM_MEDIA_TYPE);
    const asText = await scim.request('POST', '/Users', undefined, {
      rawBody: 'userName=text',
      contentType: 'text/plain',
    });
    expect(asText.status).toBe(415);
    expectScimError(asText, 415);
  });

  it('GIVEN a bulk request with a bulkId reference THEN both operations are applied', async () => {
    const res = await scim.request<{
      schemas: string[];
      Operations: Array<{
        method: string;
        bulkId?: string;
        status: string;
        location: string;
        version: string;
      }>;
    }>('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        {
          method: 'POST',
          path: '/Users',
          bulkId: 'dave',
          data: { schemas: [SCIM_USER_SCHEMA], userName: 'dave@forestall.test', active: true },
        },
        { method: 'PATCH', path: '/Users/bulkId:dave', data: setActive(false) },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    expect(res.body.Operations.map((op) => [op.method, op.status])).toEqual([
      ['POST', '201'],
      ['PATCH', '200'],
    ]);
    const location = res.body.Operations[0]?.location ?? '';
    expect(res.body.Operations[1]?.location).toBe(location);
    const dave = await scim.request<ScimUser>('GET', location);
    expect(dave.body).toMatchObject({ userName: 'dave@forestall.test', active: false });
    expect(dave.etag).toBe(res.body.Operations[1]?.version);
  });

  it('GIVEN a group THEN members are added and removed with PatchOps, and the user does not list its groups', async () => {
    const erin = await scim.createUser({ userName: 'erin@forestall.test' });
    const frank = await scim.createUser({ userName: 'frank@forestall.test' });
    const group = await scim.createGroup('forestall-step-up-mfa', [erin.id]);
    expect(group.members).toEqual([{ value: erin.id }]);

    const added = await scim.request(
      'PATCH',
      `/Groups/${group.id}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: frank.id }] }),
    );
    expect(added.status).toBe(204);
    expect((await scim.getGroup(group.id))?.members?.map((m) => m.value).sort()).toEqual(
      [erin.id, frank.id].sort(),
    );

    const removed = await scim.request(
      'PATCH',
      `/Groups/${group.id}`,
      patchOp({ op: 'remove', path: `members[value eq "${erin.id}"]` }),
    );
    expect(removed.status).toBe(204);
    const after = await scim.getGroup(group.id);
    expect(after?.members).toEqual([{ value: frank.id }]);

    const byName = await scim.request<ListResponse<ScimGroup>>(
      'GET',
      `/Groups?filter=${encodeURIComponent('displayName eq "forestall-step-up-mfa"')}`,
    );
    expect(byName.body.Resources.map((g) => g.id)).toEqual([group.id]);
    expect(await scim.getUser(frank.id)).not.toHaveProperty('groups');
  });
});
