import type { ExposurePolicySpec, ThreatFeedSpec } from '../crds/generated/types.js';
import { gitRemoteUrl } from '../lib/http/index.js';

/**
 * The hosts the controller itself depends on, as named in the specs it acts on: every
 * ThreatFeed's source (http url, tls.serverName, TAXII api root) and every
 * ExposurePolicy's git url (https or ssh, scp-like "git@host:org/repo" too), forge
 * apiUrl and action `params.url` (the identity connectors' Okta, Keycloak, SCIM and Graph
 * URLs), together with `also`: hosts the caller found elsewhere. The guardrails refuse to
 * block them, their parents and their children (feeds/guardrails.ts), so that no feed
 * can cut the controller off from a feed, its forge, its identity provider or where it
 * sends notifications. Pure: the controller and `forestall plan` both call it.
 *
 * Some hosts are in no spec: a notify target's URL lives in a Secret (webhook URLs are
 * credentials), and a connector's built-in default (Entra's Graph and login hosts when
 * params.url and params.tokenUrl are unset) lives in the connector. Each of those is
 * reached with a credential Secret that must list it in forestall.io/allowed-destinations,
 * so the controller passes the hosts of that annotation, for every Secret
 * credentialSecretRefs() names, as `also` (controller/threatfeed/protection.ts).
 * `forestall plan` reads no Secrets and protects only what the specs name. Host names
 * are lower-cased, without a trailing dot or brackets; IP literals are returned as
 * written in the URL (the guardrails protect them as ranges).
 */
export function infrastructureHosts(
  feeds: readonly { spec?: ThreatFeedSpec }[],
  policies: readonly { spec?: ExposurePolicySpec }[],
  also: readonly string[] = [],
): string[] {
  const hosts = new Set<string>();
  const add = (host: string | undefined) => {
    const h = host
      ?.trim()
      .toLowerCase()
      .replace(/\.$/, '')
      .replace(/^\[(.*)\]$/, '$1');
    if (h) hosts.add(h);
  };
  for (const { spec } of feeds) {
    add(urlHost(spec?.source?.http?.url));
    add(spec?.source?.http?.tls?.serverName);
    add(urlHost(spec?.source?.taxii?.apiRoot));
  }
  for (const { spec } of policies) {
    add(gitHost(spec?.git?.url));
    add(urlHost(spec?.git?.forge?.apiUrl));
    for (const action of spec?.actions ?? []) {
      const url = (action.params as Record<string, unknown> | undefined)?.['url'];
      if (typeof url === 'string') add(urlHost(url));
    }
  }
  for (const host of also) add(host);
  return [...hosts].sort();
}

/** A Secret named by a spec; without a namespace it is the controller's. */
export interface NamedSecret {
  name: string;
  namespace?: string;
}

/**
 * Every credential Secret the specs name, once each: a ThreatFeed's headersSecretRef
 * and TAXII authSecretRef, and an ExposurePolicy's git.credentialsSecretRef, notify
 * urlSecretRefs and identity actions' params.credentialsSecretRef (with
 * params.credentialsSecretNamespace). CA bundles (tls.caSecretRef) are not credentials:
 * they are sent nowhere.
 */
export function credentialSecretRefs(
  feeds: readonly { spec?: ThreatFeedSpec }[],
  policies: readonly { spec?: ExposurePolicySpec }[],
): NamedSecret[] {
  const refs = new Map<string, NamedSecret>();
  const add = (name: unknown, namespace?: unknown) => {
    if (typeof name !== 'string' || name === '') return;
    const ns = typeof namespace === 'string' && namespace !== '' ? namespace : undefined;
    refs.set(JSON.stringify([ns, name]), ns === undefined ? { name } : { name, namespace: ns });
  };
  for (const { spec } of feeds) {
    const { http, taxii } = spec?.source ?? {};
    add(http?.headersSecretRef?.name, http?.headersSecretRef?.namespace);
    add(taxii?.authSecretRef?.name, taxii?.authSecretRef?.namespace);
  }
  for (const { spec } of policies) {
    add(spec?.git?.credentialsSecretRef?.name, spec?.git?.credentialsSecretRef?.namespace);
    for (const target of spec?.notify ?? [])
      add(target.urlSecretRef?.name, target.urlSecretRef?.namespace);
    for (const action of spec?.actions ?? []) {
      const params = action.params as Record<string, unknown> | undefined;
      add(params?.['credentialsSecretRef'], params?.['credentialsSecretNamespace']);
    }
  }
  return [...refs.values()];
}

function urlHost(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    return new URL(text).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** The host of a git remote: a URL (https://, ssh://) or the scp-like form user@host:path. */
function gitHost(text: string | undefined): string | undefined {
  return text ? gitRemoteUrl(text)?.hostname || undefined : undefined;
}
