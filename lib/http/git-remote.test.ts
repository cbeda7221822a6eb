import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import { checkGitRemote } from './git-remote.js';
import type { Resolver, SsrfPolicy } from './ssrf.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// No git runs here: the check is on the URL and on what its host resolves to.

const resolve: Resolver = async (host) => {
  const table: Record<string, string> = {
    'git.example.test': '93.184.216.34',
    'internal.example.test': '10.1.2.3',
    'gitea.test': '127.0.0.1',
  };
  const address = table[host];
  if (address === undefined) throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
  return [{ address, family: 4 }];
};

const policy: SsrfPolicy = { allow: ['127.0.0.1'], resolve };

async function refusal(url: string, p: SsrfPolicy = policy): Promise<HttpError> {
  return rejectionOf(checkGitRemote(url, p), HttpError);
}

describe('checkGitRemote: the controller path to a git remote', () => {
  it.each([
    [
      'https://git.example.test/o/r.git',
      { host: 'git.example.test', port: 443, addresses: ['93.184.216.34'] },
    ],
    ['ssh://git@git.example.test/o/r.git', undefined],
    ['git@git.example.test:o/r.git', undefined],
    ['http://127.0.0.1:3000/o/r.git', undefined],
    [
      'http://gitea.test:3000/o/r.git',
      { host: 'gitea.test', port: 3000, addresses: ['127.0.0.1'] },
    ],
  ])(
    'GIVEN %s THEN it is allowed, and an http(s) host name is pinned to the addresses checked (%j)',
    async (url, pin) => {
      await expect(checkGitRemote(url, policy)).resolves.toEqual(pin);
    },
  );

  it.each([
    ['file:///srv/git/r.git', 'file:// transport'],
    ['/srv/git/r.git', 'local path'],
    ['ext::sh -c touch% /tmp/pwned', 'remote helper'],
    ['ftp://git.example.test/r.git', 'ftp:// transport'],
  ])('GIVEN %s THEN FST_HTTP_INVALID_REQUEST (%s)', async (url, why) => {
    const err = await refusal(url);
    expect(err.code).toBe('FST_HTTP_INVALID_REQUEST');
    expect(err.message).toContain(why);
  });

  it('GIVEN plain http to a public host THEN FST_HTTP_INSECURE, unless the allow-list names it', async () => {
    expect((await refusal('http://git.example.test/o/r.git')).code).toBe('FST_HTTP_INSECURE');
    await expect(
      checkGitRemote('http://git.example.test/o/r.git', { allow: ['git.example.test'], resolve }),
    ).resolves.toEqual({ host: 'git.example.test', port: 80, addresses: ['93.184.216.34'] });
  });

  it.each([
    ['https://internal.example.test/o/r.git'],
    ['git@internal.example.test:o/r.git'],
    ['https://169.254.169.254/o/r.git'],
    ['ssh://git@[::ffff:169.254.169.254]/o/r.git'],
  ])('GIVEN %s, a private or metadata host THEN FST_HTTP_SSRF_BLOCKED', async (url) => {
    expect((await refusal(url)).code).toBe('FST_HTTP_SSRF_BLOCKED');
  });

  it('GIVEN user info in the URL THEN it never appears in the message', async () => {
    const err = await refusal('file://user:s3cret@host/r.git');
    expect(err.message).not.toContain('s3cret');
  });

  it('GIVEN a token as user info on a refused plain-http remote THEN the message keeps the host, not the token', async () => {
    const err = await refusal('http://ghp_t0kenValue123@git.example.test/o/r.git');
    expect(err.message).not.toContain('ghp_t0kenValue123');
    expect(err.message).toContain('git.example.test/o/r.git');
  });
});
