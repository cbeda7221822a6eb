import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kevDelta, parseKev } from './kev.js';
import { bytesBody, collect, fileBody, parseError, SHARED_FEEDS } from './testdata/support.js';

const KEV = join(SHARED_FEEDS, 'kev');
const SNAPSHOTS = [
  { file: 'kev-2025-01-29.json', cves: 1253, ransomware: 245 },
  { file: 'kev-2025-03-31.json', cves: 1312, ransomware: 251 },
  { file: 'kev-2025-05-22.json', cves: 1352, ransomware: 279 },
  { file: 'kev-2025-07-14.json', cves: 1380, ransomware: 288 },
];

async function cveIds(file: string): Promise<string[]> {
  const { records, rejected } = await collect(parseKev(fileBody(join(KEV, file)), {}));
  expect(rejected).toEqual([]);
  return records.map((r) => r.value);
}

describe('parseKev', () => {
  it.each(SNAPSHOTS)(
    'GIVEN the real catalog $file THEN it yields exactly $cves cve records, $ransomware of them tagged ransomware',
    async ({ file, cves, ransomware }) => {
      const { records, rejected } = await collect(parseKev(fileBody(join(KEV, file)), {}));
      expect(rejected).toEqual([]);
      expect(records).toHaveLength(cves);
      expect(new Set(records.map((r) => r.value)).size).toBe(cves);
      expect(records.every((r) => r.typeHint === 'cve' && r.tags?.includes('kev'))).toBe(true);
      expect(records.filter((r) => r.tags?.includes('ransomware'))).toHaveLength(ransomware);
      expect(records.filter((r) => r.attributes?.knownRansomwareCampaignUse === true)).toHaveLength(
        ransomware,
      );
    },
  );

  it('GIVEN the 2025-07-14 catalog THEN its first entry carries the attributes policies match on and the raw entry as record', async () => {
    const { records } = await collect(parseKev(fileBody(join(KEV, 'kev-2025-07-14.json')), {}));
    const first = records[0]!;
    expect(first).toMatchObject({
      kind: 'record',
      value: 'CVE-2025-47812',
      typeHint: 'cve',
      ref: 'CVE-2025-47812',
      tags: ['kev'],
      attributes: {
        vendor: 'Wing FTP Server',
        product: 'Wing FTP Server',
        vulnerabilityName:
          'Wing FTP Server Improper Neutralization of Null Byte or NUL Character Vulnerability',
        dateAdded: '2025-07-14',
        dueDate: '2025-08-04',
        knownRansomwareCampaignUse: false,
        requiredAction: expect.stringMatching(/^Apply mitigations per vendor instructions/),
        shortDescription: expect.stringMatching(
          /^Wing FTP Server contains an improper neutralization/,
        ),
      },
    });
    expect(first.record).toMatchObject({
      cveID: 'CVE-2025-47812',
      knownRansomwareCampaignUse: 'Unknown',
      cwes: ['CWE-158'],
    });
    expect(records.find((r) => r.value === 'CVE-2019-6693')).toMatchObject({
      tags: ['kev', 'ransomware'],
      attributes: { knownRansomwareCampaignUse: true, vendor: 'Fortinet' },
    });
  });

  it('GIVEN the four catalogs replayed in order THEN 59, 40 and 29 CVEs are added, and CVE-2025-4664 is removed in the last step', async () => {
    const ids = [];
    for (const { file } of SNAPSHOTS) ids.push(await cveIds(file));
    const steps = [
      kevDelta(ids[0]!, ids[1]!),
      kevDelta(ids[1]!, ids[2]!),
      kevDelta(ids[2]!, ids[3]!),
    ];
    expect(steps.map((s) => [s.added.length, s.removed])).toEqual([
      [59, []],
      [40, []],
      [29, ['CVE-2025-4664']],
    ]);
    expect(steps[0]!.added.slice(0, 3)).toEqual([
      'CVE-2024-20439',
      'CVE-2025-2783',
      'CVE-2019-9875',
    ]);
    expect(steps[0]!.added.at(-1)).toBe('CVE-2024-45195');
    // CVE-2025-4664 (Chromium) arrives in the third catalog and is gone from the fourth.
    expect(steps[1]!.added).toContain('CVE-2025-4664');
    expect(steps[1]!.added.slice(0, 3)).toEqual([
      'CVE-2025-4632',
      'CVE-2023-38950',
      'CVE-2024-27443',
    ]);
    expect(steps[2]!.added).toEqual([
      'CVE-2025-47812',
      'CVE-2025-5777',
      'CVE-2019-9621',
      'CVE-2019-5418',
      'CVE-2016-10033',
      'CVE-2014-3931',
      'CVE-2025-6554',
      'CVE-2025-48928',
      'CVE-2025-48927',
      'CVE-2025-6543',
      'CVE-2019-6693',
      'CVE-2024-0769',
      'CVE-2024-54085',
      'CVE-2023-0386',
      'CVE-2023-33538',
      'CVE-2025-43200',
      'CVE-2025-33053',
      'CVE-2025-24016',
      'CVE-2024-42009',
      'CVE-2025-32433',
      'CVE-2025-5419',
      'CVE-2025-21479',
      'CVE-2025-21480',
      'CVE-2025-27038',
      'CVE-2021-32030',
      'CVE-2025-3935',
      'CVE-2025-35939',
      'CVE-2024-56145',
      'CVE-2023-39780',
    ]);
    // Each catalog's count is the previous count plus what was added, minus what was removed.
    for (let i = 0; i < steps.length; i++) {
      expect(ids[i + 1]!.length).toBe(
        ids[i]!.length + steps[i]!.added.length - steps[i]!.removed.length,
      );
    }
  });

  it('GIVEN a catalog truncated at byte 123,456 THEN the whole body is refused with the byte where it ended', async () => {
    const bytes = (await readFile(join(KEV, 'kev-2025-07-14.json'))).subarray(0, 123_456);
    const err = await parseError(parseKev(bytesBody(bytes, 8192), {}));
    expect(err.message).toBe('kev: body is not JSON: Unterminated string at byte 123456');
  });

  it('GIVEN JSON that is not a catalog THEN the message says what is missing', async () => {
    expect((await parseError(parseKev(bytesBody('[]'), {}))).message).toBe(
      'kev: the catalog is an array, not an object with catalogVersion, count and vulnerabilities',
    );
    expect(
      (await parseError(parseKev(bytesBody('{"catalogVersion":"1","vulnerabilities":{}}'), {})))
        .message,
    ).toBe('kev: the catalog lacks count (a non-negative integer), vulnerabilities (an array)');
  });

  it.each([
    ['larger than', (v: unknown[]) => v.pop(), 'says count 1253 but lists 1252 vulnerabilities'],
    [
      'smaller than',
      (v: unknown[]) => v.push(v[0]),
      'says count 1253 but lists 1254 vulnerabilities',
    ],
  ])(
    'GIVEN a catalog whose count is %s the entries it lists THEN the whole catalog is refused, naming both numbers',
    async (_, edit, says) => {
      const catalog = JSON.parse(await readFile(join(KEV, 'kev-2025-01-29.json'), 'utf8')) as {
        vulnerabilities: unknown[];
      };
      edit(catalog.vulnerabilities);
      const err = await parseError(parseKev(bytesBody(JSON.stringify(catalog)), {}));
      expect(err.message).toBe(
        `kev: catalog "2025.01.29" ${says}; a catalog that contradicts itself is refused`,
      );
    },
  );

  it('GIVEN a consistent catalog with two broken entries THEN those entries are rejected and the rest kept', async () => {
    const catalog = JSON.parse(await readFile(join(KEV, 'kev-2025-01-29.json'), 'utf8')) as {
      vulnerabilities: Array<Record<string, unknown>>;
    };
    catalog.vulnerabilities[3] = { ...catalog.vulnerabilities[3], cveID: 'CVE-24-1' };
    delete catalog.vulnerabilities[5]!.dueDate;
    const cveAt5 = catalog.vulnerabilities[5]!.cveID;
    const { records, rejected } = await collect(parseKev(bytesBody(JSON.stringify(catalog)), {}));
    expect(rejected).toEqual([
      {
        kind: 'rejected',
        ref: 'vulnerabilities[3]',
        reason: 'cveID "CVE-24-1" is not a CVE id (CVE-YYYY-NNNN)',
      },
      { kind: 'rejected', ref: cveAt5, reason: 'the entry lacks dueDate' },
    ]);
    expect(records).toHaveLength(1251);
  });
});

describe('kevDelta', () => {
  it('GIVEN overlapping id lists THEN added keeps the new order and removed the old', () => {
    expect(kevDelta(['CVE-1', 'CVE-2', 'CVE-3'], ['CVE-4', 'CVE-2', 'CVE-5'])).toEqual({
      added: ['CVE-4', 'CVE-5'],
      removed: ['CVE-1', 'CVE-3'],
    });
  });
});
