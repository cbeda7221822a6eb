import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../harness/envtest-assets.js';
import {
  chartRuleGroups,
  promtool,
  renderChart,
  writeRuleFile,
  type AlertRule,
  type Manifest,
} from '../harness/prometheus.js';

// The chart's alerts under the real promtool. The rules are rendered by the real helm
// from templates/prometheusrule.yaml, the one copy of the expressions, with the default
// values; `promtool check rules` must accept them and the unit tests in
// test/prometheus/*.rules-test.yaml (promtool's own format: input series, and the
// alerts expected at given times) must pass against them. The dashboard's ConfigMap
// is rendered here too. test/integration/prometheus-scrape.test.ts runs the same rules
// in a real Prometheus that scrapes a real controller.

const TESTS_DIR = join(REPO_ROOT, 'test/prometheus');
const TEST_FILES = readdirSync(TESTS_DIR).filter((f) => f.endsWith('.rules-test.yaml'));
const RULE_FILE = 'forestall-rules.yaml';
const RUNBOOK = 'https://github.com/forestall/forestall/blob/main/docs/troubleshooting.md';

/** Each alert and the anchor of its section in docs/troubleshooting.md. */
const ALERTS: Record<string, string> = {
  ForestallFeedStale: 'a-stale-feed',
  ForestallFeedDegraded: 'a-degraded-feed',
  ForestallFeedSyncErrors: 'feed-sync-errors',
  ForestallActionStuckProposed: 'an-action-stuck-in-proposed',
  ForestallEnforcementFailing: 'failing-enforcement',
  ForestallNoLeader: 'no-leader',
  ForestallReconcileErrors: 'reconcile-errors',
};

interface UnitTestFile {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
  }[];
}

let dir: string;
let rules: AlertRule[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forestall-promtool-'));
  const groups = await chartRuleGroups();
  rules = groups.flatMap((g) => g.rules);
  // promtool reads each test file's rule_files relative to the test file, so both go
  // into one directory.
  writeRuleFile(join(dir, RULE_FILE), groups);
  for (const file of TEST_FILES) copyFileSync(join(TESTS_DIR, file), join(dir, file));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the chart's PrometheusRule under promtool", () => {
  it('GIVEN the default values THEN it holds the seven alerts, each with a severity, a summary, a description and its runbook section', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(Object.keys(ALERTS).sort());
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(critical|warning)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      expect(rule.annotations.runbook_url, rule.alert).toBe(`${RUNBOOK}#${ALERTS[rule.alert]}`);
    }
  });

  it('THEN every runbook anchor is a section of docs/troubleshooting.md (GitHub heading anchors)', () => {
    const headings = readFileSync(join(REPO_ROOT, 'docs/troubleshooting.md'), 'utf8')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) =>
        l
          .replace(/^#+ /, '')
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
    for (const rule of rules)
      expect(headings, rule.alert).toContain(rule.annotations.runbook_url?.split('#')[1]);
  });

  it('THEN promtool check rules accepts them', async () => {
    const result = await promtool(['check', 'rules', RULE_FILE], dir);

    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 7 rules found');
  });

  it('THEN the promtool unit tests in test/prometheus pass', async () => {
    expect(TEST_FILES.sort()).toEqual([
      'actions.rules-test.yaml',
      'controller.rules-test.yaml',
      'feeds.rules-test.yaml',
    ]);

    const result = await promtool(['test', 'rules', ...TEST_FILES], dir);

    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout.match(/^ {2}SUCCESS$/gm)).toHaveLength(TEST_FILES.length);
  });

  it('THEN each alert has a unit test where it fires and one where it does not', () => {
    const cases = TEST_FILES.flatMap((file) => {
      const tests = parse(readFileSync(join(TESTS_DIR, file), 'utf8')) as UnitTestFile;
      expect(tests.rule_files, file).toEqual([RULE_FILE]);
      return tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
    const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    const silent = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));

    expect([...firing].sort()).toEqual(Object.keys(ALERTS).sort());
    expect([...silent].sort()).toEqual(Object.keys(ALERTS).sort());
  });

  it('WHEN thresholds, durations, severities and alert labels are set THEN the rules carry them', async () => {
    const groups = await chartRuleGroups({
      'metrics.prometheusRule.feedStale.refreshIntervals': 2,
      'metrics.prometheusRule.feedStale.minimumSeconds': 30,
      'metrics.prometheusRule.feedStale.for': '1s',
      'metrics.prometheusRule.feedStale.severity': 'critical',
      'metrics.prometheusRule.reconcileErrors.ratio': 0.25,
      'metrics.prometheusRule.reconcileErrors.window': '10m',
      'metrics.prometheusRule.actionStuckProposed.maxAgeSeconds': 1_000_000,
      'metrics.prometheusRule.alertLabels': { team: 'security' },
    });
    const rule = (name: string) => groups[0]!.rules.find((r) => r.alert === name)!;

    expect(rule('ForestallFeedStale')).toMatchObject({
      for: '1s',
      labels: { severity: 'critical', team: 'security' },
    });
    expect(rule('ForestallFeedStale').expr).toMatch(
      /clamp_min\(\s*2 \* max by \(feed\).*,\s*30\s*\)/s,
    );
    expect(rule('ForestallReconcileErrors').expr).toContain('[10m]');
    expect(rule('ForestallReconcileErrors').expr).toMatch(/> 0\.25$/);
    // A large number stays a plain integer (not 1e+06, which Go would print for a float).
    expect(rule('ForestallActionStuckProposed').expr).toMatch(/> 1000000$/);
    expect(rule('ForestallNoLeader').labels).toEqual({ severity: 'critical', team: 'security' });
  });

  it('WHEN leader election is off THEN ForestallNoLeader is left out (the single replica never holds a lease)', async () => {
    const groups = await chartRuleGroups({ 'leaderElection.enabled': false, replicaCount: 1 });

    expect(groups[0]!.rules.map((r) => r.alert)).not.toContain('ForestallNoLeader');
    expect(groups[0]!.rules).toHaveLength(6);
  });

  it('WHEN the rule is enabled on a cluster without the Prometheus Operator THEN it is skipped', async () => {
    const kinds = (await renderChart('--set', 'metrics.prometheusRule.enabled=true')).map(
      (m) => m.kind,
    );

    expect(kinds).not.toContain('PrometheusRule');
  });

  it('WHEN a threshold is not a number THEN the values schema refuses it', async () => {
    await expect(
      chartRuleGroups({ 'metrics.prometheusRule.feedStale.minimumSeconds': 'soon' }),
    ).rejects.toThrow(/minimumSeconds/);
  });
});

describe("the chart's Grafana dashboard ConfigMap", () => {
  const dashboardFile = readFileSync(
    join(REPO_ROOT, 'charts/forestall/dashboards/forestall.json'),
    'utf8',
  );
  const configMap = (manifests: Manifest[]) =>
    manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'forestall-dashboard') as
      (Manifest & { data: Record<string, string> }) | undefined;

  it('GIVEN the default values THEN no dashboard is rendered', async () => {
    expect(configMap(await renderChart())).toBeUndefined();
  });

  it('WHEN enabled THEN a ConfigMap with the sidecar label carries the dashboard file as it is, valid JSON', async () => {
    const cm = configMap(await renderChart('--set', 'metrics.dashboard.enabled=true'));

    expect(cm?.metadata.namespace).toBe('forestall-system');
    expect(cm?.metadata.labels).toMatchObject({
      grafana_dashboard: '1',
      'app.kubernetes.io/part-of': 'forestall',
    });
    expect(cm?.metadata.annotations).toBeUndefined();
    expect(Object.keys(cm?.data ?? {})).toEqual(['forestall.json']);
    expect(cm!.data['forestall.json']).toBe(dashboardFile.trimEnd());
    const dashboard = JSON.parse(cm!.data['forestall.json']!) as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('forestall-overview');
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });

  it('WHEN a namespace and a folder annotation are given THEN the ConfigMap goes there with them', async () => {
    const cm = configMap(
      await renderChart(
        '--set',
        'metrics.dashboard.enabled=true',
        '--set',
        'metrics.dashboard.namespace=monitoring',
        '--set',
        'metrics.dashboard.annotations.grafana_folder=Security',
      ),
    );

    expect(cm?.metadata.namespace).toBe('monitoring');
    expect(cm?.metadata.annotations).toEqual({ grafana_folder: 'Security' });
  });
});
