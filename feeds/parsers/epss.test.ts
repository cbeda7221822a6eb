import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseEpss, parseEpssComment } from './epss.js';
import { kevDelta, parseKev } from './kev.js';
import {
  bytesBody,
  collect,
  fileBody,
  parseError,
  SHARED_FEEDS,
  TESTDATA,
} from './testdata/support.js';

const FIXTURE = join(TESTDATA, 'epss', 'epss-synthetic.csv');

describe('parseEpss', () => {
  it('GIVEN the synthetic 20-row EPSS file THEN 20 cve records carry epss and percentile as numbers, and no confidence', async () => {
    const { records, rejected } = await collect(parseEpss(fileBody(FIXTURE), {}));
    expect(rejected).toEqual([]);
    expect(records).toHaveLength(20);
    expect(records[0]).toEqual({
      kind: 'record',
      value: 'CVE-2014-3931',
      typeHint: 'cve',
      ref: 'line 3',
      record: {
        cve: 'CVE-2014-3931',
        epss: 0.0421,
        percentile: 0.88514,
        modelVersion: 'v2025.03.14',
        scoreDate: '2025-07-14T00:00:00+0000',
      },
      attributes: { epss: 0.0421, percentile: 0.88514 },
    });
    expect(records.some((r) => r.confidence !== undefined)).toBe(false);
    expect(
      records.filter((r) => (r.attributes?.epss as number) >= 0.5).map((r) => r.value),
    ).toEqual([
      'CVE-2016-10033',
      'CVE-2019-5418',
      'CVE-2019-6693',
      'CVE-2019-9621',
      'CVE-2024-0769',
      'CVE-2025-24016',
      'CVE-2025-32433',
      'CVE-2025-47812',
      'CVE-2025-5777',
    ]);
  });

  it('GIVEN the fixture THEN every CVE in it is listed in the 2025-07-14 KEV catalog it was derived from', async () => {
    const epss = (await collect(parseEpss(fileBody(FIXTURE), {}))).records.map((r) => r.value);
    const kev = (
      await collect(parseKev(fileBody(join(SHARED_FEEDS, 'kev', 'kev-2025-07-14.json')), {}))
    ).records.map((r) => r.value);
    expect(kevDelta(kev, epss)).toEqual({ added: [], removed: expect.any(Array) });
  });

  it('GIVEN the fixture gzipped, as FIRST publishes it, in 3-byte chunks THEN the same records come out', async () => {
    const plain = await collect(parseEpss(fileBody(FIXTURE), {}));
    const gz = gzipSync(await readFile(FIXTURE));
    const unzipped = await collect(parseEpss(bytesBody(gz, 3), {}));
    expect(unzipped.all).toEqual(plain.all);
  });

  it('GIVEN reordered columns and bad rows THEN columns are found by name and bad rows are rejected with their line', async () => {
    const body =
      'percentile,cve,epss\n0.5,CVE-2024-3400,0.97\n0.4,CVE-2024-1,0.3\n0.3,CVE-2024-0001,1.7\n,CVE-2024-0002,0.1\n';
    const { records, rejected } = await collect(parseEpss(bytesBody(body), {}));
    expect(records.map((r) => [r.value, r.attributes])).toEqual([
      ['CVE-2024-3400', { epss: 0.97, percentile: 0.5 }],
    ]);
    expect(rejected).toEqual([
      { kind: 'rejected', ref: 'line 3', reason: '"CVE-2024-1" is not a CVE id' },
      { kind: 'rejected', ref: 'line 4', reason: 'epss "1.7" is not a number between 0 and 1' },
      { kind: 'rejected', ref: 'line 5', reason: 'percentile "" is not a number between 0 and 1' },
    ]);
  });

  it('GIVEN a body without the EPSS header, or a truncated gzip THEN the whole body is refused', async () => {
    expect((await parseError(parseEpss(bytesBody('CVE-2024-3400,0.9,0.9\n'), {}))).message).toBe(
      'epss: line 1 should be the header "cve,epss,percentile" but is "CVE-2024-3400,0.9,0.9"',
    );
    expect((await parseError(parseEpss(bytesBody('#model_version:v1\n'), {}))).message).toBe(
      'epss: the body has no header row "cve,epss,percentile"',
    );
    const gz = gzipSync(await readFile(FIXTURE));
    expect((await parseError(parseEpss(bytesBody(gz.subarray(0, 200)), {}))).message).toBe(
      'epss: the gzip body is unreadable: unexpected end of file',
    );
  });
});

describe('parseEpssComment', () => {
  it('GIVEN the metadata line THEN the date keeps its own colons', () => {
    expect(
      parseEpssComment('#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000'),
    ).toEqual({ modelVersion: 'v2023.03.01', scoreDate: '2023-03-07T00:00:00+0000' });
  });
});
