import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Layer } from '../crds/index.js';
import { buildPlan, type Plan, type PlanInput } from './plan.js';
import { badUsage, checkPathsExist, parseCommandLine, UsageError, type Writer } from './usage.js';

/**
 * `forestall test DIR`: policies run against fixtures with expected results, as
 * `kyverno test` does for Kyverno. Every `forestall-test.yaml` under DIR names the
 * Forestall YAML to load (feeds with their local copies, policies, exceptions), an
 * optional cluster directory and a fixed time, and lists the results it expects; the
 * plan is built by the same code as `forestall plan`, and each difference is printed.
 */

export const TEST_FILE = 'forestall-test.yaml';

export const TEST_USAGE = `Usage: forestall test DIR... [flags]

Runs every ${TEST_FILE} under each DIR: builds the plan its inputs give (as forestall
plan does) and compares it with the results it expects. Prints PASS or FAIL per
result, and for each failure what differs (- expected, + planned). Exit status: 0 when
every result matches; 1 when any differs or the inputs have problems (an invalid
object, a feed that cannot be read); 2 for bad usage or a test file that is not valid.

A ${TEST_FILE}:
  name: c2 egress on IPsum          # shown in the output (default: the file's path)
  paths: [policies, feeds]          # Forestall YAML, relative to the file (default: .)
  cluster: cluster                  # a directory of cluster objects (optional)
  feeds: {ipsum: ipsum.txt}         # feed content, NAME: FILE (else the plan-file annotation)
  now: "2026-08-22T12:00:00Z"       # the time to plan at (default: the file's own time is
                                    # not used; give one, or expiries and KEV ages move)
  connectors: {network: network:cilium}   # default connector per layer (optional)
  results:
    - policy: c2-egress-deny        # required
      matched: 120                  # indicators spec.match picked (optional)
      excepted: 1                   # indicators ThreatExceptions left out (optional)
      actions: 1                    # how many actions it plans (optional)
    - policy: c2-egress-deny
      action: c2-egress-deny-egressdeny   # one planned action; "absent: true" expects none
      decision: auto                # auto, approval or audit
      count: 42                     # indicators (CVEs, accounts) it carries
      values: [1.2.3.4]             # exactly these
      includes: [1.2.3.4]           # at least these
      excludes: [10.0.0.1]          # none of these
      connector: network:cilium
      exceptions: {fp-cdn: 1}       # ThreatException name: indicators it left out

Flags:
  --json                    one JSON document: every result with its differences
`;

const DECISIONS = ['auto', 'approval', 'audit'];

interface Expected {
  policy: string;
  action?: string;
  absent?: boolean;
  matched?: number;
  excepted?: number;
  actions?: number;
  decision?: string;
  count?: number;
  values?: string[];
  includes?: string[];
  excludes?: string[];
  connector?: string;
  exceptions?: Record<string, number>;
}

interface TestFile {
  file: string;
  name: string;
  input: PlanInput;
  results: Expected[];
}

export interface ResultReport {
  test: string;
  policy: string;
  action?: string;
  pass: boolean;
  differences: string[];
}

/** Every forestall-test.yaml under dir, sorted. */
async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.'))
        await walk(join(d, e.name));
      else if (e.isFile() && e.name === TEST_FILE) out.push(join(d, e.name));
    }
  };
  if ((await stat(dir)).isFile()) return [dir];
  await walk(dir);
  return out.sort();
}

const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Reads one test file; a field it cannot use is a UsageError naming it. */
async function readTest(file: string): Promise<TestFile> {
  const where = (field: string) => `${file}: ${field}`;
  let doc: Record<string, unknown>;
  try {
    doc = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new UsageError(`${file}: not a YAML mapping`);
  const known = ['name', 'paths', 'cluster', 'feeds', 'now', 'connectors', 'results'];
  for (const key of Object.keys(doc))
    if (!known.includes(key)) throw new UsageError(where(`unknown field ${key}`));
  const base = dirname(file);
  const paths = doc.paths === undefined ? ['.'] : doc.paths;
  if (!isStringList(paths) || !paths.length) throw new UsageError(where('paths: a list of paths'));
  const feedFiles = new Map<string, string>();
  if (doc.feeds !== undefined) {
    if (typeof doc.feeds !== 'object' || doc.feeds === null)
      throw new UsageError(where('feeds: a map of NAME: FILE'));
    for (const [name, f] of Object.entries(doc.feeds)) {
      if (typeof f !== 'string') throw new UsageError(where(`feeds.${name}: a file path`));
      feedFiles.set(name, resolve(base, f));
    }
  }
  if (doc.cluster !== undefined && typeof doc.cluster !== 'string')
    throw new UsageError(where('cluster: a directory'));
  const now = doc.now === undefined ? new Date() : new Date(String(doc.now));
  if (Number.isNaN(now.getTime()))
    throw new UsageError(where(`now: not a time: ${String(doc.now)}`));
  const defaultConnectors: Partial<Record<Layer, string>> = {};
  for (const [layer, id] of Object.entries((doc.connectors as Record<string, unknown>) ?? {}))
    defaultConnectors[layer as Layer] = String(id);
  if (!Array.isArray(doc.results) || !doc.results.length)
    throw new UsageError(where('results: a list of expected results'));
  const results = doc.results.map((r, i) => checkExpected(r, where(`results[${i}]`)));
  const resolved = paths.map((p) => resolve(base, p));
  await checkPathsExist(resolved);
  const clusterDirs = doc.cluster !== undefined ? [resolve(base, doc.cluster)] : [];
  if (clusterDirs.length) await checkPathsExist(clusterDirs);
  return {
    file,
    name: typeof doc.name === 'string' ? doc.name : file,
    results,
    input: {
      paths: resolved,
      feedFiles,
      clusterDirs,
      clusterFromFlag: clusterDirs.length > 0,
      now,
      neverBlock: [],
      defaultConnectors,
    },
  };
}

function checkExpected(raw: unknown, where: string): Expected {
  if (!raw || typeof raw !== 'object') throw new UsageError(`${where}: a mapping`);
  const r = raw as Record<string, unknown>;
  const fields: Record<string, (v: unknown) => boolean> = {
    policy: (v) => typeof v === 'string',
    action: (v) => typeof v === 'string',
    absent: (v) => typeof v === 'boolean',
    matched: Number.isInteger,
    excepted: Number.isInteger,
    actions: Number.isInteger,
    decision: (v) => DECISIONS.includes(v as string),
    count: Number.isInteger,
    values: isStringList,
    includes: isStringList,
    excludes: isStringList,
    connector: (v) => typeof v === 'string',
    exceptions: (v) =>
      typeof v === 'object' && v !== null && Object.values(v).every(Number.isInteger),
  };
  for (const [key, value] of Object.entries(r)) {
    const ok = fields[key];
    if (!ok) throw new UsageError(`${where}: unknown field ${key}`);
    if (!ok(value))
      throw new UsageError(
        `${where}.${key}: ${key === 'decision' ? `one of ${DECISIONS.join(', ')}` : 'wrong type'}: ${JSON.stringify(value)}`,
      );
  }
  if (typeof r.policy !== 'string') throw new UsageError(`${where}.policy: required`);
  const actionFields = [
    'decision',
    'count',
    'values',
    'includes',
    'excludes',
    'connector',
    'exceptions',
    'absent',
  ];
  for (const f of actionFields)
    if (r[f] !== undefined && r.action === undefined)
      throw new UsageError(`${where}.${f}: only with action`);
  return r as unknown as Expected;
}

/** The differences between one expected result and the plan, as "- expected" / "+ planned" lines. */
export function compare(plan: Plan, e: Expected): string[] {
  const diffs: string[] = [];
  const policy = plan.policies.find((p) => p.name === e.policy);
  if (!policy) return [`- policy ${e.policy}`, `+ no such policy under the test's paths`];
  const number = (what: string, want: number | undefined, got: number) => {
    if (want !== undefined && want !== got) diffs.push(`${what}: - ${want}  + ${got}`);
  };
  const ev = policy.evaluation;
  for (const c of ev.compileErrors) diffs.push(`+ compile error: ${c.message}`);
  number('matched', e.matched, ev.matched);
  number('excepted', e.excepted, ev.excepted?.indicators ?? 0);
  number('actions', e.actions, policy.actions.length);
  if (e.action === undefined) return diffs;
  const found = policy.actions.find((a) => a.action.name === e.action)?.action;
  if (e.absent) {
    if (found)
      diffs.push(`- no action ${e.action}`, `+ planned, ${found.request.values.length} indicators`);
    return diffs;
  }
  if (!found) {
    const names = policy.actions.map((a) => a.action.name);
    return [
      ...diffs,
      `- action ${e.action}`,
      `+ not planned; planned: ${names.join(', ') || 'none'}`,
    ];
  }
  const values = found.request.values;
  if (e.decision !== undefined && e.decision !== found.decision)
    diffs.push(`decision: - ${e.decision}  + ${found.decision} (${found.reason})`);
  if (e.connector !== undefined && e.connector !== found.connector)
    diffs.push(`connector: - ${e.connector}  + ${found.connector}`);
  number('count', e.count, values.length);
  const planned = new Set(values);
  if (e.values) {
    const want = new Set(e.values);
    const missing = e.values.filter((v) => !planned.has(v));
    const extra = values.filter((v) => !want.has(v));
    if (missing.length || extra.length)
      diffs.push('values:', ...missing.map((v) => `  - ${v}`), ...extra.map((v) => `  + ${v}`));
  }
  const missing = (e.includes ?? []).filter((v) => !planned.has(v));
  if (missing.length) diffs.push('includes:', ...missing.map((v) => `  - ${v}  (not planned)`));
  const present = (e.excludes ?? []).filter((v) => planned.has(v));
  if (present.length) diffs.push('excludes:', ...present.map((v) => `  + ${v}  (planned)`));
  if (e.exceptions) {
    const got = Object.fromEntries((found.exceptions ?? []).map((x) => [x.name, x.indicators]));
    for (const name of [...new Set([...Object.keys(e.exceptions), ...Object.keys(got)])].sort())
      if (e.exceptions[name] !== got[name])
        diffs.push(
          `exceptions.${name}: - ${e.exceptions[name] ?? 'none'}  + ${got[name] ?? 'none'}`,
        );
  }
  return diffs;
}

export async function runTest(argv: string[], out: Writer, err: Writer): Promise<number> {
  let tests: TestFile[];
  let json: boolean;
  try {
    const { values, positionals } = parseCommandLine(argv, {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      out.write(TEST_USAGE);
      return 0;
    }
    if (!positionals.length) throw new UsageError('give at least one DIR');
    await checkPathsExist(positionals);
    json = values.json === true;
    const files = (await Promise.all(positionals.map(findTests))).flat();
    if (!files.length) throw new UsageError(`no ${TEST_FILE} under ${positionals.join(', ')}`);
    tests = await Promise.all(files.map(readTest));
  } catch (e) {
    return badUsage(e, err, 'forestall test');
  }
  const reports: ResultReport[] = [];
  const problems: string[] = [];
  const lines: string[] = [];
  for (const t of tests) {
    let plan: Plan;
    try {
      plan = await buildPlan(t.input);
    } catch (e) {
      return badUsage(e, err, `forestall test: ${t.file}`);
    }
    for (const p of plan.errors) problems.push(`${t.name}: ${p}`);
    lines.push(`${t.name} (${relative(process.cwd(), t.file) || t.file})`);
    for (const e of t.results) {
      const differences = compare(plan, e);
      const report: ResultReport = {
        test: t.name,
        policy: e.policy,
        ...(e.action ? { action: e.action } : {}),
        pass: differences.length === 0,
        differences,
      };
      reports.push(report);
      lines.push(
        `  ${report.pass ? 'PASS' : 'FAIL'}  ${e.policy}${e.action ? ` / ${e.action}` : ''}`,
      );
      for (const d of differences) lines.push(`        ${d}`);
    }
  }
  const failed = reports.filter((r) => !r.pass).length;
  if (json) out.write(`${JSON.stringify({ results: reports, problems }, null, 2)}\n`);
  else {
    lines.push(
      '',
      `${reports.length} results: ${reports.length - failed} passed, ${failed} failed`,
    );
    out.write(`${lines.join('\n')}\n`);
  }
  for (const p of problems) err.write(`forestall test: ${p}\n`);
  return failed || problems.length ? 1 : 0;
}
