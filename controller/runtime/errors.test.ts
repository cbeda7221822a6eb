import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONNECTOR_ERROR_CODES, ConnectorError } from '../../connectors/core/errors.js';
import { FORGE_ERROR_CODES, ForgeError } from '../../delivery/forge/errors.js';
import { GIT_ERROR_CODES, GitDeliveryError } from '../../delivery/git/errors.js';
import { FEED_ERROR_CODES } from '../../feeds/sources/errors.js';
import { GZIP_ERROR_CODES } from '../../lib/gzip.js';
import { HTTP_ERROR_CODES } from '../../lib/http/errors.js';
import { NOTIFY_ERROR_CODES, NotifyError } from '../../notify/errors.js';
import {
  classify,
  codeOf,
  ERROR_CODES,
  ForestallError,
  fromKube,
  redact,
  terminal,
} from './errors.js';

/** Every domain's table of codes: the controller's, the outbound client's and each engine folder's. */
const TABLES = {
  controller: ERROR_CODES,
  feeds: FEED_ERROR_CODES,
  connectors: CONNECTOR_ERROR_CODES,
  forge: FORGE_ERROR_CODES,
  git: GIT_ERROR_CODES,
  notify: NOTIFY_ERROR_CODES,
  http: HTTP_ERROR_CODES,
  gzip: GZIP_ERROR_CODES,
};
const ALL_CODES = Object.values(TABLES).flatMap((table) => Object.keys(table));

describe('error registry', () => {
  it('GIVEN docs/errors.md THEN every error code of every domain is documented there', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const missing = ALL_CODES.filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('GIVEN every domain table THEN each code is FST_*, in one table only, with a class and a summary', () => {
    expect(ALL_CODES.filter((code, i) => ALL_CODES.indexOf(code) !== i)).toEqual([]);
    for (const table of Object.values(TABLES)) {
      for (const [code, info] of Object.entries(table)) {
        expect(code).toMatch(/^FST_[A-Z0-9_]+$/);
        expect(['transient', 'terminal', 'conflict']).toContain(info.class);
        expect(info.summary.length).toBeGreaterThan(20);
      }
    }
  });

  it('GIVEN a connector, forge, git or notify error THEN the metric label is its own code, not unknown', () => {
    expect(codeOf(new ConnectorError('FST_IDENTITY_AUTH', 'x'))).toBe('FST_IDENTITY_AUTH');
    expect(codeOf(new ForgeError('FST_FORGE_RATE_LIMITED', 'x'))).toBe('FST_FORGE_RATE_LIMITED');
    expect(codeOf(new GitDeliveryError('FST_GIT_PUSH_DENIED', 'x'))).toBe('FST_GIT_PUSH_DENIED');
    expect(codeOf(new NotifyError('FST_NOTIFY_HTTP', 'x'))).toBe('FST_NOTIFY_HTTP');
    expect(codeOf(new ForestallError('FST_KUBE_CONFLICT', 'x'))).toBe('FST_KUBE_CONFLICT');
    expect(codeOf(new Error('x'))).toBe('unknown');
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
