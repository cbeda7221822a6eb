/**
 * The outbound rules applied to a git remote before any git command runs. git reaches
 * its remote through its own binary (libcurl or ssh), not through this client, so the
 * best that can be done from here is to check the URL first:
 *
 * - https, and ssh (ssh://host/path or scp-like user@host:path): allowed, the host
 *   checked by the SSRF guard (every address it resolves to);
 * - plain http: only to loopback or to what the allow-list names (plainHttpPermitted);
 * - file://, local paths, `transport::address` helpers (ext::) and anything else:
 *   refused. Tests that open local bare repositories call GitRepository directly, not
 *   through the controller, and are not affected.
 *
 * For an http(s) remote the check returns the addresses it judged (GitRemotePin), which
 * the repository hands to git's libcurl as `http.curloptResolve`: git then connects to
 * exactly those, so a DNS answer that changes after the check (rebinding) is not used.
 *
 * Limits: an ssh remote is checked but not pinned (ssh resolves the name itself).
 * Redirects git's http transport follows are not checked (git's default follows only
 * the initial request; with a token Forestall turns them off). Through a forward proxy
 * the proxy resolves the name. NetworkPolicy egress rules for the controller cover
 * what remains.
 */
import { isIP } from 'node:net';
import { HttpError } from './errors.js';
import { checkTarget, plainHttpPermitted } from './ssrf.js';
import type { SsrfPolicy } from './ssrf.js';
import { redact } from '../redact.js';

/**
 * A git remote as a URL: an absolute URL as it is, or git's scp-like `[user@]host:path`
 * (host may be a bracketed IPv6 address) as `ssh://[user@]host/path`. Undefined for a
 * local path or anything URL parsing refuses. The one reader of remote hosts for the
 * SSRF check below, the Secret binding and the guardrails' infrastructure hosts.
 */
export function gitRemoteUrl(text: string): URL | undefined {
  const trimmed = text.trim();
  let candidate = trimmed;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const scp = /^([^@/:\s]+@)?(\[[^\]]+\]|[^/:\s]+):(?!\/\/)(.*)$/.exec(trimmed);
    if (scp === null) return undefined;
    candidate = `ssh://${scp[1] ?? ''}${scp[2]}/${scp[3]!.replace(/^\/+/, '')}`;
  }
  try {
    return new URL(candidate);
  } catch {
    return undefined;
  }
}

/** Where git must connect for an http(s) remote: the host and port, and the addresses checked. */
export interface GitRemotePin {
  host: string;
  port: number;
  addresses: readonly string[];
}

/**
 * Checks a git remote against the outbound rules (above); for an http(s) remote named by
 * a host name, returns the addresses to pin git's connections to.
 */
export async function checkGitRemote(
  url: string,
  policy: SsrfPolicy,
): Promise<GitRemotePin | undefined> {
  const refuse = (why: string): HttpError =>
    new HttpError('FST_HTTP_INVALID_REQUEST', `Git remote ${redact(url)}: ${why}`);
  if (/^[a-z][a-z0-9+.-]*::/i.test(url))
    throw refuse('remote helper syntax (transport::address) is not allowed');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh') {
    throw refuse(`the ${scheme}:// transport is not allowed; use https or ssh`);
  }
  // scp-like user@host:path counts as ssh; a bare path (or C:\path) is a local repository.
  const parsed = gitRemoteUrl(url);
  if (parsed === undefined)
    throw refuse(
      scheme === undefined
        ? 'a local path is not a remote the controller may use'
        : 'not a valid URL',
    );
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  // The SSRF guard on the host (resolved here; git resolves again itself).
  const target = await checkTarget(
    new URL(`https://${host.includes(':') ? `[${host}]` : host}/`),
    policy,
  );
  if (scheme === 'http' && !plainHttpPermitted(target.hostname, target.addresses, policy)) {
    throw new HttpError(
      'FST_HTTP_INSECURE',
      `Git remote ${redact(url)}: plain http to ${host}, which is neither loopback nor in the outbound allow-list; use https or ssh`,
    );
  }
  if ((scheme !== 'https' && scheme !== 'http') || isIP(host) !== 0) return undefined;
  return {
    host,
    port: parsed.port ? Number(parsed.port) : scheme === 'https' ? 443 : 80,
    addresses: target.addresses.map((a) => a.address),
  };
}
