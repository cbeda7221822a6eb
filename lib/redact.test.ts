import { describe, expect, it } from 'vitest';
import { redact, redactUrl, secretForms, urlSecrets } from './redact.js';

// The spec of the one redaction: the cases of the seven copies it replaced, kept as they
// were, and the cases where they disagreed.

describe('redact: credential shapes (from the controller)', () => {
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

describe('redact: known secrets and token fields (from the identity client)', () => {
  it('removes known secrets and credential-shaped values', () => {
    expect(redact('a s3cr3t-value b', ['s3cr3t-value'])).toBe('a [REDACTED] b');
    expect(redact('{"access_token":"eyJabc.def","client_secret":"x"}', [])).toBe(
      '{"access_token":"[REDACTED]","client_secret":"[REDACTED]"}',
    );
    expect(redact('Authorization: Basic dXNlcjpwYXNzd29yZA==', [])).toBe(
      'Authorization: Basic [REDACTED]',
    );
  });
});

describe('redact: the union of the old copies', () => {
  it.each([
    ['Authorization: SSWS 00abcdefgh', 'Authorization: SSWS [REDACTED]'],
    ['git https://tok@h/y failed', 'git https://[REDACTED]@h/y failed'],
    ['ssh://git@git.example/o/p.git', 'ssh://git@git.example/o/p.git'],
    ['ftp://user:pw@h/x', 'ftp://[REDACTED]@h/x'],
    ['token abcdefghijklmnopqrstuv', 'token [REDACTED]'],
    ['the token expired', 'the token expired'],
    [
      '{"refresh_token":"r1","client_secret":"x"}',
      '{"refresh_token":"[REDACTED]","client_secret":"[REDACTED]"}',
    ],
    [
      'POST https://idp.example/oauth/token: HTTP 400',
      'POST https://idp.example/oauth/token: HTTP 400',
    ],
    ['GET https://f.example/x?token=REDACTED', 'GET https://f.example/x?token=REDACTED'],
  ])('GIVEN %s THEN it becomes %s', (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('GIVEN secrets where one contains another THEN the longer goes whole, and short ones are ignored', () => {
    expect(
      redact('Bearer-ish abc-secret-1 and x-abc-secret-1-y in it', [
        'abc-secret-1',
        'x-abc-secret-1-y',
        'in',
      ]),
    ).toBe('Bearer-ish [REDACTED] and [REDACTED] in it');
  });

  it('GIVEN a client secret THEN its encoded forms are secrets too', () => {
    const forms = secretForms('a b&c/d');
    expect(redact('client_id=x&s=a+b%26c%2Fd', forms)).not.toContain('a+b%26c%2Fd');
  });
});

describe('redactUrl', () => {
  it('GIVEN a URL THEN no user info, query values or fragment remain; with path: false only scheme and host', () => {
    const url =
      'https://user:s3cret@hooks.example/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX?key=abc#frag';
    expect(redactUrl(url)).toBe(
      'https://hooks.example/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX?key=REDACTED',
    );
    expect(redactUrl(url, { path: false })).toBe('https://hooks.example/…');
    expect(redactUrl('not a url with token abc')).toBe('(invalid URL)');
  });

  it('GIVEN a webhook URL THEN its secrets include the path and the long segments, not the short ones', () => {
    const secrets = urlSecrets(
      'https://hooks.slack.com/services/T000/B000/abcdefghijklmnopqrstuvwx',
    );
    expect(secrets).toContain('abcdefghijklmnopqrstuvwx');
    expect(secrets).toContain('/services/T000/B000/abcdefghijklmnopqrstuvwx');
    expect(secrets).not.toContain('services');
  });
});
