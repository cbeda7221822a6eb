import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ExposurePolicy, ThreatFeed } from '../../crds/index.js';
import { ApiError, type KubeClient } from '../runtime/client.js';
import { FakeClock } from '../runtime/clock.js';
import { ANNOTATION_ALLOWED_DESTINATIONS, LABEL_CREDENTIAL } from '../runtime/secrets.js';
import { ClusterProtection } from './protection.js';

// ClusterProtection's guardrails protect the hosts the controller talks to. Hosts that
// no spec names — a notify target (its URL is in a Secret), an identity connector's
// default endpoints (Entra's Graph and login hosts when params.url is unset) — are
// where a credential Secret may be sent, so they come from the forestall.io/allowed-
// destinations annotation of each credential Secret the feeds and policies name. The
// KubeClient answers as the API server would: an empty cluster (no ranges, no DNS
// Service) and the Secrets of `secrets`; a Secret given as a number fails with that status.
const NS = 'forestall-system';
type SecretEntry = { meta: KubernetesObject['metadata'] } | number;

function kube(secrets: Map<string, SecretEntry>, reads: string[] = []): KubeClient {
  return {
    list: async () => ({ items: [] }),
    get: async (apiVersion: string, kind: string, name: string, namespace?: string) => {
      if (kind !== 'Secret') return undefined;
      reads.push(`${namespace}/${name}`);
      const entry = secrets.get(`${namespace}/${name}`);
      if (typeof entry === 'number') throw new ApiError(entry, '', `GET Secret ${name}`);
      return entry && { apiVersion, kind, metadata: { name, namespace, ...entry.meta } };
    },
  } as unknown as KubeClient;
}

const bound = (destinations: string): SecretEntry => ({
  meta: {
    labels: { [LABEL_CREDENTIAL]: 'true' },
    annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: destinations },
  },
});

const feed = (spec: Partial<ThreatFeed['spec']>) => ({ spec }) as ThreatFeed;
const policy = (spec: Partial<ExposurePolicy['spec']>) =>
  ({ spec: { feeds: {}, actions: [], ...spec } }) as unknown as ExposurePolicy;
const entraAction = {
  type: 'IdentitySuspend',
  connector: 'identity:entra',
  params: { tenant: 'contoso.onmicrosoft.com', credentialsSecretRef: 'entra' },
};
const notify = { type: 'Slack', urlSecretRef: { name: 'chat', key: 'url' } };

function protection(
  client: KubeClient,
  named: { feeds?: ThreatFeed[]; policies?: ExposurePolicy[] },
  opts: { clock?: FakeClock; policiesSynced?: boolean } = {},
) {
  return new ClusterProtection({
    client,
    clock: opts.clock ?? new FakeClock(),
    log: pino({ level: 'silent' }),
    feeds: { list: () => named.feeds ?? [] },
    policies: {
      list: () => named.policies ?? [],
      waitForSync: async () => {
        if (opts.policiesSynced === false) throw new Error('not synced');
      },
    },
    allow: undefined,
    proxy: undefined,
    settings: { namespace: NS },
  });
}

/** What the guardrails say of each name: its drop reason, or 'kept'. */
async function judged(p: ClusterProtection, names: string[]): Promise<Record<string, string>> {
  const guardrails = await p.guardrails();
  return Object.fromEntries(
    names.map((value) => [value, guardrails.check({ type: 'domain', value }) ?? 'kept']),
  );
}

describe('ClusterProtection: hosts that only credential Secrets name', () => {
  const names = [
    'graph.microsoft.com',
    'login.microsoftonline.com',
    'hooks.chat.example.net',
    'eu.hooks.chat.example.net',
    'feeds-mirror.example.net',
    'taxii-auth.example.org',
    'api.forge.example.com',
    'unrelated.example.com',
  ];
  const named = {
    feeds: [
      feed({
        source: { http: { url: 'https://feeds.example/x', headersSecretRef: { name: 'feed' } } },
      }),
      feed({
        source: {
          taxii: {
            apiRoot: 'https://taxii.example.org/api1/',
            collection: 'c',
            authSecretRef: { name: 'taxii', namespace: NS },
          },
        },
      }),
    ],
    policies: [
      policy({
        actions: [entraAction],
        notify: [notify],
        git: {
          url: 'https://git.example.com/acme/policy.git',
          credentialsSecretRef: { name: 'git' },
        },
      } as Partial<ExposurePolicy['spec']>),
    ],
  };

  it('GIVEN an Entra action without params.url, a notify target, and feed, TAXII and git credentials THEN every host their Secrets may be sent to is protected, children included; without the Secrets they were blockable', async () => {
    const secrets = new Map<string, SecretEntry>();
    expect(Object.values(await judged(protection(kube(secrets), named), names))).toEqual(
      names.map(() => 'kept'),
    );

    secrets.set(
      `${NS}/entra`,
      bound('graph.microsoft.com https://login.microsoftonline.com/contoso.onmicrosoft.com/'),
    );
    secrets.set(`${NS}/chat`, bound('https://hooks.chat.example.net/services/'));
    secrets.set(`${NS}/feed`, bound('feeds.example, feeds-mirror.example.net:8443'));
    secrets.set(`${NS}/taxii`, bound('https://taxii-auth.example.org/'));
    secrets.set(`${NS}/git`, bound('git.example.com api.forge.example.com'));
    expect(await judged(protection(kube(secrets), named), names)).toEqual({
      'graph.microsoft.com': 'infrastructure',
      'login.microsoftonline.com': 'infrastructure',
      'hooks.chat.example.net': 'infrastructure',
      'eu.hooks.chat.example.net': 'infrastructure',
      'feeds-mirror.example.net': 'infrastructure',
      'taxii-auth.example.org': 'infrastructure',
      'api.forge.example.com': 'infrastructure',
      'unrelated.example.com': 'kept',
    });
  });

  it('GIVEN Secrets that do not opt in, are missing, or may not be read (403) THEN they protect nothing and nothing fails', async () => {
    const secrets = new Map<string, SecretEntry>([
      [
        `${NS}/entra`,
        { meta: { annotations: { [ANNOTATION_ALLOWED_DESTINATIONS]: 'graph.microsoft.com' } } },
      ],
      [`${NS}/chat`, 403],
    ]);
    const p = protection(kube(secrets), { policies: named.policies });
    expect(await judged(p, ['graph.microsoft.com', 'hooks.chat.example.net'])).toEqual({
      'graph.microsoft.com': 'kept',
      'hooks.chat.example.net': 'kept',
    });
  });

  it('GIVEN a Secret that cannot be read THEN the guardrails fail closed until it has been read once, then keep its last-known hosts', async () => {
    const secrets = new Map<string, SecretEntry>([[`${NS}/chat`, 503]]);
    const reads: string[] = [];
    const clock = new FakeClock();
    const p = protection(
      kube(secrets, reads),
      { policies: [policy({ notify: [notify] } as Partial<ExposurePolicy['spec']>)] },
      { clock },
    );
    await expect(p.guardrailConfig()).rejects.toMatchObject({
      code: 'FST_FEED_CLUSTER_RANGES',
      message: expect.stringContaining(
        `Could not read the credential Secret ${NS}/chat (HTTP 503), so the guardrails cannot protect the hosts in their forestall.io/allowed-destinations annotation`,
      ),
    });

    secrets.set(`${NS}/chat`, bound('hooks.chat.example.net'));
    expect(await judged(p, ['hooks.chat.example.net'])).toEqual({
      'hooks.chat.example.net': 'infrastructure',
    });
    // Read once, then again only after the TTL (5 min); an error then keeps what was known.
    secrets.set(`${NS}/chat`, 500);
    reads.length = 0;
    await p.guardrailConfig();
    expect(reads).toEqual([]);
    clock.advance(300_001);
    expect(await judged(p, ['hooks.chat.example.net'])).toEqual({
      'hooks.chat.example.net': 'infrastructure',
    });
    expect(reads).toEqual([`${NS}/chat`]);

    // An edited annotation counts from the next read.
    secrets.set(`${NS}/chat`, bound('hooks.other.example.net'));
    clock.advance(300_001);
    expect(await judged(p, ['hooks.chat.example.net', 'hooks.other.example.net'])).toEqual({
      'hooks.chat.example.net': 'kept',
      'hooks.other.example.net': 'infrastructure',
    });
  });

  it('GIVEN the ExposurePolicies are not read yet THEN the guardrails fail closed: the hosts they name are unknown', async () => {
    const p = protection(kube(new Map()), {}, { policiesSynced: false });
    await expect(p.guardrailConfig()).rejects.toMatchObject({
      code: 'FST_FEED_CLUSTER_RANGES',
      message: expect.stringContaining('The ExposurePolicies are not read yet'),
    });
  });
});
