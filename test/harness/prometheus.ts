/**
 * The real Prometheus parts that prove the chart's alerts and dashboard (issue 16):
 * promtool and the prometheus server, built from the Prometheus Go module by
 * test/prometheus/build.sh and cached; the integration globalSetup runs it once and
 * hands the directory over in $FORESTALL_PROMETHEUS_DIR. Also the chart's alert rules,
 * rendered by the real helm from templates/prometheusrule.yaml, the one place they are
 * written.
 *
 * A build or start-up failure throws with the tool's own output: the tests that need
 * Prometheus fail, never skip, where it cannot run.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { Manifest } from '../../connectors/core/types.js';
import {
  ENVTEST_ASSETS_ENV,
  REPO_ROOT,
  buildEnvtestAssetsSync,
  envtestBinary,
} from './envtest-assets.js';
import { freeLoopbackPorts } from './free-port.js';
import { httpGet } from './http-probe.js';
import { runSetupScript, serverWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

export type { Manifest };

export const PROMETHEUS_BUILD_SCRIPT = join(REPO_ROOT, 'test/prometheus/build.sh');
/** Carries the binaries' directory from the globalSetup to workers; build.sh also honours it. */
export const PROMETHEUS_DIR_ENV = 'FORESTALL_PROMETHEUS_DIR';
export const CHART = join(REPO_ROOT, 'charts/forestall');
/** What `helm template` needs to render the PrometheusRule, as the Prometheus Operator's CRDs would. */
export const PROMETHEUS_RULE_API = 'monitoring.coreos.com/v1/PrometheusRule';

const READY_TIMEOUT_MS = 30_000;
const TOOL_TIMEOUT_MS = 60_000;

export function buildPrometheus(): Promise<string> {
  return runSetupScript(PROMETHEUS_BUILD_SCRIPT, {
    requiredFor: 'promtool and prometheus are required for the alert and dashboard tests',
    showProgress: true,
  });
}

async function prometheusDir(): Promise<string> {
  return process.env[PROMETHEUS_DIR_ENV] ?? (await buildPrometheus());
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary to completion; a non-zero exit is a result, failing to run it at all throws. */
function run(binary: string, args: readonly string[], cwd = REPO_ROOT): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args],
      { cwd, timeout: TOOL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolve({ code: 0, stdout, stderr });
        else if (typeof error.code === 'number') resolve({ code: error.code, stdout, stderr });
        else reject(new Error(`${binary} ${args.join(' ')} could not run: ${error.message}`));
      },
    );
  });
}

/** `promtool <args>` in `cwd`. */
export async function promtool(args: readonly string[], cwd?: string): Promise<ToolResult> {
  return run(join(await prometheusDir(), 'promtool'), args, cwd);
}

/**
 * `helm template forestall charts/forestall --namespace forestall-system <args>`, parsed;
 * throws with helm's stderr when it fails. helm is the one the envtest build made.
 */
export async function renderChart(...args: string[]): Promise<Manifest[]> {
  const assets = process.env[ENVTEST_ASSETS_ENV] ?? buildEnvtestAssetsSync();
  const helm = envtestBinary(assets, 'helm');
  const result = await run(helm, [
    'template',
    'forestall',
    CHART,
    '--namespace',
    'forestall-system',
    ...args,
  ]);
  if (result.code !== 0)
    throw new Error(
      `helm template ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr}`,
    );
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** One alerting rule as the PrometheusRule carries it. */
export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/**
 * The chart's PrometheusRule groups, rendered with the rule enabled, the Operator's API
 * served and `values` (dotted key to value) on top of the defaults. Each value goes in
 * as JSON (`--set-json`), since `--set` would make 0.25 a string.
 */
export async function chartRuleGroups(values: Record<string, unknown> = {}): Promise<RuleGroup[]> {
  const manifests = await renderChart(
    '--api-versions',
    PROMETHEUS_RULE_API,
    '--set',
    'metrics.prometheusRule.enabled=true',
    ...Object.entries(values).flatMap(([key, value]) => [
      '--set-json',
      `${key}=${JSON.stringify(value)}`,
    ]),
  );
  const rules = manifests.filter((m) => m.kind === 'PrometheusRule');
  if (rules.length !== 1)
    throw new Error(`expected one PrometheusRule in the chart, got ${rules.length}`);
  return (rules[0] as unknown as { spec: { groups: RuleGroup[] } }).spec.groups;
}

/** Writes `groups` as a Prometheus rule file (what the Operator hands Prometheus). */
export function writeRuleFile(path: string, groups: readonly RuleGroup[]): string {
  writeFileSync(path, stringify({ groups }));
  return path;
}

/** What /api/v1/alerts lists. */
export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** A series of a range query (/api/v1/query_range). */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PrometheusServer {
  readonly url: string;
  /** GET `/api/v1/<path>` and its `data`; throws on anything but status success. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  alerts(): Promise<ActiveAlert[]>;
  /** The process, for its log in a failure. */
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** host:port of each target scraped as job `forestall`. */
  targets: readonly string[];
  /** Rule groups loaded as one rule file. */
  groups: readonly RuleGroup[];
  /** Scrape and rule evaluation interval; default 1s, so a test sees changes at once. */
  interval?: string;
}

/**
 * A prometheus server on a free loopback port, scraping `targets` and evaluating
 * `groups`, its TSDB in a throw-away dir. Resolves once /-/ready answers 200.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = join(await prometheusDir(), 'prometheus');
  const dir = serverWorkDir('prometheus');
  let server: ManagedProcess | undefined;
  try {
    const [port] = await freeLoopbackPorts(1);
    if (port === undefined) throw new Error('no free loopback port');
    const interval = options.interval ?? '1s';
    const rules = writeRuleFile(join(dir.path, 'rules.yaml'), options.groups);
    const config = join(dir.path, 'prometheus.yml');
    writeFileSync(
      config,
      stringify({
        global: {
          scrape_interval: interval,
          scrape_timeout: interval,
          evaluation_interval: interval,
        },
        rule_files: [rules],
        scrape_configs: [{ job_name: 'forestall', static_configs: [{ targets: options.targets }] }],
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    server = ManagedProcess.spawn({
      name: 'prometheus',
      binary,
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir.path, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      dir: dir.path,
    });
    await server.waitUntilReady({
      description: `GET ${url}/-/ready == 200`,
      check: async () => (await httpGet(`${url}/-/ready`)).status === 200,
      timeoutMs: READY_TIMEOUT_MS,
    });
    const proc = server;
    const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
      const query = new URLSearchParams(params).toString();
      const res = await httpGet(`${url}/api/v1/${path}${query ? `?${query}` : ''}`);
      const body = JSON.parse(res.body) as { status: string; data: T; error?: string };
      if (body.status !== 'success')
        throw new Error(`GET /api/v1/${path}: HTTP ${res.status} ${body.error ?? res.body}`);
      return body.data;
    };
    return {
      url,
      api,
      alerts: async () => (await api<{ alerts: ActiveAlert[] }>('alerts')).alerts,
      process: proc,
      stop: () => dir.release(proc),
    };
  } catch (err) {
    await dir.release(server);
    throw err;
  }
}
