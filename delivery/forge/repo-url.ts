import { parseConfiguredUrl } from '../../lib/http/index.js';
import { ForgeError } from './errors.js';
import type { ForgeType, RepoRef } from './types.js';

/**
 * Owner and repository from spec.git.url. Accepts
 *   https://host[:port][/prefix]/owner/repo[.git][/]
 *   http://… (the same; for a local forge)
 *   ssh://[user@]host[:port][/prefix]/owner/repo[.git]
 *   [user@]host:owner/repo[.git]   (scp-like, as git clone takes it)
 * The last two path segments are owner and repository; anything before them is a prefix
 * (a forge served under a sub-path). User info in the URL is dropped, never returned.
 */
export function parseRepoUrl(url: string): RepoRef {
  const text = url.trim();
  const fail = (why: string): never => {
    throw new ForgeError(
      'FST_FORGE_INVALID_CONFIG',
      `spec.git.url ${JSON.stringify(stripUserInfo(text))}: ${why}`,
    );
  };
  if (text === '') fail('is empty');

  let protocol: RepoRef['protocol'];
  let host: string;
  let path: string;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'git+ssh' || name === 'ssh') protocol = 'ssh';
    else if (name === 'https' || name === 'http') protocol = name;
    else return fail(`scheme ${name} is not supported (use https, http or ssh)`);
    let parsed: URL;
    try {
      // WHATWG URL does not parse ssh:// hosts with ports reliably; parse as https.
      parsed = new URL(`https://${text.slice(scheme[0].length)}`);
    } catch {
      return fail('is not a valid URL');
    }
    host = parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
    path = decodeURIComponent(parsed.pathname);
    if (parsed.search || parsed.hash) fail('has a query or fragment');
  } else {
    // scp-like: [user@]host:path. A colon is required and the path must not start with '/'.
    const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(text);
    if (!scp)
      return fail('is neither a URL (https://, ssh://) nor scp-like (git@host:owner/repo.git)');
    protocol = 'ssh';
    host = scp[1]!;
    path = scp[2]!;
  }
  if (host === '') fail('has no host');

  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length < 2) fail('does not name an owner and a repository (…/owner/repo)');
  const owner = segments[segments.length - 2]!;
  const repo = segments[segments.length - 1]!.replace(/\.git$/, '');
  const valid = /^[A-Za-z0-9_.-]+$/;
  if (
    !valid.test(owner) ||
    !valid.test(repo) ||
    repo === '' ||
    owner === '.' ||
    owner === '..' ||
    repo === '.' ||
    repo === '..'
  ) {
    fail('owner and repository may only contain letters, digits, "-", "_" and "."');
  }
  return {
    host: host.toLowerCase(),
    owner,
    repo,
    protocol,
    prefix: segments.slice(0, -2).join('/'),
  };
}

function stripUserInfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]+@/i, '$1');
}

/**
 * The forge API base URL when spec.git.forge.apiUrl is not given:
 *   GitHub: api.github.com for github.com, else GitHub Enterprise's https://host/api/v3;
 *   Gitea:  https://host[/prefix]/api/v1 (an http repository URL keeps http).
 * For ssh URLs the web host is assumed to be the ssh host on https; set apiUrl when it is not.
 */
export function defaultApiUrl(type: ForgeType, ref: RepoRef): string {
  const scheme = ref.protocol === 'http' ? 'http' : 'https';
  // An ssh port is not the web port.
  const host = ref.protocol === 'ssh' ? ref.host.replace(/:\d+$/, '') : ref.host;
  const prefix = ref.prefix ? `/${ref.prefix}` : '';
  if (type === 'GitHub')
    return host === 'github.com' || host === 'www.github.com'
      ? 'https://api.github.com'
      : `${scheme}://${host}${prefix}/api/v3`;
  return `${scheme}://${host}${prefix}/api/v1`;
}

/** Checks an API URL from the spec and drops a trailing slash. */
export function normaliseApiUrl(apiUrl: string): string {
  const invalid = (message: string) => new ForgeError('FST_FORGE_INVALID_CONFIG', message);
  const parsed = parseConfiguredUrl(apiUrl, {
    notAbsolute: () =>
      invalid(`spec.git.forge.apiUrl ${JSON.stringify(stripUserInfo(apiUrl))} is not a valid URL`),
    scheme: (url) => invalid(`spec.git.forge.apiUrl must be http(s), not ${url.protocol}`),
    userInfo: () =>
      invalid('spec.git.forge.apiUrl must not carry credentials; use credentialsSecretRef'),
  });
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}
