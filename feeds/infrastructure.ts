import type { ExposurePolicySpec, ThreatFeedSpec } from '../crds/generated/types.js';
import { gitRemoteUrl } from '../lib/http/index.js';

/**
 * The hosts the controller itself depends on, as named in the specs it acts on: every
 * ThreatFeed's source (http url, tls.serverName, TAXII api root) and every
 * ExposurePolicy's git url (https or ssh, scp-like "git@host:org/repo" too), forge
 * apiUrl and action `params.url` (the identity connectors' Okta, Keycloak, SCIM and Graph
 * URLs). The guardrails refuse to block them, their parents and their children
 * (feeds/guardrails.ts), so that no feed can cut the controller off from a feed, its
 * forge or its identity provider. Pure: the controller and `forestall plan` both call it.
 *
 * Limits: notify targets live in Secrets (webhook URLs are credentials) and are not
 * seen here, and neither is a connector's built-in default URL (Entra's Graph URL when
 * params.url is unset). Host names are lower-cased, without a trailing dot or brackets;
 * IP literals are returned as written in the URL (the guardrails protect them as ranges).
 */
export function infrastructureHosts(
  feeds: readonly { spec?: ThreatFeedSpec }[],
  policies: readonly { spec?: ExposurePolicySpec }[],
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
  return [...hosts].sort();
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
