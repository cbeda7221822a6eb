/**
 * The URL params of the Okta and Entra providers (the org URL, the Graph base, the token
 * endpoint), checked where endpoint() reads them. The credentials sent to these URLs are
 * API tokens and client secrets, so plain http is refused except on a loopback host
 * (a test server on this machine); user info, a query or a fragment are refused too,
 * because they would be silently dropped or, worse, sent along with every call.
 */
import { ConnectorError } from '../core/errors.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface BaseUrlRules {
  /** Whether the URL may have a path ('https://graph.microsoft.com/v1.0'); false for an origin only ('https://acme.okta.com'). */
  path: boolean;
}

/**
 * `value` as an absolute URL without a trailing slash, or a terminal
 * FST_CONNECTOR_INVALID_REQUEST naming `param` and what is wrong.
 */
export function checkedBaseUrl(param: string, value: unknown, rules: BaseUrlRules): string {
  const refuse = (why: string) =>
    new ConnectorError('FST_CONNECTOR_INVALID_REQUEST', `params.${param} ${why}`);
  if (typeof value !== 'string' || value.trim() === '') throw refuse('is required');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw refuse(`is not an absolute URL: "${value}"`);
  }
  if (
    url.protocol !== 'https:' &&
    !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
  ) {
    throw refuse(
      `must be an https URL (plain http only to a loopback test server), not "${value}"`,
    );
  }
  if (url.username !== '' || url.password !== '')
    throw refuse('must not carry user info; credentials come from the Secret');
  if (url.search !== '' || url.hash !== '')
    throw refuse(`must have no query or fragment: "${value}"`);
  const path = url.pathname.replace(/\/+$/, '');
  if (!rules.path && path !== '')
    throw refuse(`must be the origin only (scheme and host), without the path "${url.pathname}"`);
  return `${url.origin}${path}`;
}
