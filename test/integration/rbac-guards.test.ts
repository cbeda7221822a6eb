import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreemptiveAction, ThreatFeed } from '../../crds/index.js';
import { ledgerConfigMapName } from '../../controller/connectors/identity-access.js';
import { KubeClient } from '../../controller/runtime/client.js';
import {
  ANNOTATION_ALLOWED_DESTINATIONS,
  LABEL_CREDENTIAL,
} from '../../controller/runtime/secrets.js';
import { ControlPlane } from '../harness/control-plane.js';
import { eventually } from '../harness/eventually.js';
import { installLoopbackFence, type LoopbackFence } from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { condition, configMap, namespace, preemptiveAction, secret } from '../harness/objects.js';
import { threatFeed } from '../harness/threat-feeds.js';

// The controller's own guards behind least privilege, on a real API server with the
// real controllers: a Secret goes only where it says it may (counted at a loopback
// server that must see nothing), a feed reads a ConfigMap of another namespace only
// when it opts in, an action no policy made (hand-written, or naming a policy that did
// not make it; an IdentityBlock too) passes the guardrails, and DNS block lists
// are written only in the DNS namespace.

const NS = 'forestall-system';
let cp: ControlPlane;
let client: KubeClient;
let mgr: Awaited<ReturnType<typeof startManager>>;
let fence: LoopbackFence;
let server: Server;
let port: number;
const requests: IncomingHttpHeaders[] = [];

const getFeed = (name: string) =>
  client.get<ThreatFeed>('forestall.io/v1alpha1', 'ThreatFeed', name);
const deleteFeed = (name: string) =>
  client.delete({ apiVersion: 'forestall.io/v1alpha1', kind: 'ThreatFeed', metadata: { name } });
/** The feed once its sync is refused (Degraded). */
const refusedFeed = (name: string) =>
  eventually(
    `feed ${name} refused`,
    async () => {
      const f = await getFeed(name);
      return condition(f, 'Degraded')?.status === 'True' && f;
    },
    20_000,
  );
const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);

async function feed(
  name: string,
  source: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  // A refused sync is looked at again at the refresh interval (capped backoff): 2s for
  // a ConfigMap; an http source may not refresh more often than every minute, so the
  // tests nudge it with a spec change instead of waiting.
  await client.apply(
    threatFeed(name, {
      format: 'lines',
      source,
      refreshInterval: 'configMapRef' in source ? '2s' : '1m',
      ...extra,
    }),
  );
}

async function secretMeta(
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string>,
): Promise<void> {
  await client.call('PATCH', `/api/v1/namespaces/${NS}/secrets/${name}`, {
    body: { metadata: { labels, annotations } },
    contentType: 'application/merge-patch+json',
  });
}

beforeAll(async () => {
  fence = installLoopbackFence();
  server = createServer((req, res) => {
    requests.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('185.220.101.7\n185.220.101.9\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  cp = await ControlPlane.start();
  client = new KubeClient(cp.kubeConfig());
  for (const name of [NS, 'payments', 'team-x']) await client.apply(namespace(name));
  // The Git token, as the README told people to create it before credentials were bound: no label.
  await client.apply(secret(NS, 'forestall-git', { token: 'ghp_gitTokenValue0123456789' }));
  mgr = await startManager(cp.kubeConfig(), {
    namespace: NS,
    fetchAllow: ['127.0.0.1'],
    feedTimeoutMs: 5000,
  });
}, 120_000);

afterAll(async () => {
  await mgr?.stop();
  await cp?.stop();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  expect(fence.violations).toEqual([]);
  fence?.uninstall();
});

describe('credentials bound to their use', () => {
  it('GIVEN a ThreatFeed sending the Git token Secret as headers to a host of its choosing THEN it is refused, naming the Secret and the host, and no request is made; binding the Secret to that host fixes it without a restart', async () => {
    const url = `http://127.0.0.1:${port}/feed.txt`;
    await feed('stolen-token', { http: { url, headersSecretRef: { name: 'forestall-git' } } });
    const refused = await refusedFeed('stolen-token');
    const ready = condition(refused, 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'FetchFailed' });
    expect(ready.message).toContain('FST_SECRET_NOT_ALLOWED');
    expect(ready.message).toContain(
      `Secret ${NS}/forestall-git (spec.source.http.headersSecretRef) may not be sent to 127.0.0.1:${port}`,
    );
    expect(ready.message).toContain(`label it ${LABEL_CREDENTIAL}=true`);
    expect(JSON.stringify(refused.status)).not.toContain('ghp_');

    // Opted in, but for the forge only: still refused, and it says which destinations it has.
    await secretMeta(
      'forestall-git',
      { [LABEL_CREDENTIAL]: 'true' },
      { [ANNOTATION_ALLOWED_DESTINATIONS]: 'https://git.example.org/' },
    );
    await feed(
      'stolen-token',
      { http: { url, headersSecretRef: { name: 'forestall-git' } } },
      { maxChangePercent: 51 },
    );
    await eventually(
      'refused for another host',
      async () =>
        condition(await getFeed('stolen-token'), 'Ready')?.message.includes('is not among its') ??
        false,
      20_000,
    );
    expect(requests).toEqual([]);

    // The administrator binds it to this host: the next look (refresh interval) uses it.
    await secretMeta(
      'forestall-git',
      {},
      { [ANNOTATION_ALLOWED_DESTINATIONS]: `https://git.example.org/, 127.0.0.1:${port}` },
    );
    await feed(
      'stolen-token',
      { http: { url, headersSecretRef: { name: 'forestall-git' } } },
      { maxChangePercent: 52 },
    );
    const synced = await eventually(
      'feed synced',
      async () => {
        const f = await getFeed('stolen-token');
        return f?.status?.indicatorCount === 2 && f;
      },
      20_000,
    );
    expect(condition(synced, 'Ready')).toMatchObject({ status: 'True' });
    expect(requests.length).toBeGreaterThan(0);
    expect(requests[0]!['token']).toBe('ghp_gitTokenValue0123456789');
    await deleteFeed('stolen-token');
  });
});

describe('ConfigMap feed sources', () => {
  it('GIVEN a configMapRef into another namespace THEN it is refused until that ConfigMap opts in as a feed source, and its content never reaches status', async () => {
    await client.apply(
      configMap('payments', 'app-config', { 'list.txt': 'DB_PASSWORD=hunter2\n185.220.101.7\n' }),
    );
    await feed('cm-elsewhere', {
      configMapRef: { name: 'app-config', namespace: 'payments', key: 'list.txt' },
    });
    const refused = await refusedFeed('cm-elsewhere');
    expect(condition(refused, 'Ready')!.message).toBe(
      `ConfigMap payments/app-config (spec.source.configMapRef) is outside ${NS} and does not opt in as a feed source; label it forestall.io/feed-source=true if it is meant to be one`,
    );
    expect(JSON.stringify(refused.status)).not.toContain('hunter2');

    await client.call('PATCH', '/api/v1/namespaces/payments/configmaps/app-config', {
      body: { metadata: { labels: { 'forestall.io/feed-source': 'true' } } },
      contentType: 'application/merge-patch+json',
    });
    await eventually(
      'feed synced',
      async () => (await getFeed('cm-elsewhere'))?.status?.indicatorCount === 1,
      20_000,
    );
    await deleteFeed('cm-elsewhere');
  });
});

describe('ConfigMap feed content in status', () => {
  it("GIVEN a feed ConfigMap overwritten with an app's settings THEN the sync is refused as garbage and status names the line, never its content", async () => {
    const settings = (env: string) => client.apply(configMap(NS, 'app-settings', { env }));
    await settings('185.220.101.7\n185.220.101.9\n');
    await feed('not-a-feed', { configMapRef: { name: 'app-settings', key: 'env' } });
    await eventually(
      'feed synced',
      async () => (await getFeed('not-a-feed'))?.status?.indicatorCount === 2,
      20_000,
    );
    await settings('API_KEY=sk_live_0123456789abcdef\nDEBUG=true\nLOG_LEVEL=1\n185.220.101.7\n');
    const refused = await refusedFeed('not-a-feed');
    expect(condition(refused, 'Degraded')!.message).toMatch(
      /3 of 4 records are malformed \(first: line 1: .*"…".*\); refusing it as garbage/,
    );
    expect(JSON.stringify(refused.status)).not.toMatch(/sk_live|API_KEY|DEBUG/);
    await deleteFeed('not-a-feed');
  });
});

describe('hand-written actions and the DNS namespace', () => {
  const action = (name: string, spec: Record<string, unknown>) =>
    client.apply(
      preemptiveAction(name, {
        approval: { required: false, reason: 'written by hand' },
        scope: { namespaces: ['team-x'] },
        ...spec,
      }),
    );
  const failed = (name: string) =>
    eventually(
      `${name} failed`,
      async () => {
        const a = await getAction(name);
        return a?.status?.phase === 'Failed' && a;
      },
      20_000,
    );
  /** The action once Failed, refused by the guardrails: the action and its Ready message. */
  const refused = async (name: string) => {
    const a = await failed(name);
    const ready = condition(a, 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'GuardrailRefused' });
    return { a, message: ready.message };
  };
  const labelled = async (apiVersion: string, kind: string, name: string) =>
    (await client.list(apiVersion, kind, { labelSelector: `forestall.io/action=${name}` })).items;

  // A policyRef is only a name: without its policy's controller ownerReference the
  // action is judged as written by hand, and the refusal says why.
  it.each([
    ['hand-written', 'manual-metadata', {}, ''],
    [
      'whose policyRef names no policy',
      'forged-policy-ref',
      { policyRef: { name: 'no-such-policy' } },
      ' (spec.policyRef: ExposurePolicy no-such-policy did not make this action, so it is judged as written by hand)',
    ],
  ])(
    'GIVEN an approved EgressDeny of the metadata address, %s THEN it fails naming the indicator and the guardrail, and nothing is applied',
    async (_, name, spec, why) => {
      await action(name, {
        type: 'EgressDeny',
        layer: 'network',
        connector: 'network:networkpolicy',
        indicators: { count: 2, values: ['169.254.169.254', '185.220.101.7'] },
        ...spec,
      });
      const { a, message } = await refused(name);
      expect(message).toMatch(
        /spec\.indicators: 1 of 2 indicators are refused by the guardrails that policy actions pass: 169\.254\.169\.254 \(\S+\); nothing is applied/,
      );
      expect(message.endsWith(`; nothing is applied${why}`)).toBe(true);
      expect(await labelled('networking.k8s.io/v1', 'NetworkPolicy', name)).toEqual([]);
      expect(a.status?.appliedObjects ?? []).toEqual([]);
    },
  );

  it('GIVEN an approved hand-written IdentityBlock of 10.0.0.0/8 THEN it fails GuardrailRefused before the identity provider is called', async () => {
    // Refused before the connector validates or sends anything: no provider, URL or
    // credentials are needed to show it, and the ledger ConfigMap is never written.
    await action('manual-identity-block', {
      type: 'IdentityBlock',
      layer: 'identity',
      connector: 'identity:okta',
      indicators: { count: 2, values: ['10.0.0.0/8', '185.220.101.7'] },
      params: { zone: 'forestall-blocked' },
    });
    const { a, message } = await refused('manual-identity-block');
    expect(message).toMatch(
      /^identity:okta: spec\.indicators: 1 of 2 indicators are refused .*10\.0\.0\.0\/8 \(\S+\); nothing is applied$/,
    );
    expect(a.status?.appliedObjects ?? []).toEqual([]);
    expect(
      await client.get('v1', 'ConfigMap', ledgerConfigMapName('manual-identity-block'), NS),
    ).toBeUndefined();
  });

  it('GIVEN an approved hand-written DNSBlock of the cluster domain and a public suffix THEN it fails naming both, and no block list is written', async () => {
    await action('manual-cluster-dns', {
      type: 'DNSBlock',
      layer: 'dns',
      connector: 'dns:coredns',
      indicators: { count: 3, values: ['svc.cluster.local', 'co.uk', 'evil-c2.xyz'] },
    });
    const { message } = await refused('manual-cluster-dns');
    expect(message).toMatch(
      /2 of 3 indicators are refused .*svc\.cluster\.local \(cluster\).*co\.uk \(public-suffix\)/,
    );
    expect(await labelled('v1', 'ConfigMap', 'manual-cluster-dns')).toEqual([]);
  });

  it('GIVEN DNSBlocks THEN one in kube-system is enforced, and one naming another namespace is refused before any ConfigMap is written', async () => {
    await action('dns-home', {
      type: 'DNSBlock',
      layer: 'dns',
      connector: 'dns:coredns',
      indicators: { count: 1, values: ['evil-c2.xyz'] },
    });
    await action('dns-away', {
      type: 'DNSBlock',
      layer: 'dns',
      connector: 'dns:coredns',
      indicators: { count: 1, values: ['evil-c2.xyz'] },
      params: { namespace: 'payments' },
    });
    await eventually(
      'dns-home enforced',
      async () => (await getAction('dns-home'))?.status?.phase === 'Enforced',
      20_000,
    );
    expect(
      (await labelled('v1', 'ConfigMap', 'dns-home')).map((c) => c.metadata?.namespace),
    ).toEqual(['kube-system']);
    const away = await failed('dns-away');
    expect(condition(away, 'Ready')!.message).toContain(
      'params.namespace: ConfigMap payments/forestall-dnsblock-dns-away is outside kube-system, the only namespace Forestall writes DNS block lists in',
    );
    expect(await labelled('v1', 'ConfigMap', 'dns-away')).toEqual([]);
  });
});
