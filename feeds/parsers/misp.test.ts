import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParserItem } from '../indicator.js';
import { parseMispEvent, parseMispFeed, type MispFileReader } from './misp.js';
import { bytesBody, collect, fileBody, parseError, TESTDATA } from './testdata/support.js';

const FEED = join(TESTDATA, 'misp');
const PHISHING = '3b9e0c5a-6f1d-4c2e-9a47-1d2f3e4a5b6c';
const RAT = '8d41f7b2-2c3a-4e5f-8b6a-7c8d9e0f1a2b';

/** Reads the fixture feed from disk, recording which files were asked for. */
function diskFeed(requested: string[] = []): MispFileReader {
  return (name) => {
    requested.push(name);
    return Promise.resolve(fileBody(join(FEED, name)));
  };
}

/** Serves files from memory, by name. */
function memoryFeed(files: Record<string, string>): MispFileReader {
  return (name) => {
    const text = files[name];
    return text === undefined
      ? Promise.reject(new Error(`404 Not Found: ${name}`))
      : Promise.resolve(bytesBody(text));
  };
}

function line(i: ParserItem): string {
  return i.kind === 'record'
    ? `${i.ref} ${i.typeHint} ${i.value}`
    : `${i.ref} REJECTED ${i.reason}`;
}

const a = (n: number) => `0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c${String(n).padStart(2, '0')}`;

describe('parseMispFeed', () => {
  it('GIVEN the synthetic two-event feed THEN 16 records and 1 rejection come out, only from to_ids attributes, in manifest order', async () => {
    const requested: string[] = [];
    const { all, records, rejected } = await collect(parseMispFeed(diskFeed(requested), {}));
    expect(requested).toEqual(['manifest.json', `${PHISHING}.json`, `${RAT}.json`]);
    expect(records).toHaveLength(16);
    expect(rejected).toHaveLength(1);
    expect(all.map(line)).toEqual([
      `${a(1)} ipv4 198.51.100.10`,
      `${a(2)} ipv4 203.0.113.5`,
      `${a(3)} domain login-update.example.net`,
      `${a(4)} domain cdn.login-update.example.net`,
      `${a(5)} url http://login-update.example.net/wp/gate.php`,
      `${a(6)} account billing@invoices.example.org`,
      // a(7), a(8): to_ids false; a(9): deleted; a(10), a(14): object context without to_ids.
      `${a(11)} hash 0cc175b9c0f1b6a831c399e269772661`,
      `${a(12)} hash 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8`,
      `${a(13)} hash ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb`,
      `${a(15)}#domain domain rat-c2.example.com`,
      `${a(15)}#ip ipv4 198.51.100.77`,
      `${a(16)} ipv6 2001:db8::44`,
      `${a(17)} cidr 203.0.113.0/24`,
      `${a(18)} REJECTED MISP attribute type "regkey|value" is not supported`,
      `${a(19)} domain rat-c2-backup.example.com`,
      `${a(20)} ipv4 198.51.100.78`,
      `${a(22)} url https://rat-c2.example.com/api/v2/beacon`,
    ]);
  });

  it('GIVEN an attribute with its own galaxy tag THEN tags join event and attribute tags, techniques come from both, and event facts are attributes', async () => {
    const { records } = await collect(parseMispFeed(diskFeed(), {}));
    expect(records[0]).toMatchObject({
      tags: [
        'tlp:green',
        'misp-galaxy:mitre-attack-pattern="Phishing - T1566"',
        'misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"',
      ],
      techniques: ['T1566', 'T1071.001'],
      attributes: {
        mispType: 'ip-dst',
        category: 'Network activity',
        eventUuid: PHISHING,
        eventInfo: 'Phishing wave delivering an invoice-themed loader (synthetic)',
        org: 'Example CERT (synthetic)',
        threatLevel: 1,
      },
    });
    expect(records[0]!.record).toMatchObject({
      value: '198.51.100.10',
      to_ids: true,
      comment: 'loader C2',
      event: { uuid: PHISHING, threat_level_id: '1', date: '2025-06-02' },
    });
    expect(records[0]).not.toHaveProperty('confidence');
    // The port is stripped from the value but kept in the record.
    expect(records[1]!.record.value).toBe('203.0.113.5|8443');
  });

  it('GIVEN attributes inside objects THEN the object is named in the record and attributes, and hashes carry their algorithm', async () => {
    const { records } = await collect(parseMispFeed(diskFeed(), {}));
    const sha256 = records.find((r) => r.ref === a(13))!;
    expect(sha256.attributes).toMatchObject({
      mispObject: 'file',
      hashAlgorithm: 'sha256',
      mispType: 'sha256',
    });
    expect(sha256.record.object).toEqual({
      name: 'file',
      uuid: '9e8d7c6b-5a49-4838-9271-605f4e3d2c1b',
      'meta-category': 'file',
    });
    const rat = records.find((r) => r.ref === a(19))!;
    expect(rat).toMatchObject({
      tags: ['tlp:white'],
      attributes: { mispObject: 'domain-ip', threatLevel: 2 },
    });
    expect(rat).not.toHaveProperty('techniques');
  });

  it("GIVEN a manifest entry with a tag its event file lacks THEN the tag is added to that event's records", async () => {
    const manifest = JSON.parse(await readFile(join(FEED, 'manifest.json'), 'utf8')) as Record<
      string,
      { Tag: Array<{ name: string }> }
    >;
    manifest[RAT]!.Tag.push({ name: 'feed:curated' });
    const reader: MispFileReader = (name) =>
      name === 'manifest.json'
        ? Promise.resolve(bytesBody(JSON.stringify(manifest)))
        : diskFeed()(name);
    const { records } = await collect(parseMispFeed(reader, {}));
    expect(records.find((r) => r.ref === a(17))!.tags).toEqual(['tlp:white', 'feed:curated']);
    expect(records.find((r) => r.ref === a(1))!.tags).not.toContain('feed:curated');
  });

  it('GIVEN a manifest key that is not a UUID THEN it is rejected and no file is requested for it', async () => {
    const requested: string[] = [];
    const reader = memoryFeed({
      'manifest.json': JSON.stringify({ '../../etc/passwd': { info: 'x' } }),
    });
    const { all } = await collect(
      parseMispFeed((name) => (requested.push(name), reader(name)), {}),
    );
    expect(requested).toEqual(['manifest.json']);
    expect(all).toEqual([
      {
        kind: 'rejected',
        ref: 'manifest.json "../../etc/passwd"',
        reason: 'the key is not an event UUID, so its event file is not read',
      },
    ]);
  });

  it('GIVEN an event file that is missing or truncated THEN the whole feed is refused, naming the file', async () => {
    const event = await readFile(join(FEED, `${RAT}.json`), 'utf8');
    const manifest = await readFile(join(FEED, 'manifest.json'), 'utf8');
    expect(
      (
        await parseError(
          parseMispFeed(memoryFeed({ 'manifest.json': manifest, [`${RAT}.json`]: event }), {}),
        )
      ).message,
    ).toBe(`misp: cannot read ${PHISHING}.json: 404 Not Found: ${PHISHING}.json`);
    const files = {
      'manifest.json': manifest,
      [`${PHISHING}.json`]: event.slice(0, 100),
      [`${RAT}.json`]: event,
    };
    expect((await parseError(parseMispFeed(memoryFeed(files), {}))).message).toMatch(
      new RegExp(`^misp: ${PHISHING}\\.json: body is not JSON: .* at byte 100$`),
    );
    expect(
      (await parseError(parseMispFeed(memoryFeed({ 'manifest.json': '[]' }), {}))).message,
    ).toBe('misp: manifest.json is an array, not an object mapping event UUIDs to event summaries');
  });
});

describe('parseMispFeed: the events cap (issue 13: a manifest may list any number of events)', () => {
  it('GIVEN a manifest listing more events than maxEvents THEN the feed is refused before any event file is requested', async () => {
    const requested: string[] = [];
    const manifest = Object.fromEntries(
      Array.from({ length: 3 }, (_, i) => [a(i), { info: `event ${i}` }]),
    );
    const reader = memoryFeed({ 'manifest.json': JSON.stringify(manifest) });
    const err = await parseError(
      parseMispFeed((name) => (requested.push(name), reader(name)), { maxEvents: 2 }),
    );
    expect(err).toMatchObject({ code: 'FST_FEED_CAP_EXCEEDED', cap: 'mispEvents', limit: 2 });
    expect(err.message).toBe(
      'misp: manifest.json lists 3 events; at most 2 are read per sync (the MISP events cap)',
    );
    expect(requested).toEqual(['manifest.json']);
  });

  it('GIVEN the fixture feed within the cap THEN it is read as before', async () => {
    const { records } = await collect(parseMispFeed(diskFeed(), { maxEvents: 2 }));
    expect(records.length).toBeGreaterThan(0);
  });
});

describe('parseMispEvent', () => {
  it('GIVEN one event file THEN it parses alone, without the manifest', async () => {
    const { records, rejected } = await collect(
      parseMispEvent(fileBody(join(FEED, `${RAT}.json`)), {}),
    );
    expect(records).toHaveLength(7);
    expect(rejected).toHaveLength(1);
  });

  it('GIVEN target-user, target-email and email-src attributes THEN each is an account hint keeping its MISP type, and other email types are still refused', async () => {
    const event = {
      Event: {
        uuid: PHISHING,
        Attribute: [
          {
            uuid: a(80),
            type: 'target-user',
            category: 'Targeting data',
            value: 'J.Doe',
            to_ids: true,
          },
          {
            uuid: a(81),
            type: 'target-email',
            category: 'Targeting data',
            value: 'J.Doe@Corp.example',
            to_ids: true,
          },
          {
            uuid: a(82),
            type: 'email-src',
            category: 'Payload delivery',
            value: 'billing@invoices.example.org',
            to_ids: true,
          },
          { uuid: a(83), type: 'target-user', value: 'not shared', to_ids: false },
          { uuid: a(84), type: 'email-dst', value: 'victim@corp.example', to_ids: true },
        ],
      },
    };
    const { all, records } = await collect(parseMispEvent(bytesBody(JSON.stringify(event)), {}));
    expect(all.map(line)).toEqual([
      `${a(80)} account J.Doe`,
      `${a(81)} account J.Doe@Corp.example`,
      `${a(82)} account billing@invoices.example.org`,
      `${a(84)} REJECTED MISP attribute type "email-dst" is not supported`,
    ]);
    expect(records.map((r) => r.attributes?.mispType)).toEqual([
      'target-user',
      'target-email',
      'email-src',
    ]);
  });

  it('GIVEN to_ids and deleted written as "1"/"0" strings, odd values and a body without Event THEN they are read or rejected accordingly', async () => {
    const event = {
      Event: {
        uuid: RAT,
        Attribute: [
          { uuid: a(90), type: 'ip-dst', value: '198.51.100.200', to_ids: '1' },
          { uuid: a(91), type: 'ip-dst', value: '198.51.100.201', to_ids: '0' },
          { uuid: a(92), type: 'ip-dst', value: '198.51.100.202', to_ids: '1', deleted: '1' },
          { uuid: a(93), type: 'domain|ip', value: 'only-a-domain.example', to_ids: true },
          { uuid: a(94), type: 'ip-dst|port', value: '|443', to_ids: true },
          { type: 'url', value: '   ', to_ids: true },
          'not an attribute',
        ],
      },
    };
    const { all } = await collect(parseMispEvent(bytesBody(JSON.stringify(event)), {}));
    expect(all.map(line)).toEqual([
      `${a(90)} ipv4 198.51.100.200`,
      `${a(93)} REJECTED the domain|ip value "only-a-domain.example" is not "<domain>|<ip>"`,
      `${a(94)} REJECTED the ip-dst|port value "|443" has no address`,
      `${RAT} Attribute[5] REJECTED the url attribute has no value`,
      `${RAT} Attribute[6] REJECTED the attribute is a string`,
    ]);
    expect((await parseError(parseMispEvent(bytesBody('{"response":[]}'), {}))).message).toBe(
      'misp: the body is an object without an "Event" object, not a MISP event',
    );
  });
});
