import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONNECTOR_ERROR_CODES, ConnectorError } from '../../connectors/errors.js';
import { FORGE_ERROR_CODES } from '../../delivery/forge/errors.js';
import { GIT_ERROR_CODES } from '../../delivery/git/errors.js';
import { FEED_ERROR_CODES } from '../../feeds/sources/errors.js';
import { HTTP_ERROR_CODES } from '../../lib/http/errors.js';
import { NOTIFY_ERROR_CODES } from '../../notify/errors.js';
import { classify, ERROR_CODES, ForestallError, fromKube, redact, terminal } from './errors.js';

describe('error registry', () => {
  it('GIVEN docs/errors.md THEN every error code, controller and feed, is documented there', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const missing = [
      ...Object.keys(ERROR_CODES),
      ...Object.keys(FEED_ERROR_CODES),
      ...Object.keys(CONNECTOR_ERROR_CODES),
      ...Object.keys(FORGE_ERROR_CODES),
      ...Object.keys(GIT_ERROR_CODES),
      ...Object.keys(NOTIFY_ERROR_CODES),
      ...Object.keys(HTTP_ERROR_CODES),
    ].filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('GIVEN API errors by status THEN they are classed conflict, terminal or transient', () => {
    expect(classify({ code: 409 })).toBe('conflict');
    expect(classify({ code: 422 })).toBe('terminal');
    expect(classify({ code: 503 })).toBe('transient');
    expect(classify(new Error('ECONNREFUSED'))).toBe('transient');
    expect(classify(new ConnectorError('FST_CONNECTOR_KIND_NOT_SERVED', 'no CRD'))).toBe(
      'terminal',
    );
    expect(
      fromKube(
        { code: 404, body: '{"message":"threatfeeds.forestall.io \\"x\\" not found"}' },
        'get ThreatFeed x',
      ).code,
    ).toBe('FST_KUBE_NOT_FOUND');
  });

  it('GIVEN a message with credentials THEN the error built from it carries none of them', () => {
    const err = new ForestallError(
      'FST_KUBE_TRANSIENT',
      'GET https://user:hunter2@feeds.example/x failed; Authorization: Bearer abc.def token=s3cr3t',
    );
    expect(err.message).not.toMatch(/hunter2|abc\.def|s3cr3t/);
    expect(redact('password: "pw123"')).not.toContain('pw123');
  });

  it('GIVEN a transient code THEN terminal() refuses it', () => {
    expect(() => terminal('FST_KUBE_TRANSIENT', 'x')).toThrow(/not a terminal code/);
    expect(terminal('FST_INVALID_SPEC', 'x').errorClass).toBe('terminal');
  });
});

describe('redact', () => {
  it.each([
    ['Authorization: Bearer abc.def', 'Authorization: Bearer [REDACTED]'],
    ['authorization=Basic dXNlcjpwYXNz', 'authorization=Basic [REDACTED]'],
    ['https://user:hunter2@feeds.example/x', 'https://[REDACTED]@feeds.example/x'],
    ['{"token":"s3cr3t","name":"ipsum"}', '{"token":"[REDACTED]","name":"ipsum"}'],
    ['GET /feed?api_key=k123&x=1', 'GET /feed?api_key=[REDACTED]&x=1'],
  ])('GIVEN %s THEN it becomes %s', (input, expected) => {
    expect(redact(input)).toBe(expected);
  });
});
