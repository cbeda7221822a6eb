import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../harness/control-plane.js';
import { ControllerProcess } from '../harness/controller-process.js';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import {
  chartRuleGroups,
  startPrometheus,
  type ActiveAlert,
  type PrometheusServer,
  type RangeSeries,
  type RuleGroup,
} from '../harness/prometheus.js';
import { startFeedCluster, THREATFEEDS, type threatFeedApi } from '../harness/threat-feeds.js';

// A real Prometheus scrapes a real controller process (against a real API server) and
// evaluates the chart's alert rules, rendered by helm from the template with the feed
// thresholds shortened so that the test takes seconds: a feed is stale once its last
// good sync is older than 3 refresh intervals of 2 s, for 2 s. A feed that keeps
// syncing must raise nothing; once its source is gone the stale-feed alert fires (and
// Degraded and sync errors with it); suspended, it raises nothing again, and deleted it
// leaves no series. Last, every metric name the dashboard and the rules query must be
// one this controller exports, as Prometheus itself parses the queries.
const NS = 'forestall-system';
const SOURCE = 'scraped-source';
const FEED = 'scraped';
const REFRESH_S = 2;
/** Shortened thresholds; every other value is the chart's default. */
const VALUES = {
  'metrics.prometheusRule.feedStale.refreshIntervals': 3,
  'metrics.prometheusRule.feedStale.minimumSeconds': 0,
  'metrics.prometheusRule.feedStale.for': '2s',
  'metrics.prometheusRule.feedDegraded.for': '2s',
  'metrics.prometheusRule.feedSyncErrors.threshold': 0,
  'metrics.prometheusRule.feedSyncErrors.window': '1m',
};
const FEED_ALERTS = ['ForestallFeedStale', 'ForestallFeedDegraded', 'ForestallFeedSyncErrors'];

let cp: ControlPlane;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let feeds: ReturnType<typeof threatFeedApi>;
let controller: ControllerProcess | undefined;
let prometheus: PrometheusServer | undefined;
let groups: RuleGroup[];

beforeAll(async () => {
  ({ cp, core, custom, feeds } = await startFeedCluster(NS, {
    [SOURCE]: { 'feed.txt': '77.90.185.20\n2.57.122.53\n' },
  }));
  controller = new ControllerProcess('ctrl-scraped', cp.kubeconfigPath);
  const port = await eventually(
    'the controller to serve metrics',
    () => controller!.port(),
    30_000,
  );
  groups = await chartRuleGroups(VALUES);
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`], groups });
});

// On failure, show what the controller and Prometheus logged.
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    console.error(`--- controller ---\n${controller?.tail(30)}`);
    console.error(`--- prometheus ---\n${prometheus?.process.logTail(30)}`);
  }
});

afterAll(async () => {
  await prometheus?.stop();
  if (controller) {
    controller.kill('SIGTERM');
    await controller.exited;
  }
  await cp?.stop();
});

/** The value of an instant query's one series, or undefined when it has none. */
async function instant(query: string): Promise<number | undefined> {
  const data = await prometheus!.api<{ result: { value: [number, string] }[] }>('query', { query });
  const [first] = data.result;
  return first ? Number(first.value[1]) : undefined;
}

const feedAlerts = async (): Promise<ActiveAlert[]> =>
  (await prometheus!.alerts()).filter((a) => a.labels.feed === FEED);
const firing = (alerts: ActiveAlert[], name: string) =>
  alerts.find((a) => a.labels.alertname === name && a.state === 'firing');

describe('a real Prometheus scraping the controller, with the chart’s rules', () => {
  let freshFrom = 0;
  let freshTo = 0;

  it('GIVEN a feed that syncs every 2 s THEN its freshness is scraped, every rule evaluates cleanly, and no feed alert is raised', async () => {
    await feeds.create(FEED, {
      format: 'lines',
      refreshInterval: `${REFRESH_S}s`,
      source: { configMapRef: { name: SOURCE, key: 'feed.txt' } },
    });
    await feeds.synced(FEED, 30_000);
    await eventually(
      'Prometheus to have scraped the feed and the leader',
      async () =>
        (await instant(`forestall_feed_refresh_interval_seconds{feed="${FEED}"}`)) === REFRESH_S &&
        (await instant(`forestall_feed_last_sync_timestamp_seconds{feed="${FEED}"}`)) !==
          undefined &&
        (await instant('forestall_leader_election_is_leader')) === 1,
      20_000,
    );
    // The first sync has every part: fetched, ingested, persisted.
    for (const phase of ['fetch', 'ingest', 'persist'])
      expect(
        await instant(`forestall_feed_sync_phase_seconds_count{feed="${FEED}",phase="${phase}"}`),
        phase,
      ).toBeGreaterThanOrEqual(1);

    // Longer than the 6 s after which a feed that stopped syncing would count as stale.
    freshFrom = Date.now() / 1000;
    await sleep(10_000);
    freshTo = Date.now() / 1000;
    // The rules have been evaluated past the end of the window.
    const rules = await eventually(
      'an evaluation after the fresh window',
      async () => {
        const data = await prometheus!.api<{
          groups: {
            rules: { name: string; health: string; state: string; lastEvaluation: string }[];
          }[];
        }>('rules');
        const all = data.groups.flatMap((g) => g.rules);
        return all.every((r) => Date.parse(r.lastEvaluation) / 1000 > freshTo) && all;
      },
      10_000,
    );

    expect(rules.map((r) => [r.name, r.health])).toEqual(
      groups[0]!.rules.map((r) => [r.alert, 'ok']),
    );
    expect(rules.find((r) => r.name === 'ForestallNoLeader')?.state).toBe('inactive');
    // Each evaluation writes ALERTS for a pending or firing alert: none for this feed in the window.
    const alerts = await prometheus!.api<{ result: RangeSeries[] }>('query_range', {
      query: `ALERTS{feed="${FEED}"}`,
      start: String(freshFrom),
      end: String(freshTo),
      step: '1s',
    });
    expect(alerts.result).toEqual([]);
    expect(await feedAlerts()).toEqual([]);
  });

  it('WHEN its source ConfigMap is deleted THEN the stale-feed alert fires, with Degraded and sync errors, where it did not before', async () => {
    expect(freshTo, 'the fresh window was observed first').toBeGreaterThan(0);
    await core.deleteNamespacedConfigMap({ name: SOURCE, namespace: NS });
    await feeds.degraded(FEED, 20_000);

    const alerts = await eventually(
      'the three feed alerts firing',
      async () => {
        const alerts = await feedAlerts();
        return FEED_ALERTS.every((name) => firing(alerts, name)) && alerts;
      },
      40_000,
      500,
    );

    expect(firing(alerts, 'ForestallFeedStale')).toMatchObject({
      labels: { alertname: 'ForestallFeedStale', feed: FEED, severity: 'warning' },
      annotations: {
        summary: `ThreatFeed ${FEED} is stale`,
        runbook_url: expect.stringMatching(/\/docs\/troubleshooting\.md#a-stale-feed$/),
      },
    });
    // The age Prometheus judged: past 3 intervals of 2 s.
    expect(Number(firing(alerts, 'ForestallFeedStale')!.value)).toBeGreaterThan(3 * REFRESH_S);
    expect(firing(alerts, 'ForestallFeedDegraded')?.labels.severity).toBe('warning');
    expect(firing(alerts, 'ForestallFeedSyncErrors')?.labels.severity).toBe('warning');
  });

  it('WHEN the feed is suspended THEN its interval and Degraded are no longer exported and the alerts resolve; WHEN deleted THEN its last sync goes too', async () => {
    await feeds.patchSpec(FEED, { suspend: true });
    await eventually(
      'the suspended feed without interval and Degraded',
      async () => {
        const text = await (await fetch(metricsUrl())).text();
        return (
          !text.includes(`forestall_feed_refresh_interval_seconds{feed="${FEED}"}`) &&
          !text.includes(`forestall_feed_degraded{feed="${FEED}"}`) &&
          text.includes(`forestall_feed_last_sync_timestamp_seconds{feed="${FEED}"}`)
        );
      },
      20_000,
    );
    await eventually(
      'the stale and Degraded alerts to resolve',
      async () => {
        const alerts = await feedAlerts();
        return !firing(alerts, 'ForestallFeedStale') && !firing(alerts, 'ForestallFeedDegraded');
      },
      20_000,
      500,
    );

    await custom.deleteClusterCustomObject({ ...THREATFEEDS, name: FEED });
    await eventually(
      'the deleted feed without a last sync',
      async () =>
        !(await (await fetch(metricsUrl())).text()).includes(
          `forestall_feed_last_sync_timestamp_seconds{feed="${FEED}"}`,
        ),
      20_000,
    );
  });

  it('THEN every metric name the dashboard and the rules query is one the controller exports', async () => {
    const exported = exportedNames(await (await fetch(metricsUrl())).text());
    // A sanity check of the parse: the runtime's and each kind's metrics are there.
    expect(exported).toEqual(
      expect.arrayContaining([
        'forestall_reconcile_total',
        'forestall_feed_refresh_interval_seconds',
        'forestall_actions_not_ready',
        'forestall_action_time_to_enforce_seconds_bucket',
        'forestall_policy_matched_indicators',
      ]),
    );

    const queries = [
      ...groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))),
      ...dashboardQueries(),
    ];
    expect(queries.length).toBeGreaterThan(25);
    const unknown: string[] = [];
    for (const { where, expr } of queries) {
      const ast = await prometheus!.api<unknown>('parse_query', { query: grafanaToPromql(expr) });
      const names = selectorNames(ast);
      expect(names.length, `${where} selects no metric: ${expr}`).toBeGreaterThan(0);
      for (const name of names) if (!exported.includes(name)) unknown.push(`${where}: ${name}`);
    }

    expect(unknown).toEqual([]);
  });
});

function metricsUrl(): string {
  return `http://127.0.0.1:${controller!.port()}/metrics`;
}

/** Every series name /metrics declares (# TYPE), a histogram's _bucket, _sum and _count included. */
function exportedNames(text: string): string[] {
  const names: string[] = [];
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    else if (type === 'summary') names.push(name!, `${name}_sum`, `${name}_count`);
    else names.push(name!);
  }
  return names;
}

interface Panel {
  title?: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** Each query of the dashboard: every panel's targets (rows' too) and the label_values() of its variables. */
function dashboardQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(
    readFileSync(join(REPO_ROOT, 'charts/forestall/dashboards/forestall.json'), 'utf8'),
  ) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
  const queries: { where: string; expr: string }[] = [];
  const visit = (panel: Panel) => {
    for (const t of panel.targets ?? [])
      queries.push({ where: `panel "${panel.title}"`, expr: t.expr });
    panel.panels?.forEach(visit);
  };
  dashboard.panels.forEach(visit);
  for (const v of dashboard.templating.list) {
    const metric = /^label_values\((\w+),/.exec(v.definition ?? '')?.[1];
    if (v.definition !== undefined) {
      expect(metric, `variable ${v.name}: ${v.definition}`).toBeDefined();
      queries.push({ where: `variable ${v.name}`, expr: metric! });
    }
  }
  return queries;
}

/** Grafana's variables in a query, replaced by what Prometheus can parse. */
function grafanaToPromql(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll(/\$\{?(\w+)\}?/g, 'any');
}

/** The metric names of every selector (instant or range) in Prometheus's parse of a query (/api/v1/parse_query). */
function selectorNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(selectorNames);
  if (node === null || typeof node !== 'object') return [];
  const n = node as { type?: string; name?: string };
  const own = n.type === 'vectorSelector' || n.type === 'matrixSelector' ? [n.name ?? ''] : [];
  return [...own, ...Object.values(node).flatMap(selectorNames)];
}
