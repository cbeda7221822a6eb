/**
 * The one redaction (STYLE.md 4 and 10): what an error message, a log line, a condition
 * or an Event may show of a text that could hold a credential. Every error built on
 * lib/errors.ts runs its message through `redact` when it is built, with the secrets the
 * caller knows (a token, a client secret, a webhook URL), so no caller has to remember
 * it. Seven copies of this used to exist, each a little weaker than the union below.
 *
 * Contract and limits: the known secrets go first (longest first, so a header or a URL
 * that contains a token is removed whole; shorter than 4 characters is ignored, or
 * "a" would vanish from every message), then anything shaped like a credential:
 * - an Authorization scheme and its value (`Bearer …`, `Basic …`, Okta's `SSWS …`),
 *   and `token …` when the value is long enough to be one (16+, so "token expired"
 *   stays readable);
 * - user info in a URL: `user:password@` in any scheme, and any user info over
 *   http(s), where a bare `token@` is a credential (`ssh://git@host` keeps its user);
 * - `key: value` / `key=value` pairs whose key names a secret (JSON, forms, queries);
 *   not a path segment such as `/oauth/token: POST`.
 * A secret the caller does not pass and that has none of these shapes is not found:
 * pass it.
 */

export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not removed: they would eat ordinary words. */
const MIN_SECRET_LENGTH = 4;

// Values already redacted (ours, or lib/http redactUrl's bare REDACTED) are left alone.
const NOT_REDACTED = String.raw`(?!\[?REDACTED\b)`;
const SECRET_KEYS =
  'authorization|token|access[_-]?token|refresh[_-]?token|password|passwd|secret|api[_-]?key|client[_-]?secret';

const PATTERNS: readonly [RegExp, string][] = [
  [
    new RegExp(String.raw`\b(Bearer|Basic|SSWS)\s+${NOT_REDACTED}[A-Za-z0-9._~+/=-]+`, 'gi'),
    `$1 ${REDACTED}`,
  ],
  [
    new RegExp(String.raw`\b(token)\s+${NOT_REDACTED}[A-Za-z0-9._~+/=-]{16,}`, 'gi'),
    `$1 ${REDACTED}`,
  ],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+:[^/@\s]+@/gi, `$1${REDACTED}@`],
  [/(\bhttps?:\/\/)[^/@\s]+@/gi, `$1${REDACTED}@`],
  [
    new RegExp(
      String.raw`(?<!/)\b(${SECRET_KEYS})(["']?\s*[:=]\s*["']?)${NOT_REDACTED}(?!Bearer |Basic |SSWS )[^\s"',}&]+`,
      'gi',
    ),
    `$1$2${REDACTED}`,
  ],
];

/** `text` without the given secrets and without anything shaped like a credential. */
export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  const known = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH);
  for (const secret of known.sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return PATTERNS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), out);
}

export interface RedactUrlOptions {
  /**
   * Keep the path (default true). Webhook services keep their secret in the path (a
   * Slack incoming-webhook URL is its own credential): pass false to show the target
   * as scheme://host/… only.
   */
  path?: boolean;
}

/**
 * The URL as it may appear in a message or a log: no user info, no fragment, every
 * query value replaced (APIs take keys as `?key=…`; the names stay so a reader can tell
 * which URL it was), and with `path: false` no path or query at all. Input that is not
 * a URL gives a placeholder, never the input: it may be a credential with a typo in it.
 */
export function redactUrl(input: string | URL, options: RedactUrlOptions = {}): string {
  let url: URL;
  try {
    url = new URL(input.toString());
  } catch {
    return '(invalid URL)';
  }
  if (options.path === false) return `${url.protocol}//${url.host}/…`;
  url.username = '';
  url.password = '';
  url.hash = '';
  if (url.search !== '') {
    const names = [...url.searchParams.keys()];
    url.search = names.map((name) => `${encodeURIComponent(name)}=REDACTED`).join('&');
  }
  return url.toString();
}

/**
 * The strings of a URL whose path is a credential (a webhook URL) that must not appear
 * in any text: the URL as given and as normalised, its path and query, and path segments
 * and query values long enough to be tokens (Slack's is 24 characters). Shorter ones go
 * only as part of the path: a segment like "services" must not vanish from every message.
 */
export function urlSecrets(raw: string): string[] {
  const secrets = [raw];
  try {
    const url = new URL(raw);
    secrets.push(url.href);
    if (url.pathname.length > 1) secrets.push(url.pathname);
    if (url.search.length > 1) secrets.push(url.search, url.search.slice(1));
    for (const segment of url.pathname.split('/'))
      if (segment.length >= 16) secrets.push(segment, decodeURIComponentSafe(segment));
    for (const value of url.searchParams.values()) if (value.length >= 8) secrets.push(value);
  } catch {
    // not a URL: the raw string is all there is to remove
  }
  return secrets;
}

/**
 * A secret as it may appear in text besides verbatim: percent-encoded, and form-encoded
 * (a client secret in a token request body).
 */
export function secretForms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ];
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
