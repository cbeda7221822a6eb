import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStix, type StixParserOptions } from './stix.js';
import { defaultStixSchemaDir, stixValidator } from './stix-schema.js';
import {
  bytesBody,
  collect,
  fileBody,
  parseError,
  SHARED_FEEDS,
  TESTDATA,
} from './testdata/support.js';

const EXAMPLES = join(SHARED_FEEDS, 'stix', 'examples');
const SYNTHETIC = join(TESTDATA, 'stix', 'synthetic-techniques-and-combinations.json');
const C2_WITH_COA = join(EXAMPLES, 'indicators-for-C2-with-COA.json');

const readJson = async (path: string) =>
  JSON.parse(await readFile(path, 'utf8')) as {
    id: string;
    objects: Array<Record<string, unknown>>;
  };

describe('parseStix on the official OASIS examples', () => {
  const expected: Record<string, { records: Array<[string, string]>; rejected: string[] }> = {
    'indicator-for-c2-ip-address.json': { records: [['10.0.0.0', 'ipv4']], rejected: [] },
    'indicator-to-campaign-relationship.json': { records: [['10.0.0.0', 'ipv4']], rejected: [] },
    'indicators-for-C2-with-COA.json': {
      records: [
        ['10.0.0.0', 'ipv4'],
        ['ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c', 'hash'],
      ],
      rejected: [],
    },
    // Infrastructure with observed addresses, but no indicator: context only.
    'infrastructure.json': { records: [], rejected: [] },
    'malicious-email-indicator-with-attachment.json': {
      records: [],
      rejected: [
        'indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7: email-message:subject is not an enforceable object path',
        'indicator--2e17f6fe-3a4d-438a-911a-e509ba1b9933: email-message:body_multipart[*].body_raw_ref.name is not an enforceable object path',
      ],
    },
  };

  it('GIVEN the examples folder THEN it holds exactly the five files this suite covers', () => {
    expect(readdirSync(EXAMPLES).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))(
    'GIVEN %s THEN it passes the official schemas and yields the expected records and rejections',
    async (file, want) => {
      const { records, rejected } = await collect(parseStix(fileBody(join(EXAMPLES, file)), {}));
      expect(records.map((r) => [r.value, r.typeHint])).toEqual(want.records);
      expect(
        rejected.map((r) => `${r.ref}: ${r.reason.replace(/ \(supported: .*\)$/, '')}`),
      ).toEqual(want.rejected);
    },
  );

  it('GIVEN the C2 example THEN each record carries its indicator as record, its id as ref, valid_from, and the hash algorithm', async () => {
    const { records } = await collect(parseStix(fileBody(C2_WITH_COA), {}));
    const bundle = await readJson(C2_WITH_COA);
    expect(records[1]).toEqual({
      kind: 'record',
      value: 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c',
      typeHint: 'hash',
      record: bundle.objects[3],
      ref: 'indicator--a932fcc6-e032-476c-826f-cb970a5a1ade',
      validFrom: '2014-05-08T09:00:00.000000Z',
      attributes: { hashAlgorithm: 'sha256' },
    });
  });
});

describe('parseStix on a synthetic bundle of techniques and pattern combinations', () => {
  it('GIVEN the bundle THEN 8 records and 6 rejections come out, in object order', async () => {
    const { all } = await collect(parseStix(fileBody(SYNTHETIC), {}));
    expect(
      all.map((i) =>
        i.kind === 'record' ? `${i.ref} ${i.typeHint} ${i.value}` : `${i.ref} REJECTED ${i.reason}`,
      ),
    ).toEqual([
      'indicator--2a123c6e-76e5-4486-81a7-4fefe9e5faa2#1 ipv4 198.51.100.23',
      'indicator--2a123c6e-76e5-4486-81a7-4fefe9e5faa2#2 domain c2.example.net',
      'indicator--2a123c6e-76e5-4486-81a7-4fefe9e5faa2#3 url http://203.0.113.9/gate.php',
      'indicator--6cec4350-5637-4169-beee-56412fe4018d cidr 2001:db8:dead::/48',
      'indicator--447a20c5-0c39-4b84-875c-8a96aba2799e#1 hash 0cc175b9c0f1b6a831c399e269772661',
      'indicator--447a20c5-0c39-4b84-875c-8a96aba2799e#2 hash 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8',
      "indicator--447a20c5-0c39-4b84-875c-8a96aba2799e#3 REJECTED file:name is not an enforceable object path (supported: ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value, file:hashes.MD5/'SHA-1'/'SHA-256'/'SHA-512', user-account:account_login, user-account:user_id, email-addr:value)",
      'indicator--079c8370-3ea7-4fe3-8f76-d005a202bad6 REJECTED the pattern uses AND between comparisons, so no single value it names can be enforced on its own',
      'indicator--f0252553-ce27-4f2a-8ad1-276217c5300c REJECTED pattern_type "snort" is not supported; only "stix" patterns are read',
      'indicator--0c34f34c-089d-4249-9096-864296600705 REJECTED the indicator is revoked',
      'indicator--e77af554-f3d7-4b14-b5b7-edddd8cf38dc REJECTED the pattern uses the WITHIN qualifier, so no single value it names can be enforced on its own',
      // Two versions of one indicator: the later `modified` wins although it comes first.
      'indicator--1375bbc9-c1bb-417d-8ff1-ee28b8821ca1 domain v2.example.com',
      'indicator--b2a06de3-69bf-4661-8a82-c7bd64c33d87 REJECTED ipv4-addr:value != is not supported: only "=" names a value to enforce',
      'indicator--4fef1383-b041-498d-8242-281a59214e68 hash f7fbba6e0636f890e56fbbf3283e524c6fa3204ae298382d624741d0dc6638326e282c41be5e4254d8820772c5518a2c5a8c0c7f7eda19594a7eb539453e1ed7',
    ]);
  });

  it('GIVEN an indicator with labels, kill chains, its own ATT&CK reference and an "indicates" relationship THEN tags and techniques combine them', async () => {
    const { records } = await collect(parseStix(fileBody(SYNTHETIC), {}));
    expect(records[0]).toMatchObject({
      confidence: 85,
      validFrom: '2025-06-02T08:15:00Z',
      validUntil: '2025-09-01T00:00:00Z',
      // The Lockheed Martin chain's phase is not an ATT&CK tactic and is left out.
      tags: ['c2', 'example-implant', 'command-and-control', 'exfiltration'],
      // Its own reference first, then the attack-pattern's; the CAPEC and example-cert ids are not ATT&CK.
      techniques: ['T1573', 'T1071.001'],
    });
    expect(records[3]).not.toHaveProperty('techniques');
    expect(records[7]).toMatchObject({
      tags: ['execution'],
      techniques: ['T1566'],
      attributes: { hashAlgorithm: 'sha512' },
    });
  });

  it('GIVEN the objects as a bare array and as a TAXII envelope THEN the same items come out as from the bundle', async () => {
    const bundle = await readJson(SYNTHETIC);
    const fromBundle = await collect(parseStix(fileBody(SYNTHETIC), {}));
    const fromArray = await collect(parseStix(bytesBody(JSON.stringify(bundle.objects)), {}));
    const fromEnvelope = await collect(
      parseStix(bytesBody(JSON.stringify({ more: false, objects: bundle.objects })), {}),
    );
    expect(fromArray.all).toEqual(fromBundle.all);
    expect(fromEnvelope.all).toEqual(fromBundle.all);
  });
});

describe('parseStix on user accounts', () => {
  const indicator = (n: number, pattern: string) => ({
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e${String(n).padStart(2, '0')}`,
    created: '2025-06-02T08:15:00.000Z',
    modified: '2025-06-02T08:15:00.000Z',
    valid_from: '2025-06-02T08:15:00Z',
    pattern_type: 'stix',
    pattern,
    confidence: 80,
  });

  it('GIVEN user-account:account_login, user-account:user_id and email-addr:value patterns THEN each value is an account hint; other user-account properties are refused', async () => {
    const objects = [
      indicator(1, "[user-account:account_login = 'J.Doe@Corp.example']"),
      indicator(
        2,
        "[user-account:user_id = 'svc-backup'] OR [email-addr:value = 'billing@invoices.example.org']",
      ),
      indicator(3, "[user-account:display_name = 'John Doe']"),
      indicator(4, "[user-account:account_login = 'a' AND user-account:is_privileged = true]"),
      indicator(5, "[email-addr:display_name = 'Billing']"),
    ];
    const { all } = await collect(parseStix(bytesBody(JSON.stringify(objects)), {}));
    expect(
      all.map((i) =>
        i.kind === 'record'
          ? `${i.ref} ${i.typeHint} ${i.value} ${i.confidence}`
          : `${i.ref} REJECTED ${i.reason}`,
      ),
    ).toEqual([
      'indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e01 account J.Doe@Corp.example 80',
      'indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e02#1 account svc-backup 80',
      'indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e02#2 account billing@invoices.example.org 80',
      expect.stringMatching(
        /^indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e03 REJECTED user-account:display_name is not an enforceable object path \(supported: .*user-account:account_login/,
      ),
      'indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e04 REJECTED the pattern uses AND between comparisons, so no single value it names can be enforced on its own',
      expect.stringMatching(
        /^indicator--6b1f0c4e-3c5a-4d7e-9f10-2a3b4c5d6e05 REJECTED email-addr:display_name is not an enforceable object path/,
      ),
    ]);
  });
});

describe('parseStix refusing bodies', () => {
  it('GIVEN an indicator without valid_from THEN the bundle is refused, naming the bundle, the object and the rule', async () => {
    const bundle = await readJson(C2_WITH_COA);
    delete bundle.objects[2]!.valid_from;
    expect((await parseError(parseStix(bytesBody(JSON.stringify(bundle)), {}))).message).toBe(
      "stix: bundle--63fe3b22-0201-47cf-85d0-97c02164528d object 2 (indicator--53fe3b22-0201-47cf-85d0-97c02164528d) fails the STIX 2.1 schema: the object must have required property 'valid_from'",
    );
  });

  it('GIVEN a malware object whose malware_types is a string, or a domain-name that is no host name THEN the schema error names the property', async () => {
    const bundle = await readJson(C2_WITH_COA);
    bundle.objects[1]!.malware_types = 'remote-access-trojan';
    expect((await parseError(parseStix(bytesBody(JSON.stringify(bundle)), {}))).message).toBe(
      'stix: bundle--63fe3b22-0201-47cf-85d0-97c02164528d object 1 (malware--fdd60b30-b67c-41e3-b0b9-f01faf20d111) fails the STIX 2.1 schema: /malware_types must be array',
    );
    const objects = [
      {
        type: 'domain-name',
        spec_version: '2.1',
        id: 'domain-name--ecb120bf-2694-4902-a737-62b74539a41b',
        value: 'not a host name',
      },
    ];
    expect((await parseError(parseStix(bytesBody(JSON.stringify(objects)), {}))).message).toBe(
      'stix: the object array object 0 (domain-name--ecb120bf-2694-4902-a737-62b74539a41b) fails the STIX 2.1 schema: /value must match format "idn-hostname"',
    );
  });

  it('GIVEN a custom object type THEN it is checked against the common core: accepted with created and modified, refused without modified', async () => {
    const custom = {
      type: 'x-example-note',
      spec_version: '2.1',
      id: 'x-example-note--ecb120bf-2694-4902-a737-62b74539a41b',
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
      x_text: 'hi',
    };
    expect((await collect(parseStix(bytesBody(JSON.stringify([custom])), {}))).all).toEqual([]);
    const { modified: _dropped, ...withoutModified } = custom;
    expect(
      (await parseError(parseStix(bytesBody(JSON.stringify([withoutModified])), {}))).message,
    ).toBe(
      "stix: the object array object 0 (x-example-note--ecb120bf-2694-4902-a737-62b74539a41b) fails the STIX 2.1 schema: the object must have required property 'modified'",
    );
  });

  it.each([
    [
      '{"type":"report"}',
      'stix: the body is an object of type "report", not a STIX bundle, a TAXII envelope or an array of STIX objects',
    ],
    [
      '"bundle"',
      'stix: the body is a string, not a STIX bundle, a TAXII envelope or an array of STIX objects',
    ],
    [
      '{"type":"bundle","id":"bundle--1"}',
      'stix: the bundle\'s id "bundle--1" is not a bundle identifier (bundle--<uuid>)',
    ],
    [
      '{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[]}',
      'stix: bundle--44af6c39-c09b-49c5-9de2-394224b04982 has an empty objects array, which the STIX 2.1 schema forbids',
    ],
    ['[42]', 'stix: the object array object 0 is a number, not a STIX object'],
    [
      '{"type":"bundle","objects":[',
      'stix: body is not JSON: Unexpected end of JSON input at byte 28',
    ],
  ])('GIVEN %s THEN the body is refused: %s', async (body, message) => {
    expect((await parseError(parseStix(bytesBody(body), {}))).message).toBe(message);
  });

  it('GIVEN a schema directory that does not exist THEN the error names it, and the default directory still works afterwards', async () => {
    const options: StixParserOptions = { stixSchemaDir: '/nonexistent/stix-schemas' };
    const err = await parseError(parseStix(fileBody(C2_WITH_COA), options));
    expect(err.message).toMatch(
      /^stix: cannot load the STIX 2\.1 schemas from \/nonexistent\/stix-schemas: ENOENT/,
    );
    expect((await collect(parseStix(fileBody(C2_WITH_COA), {}))).records).toHaveLength(2);
  });

  it('GIVEN two loads of the default directory THEN the compiled validator is shared', async () => {
    expect(await stixValidator()).toBe(await stixValidator(defaultStixSchemaDir()));
    expect(defaultStixSchemaDir()).toBe(fileURLToPath(new URL('../stix-schemas', import.meta.url)));
  });
});
