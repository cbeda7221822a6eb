import { describe, expect, it } from 'vitest';
import { createForge } from './index.js';
import { ForgeError } from './errors.js';
import { defaultApiUrl, normaliseApiUrl, parseRepoUrl } from './repo-url.js';

/** A parsed repository location, as parseRepoUrl returns it. */
const at = (host: string, owner: string, repo: string, protocol: string, prefix = '') => ({
  host,
  owner,
  repo,
  protocol,
  prefix,
});
const acme = (protocol: string) => at('github.com', 'acme', 'policies', protocol);

describe('parseRepoUrl', () => {
  it.each([
    ['https://github.com/acme/policies.git', acme('https')],
    ['https://github.com/acme/policies', acme('https')],
    ['https://github.com/acme/policies/', acme('https')],
    [
      'http://127.0.0.1:3000/forestall-admin/gitops.git',
      at('127.0.0.1:3000', 'forestall-admin', 'gitops', 'http'),
    ],
    [
      'https://git.example.com/gitea/acme/policies.git',
      at('git.example.com', 'acme', 'policies', 'https', 'gitea'),
    ],
    ['https://x-access-token:s3cr3t@github.com/acme/policies.git', acme('https')],
    ['git@github.com:acme/policies.git', acme('ssh')],
    ['github.com:acme/policies', acme('ssh')],
    [
      'ssh://git@git.example.com:2222/acme/policies.git',
      at('git.example.com:2222', 'acme', 'policies', 'ssh'),
    ],
    ['ssh://git@GitHub.com/Acme/Policies.git', at('github.com', 'Acme', 'Policies', 'ssh')],
    ['git+ssh://git@github.com/acme/my.repo.git', at('github.com', 'acme', 'my.repo', 'ssh')],
  ])('GIVEN %s THEN it names the repository', (url, expected) => {
    expect(parseRepoUrl(url)).toEqual(expected);
  });

  it.each([
    ['', /is empty/],
    ['https://github.com/acme', /owner and a repository/],
    ['https://github.com/', /owner and a repository/],
    ['ftp://github.com/acme/policies', /scheme ftp/],
    ['file:///srv/git/acme/policies.git', /scheme file/],
    ['/srv/git/acme/policies.git', /neither a URL/],
    ['https://github.com/acme/policies?ref=main', /query/],
    ['https://github.com/acme/po%20licies', /may only contain/],
    ['git@github.com:acme/..', /may only contain/],
    ['https://github.com/acme/..', /owner and a repository/],
  ])('GIVEN %j THEN it is refused as FST_FORGE_INVALID_CONFIG', (url, message) => {
    const err = (() => {
      try {
        parseRepoUrl(url);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).code).toBe('FST_FORGE_INVALID_CONFIG');
    expect((err as ForgeError).message).toMatch(message);
  });

  it('GIVEN a URL with credentials that fails to parse THEN the error does not repeat them', () => {
    expect(() => parseRepoUrl('https://user:hunter2@github.com/acme')).toThrow(/^(?!.*hunter2)/);
  });
});

describe('defaultApiUrl', () => {
  it.each([
    ['GitHub', 'https://github.com/acme/p.git', 'https://api.github.com'],
    ['GitHub', 'git@github.com:acme/p.git', 'https://api.github.com'],
    ['GitHub', 'https://ghe.corp.example/acme/p.git', 'https://ghe.corp.example/api/v3'],
    ['Gitea', 'http://127.0.0.1:3000/o/p.git', 'http://127.0.0.1:3000/api/v1'],
    ['Gitea', 'https://git.example.com/gitea/o/p.git', 'https://git.example.com/gitea/api/v1'],
    ['Gitea', 'ssh://git@git.example.com:2222/o/p.git', 'https://git.example.com/api/v1'],
  ] as const)('GIVEN %s at %s THEN the API is %s', (type, url, api) => {
    expect(defaultApiUrl(type, parseRepoUrl(url))).toBe(api);
  });

  it('GIVEN an apiUrl with credentials or a non-http scheme THEN it is refused', () => {
    expect(() => normaliseApiUrl('https://u:p@gitea.example/api/v1')).toThrow(
      /must not carry credentials/,
    );
    expect(() => normaliseApiUrl('file:///api')).toThrow(/must be http/);
    expect(normaliseApiUrl('https://gitea.example/api/v1/')).toBe('https://gitea.example/api/v1');
  });
});

describe('createForge', () => {
  it('GIVEN no forge type THEN github.com is GitHub and other hosts are Gitea', () => {
    expect(createForge({ url: 'https://github.com/acme/p' }, { token: 't' }).type).toBe('GitHub');
    expect(createForge({ url: 'https://git.example.com/acme/p' }, { token: 't' }).type).toBe(
      'Gitea',
    );
    const forge = createForge(
      {
        url: 'git@ghe.corp.example:acme/p.git',
        forge: { type: 'GitHub', apiUrl: 'https://ghe.corp.example/api/v3' },
      },
      { token: 't' },
    );
    expect([forge.type, forge.repository]).toEqual(['GitHub', 'acme/p']);
  });
});
