/**
 * Issue 16: an HTTPS proxy and an extra CA bundle, honoured by every outbound client.
 *
 * Everything here is real: proxy.py (PyPI, test/proxy/setup.sh) as the forward proxy,
 * with Basic proxy authentication; the feed server of the feed-source tests and an
 * HTTPS server whose certificate comes from a private CA as the targets; and, in the
 * second half, the `forestall controller` process as the container runs it, against a
 * real API server. What went through the proxy is read from the proxy's own access log,
 * so "it bypassed the proxy" and "nothing reached the proxy" are observed, not assumed.
 *
 * The loopback fence keeps this process from connecting anywhere but 127.0.0.1; what
 * the SSRF cases prove beyond that is that the proxy was never asked either.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inspect } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_SYSTEM_CA_FILE,
  GitRepository,
  writeGitCaBundle,
} from '../../delivery/git/index.js';
import { fetchHttp } from '../../feeds/sources/index.js';
import type { FeedError, HttpFetchOptions, SsrfPolicy } from '../../feeds/sources/index.js';
import { createOutboundFetch, HttpError, proxySettingsFromEnv } from '../../lib/http/index.js';
import type { ProxyEnvironment } from '../../lib/http/index.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { ControllerProcess } from '../harness/controller-process.js';
import { eventually } from '../harness/eventually.js';
import {
  IPSUM_PATH,
  TLS_SERVER_NAME,
  installLoopbackFence,
  startFeedServer,
} from '../harness/feed-server.js';
import type { FeedServer, LoopbackFence } from '../harness/feed-server.js';
import { startForwardProxy } from '../harness/forward-proxy.js';
import type { ForwardProxy, ProxyAccess } from '../harness/forward-proxy.js';
import { condition as cond } from '../harness/objects.js';
import { startPrivateCaServer } from '../harness/private-ca.js';
import type { PrivateCaServer } from '../harness/private-ca.js';
import { startFeedCluster, threatFeedApi } from '../harness/threat-feeds.js';

const PROXY_USER = 'fst-proxy';
/** The proxy's password: no error, status, event or log line may ever show it. */
const PROXY_PASSWORD = 'fst-proxy-pw-5e0b93c1d7';
const WRONG_PASSWORD = 'fst-wrong-pw-2a7c41e8b6';
const basic = (password: string): string =>
  Buffer.from(`${PROXY_USER}:${password}`).toString('base64');
const MIB = 1024 * 1024;
/** https, so that the redirect is judged by the guard (a downgrade to http is refused before). */
const METADATA = 'https://169.254.169.254/latest/meta-data/iam/security-credentials/';

let proxy: ForwardProxy;
let tlsFeeds: FeedServer;
let plainFeeds: FeedServer;
let internal: PrivateCaServer;
let fence: LoopbackFence;

beforeAll(async () => {
  proxy = await startForwardProxy({ basicAuth: { user: PROXY_USER, password: PROXY_PASSWORD } });
  tlsFeeds = await startFeedServer({ tls: true });
  plainFeeds = await startFeedServer();
  internal = await startPrivateCaServer({
    '/v1/ping': { type: 'application/json', body: '{"ok":true}' },
    '/feed.txt': { type: 'text/plain', body: '77.90.185.20\n' },
    '/other-feed.txt': { type: 'text/plain', body: '45.148.10.240\n' },
  });
  fence = installLoopbackFence();
});

afterAll(async () => {
  fence?.uninstall();
  await Promise.all([proxy?.stop(), tlsFeeds?.close(), plainFeeds?.close(), internal?.close()]);
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(`--- proxy.py ---\n${proxy.logTail(40)}`);
  expect(fence.violations, 'connections the loopback fence had to stop').toEqual([]);
});

/** The outbound policy with the proxy the given variables describe; only 127.0.0.1 allowed. */
function policy(env: ProxyEnvironment, extra: Partial<SsrfPolicy> = {}): SsrfPolicy {
  return { allow: ['127.0.0.1/32'], proxy: proxySettingsFromEnv(env), ...extra };
}

/** The proxy's URL with the right credentials, as an operator writes it. */
const authenticated = (): string => proxy.urlWithCredentials;

function feedOptions(url: string, extra: Partial<HttpFetchOptions>): HttpFetchOptions {
  return {
    url,
    maxBytes: 16 * MIB,
    timeoutMs: 20_000,
    ssrf: { allow: ['127.0.0.1/32'] },
    ...extra,
  };
}

async function body(opts: HttpFetchOptions): Promise<Buffer> {
  const result = await fetchHttp(opts);
  if (result.status !== 'ok') throw new Error(`expected a body, got ${result.status}`);
  const parts: Uint8Array[] = [];
  for await (const chunk of result.body) parts.push(chunk);
  return Buffer.concat(parts);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    const result = await promise;
    if (result !== null && typeof result === 'object' && 'body' in result) {
      for await (const _ of (result as { body: AsyncIterable<unknown> }).body) {
        // drain: a failure may come mid-body
      }
    }
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure, got a result');
}

/** Waits until the proxy's log shows a finished connection matching `match`. */
function proxied(what: string, match: (a: ProxyAccess) => boolean): Promise<ProxyAccess> {
  return eventually(`the proxy to log ${what}`, () => proxy.accesses().find(match), 10_000, 50);
}

/** Every text an error can surface through: message, stack, cause, inspect, JSON. */
function everything(err: unknown): string {
  return `${inspect(err, { depth: 5 })}\n${JSON.stringify(err)}\n${String((err as Error).stack)}`;
}

describe('issue 16: every outbound client goes through the operator’s forward proxy', () => {
  it('GIVEN HTTPS_PROXY with credentials WHEN an https feed is fetched THEN it goes through a CONNECT tunnel with our TLS on top', async () => {
    const feed = await body(
      feedOptions(`${tlsFeeds.url}/feeds/${IPSUM_PATH}`, {
        serverName: TLS_SERVER_NAME,
        caPem: tlsFeeds.caPem ?? '',
        ssrf: policy({ HTTPS_PROXY: authenticated() }),
      }),
    );
    expect(feed.toString('utf8')).toContain('# IPsum Threat Intelligence Feed');
    const access = await proxied(
      `CONNECT 127.0.0.1:${tlsFeeds.port}`,
      (a) => a.method === 'CONNECT' && a.target === `127.0.0.1:${tlsFeeds.port}`,
    );
    expect(access.line).toMatch(/\d+ bytes/);
    // Inside the tunnel the feed server sees our request, never the proxy's credentials.
    const seen = tlsFeeds.requestsTo(`/feeds/${IPSUM_PATH}`).at(-1);
    expect(seen?.headers['proxy-authorization']).toBeUndefined();
  });

  it('GIVEN the fetch-compatible client (forges, identity providers, notifications) WHEN it calls an https API THEN it takes the same tunnel', async () => {
    const fetch = createOutboundFetch({
      ssrf: () => policy({ https_proxy: authenticated() }),
      caPem: internal.caPem,
    });
    const response = await fetch(`${internal.url}/v1/ping`, { method: 'GET' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    await proxied(
      `CONNECT 127.0.0.1:${internal.port}`,
      (a) => a.method === 'CONNECT' && a.target === `127.0.0.1:${internal.port}`,
    );
  });

  it('GIVEN HTTP_PROXY and an allow-listed plain-http target WHEN fetched THEN the proxy gets an absolute-form request', async () => {
    const before = plainFeeds.requests.length;
    const feed = await body(
      feedOptions(`${plainFeeds.url}/feeds/${IPSUM_PATH}`, {
        ssrf: policy({ HTTP_PROXY: authenticated(), HTTPS_PROXY: authenticated() }),
      }),
    );
    expect(feed.toString('utf8')).toContain('# IPsum Threat Intelligence Feed');
    await proxied(
      `GET 127.0.0.1:${plainFeeds.port}/feeds/…`,
      (a) => a.method === 'GET' && a.target === `127.0.0.1:${plainFeeds.port}/feeds/${IPSUM_PATH}`,
    );
    expect(plainFeeds.requests.length).toBe(before + 1);
    expect(plainFeeds.requests.at(-1)?.headers.host).toBe(`127.0.0.1:${plainFeeds.port}`);
  });

  it('GIVEN NO_PROXY naming the target (host and port) WHEN fetched THEN it goes directly and the proxy never sees it', async () => {
    const bypassed = `127.0.0.1:${tlsFeeds.port}`;
    const count = (): number => proxy.accesses().filter((a) => a.target === bypassed).length;
    const before = count();
    const env = { HTTPS_PROXY: authenticated(), NO_PROXY: `.svc,localhost,${bypassed}` };
    const feed = await body(
      feedOptions(`${tlsFeeds.url}/feeds/${IPSUM_PATH}`, {
        serverName: TLS_SERVER_NAME,
        caPem: tlsFeeds.caPem ?? '',
        ssrf: policy(env),
      }),
    );
    expect(feed.length).toBeGreaterThan(0);
    // A request that is proxied, made after it: once its line is in the log, a line for
    // the bypassed one would be too (the proxy logs each connection as it ends).
    const marker = `127.0.0.1:${internal.port}`;
    const markers = (): number => proxy.accesses().filter((a) => a.target === marker).length;
    const markersBefore = markers();
    const fetch = createOutboundFetch({ ssrf: () => policy(env), caPem: internal.caPem });
    expect((await fetch(`${internal.url}/v1/ping`)).status).toBe(200);
    await eventually('the proxied request after it to be logged', () => markers() > markersBefore);
    expect(count()).toBe(before);
  });

  it('GIVEN the wrong proxy password WHEN fetching THEN the error names the proxy and 407, and neither password nor header value appears anywhere in it', async () => {
    const wrong = proxy.urlWithCredentials.replace(PROXY_PASSWORD, WRONG_PASSWORD);
    const feedErr = (await failure(
      fetchHttp(
        feedOptions(`${tlsFeeds.url}/feeds/${IPSUM_PATH}`, {
          serverName: TLS_SERVER_NAME,
          caPem: tlsFeeds.caPem ?? '',
          ssrf: policy({ HTTPS_PROXY: wrong }),
        }),
      ),
    )) as FeedError;
    expect(feedErr.code).toBe('FST_FEED_NETWORK');
    expect(feedErr.errorClass).toBe('terminal');
    expect(feedErr.message).toMatch(
      new RegExp(
        `proxy 127\\.0\\.0\\.1:${proxy.port} refused the tunnel to 127\\.0\\.0\\.1:${tlsFeeds.port}.*HTTP 407.*did not accept the credentials`,
      ),
    );
    const apiErr = await failure(
      createOutboundFetch({ ssrf: () => policy({ HTTPS_PROXY: wrong }), caPem: internal.caPem })(
        `${internal.url}/v1/ping`,
      ),
    );
    expect(apiErr).toBeInstanceOf(HttpError);
    expect((apiErr as HttpError).code).toBe('FST_HTTP_NETWORK');
    const noCredentials = proxy.urlWithCredentials.replace(`${PROXY_USER}:${PROXY_PASSWORD}@`, '');
    const none = await failure(
      fetchHttp(
        feedOptions(`${tlsFeeds.url}/feeds/${IPSUM_PATH}`, {
          serverName: TLS_SERVER_NAME,
          caPem: tlsFeeds.caPem ?? '',
          ssrf: policy({ HTTPS_PROXY: noCredentials }),
        }),
      ),
    );
    expect(none.message).toMatch(/HTTP 407.*put them in the proxy URL/);
    for (const err of [feedErr, apiErr, none]) {
      const text = everything(err);
      for (const secret of [
        PROXY_PASSWORD,
        WRONG_PASSWORD,
        basic(PROXY_PASSWORD),
        basic(WRONG_PASSWORD),
      ])
        expect(text).not.toContain(secret);
    }
  });

  it('GIVEN a proxy WHEN the target is forbidden (a loopback address not allowed, a name resolving to metadata, a redirect to metadata) THEN the guard refuses it before the proxy is asked', async () => {
    const settings = { HTTPS_PROXY: authenticated(), HTTP_PROXY: authenticated() };
    const loopback = await failure(
      fetchHttp(
        feedOptions(`https://127.0.0.2:${tlsFeeds.port}/feeds/x`, { ssrf: policy(settings) }),
      ),
    );
    expect((loopback as FeedError).code).toBe('FST_FEED_SSRF_BLOCKED');
    const metadata = await failure(
      fetchHttp(
        feedOptions('https://metadata.test/latest/meta-data/', {
          ssrf: policy(settings, {
            resolve: async (host) =>
              host === 'metadata.test' ? [{ address: '169.254.169.254', family: 4 }] : [],
          }),
        }),
      ),
    );
    expect((metadata as FeedError).code).toBe('FST_FEED_SSRF_BLOCKED');
    expect(metadata.message).toContain('cloud metadata');
    // The first hop is allowed and goes through the proxy; the redirect it answers is judged
    // like any hop, and refused.
    const redirected = await failure(
      fetchHttp(
        feedOptions(`${tlsFeeds.url}/redirect/to?location=${encodeURIComponent(METADATA)}`, {
          serverName: TLS_SERVER_NAME,
          caPem: tlsFeeds.caPem ?? '',
          ssrf: policy(settings),
        }),
      ),
    );
    expect((redirected as FeedError).code).toBe('FST_FEED_SSRF_BLOCKED');
    expect(redirected.message).toMatch(/^Redirect from/);
    // The redirect's hop made a CONNECT line; after it, nothing for the forbidden targets.
    await proxied(
      'the first hop of the redirect',
      (a) => a.target === `127.0.0.1:${tlsFeeds.port}`,
    );
    const targets = proxy.accesses().map((a) => a.target);
    for (const forbidden of ['127.0.0.2', 'metadata.test', '169.254.169.254'])
      expect(targets.filter((t) => t.includes(forbidden))).toEqual([]);
  });
});

describe('issue 16: the controller process with the chart’s environment (proxy and extra CA bundle)', () => {
  const NS = 'forestall-system';
  let cp: ControlPlane;
  let kc: KubeConfig;
  let kubeconfig: string;
  const procs: ControllerProcess[] = [];

  beforeAll(async () => {
    ({ cp, kc } = await startFeedCluster(NS));
    kubeconfig = join(cp.dir, 'admin-outbound.kubeconfig');
    writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      for (const p of procs) console.error(`--- ${p.identity} ---\n${p.tail(30)}`);
  });

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await cp?.stop();
  });

  /** A controller whose environment is this one's minus any proxy or CA setting, plus `env`. */
  async function controller(identity: string, env: Record<string, string>) {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    const base = { ...process.env };
    for (const key of Object.keys(base))
      if (/^(https?_proxy|no_proxy|node_extra_ca_certs)$/i.test(key)) delete base[key];
    const p = new ControllerProcess(
      identity,
      kubeconfig,
      ['--outbound-allow', '127.0.0.1', '--leader-elect=false'],
      { ...base, ...env },
    );
    procs.push(p);
    await eventually(`${identity} to start`, () => p.logged('Starting controller'), 30_000);
    return p;
  }

  const feeds = () => threatFeedApi(kc);

  it('GIVEN a feed behind a private CA WHEN the controller lacks the bundle THEN the sync fails on TLS; WITH NODE_EXTRA_CA_CERTS (and the proxy) THEN it syncs', async () => {
    await controller('no-bundle', {});
    await feeds().create('internal', {
      format: 'lines',
      source: { http: { url: `${internal.url}/feed.txt` } },
    });
    const failed = await feeds().until(
      'internal',
      'internal Degraded on TLS',
      (f) => cond(f, 'Degraded')?.status === 'True',
      30_000,
    );
    expect(cond(failed, 'Degraded')!.message).toMatch(
      new RegExp(`TLS verification of 127\\.0\\.0\\.1:${internal.port} failed`),
    );

    const withBundle = await controller('with-bundle', {
      NODE_EXTRA_CA_CERTS: internal.caFile,
      HTTPS_PROXY: authenticated(),
      https_proxy: authenticated(),
      NO_PROXY: '.svc,.cluster.local,localhost',
    });
    const synced = await feeds().until(
      'internal',
      'internal synced through the proxy',
      (f) => f.status?.indicatorCount === 1 && cond(f, 'Degraded')?.status === 'False',
      30_000,
    );
    expect(cond(synced, 'Ready')?.status).toBe('True');
    await proxied(
      `the controller's CONNECT 127.0.0.1:${internal.port}`,
      (a) => a.method === 'CONNECT' && a.target === `127.0.0.1:${internal.port}`,
    );
    expect(withBundle.logged('Trusting an extra CA bundle for outbound requests and git')).toBe(
      true,
    );
    const proxyLine = withBundle.logs.find(
      (l) => l.msg === 'Sending outbound requests through a forward proxy',
    );
    expect(proxyLine).toMatchObject({ httpsProxy: `127.0.0.1:${proxy.port}`, noProxyEntries: 3 });
    const logs = JSON.stringify(withBundle.logs);
    expect(logs).not.toContain(PROXY_PASSWORD);
    expect(logs).not.toContain(basic(PROXY_PASSWORD));
  });

  it('GIVEN the proxy refuses the controller’s credentials THEN the feed is Degraded naming the proxy, and no status, event or log line holds the password', async () => {
    const wrong = proxy.urlWithCredentials.replace(PROXY_PASSWORD, WRONG_PASSWORD);
    const p = await controller('wrong-proxy-password', {
      NODE_EXTRA_CA_CERTS: internal.caFile,
      HTTPS_PROXY: wrong,
    });
    await feeds().create('refused', {
      format: 'lines',
      source: { http: { url: `${internal.url}/other-feed.txt` } },
    });
    const f = await feeds().until(
      'refused',
      'refused Degraded',
      (f) => cond(f, 'Degraded')?.status === 'True',
      30_000,
    );
    expect(cond(f, 'Degraded')!.message).toMatch(
      new RegExp(`proxy 127\\.0\\.0\\.1:${proxy.port} refused the tunnel.*HTTP 407`),
    );
    const events = await kc.makeApiClient(CoreV1Api).listEventForAllNamespaces();
    expect(events.items.some((e) => /refused the tunnel/.test(e.message ?? ''))).toBe(true);
    const everywhere = JSON.stringify([f, p.logs, events.items]);
    for (const secret of [WRONG_PASSWORD, basic(WRONG_PASSWORD), PROXY_PASSWORD])
      expect(everywhere).not.toContain(secret);
  });

  it('GIVEN NODE_EXTRA_CA_CERTS naming a file that holds no certificate THEN the controller refuses to start', async () => {
    const empty = join(cp.dir, 'empty-bundle.pem');
    writeFileSync(empty, 'not a certificate\n');
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    const base = { ...process.env };
    delete base.NODE_EXTRA_CA_CERTS;
    const p = new ControllerProcess('bad-bundle', kubeconfig, ['--leader-elect=false'], {
      ...base,
      NODE_EXTRA_CA_CERTS: empty,
    });
    procs.push(p);
    expect((await p.exited).code).toBe(2);
    expect(p.logs.map((l) => l.msg).join('\n')).toMatch(
      /NODE_EXTRA_CA_CERTS=.*empty-bundle\.pem: Node loaded no certificate from it/,
    );
  });
});

describe('issue 16: git gets the same proxy and CA bundle through its environment', () => {
  let work: string;
  let repoServer: PrivateCaServer;
  let mainCommit: string;

  beforeAll(async () => {
    // A bare repository served over https by the private-CA server, for git's "dumb"
    // http transport (plain files after update-server-info): a real clone, no forge.
    work = mkdtempSync(join(tmpdir(), 'forestall-git-proxy-'));
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', args, {
        cwd,
        env: { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const src = join(work, 'src');
    git(work, 'init', '-q', '-b', 'main', src);
    writeFileSync(join(src, 'README.md'), 'policies\n');
    git(src, 'add', 'README.md');
    git(src, '-c', 'user.name=t', '-c', 'user.email=t@example.test', 'commit', '-q', '-m', 'init');
    git(work, 'clone', '-q', '--bare', src, join(work, 'repo.git'));
    git(join(work, 'repo.git'), 'update-server-info');
    mainCommit = git(join(work, 'repo.git'), 'rev-parse', 'main').toString().trim();
    const routes: Record<string, { type: string; body: Buffer }> = {};
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else
          routes[`/${relative(work, path)}`] = {
            type: 'application/octet-stream',
            body: readFileSync(path),
          };
      }
    };
    walk(join(work, 'repo.git'));
    repoServer = await startPrivateCaServer(routes);
  });

  afterAll(async () => {
    await repoServer?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const open = (name: string, env: Record<string, string>) =>
    GitRepository.open({
      url: `${repoServer.url}/repo.git`,
      workDir: join(work, name),
      auth: {},
      baseBranch: 'main',
      author: { name: 'Forestall', email: 'forestall@example.test' },
      env: { PATH: process.env.PATH, HOME: work, ...env },
      timeoutMs: 30_000,
    });

  it('GIVEN the private CA only in the extra bundle WHEN git clones without GIT_SSL_CAINFO THEN TLS fails; WITH the bundle main.ts writes THEN it clones, through the proxy', async () => {
    const withoutBundle = await failure(open('no-bundle', { HTTPS_PROXY: authenticated() }));
    expect(withoutBundle.message).toMatch(/certificate|SSL/i);
    expect(everything(withoutBundle)).not.toContain(PROXY_PASSWORD);

    const bundle = await writeGitCaBundle(join(work, 'ca', 'git-ca-bundle.pem'), {
      systemFile: DEBIAN_SYSTEM_CA_FILE,
      certificates: [repoServer.caPem],
    });
    const before = repoServer.requests.length;
    const repo = await open('with-bundle', {
      HTTPS_PROXY: authenticated(),
      GIT_SSL_CAINFO: bundle,
    });
    // Cloned, and the server asked again (ls-remote): both through the proxy.
    expect(await repo.remoteBranchHead('main')).toBe(mainCommit);
    expect(repoServer.requests.length).toBeGreaterThan(before);
    await proxied(
      `git's CONNECT 127.0.0.1:${repoServer.port}`,
      (a) => a.method === 'CONNECT' && a.target === `127.0.0.1:${repoServer.port}`,
    );
  });

  it('GIVEN NO_PROXY naming the remote WHEN git clones THEN it goes directly', async () => {
    const bundle = join(work, 'ca', 'git-ca-bundle.pem');
    const target = `127.0.0.1:${repoServer.port}`;
    const count = (): number => proxy.accesses().filter((a) => a.target === target).length;
    // Let connections of the previous test be logged first.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = count();
    await open('bypass', {
      HTTPS_PROXY: authenticated(),
      NO_PROXY: '127.0.0.1',
      GIT_SSL_CAINFO: bundle,
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(count()).toBe(before);
  });
});
