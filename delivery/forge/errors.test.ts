import { describe, expect, it } from 'vitest';
import {
  classifyHttp,
  FORGE_ERROR_CODES,
  ForgeError,
  forgeAnswerError,
  retryAfterFromHeaders,
  SECONDARY_LIMIT_FALLBACK_MS,
} from './errors.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('classifyHttp', () => {
  it.each([
    ['401', 401, {}, '', 'FST_FORGE_AUTH', undefined],
    [
      '403 without rate-limit headers (no permission)',
      403,
      { 'x-ratelimit-remaining': '4999' },
      'Resource not accessible by personal access token',
      'FST_FORGE_AUTH',
      undefined,
    ],
    [
      '403 with Retry-After seconds',
      403,
      { 'retry-after': '30' },
      '',
      'FST_FORGE_RATE_LIMITED',
      30_000,
    ],
    [
      '403 with the primary quota spent',
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 120) },
      'API rate limit exceeded',
      'FST_FORGE_RATE_LIMITED',
      121_000,
    ],
    [
      '403 secondary limit without Retry-After',
      403,
      {},
      'You have exceeded a secondary rate limit',
      'FST_FORGE_RATE_LIMITED',
      SECONDARY_LIMIT_FALLBACK_MS,
    ],
    [
      '429 with Retry-After as an HTTP date',
      429,
      { 'retry-after': new Date(NOW + 5_000).toUTCString() },
      '',
      'FST_FORGE_RATE_LIMITED',
      5_000,
    ],
    ['429 without any hint', 429, {}, '', 'FST_FORGE_RATE_LIMITED', undefined],
    ['404', 404, {}, 'Not Found', 'FST_FORGE_NOT_FOUND', undefined],
    ['422', 422, {}, 'Validation Failed', 'FST_FORGE_REJECTED', undefined],
    ['409', 409, {}, 'pull request already exists', 'FST_FORGE_REJECTED', undefined],
    ['400', 400, {}, '', 'FST_FORGE_REJECTED', undefined],
    ['408', 408, {}, '', 'FST_FORGE_UNAVAILABLE', undefined],
    ['500', 500, {}, '', 'FST_FORGE_UNAVAILABLE', undefined],
    [
      '503 with Retry-After (not a rate limit code: retried with backoff)',
      503,
      { 'retry-after': '10' },
      '',
      'FST_FORGE_UNAVAILABLE',
      undefined,
    ],
    [
      'no response (network error)',
      undefined,
      {},
      'ECONNREFUSED',
      'FST_FORGE_UNAVAILABLE',
      undefined,
    ],
  ] as const)('GIVEN %s THEN %s', (_name, status, headers, message, code, retryAfterMs) => {
    const got = classifyHttp(status, headers, message, NOW);
    expect(got.code).toBe(code);
    expect(got.retryAfterMs).toBe(retryAfterMs);
  });

  it('GIVEN each code THEN its class is the documented one', () => {
    expect(new ForgeError('FST_FORGE_AUTH', 'x').errorClass).toBe('terminal');
    expect(new ForgeError('FST_FORGE_REJECTED', 'x').errorClass).toBe('terminal');
    expect(new ForgeError('FST_FORGE_NOT_FOUND', 'x').errorClass).toBe('terminal');
    expect(new ForgeError('FST_FORGE_RATE_LIMITED', 'x').errorClass).toBe('transient');
    expect(new ForgeError('FST_FORGE_UNAVAILABLE', 'x').errorClass).toBe('transient');
    expect(Object.keys(FORGE_ERROR_CODES).every((c) => c.startsWith('FST_FORGE_'))).toBe(true);
  });
});

describe('retryAfterFromHeaders', () => {
  it('GIVEN a reset time already past THEN it waits no less than zero', () => {
    expect(
      retryAfterFromHeaders(
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 - 60) },
        NOW,
      ),
    ).toBe(0);
  });
  it('GIVEN quota left THEN x-ratelimit-reset is ignored', () => {
    expect(
      retryAfterFromHeaders(
        { 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': String(NOW / 1000 + 60) },
        NOW,
      ),
    ).toBeUndefined();
  });
  it('GIVEN an unparseable Retry-After THEN it is ignored', () => {
    expect(retryAfterFromHeaders({ 'retry-after': 'soon' }, NOW)).toBeUndefined();
  });
});

describe('forgeAnswerError', () => {
  it('GIVEN an answer echoing the token THEN the message carries the status and no part of the answer', () => {
    const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    const body = {
      message: `Bad credentials for ${token}; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig and https://x:pw@gitea.example/`,
    };
    const err = forgeAnswerError(
      'GitHub o/r: get pull request #1',
      { status: 401, headers: {}, body },
      { now: NOW, secrets: [token] },
    );
    expect(err.code).toBe('FST_FORGE_AUTH');
    expect(err.status).toBe(401);
    expect(err.message).toBe('GitHub o/r: get pull request #1: HTTP 401');
  });

  it('GIVEN a rate limit THEN the message says when to retry and the error carries retryAfterMs', () => {
    const err = forgeAnswerError(
      'Gitea o/r: list',
      { status: 429, headers: { 'retry-after': '90' }, body: '' },
      { now: NOW },
    );
    expect(err.retryAfterMs).toBe(90_000);
    expect(err.errorClass).toBe('transient');
    expect(err.message).toContain('retry after 90s');
  });

  it('GIVEN a secondary limit said only in words THEN it is classified from them, and the words are not shown', () => {
    const body = '{"message":"You have exceeded a secondary rate limit."}';
    const err = forgeAnswerError(
      'GitHub o/r: comment',
      { status: 403, headers: {}, body },
      { now: NOW },
    );
    expect(err.code).toBe('FST_FORGE_RATE_LIMITED');
    expect(err.message).not.toContain('secondary');
  });

  it.each([
    [409, '{"message":"pull request already exists for these targets [id: 3]"}', true],
    [
      422,
      {
        message: 'Validation Failed',
        errors: [
          {
            resource: 'PullRequest',
            code: 'custom',
            message: 'A pull request already exists for o:b.',
          },
        ],
      },
      true,
    ],
    [422, { message: 'Validation Failed', errors: [{ code: 'invalid' }] }, false],
    [500, '{"message":"already exists"}', false],
  ])(
    'GIVEN %s %j THEN alreadyExists is %s, and the words are not shown',
    (status, body, expected) => {
      const err = forgeAnswerError('Gitea o/r: open', { status, headers: {}, body }, { now: NOW });
      expect(err.alreadyExists === true).toBe(expected);
      expect(err.message).not.toContain('already exists');
    },
  );
});
