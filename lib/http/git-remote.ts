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
 * Limit: git resolves the host again when it connects, so the connection is NOT pinned
 * to the addresses checked here; a DNS answer that changes between the check and the
 * connection (rebinding) is not caught. Redirects git's http transport follows are not
 * checked either (git's own http.followRedirects default follows only the initial
 * request). Prefer remotes by address-stable names, and NetworkPolicy egress rules for
 * the controller.
 */
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

export async function checkGitRemote(url: string, policy: SsrfPolicy): Promise<void> {
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
}
