import { describe, expect, it } from 'vitest';
import { loadConfig, loadOutboundEnvironment, parseDuration } from './config.js';

describe('controller config', () => {
  it('GIVEN no flags THEN defaults apply and the config is frozen', () => {
    const c = loadConfig([], { POD_NAMESPACE: 'sec', POD_NAME: 'forestall-0' });
    expect(c).toMatchObject({
      namespace: 'sec',
      identity: 'forestall-0',
      leaderElect: true,
      leaseDurationMs: 10_000,
      leaderElectionNamespace: 'sec',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('GIVEN Go durations THEN they parse to milliseconds, and garbage is refused by name', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('10 minutes')).toThrow(/invalid duration "10 minutes"/);
  });

  it('GIVEN no feed flags THEN the sandbox defaults apply: 8 MiB bytes, a 256 MiB worker heap, 5m per sync, and the caps', () => {
    expect(loadConfig([], {})).toMatchObject({
      feedMaxBytes: 8 * 1024 * 1024,
      feedWorkerHeapMb: 256,
      feedSyncDeadlineMs: 300_000,
      feedMaxRecords: 1_000_000,
      feedMaxIndicators: 250_000,
      feedMaxMispEvents: 10_000,
    });
    const c = loadConfig(
      [
        '--feed-worker-heap',
        '512',
        '--feed-sync-deadline',
        '90s',
        '--feed-max-indicators',
        '10',
        '--feed-max-misp-events',
        '3',
      ],
      {},
    );
    expect(c).toMatchObject({
      feedWorkerHeapMb: 512,
      feedSyncDeadlineMs: 90_000,
      feedMaxIndicators: 10,
      feedMaxMispEvents: 3,
    });
    expect(() => loadConfig(['--feed-worker-heap', '4'], {})).toThrow(
      /feedWorkerHeapMb must be >= 16/,
    );
    expect(() => loadConfig(['--feed-max-records', 'lots'], {})).toThrow(
      /feedMaxRecords must be integer/,
    );
  });

  it('GIVEN bad flags THEN the error names the problem', () => {
    expect(() => loadConfig(['--log-level', 'loud'], {})).toThrow(
      /logLevel must be equal to one of the allowed values/,
    );
    expect(() => loadConfig(['--lease-duration', '5s', '--renew-deadline', '8s'], {})).toThrow(
      /renew-deadline must be shorter/,
    );
    expect(() => loadConfig(['--no-such-flag'], {})).toThrow(/Unknown option '--no-such-flag'/);
    expect(() => loadConfig(['--leader-elect=maybe'], {})).toThrow(
      /--leader-elect must be true or false/,
    );
  });

  it('GIVEN the webhook flags THEN the listener and secret file are set, the poll interval parses, and an address without a secret is refused', () => {
    const c = loadConfig(
      [
        '--git-webhook-bind-address',
        ':9443',
        '--git-webhook-secret-file',
        '/etc/forestall/webhook/secret',
        '--pull-request-poll-interval',
        '2m',
      ],
      {},
    );
    expect(c).toMatchObject({
      gitWebhookBindAddress: ':9443',
      gitWebhookSecretFile: '/etc/forestall/webhook/secret',
      pullRequestPollMs: 120_000,
    });
    expect(loadConfig([], {}).gitWebhookBindAddress).toBeUndefined();
    expect(() => loadConfig(['--git-webhook-bind-address', ':9443'], {})).toThrow(
      /needs --git-webhook-secret-file/,
    );
    expect(() => loadConfig(['--pull-request-poll-interval', '100ms'], {})).toThrow(
      /pullRequestPollMs must be >= 1000/,
    );
  });

  it('GIVEN --outbound-allow and the deprecated --feed-fetch-allow THEN one list holds both, and a bad entry is refused by flag', () => {
    expect(loadConfig([], {}).outboundAllow).toEqual([]);
    const c = loadConfig(
      [
        '--outbound-allow',
        '10.0.0.0/8,feeds.corp.example',
        '--feed-fetch-allow',
        '127.0.0.1,feeds.corp.example',
      ],
      {},
    );
    expect(c.outboundAllow).toEqual(['10.0.0.0/8', 'feeds.corp.example', '127.0.0.1']);
    expect(() => loadConfig(['--outbound-allow', 'not a host!'], {})).toThrow(
      /--outbound-allow: .*"not a host!"/,
    );
  });

  it("GIVEN --dns-namespace THEN it is the DNS connectors' namespace (default kube-system), and a bad name is refused", () => {
    expect(loadConfig([], {}).dnsNamespace).toBe('kube-system');
    expect(loadConfig(['--dns-namespace', 'coredns'], {}).dnsNamespace).toBe('coredns');
    expect(() => loadConfig(['--dns-namespace', 'Kube_System'], {})).toThrow(
      /dnsNamespace must match pattern/,
    );
  });
});

describe('the outbound environment (issue 16)', () => {
  it('GIVEN no proxy or CA variable THEN connections go direct with the default trust', () => {
    expect(loadOutboundEnvironment({ NO_PROXY: '.svc' })).toEqual({});
  });

  it('GIVEN the chart variables THEN the proxy and the extra bundle are read once, frozen', () => {
    const env = loadOutboundEnvironment({
      HTTPS_PROXY: 'http://fst:pw@proxy.corp.example:3128',
      https_proxy: 'http://fst:pw@proxy.corp.example:3128',
      NO_PROXY: 'localhost,.svc,.cluster.local',
      NODE_EXTRA_CA_CERTS: '/etc/forestall/ca-bundle/ca.crt',
    });
    expect(Object.isFrozen(env)).toBe(true);
    expect(env.extraCaFile).toBe('/etc/forestall/ca-bundle/ca.crt');
    expect(env.proxy?.https?.label).toBe('proxy.corp.example:3128');
    expect(env.proxy?.http).toBeUndefined();
    expect(env.proxy?.noProxy).toHaveLength(3);
    expect(JSON.stringify(env)).not.toContain('pw');
  });

  it('GIVEN a malformed proxy URL THEN start-up fails with FST_CONFIG_INVALID, without the password', () => {
    let err: unknown;
    try {
      loadOutboundEnvironment({ HTTPS_PROXY: 'http://fst:hunter2-pw@proxy.corp.example' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'FST_CONFIG_INVALID' });
    expect((err as Error).message).toMatch(
      /^proxy: HTTPS_PROXY \(proxy\.corp\.example\) has no port/,
    );
    expect((err as Error).message).not.toContain('hunter2');
  });
});
