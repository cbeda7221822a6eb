/**
 * A large cluster (issue 18), on a real API server with the controller running in this
 * process: --namespaces namespaces (default 500), --workloads-per-namespace Deployments
 * in each (default 10: 5,000), and --policies ExposurePolicies (default 100) over one
 * small ConfigMap `lines` feed (four IPv4 addresses and one CVE). Prints JSON lines.
 *
 *   node dist/bench/large-cluster.js [--namespaces N] [--workloads-per-namespace N]
 *     [--policies N] [--runs N]
 *
 * The cluster. Namespace i carries `team: team-<i mod 10>` and an `env`; workload j of a
 * namespace carries (pod template and metadata) `app`, `tier` (web, api, worker, db,
 * cache: j mod 5) and `track` (stable for j < 5, canary after). Policy p selects the
 * namespaces of team p mod 10 and the workloads of one tier and track, so at full size
 * each policy has 50 workloads in scope and each workload is in exactly one policy's
 * scope. Every fifth policy (teams 4 and 9) is Isolate over the feed's CVE, and the
 * workloads of those teams' namespaces have a Trivy VulnerabilityReport listing it (one
 * Isolate action per workload in scope); the others are EgressDeny over the addresses
 * (one action per policy, whose spec.blastRadius counts the workloads in scope).
 *
 * Mode Enforce, autoApprove "true", through network:networkpolicy, so the actions are
 * applied as they would be in production (the action controller's work is part of
 * settling, of the resync and of the memory). guardrails.maxWorkloads is raised to
 * 100,000: the default 10 would hold every EgressDeny action for review. The objects
 * are created before the manager starts (12 API calls at a time), so the first figure
 * is a controller starting on an existing large cluster.
 *
 * Settled means: every policy Ready with observedGeneration current, every action as
 * the bench's own model of the scopes says (blast radius, isolated workloads), every
 * action's status.observedGeneration current, and every work queue empty with no
 * reconcile running for 2 s.
 *
 * Figures:
 * - large_cluster_initial_settle: manager start to settled.
 * - large_cluster_rss, large_cluster_heap_used: this process after settling. The
 *   controller runs in-process, so this includes the bench (its watches and model of
 *   the cluster, small beside the controller's caches); benchRssBeforeManagerMiB is the
 *   process with everything created and no manager yet. The chart's limit is 512Mi.
 * - large_cluster_label_change_p50/p99: --runs rounds, in pairs on one workload: its
 *   `track` is set to one no policy selects (it leaves one policy's scope), then set
 *   back (it re-enters); one pair in five is on an Isolate policy's workload, as one
 *   policy in five is Isolate. Timed from the Deployment write to the affected action,
 *   seen through a watch, reflecting it: the EgressDeny action's blastRadius.workloads,
 *   or the workload's Isolate action active (indicators.count > 0) or lifted. Extras
 *   give the time until the action controller has also applied that spec.
 * - large_cluster_evaluations_per_label_change: policy evaluations per round, read from
 *   the in-process registry (forestall_policy_evaluation_duration_seconds, whose count
 *   goes up once per evaluation that was not served from the reconciler's memo), after
 *   the controller has gone quiet again; policiesEvaluated is how many distinct
 *   policies that was.
 * - large_cluster_writes_per_label_change: API writes per round, the bench's own
 *   Deployment write left out.
 * - large_cluster_resync_writes: API writes of a periodic resync with nothing changed,
 *   forced by doing what the --resync-period timer does (Controller.scheduleResync):
 *   every object of each controller's root kind (policies, actions, the feed; there are
 *   no ThreatExceptions) is added to its work queue; counted until every key was
 *   reconciled and the controller is quiet again.
 * - large_cluster_restart_writes: API writes of the full resync a restart is: the
 *   manager is stopped and a new one started against the same API server (fresh
 *   caches, so every policy is evaluated again), counted until settled.
 *
 * How writes are counted: the API server's own apiserver_request_total, scraped from its
 * /metrics (admin token) before and after, verbs POST, PUT, PATCH, APPLY, DELETE and
 * DELETECOLLECTION, every resource except leases (the API server renews its own identity
 * lease every 10 s; the in-process manager runs without leader election, so it holds
 * none). Nothing else writes during a window (no controller-manager runs), so the count
 * is the controller's, Events included, which the KubeClient's own
 * forestall_api_writes_total (given as controllerClientWrites) does not count.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { ExposurePolicy, PreemptiveAction } from '../crds/index.js';
import { KubeClient } from '../controller/runtime/client.js';
import { forEachLimit } from '../controller/runtime/concurrency.js';
import { ControlPlane } from '../test/harness/control-plane.js';
import { eventually } from '../test/harness/eventually.js';
import { httpGet } from '../test/harness/http-probe.js';
import { startManager } from '../test/harness/in-process-manager.js';
import { condition, configMap, exposurePolicy, namespace } from '../test/harness/objects.js';
import { configMapFeed } from '../test/harness/threat-feeds.js';
import { emit, percentile, runMain } from './report.js';

const NS = 'forestall-system';
const FEED = 'large-cluster';
const FEED_KEY = 'indicators.txt';
const CVE = 'CVE-2024-3400';
const ADDRESSES = ['185.220.101.34', '45.155.205.233', '193.142.146.35', '141.98.11.62'];
const TEAMS = 10;
const TIERS = ['web', 'api', 'worker', 'db', 'cache'];
const TRACKS = ['stable', 'canary'];
const ENVS = ['prod', 'staging', 'dev'];
/** A track no policy selects: a workload moved to it leaves the one policy that had it. */
const UNSELECTED_TRACK = 'none';
const SETUP_CONCURRENCY = 12;
const SETTLE_TIMEOUT_MS = 30 * 60_000;
/** One label change, at full size on a loaded machine, may take a while: its timeout. */
const ROUND_TIMEOUT_MS = 5 * 60_000;
const MiB = 1024 * 1024;
/** apiserver_request_total verbs that write (APPLY is server-side apply). */
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

type Manager = Awaited<ReturnType<typeof startManager>>;

interface Workload {
  namespace: string;
  name: string;
  team: number;
  env: string;
  tier: string;
  track: string;
  /** Has a VulnerabilityReport listing the feed's CVE. */
  vulnerable: boolean;
}

interface Policy {
  name: string;
  type: 'EgressDeny' | 'Isolate';
  team: number;
  tier: string;
  track: string;
}

/** What the bench keeps of each PreemptiveAction it sees through the watch. */
interface SeenAction {
  policy: string;
  type: string;
  workloads: number;
  indicators: number;
  /** namespace/name of the Isolate target. */
  target?: string;
  generation: number;
  observedGeneration?: number;
}

const pad = (n: number) => String(n).padStart(3, '0');
const workloadKey = (w: { namespace: string; name: string }) => `${w.namespace}/${w.name}`;
const inScope = (p: Policy, w: Workload) =>
  w.team === p.team && w.tier === p.tier && w.track === p.track;

function podLabels(w: Workload): Record<string, string> {
  return { app: w.name, tier: w.tier, track: w.track, env: w.env };
}

function deployment(w: Workload): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace: w.namespace, labels: podLabels(w) },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: w.name } },
      template: {
        metadata: { labels: podLabels(w) },
        spec: {
          containers: [{ name: 'app', image: `registry.example.org/${w.namespace}/${w.name}:1.0` }],
        },
      },
    },
  } as KubernetesObject;
}

/** Trivy's report on the Deployment's ReplicaSet, listing the feed's CVE for its image. */
function vulnerabilityReport(w: Workload): KubernetesObject {
  return {
    apiVersion: 'aquasecurity.github.io/v1alpha1',
    kind: 'VulnerabilityReport',
    metadata: {
      name: `replicaset-${w.name}-7f9c4d5b6-app`,
      namespace: w.namespace,
      labels: {
        'trivy-operator.resource.kind': 'ReplicaSet',
        'trivy-operator.resource.name': `${w.name}-7f9c4d5b6`,
        'trivy-operator.resource.namespace': w.namespace,
        'trivy-operator.container.name': 'app',
      },
    },
    report: {
      registry: { server: 'registry.example.org' },
      artifact: { repository: `${w.namespace}/${w.name}`, tag: '1.0' },
      vulnerabilities: [
        {
          vulnerabilityID: CVE,
          resource: 'libexample',
          installedVersion: '1.0.0',
          fixedVersion: '1.0.1',
          severity: 'CRITICAL',
        },
      ],
    },
  } as KubernetesObject;
}

function policySpec(p: Policy): Record<string, unknown> {
  return {
    feeds: { names: [FEED] },
    match: p.type === 'Isolate' ? "indicator.type == 'cve'" : "indicator.type == 'ipv4'",
    scope: {
      namespaceSelector: { matchLabels: { team: `team-${p.team}` } },
      workloadSelector: { matchLabels: { tier: p.tier, track: p.track } },
    },
    actions: [{ type: p.type, connector: 'network:networkpolicy' }],
    mode: 'Enforce',
    autoApprove: 'true',
    expiry: '24h',
    guardrails: { maxWorkloads: 100_000 },
  };
}

/** Write requests the API server counted so far, by "VERB resource[/sub]", leases left out. */
async function apiServerWrites(cp: ControlPlane, ca: Buffer): Promise<Record<string, number>> {
  const res = await httpGet(`${cp.apiServerUrl}/metrics`, {
    ca,
    token: cp.token,
    timeoutMs: 30_000,
  });
  if (res.status !== 200) throw new Error(`GET /metrics of the API server: HTTP ${res.status}`);
  const counts: Record<string, number> = {};
  for (const line of res.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels: Record<string, string> = {};
    for (const m of line.matchAll(/(\w+)="([^"]*)"/g)) labels[m[1]!] = m[2]!;
    if (!WRITE_VERBS.has(labels.verb ?? '') || labels.resource === 'leases') continue;
    const sub = labels.subresource ? `/${labels.subresource}` : '';
    const key = `${labels.verb} ${labels.resource}${sub}`;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}

/** after - before, only the keys that moved. */
function delta(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Evaluations so far per policy (the evaluation histogram's count). */
async function evaluations(mgr: Manager): Promise<Map<string, number>> {
  const { values } = await mgr.controllers.policyMetrics.policyEvaluationDuration.get();
  return new Map(
    values
      .filter((v) => v.metricName?.endsWith('_count'))
      .map((v) => [String(v.labels.policy), v.value]),
  );
}

/** Reconciles so far per controller, whatever their result. */
async function reconciles(mgr: Manager): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await mgr.metrics.reconcileTotal.get()).values) {
    const name = String(v.labels.controller);
    counts[name] = (counts[name] ?? 0) + v.value;
  }
  return counts;
}

/** Whether each controller in `want` has reconciled that many times more than `before` says. */
async function reconciledSince(
  mgr: Manager,
  before: Record<string, number>,
  want: Record<string, number>,
): Promise<boolean> {
  const now = await reconciles(mgr);
  return Object.entries(want).every(([c, n]) => (now[c] ?? 0) - (before[c] ?? 0) >= n);
}

/** No key waiting in any work queue and no reconcile running. */
async function idle(mgr: Manager): Promise<boolean> {
  const depth = (await mgr.metrics.queueDepth.get()).values;
  const active = (await mgr.metrics.activeWorkers.get()).values;
  return [...depth, ...active].every((v) => v.value === 0);
}

/** Waits until `ready()` holds and the controller stays idle for `quietMs`. */
async function settle(
  mgr: Manager,
  what: string,
  ready: () => boolean | Promise<boolean>,
  quietMs: number,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<void> {
  let since: number | undefined;
  await eventually(
    what,
    async () => {
      if (!(await ready()) || !(await idle(mgr))) {
        since = undefined;
        return false;
      }
      since ??= performance.now();
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
    50,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      namespaces: { type: 'string', default: '500' },
      'workloads-per-namespace': { type: 'string', default: '10' },
      policies: { type: 'string', default: '100' },
      runs: { type: 'string', default: '20' },
    },
  });
  const namespaceCount = Number(values.namespaces);
  const perNamespace = Number(values['workloads-per-namespace']);
  const policyCount = Number(values.policies);
  const runs = Number(values.runs);

  const namespaces = Array.from({ length: namespaceCount }, (_, i) => ({
    name: `lc-${pad(i)}`,
    team: i % TEAMS,
    env: ENVS[Math.floor(i / TEAMS) % ENVS.length]!,
  }));
  const workloads: Workload[] = namespaces.flatMap((ns) =>
    Array.from({ length: perNamespace }, (_, j) => ({
      namespace: ns.name,
      name: `w-${pad(j)}`,
      team: ns.team,
      env: ns.env,
      tier: TIERS[j % TIERS.length]!,
      track: TRACKS[Math.floor(j / TIERS.length) % TRACKS.length]!,
      vulnerable: ns.team % 5 === 4,
    })),
  );
  const policies: Policy[] = Array.from({ length: policyCount }, (_, p) => ({
    name: `lc-${pad(p)}`,
    type: p % 5 === 4 ? 'Isolate' : 'EgressDeny',
    team: p % TEAMS,
    tier: TIERS[Math.floor(p / TEAMS) % TIERS.length]!,
    track: TRACKS[Math.floor(p / (TEAMS * TIERS.length)) % TRACKS.length]!,
  }));

  const cp = await ControlPlane.start();
  let mgr: Manager | undefined;
  const aborts: { abort(): void }[] = [];
  let stopped = false;
  try {
    await cp.installThirdPartyCrds([['aquasecurity.github.io/v1alpha1', 'VulnerabilityReport']]);
    const kc = cp.kubeConfig();
    const ca = Buffer.from(kc.getCurrentCluster()!.caData!, 'base64');
    const client = new KubeClient(kc);

    const setupStarted = performance.now();
    await client.apply(namespace(NS));
    await forEachLimit(namespaces, SETUP_CONCURRENCY, async (ns) => {
      await client.apply(namespace(ns.name, { team: `team-${ns.team}`, env: ns.env }));
    });
    await forEachLimit(workloads, SETUP_CONCURRENCY, async (w) => {
      await client.apply(deployment(w));
      if (w.vulnerable) await client.apply(vulnerabilityReport(w));
    });
    await client.apply(configMap(NS, FEED, { [FEED_KEY]: [...ADDRESSES, CVE].join('\n') }));
    await client.apply(configMapFeed(FEED, NS, FEED_KEY, { confidence: { default: 100 } }));
    await forEachLimit(policies, SETUP_CONCURRENCY, async (p) => {
      await client.apply(exposurePolicy(p.name, policySpec(p)));
    });
    const setupMs = performance.now() - setupStarted;

    // Actions and policies followed through watches (polling would load the process
    // under test); each action event re-checks the state a round waits for.
    const actions = new Map<string, SeenAction>();
    const byPolicy = new Map<string, Map<string, SeenAction>>(
      policies.map((p) => [p.name, new Map()]),
    );
    const policyObjects = new Map<string, ExposurePolicy>();
    let onAction = () => {};
    const watch = new Watch(kc);
    const follow = async <T extends KubernetesObject>(
      path: string,
      handle: (type: string, obj: T) => void,
    ): Promise<void> => {
      aborts.push(
        await watch.watch(path, {}, handle, () => {
          // A closed watch restarts (and lists again).
          if (!stopped) setTimeout(() => void follow(path, handle), 200);
        }),
      );
    };
    await follow<PreemptiveAction>(
      await client.path('forestall.io/v1alpha1', 'PreemptiveAction'),
      (type, a) => {
        const name = a.metadata!.name!;
        const policy = a.spec.policyRef?.name ?? '';
        if (type === 'DELETED') {
          actions.delete(name);
          byPolicy.get(policy)?.delete(name);
        } else {
          const target = a.spec.targets?.[0];
          const seen: SeenAction = {
            policy,
            type: a.spec.type,
            workloads: a.spec.blastRadius?.workloads ?? 0,
            indicators: a.spec.indicators.count,
            ...(target ? { target: `${target.namespace}/${target.name}` } : {}),
            generation: a.metadata?.generation ?? 0,
            ...(a.status?.observedGeneration !== undefined
              ? { observedGeneration: a.status.observedGeneration }
              : {}),
          };
          actions.set(name, seen);
          byPolicy.get(policy)?.set(name, seen);
        }
        onAction();
      },
    );
    await follow<ExposurePolicy>(
      await client.path('forestall.io/v1alpha1', 'ExposurePolicy'),
      (type, p) => {
        if (type === 'DELETED') policyObjects.delete(p.metadata!.name!);
        else policyObjects.set(p.metadata!.name!, p);
      },
    );

    /** Whether the policy's actions say what the bench's model of its scope says. */
    const reflects = (p: Policy): boolean => {
      const owned = [...byPolicy.get(p.name)!.values()];
      const scope = workloads.filter((w) => inScope(p, w));
      if (p.type === 'EgressDeny')
        return owned.some((a) => a.type === 'EgressDeny' && a.workloads === scope.length);
      const isolated = new Set(
        owned.filter((a) => a.type === 'Isolate' && a.indicators > 0).map((a) => a.target),
      );
      const want = scope.filter((w) => w.vulnerable).map(workloadKey);
      return isolated.size === want.length && want.every((k) => isolated.has(k));
    };
    const applied = (p: Policy) =>
      [...byPolicy.get(p.name)!.values()].every((a) => a.observedGeneration === a.generation);
    const settled = () =>
      policies.every((p) => {
        const o = policyObjects.get(p.name);
        return (
          o?.status?.observedGeneration === o?.metadata?.generation &&
          condition(o, 'Ready')?.status === 'True' &&
          reflects(p) &&
          applied(p)
        );
      });

    const rssBeforeManager = process.memoryUsage().rss;
    const started = performance.now();
    mgr = await startManager(kc, { namespace: NS });
    await settle(mgr, 'the controller settled on the cluster', settled, 2000);
    const initialSettleMs = performance.now() - started - 2000;
    const countOf = (type: string) => [...actions.values()].filter((a) => a.type === type).length;
    emit('large_cluster_initial_settle', initialSettleMs, 'ms', {
      namespaces: namespaceCount,
      workloads: workloads.length,
      policies: policyCount,
      egressDenyActions: countOf('EgressDeny'),
      isolateActions: countOf('Isolate'),
      setupMs: Math.round(setupMs),
      note: 'manager start (objects already created) to every policy and action settled; the 2 s quiet check is not counted',
    });
    const memory = process.memoryUsage();
    const peak = process.resourceUsage().maxRSS * 1024;
    emit('large_cluster_rss', memory.rss / MiB, 'MiB', {
      peakRssMiB: Math.round(peak / MiB),
      benchRssBeforeManagerMiB: Math.round(rssBeforeManager / MiB),
      chartLimitMiB: 512,
      note: 'this process after settling; the controller runs in it, with the bench (its watches and model of the cluster)',
    });
    emit('large_cluster_heap_used', memory.heapUsed / MiB, 'MiB', {
      heapTotalMiB: Math.round(memory.heapTotal / MiB),
    });

    // Label changes: in pairs, one workload leaves one policy's scope, then re-enters.
    // One pair in five (the second, the seventh, …) targets an Isolate policy, as one
    // policy in five is one; each pool is walked policy by policy, then workload by workload.
    const candidates = policies
      .map((p) => ({ p, scope: workloads.filter((w) => inScope(p, w)) }))
      .filter((c) => c.scope.length > 0);
    const pools = [
      candidates.filter((c) => c.p.type === 'EgressDeny'),
      candidates.filter((c) => c.p.type === 'Isolate'),
    ].filter((pool) => pool.length > 0);
    if (!pools.length) throw new Error('no policy has a workload in scope');
    const used = pools.map(() => 0);
    const targetOf = (pair: number) => {
      const which = pools.length > 1 && pair % 5 === 1 ? 1 : 0;
      const pool = pools[which]!;
      const n = used[which]!++;
      const { p, scope } = pool[n % pool.length]!;
      const workload = scope[Math.floor(n / pool.length) % scope.length]!;
      return { p, workload, track: workload.track };
    };
    const round: { policy?: Policy; since: number; seen?: number; applied?: number } = {
      since: 0,
    };
    onAction = () => {
      const p = round.policy;
      if (!p) return;
      round.seen ??= reflects(p) ? performance.now() : undefined;
      if (round.seen !== undefined && round.applied === undefined && applied(p))
        round.applied = performance.now();
    };
    const latencies: { ms: number; appliedMs: number; type: string }[] = [];
    const evaluated: { evaluations: number; policies: number; writes: number }[] = [];
    const writesByResource: Record<string, number> = {};
    let target: ReturnType<typeof targetOf> | undefined;
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        target = targetOf(i / 2);
        target.workload.track = UNSELECTED_TRACK;
      } else {
        target!.workload.track = target!.track;
      }
      const { p, workload } = target!;
      const evalBefore = await evaluations(mgr);
      const writesBefore = await apiServerWrites(cp, ca);
      Object.assign(round, { policy: p, since: performance.now(), seen: undefined });
      round.applied = undefined;
      await client.apply(deployment(workload));
      await eventually(`label change ${i}`, () => round.seen !== undefined, ROUND_TIMEOUT_MS, 5);
      await settle(mgr, `quiet after label change ${i}`, () => applied(p), 500, ROUND_TIMEOUT_MS);
      const ms = round.seen! - round.since;
      latencies.push({ ms, appliedMs: (round.applied ?? round.seen!) - round.since, type: p.type });
      round.policy = undefined;
      const evalAfter = await evaluations(mgr);
      const moved = [...evalAfter].filter(([name, n]) => n > (evalBefore.get(name) ?? 0));
      const writes = delta(writesBefore, await apiServerWrites(cp, ca));
      delete writes['APPLY deployments'];
      for (const [k, v] of Object.entries(writes))
        writesByResource[k] = (writesByResource[k] ?? 0) + v;
      evaluated.push({
        evaluations: moved.reduce((sum, [name, n]) => sum + n - (evalBefore.get(name) ?? 0), 0),
        policies: moved.length,
        writes: total(writes),
      });
    }
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const specMs = sorted(latencies.map((l) => l.ms));
    const appliedMs = sorted(latencies.map((l) => l.appliedMs));
    const byType = (type: string) =>
      sorted(latencies.filter((l) => l.type === type).map((l) => l.ms));
    const extra = { runs, workloads: workloads.length, policies: policyCount };
    emit('large_cluster_label_change_p50', percentile(specMs, 50), 'ms', {
      ...extra,
      appliedP50: Math.round(percentile(appliedMs, 50)),
      note: "from the Deployment write to the affected action's spec reflecting it (EgressDeny blast radius, Isolate action active or lifted), seen through a watch; applied: the action controller has also reconciled that spec",
    });
    emit('large_cluster_label_change_p99', percentile(specMs, 99), 'ms', {
      ...extra,
      appliedP99: Math.round(percentile(appliedMs, 99)),
      egressDenyP99: byType('EgressDeny').length
        ? Math.round(percentile(byType('EgressDeny'), 99))
        : undefined,
      isolateP99: byType('Isolate').length
        ? Math.round(percentile(byType('Isolate'), 99))
        : undefined,
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const evaluationCounts = evaluated.map((e) => e.evaluations);
    emit('large_cluster_evaluations_per_label_change', mean(evaluationCounts), 'evaluations', {
      runs,
      min: Math.min(...evaluationCounts),
      max: Math.max(...evaluationCounts),
      policiesEvaluated: mean(evaluated.map((e) => e.policies)),
      affectedPolicies: 1,
      note: 'evaluations not served from the memo (forestall_policy_evaluation_duration_seconds count), from the write until the controller is quiet again; each change moves one workload in or out of one policy',
    });
    emit('large_cluster_writes_per_label_change', mean(evaluated.map((e) => e.writes)), 'writes', {
      runs,
      max: Math.max(...evaluated.map((e) => e.writes)),
      byVerbAndResource: Object.fromEntries(
        Object.entries(writesByResource).map(([k, v]) => [k, Math.round((v / runs) * 10) / 10]),
      ),
      note: "API server write requests until the controller is quiet again, the bench's own Deployment write left out",
    });

    // A periodic resync, with nothing changed: what Controller.scheduleResync does.
    await settle(mgr, 'settled before the resync', settled, 2000);
    const keys: Record<string, string[]> = {
      exposurepolicy: policies.map((p) => p.name),
      preemptiveaction: [...actions.keys()],
      threatfeed: [FEED],
    };
    const queues: Record<string, { queue: { add(key: string): void } }> = {
      exposurepolicy: mgr.controllers.policies,
      preemptiveaction: mgr.controllers.actions,
      threatfeed: mgr.controllers.feeds.controller,
    };
    const keyCounts = Object.fromEntries(Object.entries(keys).map(([c, ks]) => [c, ks.length]));
    const reconcilesBefore = await reconciles(mgr);
    const clientBefore = await mgr.writes();
    const resyncBefore = await apiServerWrites(cp, ca);
    for (const [c, ks] of Object.entries(keys)) for (const k of ks) queues[c]!.queue.add(k);
    const current = mgr;
    await settle(
      mgr,
      'the resync reconciled every key',
      () => reconciledSince(current, reconcilesBefore, keyCounts),
      2000,
    );
    const resync = delta(resyncBefore, await apiServerWrites(cp, ca));
    emit('large_cluster_resync_writes', total(resync), 'writes', {
      byVerbAndResource: resync,
      controllerClientWrites: (await mgr.writes()) - clientBefore,
      keys: keyCounts,
      note: "every policy, action and feed key re-queued as --resync-period does; API server's apiserver_request_total write verbs, leases left out",
    });

    // A restart: the full resync, with fresh caches and no memo.
    const restartBefore = await apiServerWrites(cp, ca);
    await mgr.stop();
    mgr = undefined;
    const restarted = performance.now();
    mgr = await startManager(kc, { namespace: NS });
    // The new manager's queues report nothing until its caches have synced: settled also
    // needs every policy and action reconciled once by it.
    const fresh = mgr;
    await settle(
      mgr,
      'the restarted controller settled',
      async () =>
        settled() &&
        reconciledSince(
          fresh,
          {},
          {
            exposurepolicy: policies.length,
            preemptiveaction: actions.size,
          },
        ),
      2000,
    );
    const restartSettleMs = performance.now() - restarted - 2000;
    const restart = delta(restartBefore, await apiServerWrites(cp, ca));
    emit('large_cluster_restart_writes', total(restart), 'writes', {
      byVerbAndResource: restart,
      controllerClientWrites: await mgr.writes(),
      settleMs: Math.round(restartSettleMs),
      evaluations: [...(await evaluations(mgr)).values()].reduce((a, b) => a + b, 0),
      note: 'the manager stopped and a new one started on the same API server, until settled',
    });
  } finally {
    stopped = true;
    for (const a of aborts) a.abort();
    await mgr?.stop();
    await cp.stop();
  }
}

runMain(main);
