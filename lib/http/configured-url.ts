/**
 * The check every configured endpoint passes before the outbound client sees it: an
 * absolute URL, http or https, and no user info (credentials in a URL end up in logs and
 * in the resource spec; they belong in the Secret the resource names). Each caller says
 * how a refusal reads in its own error codes.
 */
import { redactUrl } from '../redact.js';
import { HttpError } from './errors.js';

/** The errors a caller throws for each way a configured URL can be wrong. */
export interface ConfiguredUrlErrors {
  notAbsolute(): Error;
  /** The URL parsed, but its scheme is neither http nor https. */
  scheme(url: URL): Error;
  userInfo(url: URL): Error;
}

export function parseConfiguredUrl(raw: string, errors: ConfiguredUrlErrors): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw errors.notAbsolute();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw errors.scheme(url);
  if (url.username !== '' || url.password !== '') throw errors.userInfo(url);
  return url;
}

/** Parses a configured URL; only http(s), and no credentials in it. `what` names it in errors ("Feed URL"). */
export function parseHttpUrl(raw: string, what = 'URL'): URL {
  const invalid = (message: string, url?: URL) =>
    new HttpError('FST_HTTP_INVALID_REQUEST', message, url ? { url } : {});
  return parseConfiguredUrl(raw, {
    notAbsolute: () => invalid(`${what} ${redactUrl(raw)} is not a valid absolute URL`),
    scheme: (url) =>
      invalid(`${what} scheme ${url.protocol} is not supported; use http or https`, url),
    userInfo: (url) =>
      invalid(
        `${what} ${redactUrl(url)} carries credentials; put them in the referenced Secret instead`,
        url,
      ),
  });
}
