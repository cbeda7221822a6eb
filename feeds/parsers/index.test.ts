import { describe, expect, it } from 'vitest';
import { FEED_FORMATS } from '../../crds/index.js';
import { parseCsv } from './csv.js';
import { PARSERS, parserFor } from './index.js';
import { parseLines } from './lines.js';
import { parseMispEvent } from './misp.js';
import { bytesBody, collect } from './testdata/support.js';

describe('parser registry', () => {
  it('GIVEN the formats the ThreatFeed CRD allows THEN each has exactly one parser, and no parser is unreachable', () => {
    expect(Object.keys(PARSERS).sort()).toEqual([...FEED_FORMATS].sort());
    expect(Object.isFrozen(PARSERS)).toBe(true);
  });

  it('GIVEN a format name THEN parserFor returns its parser', async () => {
    expect(parserFor('csv')).toBe(parseCsv);
    expect(parserFor('lines')).toBe(parseLines);
    expect(parserFor('misp')).toBe(parseMispEvent);
    const { records } = await collect(
      parserFor('kev')(bytesBody('{"catalogVersion":"1","count":0,"vulnerabilities":[]}'), {}),
    );
    expect(records).toEqual([]);
  });

  it('GIVEN an unknown name, or one inherited from Object.prototype THEN parserFor refuses it', () => {
    expect(() => parserFor('yaml')).toThrow(
      'no parser for format "yaml"; formats are lines, csv, json, stix, kev, epss, misp',
    );
    expect(() => parserFor('toString')).toThrow('no parser for format "toString"');
  });
});
