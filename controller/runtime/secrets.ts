import { gitRemoteUrl } from '../../lib/http/index.js';
import type { KubeClient } from './client.js';
import { ForestallError } from './errors.js';

/**
 * Credentials bound to their use. A ThreatFeed or ExposurePolicy author chooses both a
 * Secret (by name) and a URL, so without a bound they could send the Git token or the
 * Okta key to a host of their own. The Secret itself therefore says where it may go:
 *
 *   metadata.labels:      forestall.io/credential: "true"          (it opts in)
 *   metadata.annotations: forestall.io/allowed-destinations: "..."  (where it may be sent)
 *
 * The annotation lists entries separated by commas or white space. An entry is either
 *   - a host, `sso.example.com` or `sso.example.com:8443`: any URL on that host (and
 *     port, when one is given), whatever its path; or
 *   - a URL prefix, `https://sso.example.com/realms/corp/`: same scheme, host and port,
 *     and a path that starts with the prefix's path at a segment boundary
 *     (`/realms/corp` does not admit `/realms/corporate`).
 * URLs are compared after WHATWG parsing, so `..` and `%2e%2e` segments are resolved
 * before the prefix test, and host names compare without case. There are no wildcards:
 * a list of exact hosts is what an administrator can review.
 *
 * RBAC cannot select Secrets by label, so this check, not the Role, is what keeps a
 * feed from using an unrelated Secret of the release namespace. Everything that reads a
 * credential Secret for the controller goes through readCredential() below; only a CA
 * bundle (public data, never sent anywhere) is read without the opt-in (readCaBundle()).
 * The controller's own Secrets (the webhook secret file) are mounted files, not read here.
 */
export const LABEL_CREDENTIAL = 'forestall.io/credential';
export const ANNOTATION_ALLOWED_DESTINATIONS = 'forestall.io/allowed-destinations';

export interface SecretRef {
  name: string;
  namespace?: string;
  key?: string;
}

export interface SecretMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The result of checkSecretBinding: allowed, or refused with a message for a condition. */
export type Binding = { allowed: true } | { allowed: false; message: string };

/**
 * Whether a Secret (its labels and annotations) may be sent to `destination`, an
 * http(s), ssh or scp-style (`git@host:owner/repo`) URL. Pure. The message names the
 * Secret (`secret`, as namespace/name), the field that referenced it and the
 * destination's host, never its path or query: a notification URL is a credential itself.
 */
export function checkSecretBinding(
  meta: SecretMetadata,
  secret: string,
  field: string,
  destination: string,
): Binding {
  const target = parseDestination(destination);
  const where = target ? target.host : 'an unparsable URL';
  const refuse = (why: string): Binding => ({
    allowed: false,
    message: `Secret ${secret} (${field}) may not be sent to ${where}: ${why}`,
  });
  if (!target) return refuse('the destination is not an absolute http(s) or ssh URL');
  if (meta.labels?.[LABEL_CREDENTIAL] !== 'true') {
    return refuse(
      `it does not opt in; label it ${LABEL_CREDENTIAL}=true and list the hosts or URL prefixes it may be` +
        ` sent to in its annotation ${ANNOTATION_ALLOWED_DESTINATIONS}`,
    );
  }
  const entries = allowedDestinations(meta);
  if (entries.length === 0) {
    return refuse(
      `its annotation ${ANNOTATION_ALLOWED_DESTINATIONS} is missing or empty; list the hosts or URL prefixes` +
        ' it may be sent to',
    );
  }
  if (entries.some((entry) => admits(parseEntry(entry), target))) return { allowed: true };
  const shown =
    entries.slice(0, 8).join(', ') + (entries.length > 8 ? `, and ${entries.length - 8} more` : '');
  return refuse(
    `${target.host} is not among its ${ANNOTATION_ALLOWED_DESTINATIONS} (${shown.slice(0, 512)})`,
  );
}

/** The entries of the annotation, as written (trimmed, empty ones dropped). */
export function allowedDestinations(meta: SecretMetadata): string[] {
  return (meta.annotations?.[ANNOTATION_ALLOWED_DESTINATIONS] ?? '')
    .split(/[\s,]+/)
    .filter(Boolean);
}

/**
 * The hosts a credential Secret may be sent to: the host name of each entry of its
 * annotation that admits anything, as WHATWG URL parsing spells it (lower case; an IPv6
 * address in brackets), without ports; none when the Secret does not opt in, since it
 * is then sent nowhere. Every host Forestall sends a credential to is among these (the
 * binding admits no other), so the guardrails protect them from DNS blocks
 * (controller/threatfeed/protection.ts). The annotation is not secret.
 */
export function allowedDestinationHosts(meta: SecretMetadata): string[] {
  if (meta.labels?.[LABEL_CREDENTIAL] !== 'true') return [];
  const hosts = allowedDestinations(meta).map((entry) => parseEntry(entry)?.url.hostname);
  return [...new Set(hosts.filter((h): h is string => h !== undefined))];
}

interface Destination {
  protocol: string;
  hostname: string;
  /** host[:port] as the URL spelled it, lower case; the port only when not the default. */
  host: string;
  port: string;
  pathname: string;
}

/** An absolute URL, or git's scp-like `user@host:path`, parsed the WHATWG way; undefined when neither. */
function parseDestination(text: string): Destination | undefined {
  const url = gitRemoteUrl(text);
  if (
    url === undefined ||
    !['https:', 'http:', 'ssh:'].includes(url.protocol) ||
    url.hostname === ''
  )
    return undefined;
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    host: url.host,
    port: url.port,
    pathname: url.pathname,
  };
}

/**
 * An annotation entry: a URL prefix (it has a scheme), or a bare host with or without a
 * port, parsed through URL so that IPv6 brackets and case normalise. Undefined for an
 * entry that admits nothing (a bare host with a path or user info, an unparsable URL).
 */
type Entry =
  { kind: 'prefix'; url: Destination } | { kind: 'host'; url: Destination; port: boolean };

function parseEntry(entry: string): Entry | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
    const url = parseDestination(entry);
    return url && { kind: 'prefix', url };
  }
  if (entry.includes('/') || entry.includes('@')) return undefined;
  const url = parseDestination(`https://${entry}/`);
  return url && { kind: 'host', url, port: /:\d+$/.test(entry) };
}

function admits(entry: Entry | undefined, target: Destination): boolean {
  if (!entry) return false;
  const { url } = entry;
  if (entry.kind === 'prefix') {
    if (url.protocol !== target.protocol || url.host !== target.host) return false;
    const path = url.pathname;
    if (path === '/' || target.pathname === path) return true;
    return target.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
  }
  if (url.hostname !== target.hostname) return false;
  return !entry.port || url.port === target.port;
}

export interface CredentialOptions {
  /** Where a ref without a namespace is looked up: the controller's namespace. */
  defaultNamespace: string;
  /** The spec field that named the Secret, for messages. */
  field: string;
  /**
   * Every URL the Secret's values will be sent to, or a function that derives them from
   * the Secret's data (a notification URL stored in the Secret itself). All must pass.
   */
  destinations: readonly string[] | ((data: Readonly<Record<string, string>>) => readonly string[]);
}

/**
 * Reads a credential Secret and checks that it may be sent to every destination. A
 * missing Secret is undefined (each caller names it under its own code); a Secret that
 * does not admit a destination is FST_SECRET_NOT_ALLOWED, terminal, naming the Secret
 * and the host. Values are decoded and trimmed and never appear in messages.
 */
export async function readCredential(
  client: KubeClient,
  ref: SecretRef,
  opts: CredentialOptions,
): Promise<Record<string, string> | undefined> {
  const namespace = ref.namespace ?? opts.defaultNamespace;
  const secret = await getSecret(client, ref.name, namespace);
  if (!secret) return undefined;
  const destinations =
    typeof opts.destinations === 'function' ? opts.destinations(secret.data) : opts.destinations;
  for (const destination of destinations) {
    const binding = checkSecretBinding(
      secret.metadata,
      `${namespace}/${ref.name}`,
      opts.field,
      destination,
    );
    if (!binding.allowed) throw new ForestallError('FST_SECRET_NOT_ALLOWED', binding.message);
  }
  return secret.data;
}

/**
 * readCredential for one required key (ref.key, else `defaultKey`) and optional others.
 * A missing Secret or key is FST_KUBE_NOT_FOUND naming the Secret and the field.
 */
export async function readSecret(
  client: KubeClient,
  ref: SecretRef,
  opts: CredentialOptions & { defaultKey: string },
): Promise<{ value: string; optional: (key: string) => string | undefined }> {
  const namespace = ref.namespace ?? opts.defaultNamespace;
  const key = ref.key ?? opts.defaultKey;
  const data = await readCredential(client, ref, opts);
  const value = data?.[key];
  if (!value) {
    throw new ForestallError(
      'FST_KUBE_NOT_FOUND',
      data
        ? `Secret ${namespace}/${ref.name} (${opts.field}) has no key ${key}`
        : `Secret ${namespace}/${ref.name} (${opts.field}) does not exist`,
    );
  }
  return { value, optional: (name) => data[name] || undefined };
}

/**
 * One key of a Secret that holds a CA bundle (tls.caSecretRef). A CA certificate is
 * public and is never sent anywhere (it only decides which servers are trusted), so it
 * needs no opt-in. undefined when the Secret or key does not exist.
 */
export async function readCaBundle(
  client: KubeClient,
  ref: SecretRef,
  defaultNamespace: string,
  defaultKey: string,
): Promise<string | undefined> {
  const secret = await getSecret(client, ref.name, ref.namespace ?? defaultNamespace);
  return secret?.data[ref.key ?? defaultKey] || undefined;
}

async function getSecret(
  client: KubeClient,
  name: string,
  namespace: string,
): Promise<{ data: Record<string, string>; metadata: SecretMetadata } | undefined> {
  const secret = await client.get<{ data?: Record<string, string>; metadata?: SecretMetadata }>(
    'v1',
    'Secret',
    name,
    namespace,
  );
  if (!secret) return undefined;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {}))
    data[key] = Buffer.from(value, 'base64').toString('utf8').trim();
  return { data, metadata: secret.metadata ?? {} };
}
