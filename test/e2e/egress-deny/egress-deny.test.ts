import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emit, percentile } from '../../../bench/report.js';
import { eventually } from '../../harness/eventually.js';
import { e2eNode, uptime } from '../cluster.js';

// A ThreatFeed served from inside the cluster drives an EgressDeny through the
// network:networkpolicy connector, and kube-router enforces it; see README.md here.
const node = e2eNode();
const { kubectl, apply, newNamespace, busyboxPod } = node;
const RELEASE = 'forestall-egress';
const NS = {
  controller: 'forestall-e2e-egress',
  feed: 'forestall-e2e-feed',
  probe: 'forestall-e2e-probe',
};
// The http source's minimum refreshInterval (crds/schema/threatfeed.ts): a feed change
// is seen at the next poll, so each figure below includes up to this wait.
const REFRESH = '1m';
const ROUNDS = 3;
// Addresses in the test-host range that no test host answers on: the feed always
// lists them, so that adding or removing one host changes a small share of it (the
// policy's maxFeedChangePercent) and the feed is never empty.
const FILLER = Array.from({ length: 10 }, (_, i) => `11.250.0.${201 + i}`);

/** GET / of a test host from the probe pod: its body ("ok"), or '' when it fails. */
const fromProbe = (ip: string): Promise<string> => node.httpFromPod(NS.probe, 'probe', ip);

interface Attempt {
  start: number;
  end: number;
  state: 'ok' | 'blocked';
}

/** The probe's attempts on host A, from its log ("<start> <end> ok|blocked"). */
async function attempts(): Promise<Attempt[]> {
  const log = await kubectl(['-n', NS.probe, 'logs', 'probe']);
  return log
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => f.length === 3 && (f[2] === 'ok' || f[2] === 'blocked'))
    .map(([start, end, state]) => ({
      start: Number(start),
      end: Number(end),
      state: state as Attempt['state'],
    }));
}

/** The first attempt that started at or after `since` and ended in `state`. */
async function firstAfter(
  since: number,
  state: Attempt['state'],
  timeoutMs: number,
): Promise<Attempt> {
  return eventually(
    `a ${state} attempt after uptime ${since}`,
    async () => (await attempts()).find((a) => a.start >= since && a.state === state) ?? false,
    timeoutMs,
    500,
  );
}

describe('egress-deny: a ThreatFeed entry blocks egress to that address on the real node', () => {
  let hostA = '';
  let hostB = '';
  let feedUrl = '';

  beforeAll(async () => {
    // Two test hosts: network namespaces on addresses the guardrails accept (a
    // public range routed only to their veths, test/node/lib.sh).
    hostA = await node.testHost('up', 0);
    hostB = await node.testHost('up', 1);
    await newNamespace(NS.controller);
    await newNamespace(NS.feed);
    await newNamespace(NS.probe, { 'forestall-e2e/scope': 'probe' });

    // The feed: busybox httpd serving /lines, behind a Service.
    feedUrl = await node.feedServer(NS.feed, FILLER);
    // The probe: tries host A every 50 ms and logs each attempt in /proc/uptime seconds.
    await apply([
      busyboxPod(
        NS.probe,
        'probe',
        `while :; do
           s=$(cut -d' ' -f1 /proc/uptime)
           if echo | nc -w 1 ${hostA} 8080 >/dev/null 2>&1; then r=ok; else r=blocked; fi
           echo "$s $(cut -d' ' -f1 /proc/uptime) $r"
           sleep 0.05
         done`,
      ),
    ]);
    await node.podReady(NS.probe, 'probe');

    // The controller, allowed to fetch plain http from the Service range and to send
    // to the feed's port through its own NetworkPolicy.
    await node.installController(RELEASE, NS.controller, [
      ...node.inClusterFeedValues(NS.feed),
      'connectors.enabled={networkpolicy}',
    ]);
  });

  afterAll(async () => {
    await node.removeCase(RELEASE, NS);
    for (const index of [0, 1]) await node.testHost('down', index);
  });

  it('blocks the address the feed adds, keeps the other, and lifts the block when it goes', async () => {
    // GIVEN the probe reaches both test hosts
    expect(await fromProbe(hostA)).toBe('ok');
    expect(await fromProbe(hostB)).toBe('ok');
    // and a feed of addresses nobody answers on, enforced through network:networkpolicy
    await apply([
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatFeed',
        metadata: { name: 'e2e-hosts' },
        spec: {
          source: { http: { url: feedUrl } },
          format: 'lines',
          refreshInterval: REFRESH,
          confidence: { default: 90 },
        },
      },
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ExposurePolicy',
        metadata: { name: 'e2e-egress-deny' },
        spec: {
          feeds: { names: ['e2e-hosts'] },
          match: "indicator.type == 'ipv4'",
          scope: { namespaceSelector: { matchLabels: { 'forestall-e2e/scope': 'probe' } } },
          actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }],
          mode: 'Enforce',
          autoApprove: 'true',
          expiry: '1h',
          guardrails: { maxFeedChangePercent: 100 },
        },
      },
    ]);
    await eventually(
      "Forestall's NetworkPolicy in the probe namespace",
      async () =>
        (await kubectl(['-n', NS.probe, 'get', 'networkpolicies', '-o', 'name'])).trim() || false,
      120_000,
      500,
    );
    expect(await fromProbe(hostA)).toBe('ok');

    // From the feed's change (includes the wait for the next poll) and from the
    // controller's fetch of the changed feed (the controller, the connector and
    // kube-router), each to the start of the probe's first attempt in the new state.
    const toBlock: number[] = [];
    const toOpen: number[] = [];
    const fetchToBlock: number[] = [];
    const fetchToOpen: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // WHEN the feed adds host A
      const added = uptime();
      await node.setFeed(NS.feed, [...FILLER, hostA]);
      // THEN the probe's connections to it fail (refused or timed out), at the latest
      // one refresh interval and a reconcile later
      const blocked = await firstAfter(added, 'blocked', 150_000);
      toBlock.push(blocked.start - added);
      fetchToBlock.push(blocked.start - (await node.firstFetchAfter(NS.feed, added, 10_000)));
      expect(await fromProbe(hostA)).toBe('');
      // and host B still answers
      expect(await fromProbe(hostB)).toBe('ok');

      // WHEN the feed drops host A again
      const removed = uptime();
      await node.setFeed(NS.feed, FILLER);
      // THEN the connection is restored
      const open = await firstAfter(removed, 'ok', 150_000);
      toOpen.push(open.start - removed);
      fetchToOpen.push(open.start - (await node.firstFetchAfter(NS.feed, removed, 10_000)));
      expect(await fromProbe(hostA)).toBe('ok');
      console.log(
        `round ${round}: feed add -> blocked ${toBlock.at(-1)!.toFixed(2)} s ` +
          `(fetch -> blocked ${fetchToBlock.at(-1)!.toFixed(2)} s), ` +
          `feed remove -> open ${toOpen.at(-1)!.toFixed(2)} s ` +
          `(fetch -> open ${fetchToOpen.at(-1)!.toFixed(2)} s)`,
      );
      await sleep(1000);
    }
    const extra = { rounds: ROUNDS, refreshInterval: REFRESH };
    const report = (name: string, values: number[]): void => {
      const sorted = [...values].sort((a, b) => a - b);
      emit(`${name} p50`, percentile(sorted, 50), 's', extra, 2);
      emit(`${name} p99`, percentile(sorted, 99), 's', extra, 2);
    };
    report('e2e feed change to first blocked connection', toBlock);
    report('e2e feed fetch to first blocked connection', fetchToBlock);
    report('e2e feed change to first answer after removal', toOpen);
    report('e2e feed fetch to first answer after removal', fetchToOpen);

    // GIVEN host A blocked again by the feed
    const readded = uptime();
    await node.setFeed(NS.feed, [...FILLER, hostA]);
    await firstAfter(readded, 'blocked', 150_000);
    // WHEN a ThreatException names it (a false positive, as `forestall except` writes one)
    const excepted = uptime();
    await apply([
      {
        apiVersion: 'forestall.io/v1alpha1',
        kind: 'ThreatException',
        metadata: { name: 'e2e-false-positive' },
        spec: { cidrs: [hostA], reason: 'e2e: a false positive', owner: 'e2e' },
      },
    ]);
    // THEN the probe reaches it again, with no feed poll in between, and host B is unaffected
    const reopened = await firstAfter(excepted, 'ok', 30_000);
    expect(await fromProbe(hostA)).toBe('ok');
    // WHEN the exception is deleted THEN the block is back
    const unexcepted = uptime();
    await kubectl(['delete', 'threatexception/e2e-false-positive']);
    const reblocked = await firstAfter(unexcepted, 'blocked', 30_000);
    console.log(
      `exception -> open ${(reopened.start - excepted).toFixed(2)} s, ` +
        `exception deleted -> blocked ${(reblocked.start - unexcepted).toFixed(2)} s`,
    );
    emit('e2e ThreatException to first answer', reopened.start - excepted, 's', extra, 2);
    emit(
      'e2e ThreatException deleted to first blocked',
      reblocked.start - unexcepted,
      's',
      extra,
      2,
    );

    // WHEN the policy and the feed are deleted (the controller still runs)
    await kubectl([
      'delete',
      'exposurepolicy/e2e-egress-deny',
      'threatfeed/e2e-hosts',
      '--wait=true',
    ]);
    // THEN Forestall's NetworkPolicy goes with them (finalizers), and host A answers
    await eventually(
      "Forestall's NetworkPolicy gone from the probe namespace",
      async () =>
        (await kubectl(['-n', NS.probe, 'get', 'networkpolicies', '-o', 'name'])).trim() === '',
      30_000,
      500,
    );
    expect(await fromProbe(hostA)).toBe('ok');
  });
});
