import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_ALLOWED_DESTINATIONS,
  LABEL_CREDENTIAL,
  checkSecretBinding,
  type SecretMetadata,
} from './secrets.js';

const bound = (destinations: string): SecretMetadata => ({
  labels: { [LABEL_CREDENTIAL]: 'true' },
  annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: destinations },
});
const check = (meta: SecretMetadata, url: string) =>
  checkSecretBinding(meta, 'forestall-system/okta', 'params.credentialsSecretRef', url);
const refusal = (meta: SecretMetadata, url: string): string => {
  const result = check(meta, url);
  if (result.allowed) throw new Error(`expected ${url} to be refused`);
  return result.message;
};

describe('checkSecretBinding', () => {
  it('GIVEN a Secret without the label WHEN it is used THEN it is refused, naming the Secret, the field and the host', () => {
    const message = refusal(
      { annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: 'attacker.example' } },
      'https://attacker.example/x?t=1',
    );
    expect(message).toContain(
      'Secret forestall-system/okta (params.credentialsSecretRef) may not be sent to attacker.example',
    );
    expect(message).toContain(`label it ${LABEL_CREDENTIAL}=true`);
  });

  it('GIVEN the label with another value THEN it does not opt in', () => {
    expect(
      check(
        {
          labels: { [LABEL_CREDENTIAL]: 'yes' },
          annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: 'a.example' },
        },
        'https://a.example/',
      ).allowed,
    ).toBe(false);
  });

  it('GIVEN the label but no annotation THEN it is refused and the annotation is named', () => {
    expect(refusal({ labels: { [LABEL_CREDENTIAL]: 'true' } }, 'https://a.example/')).toContain(
      `annotation ${ANNOTATION_ALLOWED_DESTINATIONS} is missing or empty`,
    );
    expect(check(bound(' , '), 'https://a.example/').allowed).toBe(false);
  });

  it.each([
    ['sso.example.com', 'https://sso.example.com/realms/corp/protocol/openid-connect/token'],
    ['SSO.Example.com', 'https://sso.example.com/'],
    ['sso.example.com:8443', 'https://sso.example.com:8443/x'],
    [
      'https://sso.example.com/realms/corp/',
      'https://sso.example.com/realms/corp/protocol/openid-connect/token',
    ],
    ['https://sso.example.com/realms/corp', 'https://sso.example.com/realms/corp/users'],
    ['https://sso.example.com/realms/corp', 'https://sso.example.com/realms/corp'],
    ['https://git.example.org/', 'https://git.example.org/api/v1'],
    ['other.example, git.example.org', 'git@git.example.org:platform/policy.git'],
    ['ssh://git.example.org/platform/', 'ssh://git@git.example.org/platform/policy.git'],
    ['127.0.0.1:4000', 'http://127.0.0.1:4000/feed.txt'],
    ['[::1]', 'http://[::1]:9/x'],
  ])('GIVEN allowed %j THEN %s is admitted', (entries, url) => {
    expect(check(bound(entries), url)).toEqual({ allowed: true });
  });

  it.each([
    [
      'sso.example.com',
      'https://sso.example.com.attacker.example/',
      'sso.example.com.attacker.example',
    ],
    ['sso.example.com', 'https://evil-sso.example.com/', 'evil-sso.example.com'],
    ['sso.example.com:8443', 'https://sso.example.com/', 'sso.example.com'],
    [
      'https://sso.example.com/realms/corp/',
      'https://sso.example.com/realms/other/',
      'sso.example.com',
    ],
    [
      'https://sso.example.com/realms/corp',
      'https://sso.example.com/realms/corporate/',
      'sso.example.com',
    ],
    [
      'https://sso.example.com/realms/corp/',
      'https://sso.example.com/realms/corp/../other/x',
      'sso.example.com',
    ],
    [
      'https://sso.example.com/realms/corp/',
      'https://sso.example.com/realms/corp/%2e%2e/other/x',
      'sso.example.com',
    ],
    ['https://sso.example.com/', 'http://sso.example.com/', 'sso.example.com'],
    ['https://sso.example.com/', 'https://sso.example.com:444/', 'sso.example.com:444'],
    ['https://127.0.0.1:4000/', 'http://127.0.0.1:4001/feed.txt', '127.0.0.1:4001'],
    ['sso.example.com/path', 'https://sso.example.com/path', 'sso.example.com'],
  ])('GIVEN allowed %j THEN %s is refused, naming host %s', (entries, url, host) => {
    const message = refusal(bound(entries), url);
    expect(message).toContain(`may not be sent to ${host}:`);
    expect(message).toContain('is not among its');
  });

  it('GIVEN a URL whose path and query are secret (a Slack webhook) THEN the message names only the host', () => {
    const message = refusal(
      bound('hooks.slack.com'),
      'https://hooks.example.org/services/T000/B000/XXXXSECRET?token=abc',
    );
    expect(message).toContain('hooks.example.org');
    expect(message).not.toMatch(/XXXXSECRET|services|abc/);
  });

  it('GIVEN a destination that is not a URL THEN it is refused as such', () => {
    expect(refusal(bound('a.example'), 'not a url')).toContain(
      'may not be sent to an unparsable URL',
    );
    expect(refusal(bound('a.example'), 'file:///etc/passwd')).toContain(
      'not an absolute http(s) or ssh URL',
    );
  });
});
