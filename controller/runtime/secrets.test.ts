import { describe, expect, it } from 'vitest';
import { forgeEndpoint } from '../../delivery/index.js';
import type { KubeClient } from './client.js';
import { ForestallError } from './errors.js';
import {
  ANNOTATION_ALLOWED_DESTINATIONS,
  LABEL_CREDENTIAL,
  allowedDestinationHosts,
  checkSecretBinding,
  readCredential,
  readSecret,
  type CredentialOptions,
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

describe('allowedDestinationHosts', () => {
  it('GIVEN hosts, host:port, URL prefixes and ssh URLs THEN each host name is listed once, lower case and without its port', () => {
    expect(
      allowedDestinationHosts(
        bound(
          'SSO.Example.com:8443, https://login.microsoftonline.com/contoso/ ' +
            'ssh://git.example.org/platform/ hooks.slack.com https://hooks.slack.com/services/ [::1]:9',
        ),
      ),
    ).toEqual([
      'sso.example.com',
      'login.microsoftonline.com',
      'git.example.org',
      'hooks.slack.com',
      '[::1]',
    ]);
  });

  it('GIVEN entries that admit nothing THEN they name no host', () => {
    expect(
      allowedDestinationHosts(bound('sso.example.com/path a@b.example ftp://x.example/')),
    ).toEqual([]);
  });

  it('GIVEN a Secret that does not opt in THEN it names no host: it is sent nowhere', () => {
    const meta = bound('hooks.example.net');
    expect(allowedDestinationHosts({ ...meta, labels: {} })).toEqual([]);
  });
});

// readCredential and readSecret against a KubeClient that answers get() from a map, as
// the API server would (Secret data base64-encoded). Every credential the controller
// sends goes through these two; the destinations each test passes are the ones its
// caller passes (the file:line is named in each test).
const NS = 'forestall-system';

function secretClient(
  secrets: Record<string, { meta: SecretMetadata; data: Record<string, string> }>,
): KubeClient {
  return {
    get: async (apiVersion: string, kind: string, name: string, namespace?: string) => {
      expect([apiVersion, kind]).toEqual(['v1', 'Secret']);
      const secret = secrets[`${namespace}/${name}`];
      if (!secret) return undefined;
      const data = Object.fromEntries(
        Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      );
      return { apiVersion, kind, metadata: { name, namespace, ...secret.meta }, data };
    },
  } as unknown as KubeClient;
}

async function notAllowed(work: Promise<unknown>): Promise<string> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForestallError);
  expect(err).toMatchObject({ code: 'FST_SECRET_NOT_ALLOWED' });
  return (err as Error).message;
}

describe('readCredential', () => {
  const options = (destinations: CredentialOptions['destinations']): CredentialOptions => ({
    defaultNamespace: NS,
    field: 'params.credentialsSecretRef',
    destinations,
  });

  it('GIVEN a Secret that does not opt in WHEN it is read for a host THEN FST_SECRET_NOT_ALLOWED names the Secret, the field and the host, and no value', async () => {
    const client = secretClient({
      [`${NS}/okta`]: { meta: {}, data: { token: 'okta-api-token-7d1f' } },
    });
    const message = await notAllowed(
      readCredential(client, { name: 'okta' }, options(['https://acme.okta.com/api/v1'])),
    );
    expect(message).toContain(
      `Secret ${NS}/okta (params.credentialsSecretRef) may not be sent to acme.okta.com`,
    );
    expect(message).not.toContain('okta-api-token-7d1f');
  });

  it('GIVEN a Secret bound to the host THEN its values are returned, decoded and trimmed; a missing Secret is undefined', async () => {
    const client = secretClient({
      [`other/okta`]: { meta: bound('acme.okta.com'), data: { token: ' okta-api-token\n' } },
    });
    const ref = { name: 'okta', namespace: 'other' };
    await expect(
      readCredential(client, ref, options(['https://acme.okta.com/api/v1'])),
    ).resolves.toEqual({ token: 'okta-api-token' });
    await expect(
      readCredential(client, { name: 'okta' }, options(['https://acme.okta.com/'])),
    ).resolves.toBeUndefined();
  });

  it('GIVEN several destinations THEN every one must be admitted, and the refusal names the first that is not', async () => {
    const client = secretClient({
      [`${NS}/entra`]: { meta: bound('graph.microsoft.com'), data: { 'client-secret': 's' } },
    });
    // connectors/identity/connector.ts client(): the API and the token URL.
    const destinations = [
      'https://graph.microsoft.com/v1.0',
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
    ];
    expect(
      await notAllowed(readCredential(client, { name: 'entra' }, options(destinations))),
    ).toContain('may not be sent to login.microsoftonline.com');
  });
});

describe('readSecret: the callers outside the feeds', () => {
  it('GIVEN spec.git.credentialsSecretRef bound to the git remote only THEN it is refused for the forge API, naming it; bound to both THEN the token is read', async () => {
    const git = { url: 'https://github.com/acme/policy.git' };
    const read = (destinations: string) =>
      readSecret(
        secretClient({ [`${NS}/git`]: { meta: bound(destinations), data: { token: 'ghp_x' } } }),
        { name: 'git' },
        // controller/action/git-delivery.ts credentials(): the remote and the forge's API.
        {
          defaultNamespace: NS,
          defaultKey: 'token',
          field: 'spec.git.credentialsSecretRef',
          destinations: [git.url, forgeEndpoint(git).apiUrl],
        },
      );
    expect(await notAllowed(read('github.com'))).toContain(
      `Secret ${NS}/git (spec.git.credentialsSecretRef) may not be sent to api.github.com: api.github.com is not among`,
    );
    expect(await notAllowed(read('api.github.com'))).toContain('may not be sent to github.com:');
    await expect(read('github.com, api.github.com')).resolves.toMatchObject({ value: 'ghp_x' });
  });

  it('GIVEN a notify urlSecretRef whose URL lies outside its own allowed destinations THEN it is refused naming only the host; inside them THEN the URL and signing secret are read', async () => {
    const read = (url: string) =>
      readSecret(
        secretClient({
          [`${NS}/hook`]: {
            meta: bound('https://hooks.slack.com/services/'),
            data: { url, 'signing-secret': 'whsec' },
          },
        }),
        { name: 'hook' },
        // controller/action/notifications.ts secret(): the destination is the URL in the Secret.
        {
          defaultNamespace: NS,
          defaultKey: 'url',
          field: 'spec.notify[0].urlSecretRef',
          destinations: (data) => (data['url'] ? [data['url']] : []),
        },
      );
    const message = await notAllowed(read('http://10.0.0.5:8080/internal/T000/XXXXSECRET'));
    expect(message).toContain(
      `Secret ${NS}/hook (spec.notify[0].urlSecretRef) may not be sent to 10.0.0.5:8080`,
    );
    expect(message).not.toMatch(/internal|XXXXSECRET|whsec/);
    // A prefix entry binds the path too: another Slack path is outside it.
    expect(await notAllowed(read('https://hooks.slack.com/workflows/T000/X'))).toContain(
      'may not be sent to hooks.slack.com',
    );
    const secret = await read('https://hooks.slack.com/services/T000/B000/XXXX');
    expect(secret.value).toBe('https://hooks.slack.com/services/T000/B000/XXXX');
    expect(secret.optional('signing-secret')).toBe('whsec');
  });

  it('GIVEN a missing Secret or key THEN FST_KUBE_NOT_FOUND names the Secret and the field', async () => {
    const client = secretClient({ [`${NS}/hook`]: { meta: bound('a.example'), data: {} } });
    const opts = {
      defaultNamespace: NS,
      defaultKey: 'url',
      field: 'spec.notify[0].urlSecretRef',
      destinations: [],
    };
    await expect(readSecret(client, { name: 'hook' }, opts)).rejects.toMatchObject({
      code: 'FST_KUBE_NOT_FOUND',
      message: `Secret ${NS}/hook (spec.notify[0].urlSecretRef) has no key url`,
    });
    await expect(readSecret(client, { name: 'gone' }, opts)).rejects.toMatchObject({
      code: 'FST_KUBE_NOT_FOUND',
      message: `Secret ${NS}/gone (spec.notify[0].urlSecretRef) does not exist`,
    });
  });
});
