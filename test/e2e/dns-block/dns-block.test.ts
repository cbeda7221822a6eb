import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emit } from '../../../bench/report.js';
import { eventually } from '../../harness/eventually.js';
import { freeLoopbackPorts } from '../../harness/free-port.js';
import { e2eNode, uptime } from '../cluster.js';

// A ThreatFeed served from inside the cluster drives two DNSBlocks: dns:coredns, read
// by the node's cluster DNS, and dns:rpz, loaded into BIND 9; see README.md here.
const node = e2eNode();
const { kubectl, apply, newNamespace, busyboxPod } = node;
const RELEASE = 'forestall-dns';
const NS = {
  controller: 'forestall-e2e-dns',
  feed: 'forestall-e2e-dnsfeed',
  probe: 'forestall-e2e-dnsprobe',
};
/** Our zone, served by the cluster's CoreDNS with the `file` plugin. */
const ZONE = 'forestall-e2e.example';
const GOOD = `good.${ZONE}`;
const BAD = `bad.${ZONE}`;
const ADDRESS = { good: '11.250.0.10', bad: '11.250.0.11' };
// Names the zone does not have: the feed always lists them, so that adding or
// removing BAD changes a small share of it and the feed is never empty.
const FILLER = Array.from({ length: 10 }, (_, i) => `filler-${i}.${ZONE}`);
// The ConfigMap dns:coredns writes for the policy below's action (policy
// `e2e-dns`, type DNSBlock: action `e2e-dns-dnsblock`); the CoreDNS Deployment
// names it in its projected volume beforehand, as connectors/README says.
const POLICY = 'e2e-dns';
const COREDNS_CONFIGMAP = `forestall-dnsblock-${POLICY}-dnsblock`;
const RPZ_POLICY = 'e2e-rpz';
const RPZ_CONFIGMAP = `forestall-rpz-${RPZ_POLICY}-dnsblock`;

/** The zone file: SOA, NS and the three names. */
const ZONE_FILE = `$TTL 5
@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. ( 1 60 60 600 5 )
@ IN NS ns
ns IN A 127.0.0.1
good IN A ${ADDRESS.good}
bad IN A ${ADDRESS.bad}
www.bad IN A ${ADDRESS.bad}
`;

/**
 * Our zone, in `coredns-custom` (imported by test/node/coredns.yaml as
 * `/etc/coredns/custom/*.override`, next to Forestall's snippet).
 */
const CUSTOM = {
  'e2e-zone.override': `file /etc/coredns/custom/e2e-zone.db ${ZONE}
`,
  'e2e-zone.db': ZONE_FILE,
};

/** The sources of CoreDNS's projected volume at /etc/coredns/custom (test/node/coredns.yaml). */
const SOURCES = '/spec/template/spec/volumes/1/projected/sources';

/** One JSON patch operation on the CoreDNS Deployment, then its rollout. */
async function patchCoreDns(operation: object): Promise<void> {
  const deployment = ['-n', 'kube-system', 'deployment/coredns'];
  await kubectl(['patch', ...deployment, '--type=json', '-p', JSON.stringify([operation])]);
  await kubectl(['rollout', 'status', ...deployment, '--timeout=120s']);
}

/**
 * What the probe pod's resolver (the cluster DNS) answers for `name`'s A record:
 * 'NXDOMAIN', or the first address.
 */
async function resolveInPod(name: string): Promise<string> {
  const out = await kubectl([
    '-n',
    NS.probe,
    'exec',
    'probe',
    '--',
    'sh',
    '-c',
    // The trailing dot keeps the search path out of it.
    `nslookup -type=a ${name}. 2>&1; true`,
  ]);
  if (/NXDOMAIN/.test(out)) return 'NXDOMAIN';
  // busybox prints the server's address first ("Address: 10.96.0.10:53"), then the answers.
  const answers = [...out.matchAll(/^Address:\s*([0-9.]+)\s*$/gm)].map((m) => m[1]);
  return answers[0] ?? `no answer: ${out.trim().replace(/\s+/g, ' ')}`;
}

/** Seconds (on the uptime clock) until `name` resolves to `want` in the pod, polling each 0.5 s. */
async function untilAnswer(name: string, want: string, timeoutMs: number): Promise<number> {
  return eventually(
    `${name} to resolve to ${want} in the probe pod`,
    async () => {
      const answer = await resolveInPod(name);
      if (answer === want) return uptime();
      throw new Error(`the answer is ${answer}`);
    },
    timeoutMs,
    500,
  );
}

/**
 * BIND 9 (Debian's named) on 127.0.0.1, authoritative for our zone, with
 * Forestall's RPZ zone as its response policy, configured as connectors/README says:
 * `recursive-only no` applies the policy to queries without the RD bit too. Our
 * lookups set the bit, so they would be blocked even without it (connectors/README, dns:rpz).
 */
async function startNamed(rpz: string): Promise<{ resolver: Resolver; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-e2e-named-'));
  const [port] = await freeLoopbackPorts(1);
  writeFileSync(join(dir, 'forestall.rpz'), rpz);
  writeFileSync(join(dir, 'zone.db'), ZONE_FILE);
  writeFileSync(
    join(dir, 'named.conf'),
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-recursion { 127.0.0.1; };
  dnssec-validation no;
  response-policy { zone "rpz.forestall"; } recursive-only no;
};
controls { };
zone "rpz.forestall" { type primary; file "${dir}/forestall.rpz"; };
zone "${ZONE}" { type primary; file "${dir}/zone.db"; };
`,
  );
  let log = '';
  const named: ChildProcess = spawn('named', ['-g', '-c', join(dir, 'named.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  named.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  named.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const stop = (): void => {
    named.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually(
      'named to load both zones',
      async () => {
        if (named.exitCode !== null) throw new Error(`named exited ${named.exitCode}:\n${log}`);
        if (/all zones loaded/.test(log) && /running/.test(log)) return true;
        throw new Error(`not yet; its log:\n${log}`);
      },
      20_000,
      200,
    );
  } catch (err) {
    stop();
    throw err;
  }
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return { resolver, stop };
}

async function answerFrom(resolver: Resolver, name: string): Promise<string> {
  try {
    return (await resolver.resolve4(name))[0] ?? 'no answer';
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'ENOTFOUND' ? 'NXDOMAIN' : `error ${String(code)}`;
  }
}

describe('dns-block: a ThreatFeed domain is refused by the cluster DNS and by an RPZ resolver', () => {
  let feedUrl = '';

  beforeAll(async () => {
    await newNamespace(NS.controller);
    await newNamespace(NS.feed);
    await newNamespace(NS.probe);
    feedUrl = await node.feedServer(NS.feed, FILLER);
    await apply([busyboxPod(NS.probe, 'probe', 'exec sleep 1d')]);

    // The user's CoreDNS configuration: our zone and the hosts line in coredns-custom,
    // and Forestall's (not yet existing) ConfigMap in the projected volume.
    await apply([
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'coredns-custom', namespace: 'kube-system' },
        data: CUSTOM,
      },
    ]);
    await patchCoreDns({
      op: 'add',
      path: `${SOURCES}/-`,
      value: { configMap: { name: COREDNS_CONFIGMAP, optional: true } },
    });
    await node.podReady(NS.probe, 'probe');

    await node.installController(RELEASE, NS.controller, [
      ...node.inClusterFeedValues(NS.feed),
      'connectors.enabled={coredns,rpz}',
    ]);
  });

  afterAll(async () => {
    await node.removeCase(RELEASE, NS);
    // CoreDNS as test/node/coredns.yaml left it.
    await kubectl([
      '-n',
      'kube-system',
      'delete',
      'configmap',
      'coredns-custom',
      '--ignore-not-found',
    ]);
    await patchCoreDns({ op: 'remove', path: `${SOURCES}/1` });
  });

  it('answers NXDOMAIN for the domain the feed adds and the names under it, and resolves them again when it goes', async () => {
    // GIVEN the probe resolves both names from our zone through the cluster DNS
    expect(await resolveInPod(GOOD)).toBe(ADDRESS.good);
    expect(await resolveInPod(BAD)).toBe(ADDRESS.bad);
    // and a feed of names the zone does not have, enforced through dns:coredns and dns:rpz
    const policy = (name: string, connector: string): object => ({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ExposurePolicy',
      metadata: { name },
      spec: {
        feeds: { names: ['e2e-domains'] },
        match: "indicator.type == 'domain'",
        actions: [{ type: 'DNSBlock', connector }],
        mode: 'Enforce',
        autoApprove: 'true',
        expiry: '1h',
        guardrails: { maxFeedChangePercent: 100 },
      },
    });
    await apply([
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatFeed',
        metadata: { name: 'e2e-domains' },
        spec: {
          source: { http: { url: feedUrl } },
          format: 'lines',
          refreshInterval: '1m',
          confidence: { default: 90 },
        },
      },
      policy(POLICY, 'dns:coredns'),
      policy(RPZ_POLICY, 'dns:rpz'),
    ]);
    const configMaps = async (): Promise<string> =>
      kubectl([
        '-n',
        'kube-system',
        'get',
        'configmaps',
        '-l',
        'app.kubernetes.io/managed-by=forestall',
        '-o',
        'name',
      ]);
    await eventually(
      'both DNS block lists in kube-system',
      async () => {
        const names = await configMaps();
        return (
          names.includes(`configmap/${COREDNS_CONFIGMAP}`) &&
          names.includes(`configmap/${RPZ_CONFIGMAP}`)
        );
      },
      120_000,
      1000,
    );
    expect(await resolveInPod(BAD)).toBe(ADDRESS.bad);

    // WHEN the feed adds BAD
    const added = uptime();
    await node.setFeed(NS.feed, [...FILLER, BAD]);
    // THEN the cluster DNS answers NXDOMAIN for it, with no restart: the feed's next
    // poll, the controller, the kubelet's refresh of the projected volume, and
    // CoreDNS's reload plugin, whose hash covers the imported snippets
    const refused = await untilAnswer(BAD, 'NXDOMAIN', 300_000);
    const fetched = await node.firstFetchAfter(NS.feed, added, 10_000);
    // and for every name under it
    expect(await resolveInPod(`www.${BAD}`)).toBe('NXDOMAIN');
    // and the other name still resolves
    expect(await resolveInPod(GOOD)).toBe(ADDRESS.good);
    console.log(
      `feed change -> NXDOMAIN ${(refused - added).toFixed(1)} s ` +
        `(fetch -> NXDOMAIN ${(refused - fetched).toFixed(1)} s)`,
    );
    emit(
      'e2e feed change to NXDOMAIN (dns:coredns)',
      refused - added,
      's',
      { refreshInterval: '1m' },
      1,
    );
    emit('e2e feed fetch to NXDOMAIN (dns:coredns)', refused - fetched, 's', {}, 1);

    // AND the RPZ zone, loaded into BIND 9, refuses the same names and no others
    const rpz = JSON.parse(
      await kubectl(['-n', 'kube-system', 'get', 'configmap', RPZ_CONFIGMAP, '-o', 'json']),
    ) as { data: Record<string, string> };
    expect(rpz.data['forestall.rpz']).toContain(BAD);
    const named = await startNamed(rpz.data['forestall.rpz']!);
    try {
      expect(await answerFrom(named.resolver, GOOD)).toBe(ADDRESS.good);
      expect(await answerFrom(named.resolver, BAD)).toBe('NXDOMAIN');
      expect(await answerFrom(named.resolver, `www.${BAD}`)).toBe('NXDOMAIN');
    } finally {
      named.stop();
    }

    // WHEN the feed drops BAD again
    const removed = uptime();
    await node.setFeed(NS.feed, FILLER);
    // THEN it resolves again, it and the names under it
    const resolved = await untilAnswer(BAD, ADDRESS.bad, 300_000);
    const refetched = await node.firstFetchAfter(NS.feed, removed, 10_000);
    expect(await resolveInPod(`www.${BAD}`)).toBe(ADDRESS.bad);
    emit(
      'e2e feed change to resolving again (dns:coredns)',
      resolved - removed,
      's',
      { refreshInterval: '1m' },
      1,
    );
    emit('e2e feed fetch to resolving again (dns:coredns)', resolved - refetched, 's', {}, 1);
  });
});
