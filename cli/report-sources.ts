import { stat } from 'node:fs/promises';
import {
  API_VERSION,
  TERMINAL_PHASES,
  type ExposurePolicy,
  type PreemptiveAction,
  type ThreatException,
  type ThreatFeed,
} from '../crds/index.js';
import type { KubeClient } from '../controller/runtime/client.js';
import { selectsFeed, type Decision } from '../policies/index.js';
import type { CoverageAction } from '../report/facts.js';
import { buildPlan, parsePlanArgs, type Plan } from './plan.js';
import {
  badUsage,
  checkPathsExist,
  parseCommandLine,
  UsageError,
  type ArgValues,
  type Writer,
} from './usage.js';
import { apiMessage, connect } from './operate.js';

/**
 * Where `forestall report` reads from: the actions of a plan of files, or the Forestall
 * objects of a cluster read with the caller's own credentials, as the reports see them.
 */

/** The phase an offline action stands for: the plan applies auto ones, proposes approval ones and only reports audit ones. */
const PHASE_OF: Record<Decision, string> = {
  auto: 'Enforced',
  approval: 'Proposed',
  audit: 'Audit',
};

/** Enforced only, or (--planned) every phase on the way to enforcement; never a terminal phase or Audit. */
export function countedPhases(planned: boolean): (a: CoverageAction) => boolean {
  return planned
    ? (a) => a.phase !== 'Audit' && !(TERMINAL_PHASES as ReadonlySet<string>).has(a.phase)
    : (a) => a.phase === 'Enforced';
}

/** The planned actions as the reports see them. */
export function coverageFromPlan(plan: Plan): CoverageAction[] {
  return plan.policies.flatMap((p) =>
    p.actions.map(({ action }) => ({
      name: action.name,
      policy: action.policy,
      type: action.type,
      layer: action.layer,
      feeds: [...action.feeds],
      phase: PHASE_OF[action.decision],
    })),
  );
}

/**
 * The cluster's PreemptiveActions as the reports see them, and how many ThreatFeeds it
 * has. An action's feeds are its spec.feeds, which the policy controller records; an
 * action written before that field existed has the feeds its policy selects (by name or
 * label) as the cluster stands now, and a hand-written one none.
 */
export async function coverageFromCluster(
  client: KubeClient,
): Promise<{ actions: CoverageAction[]; feeds: number }> {
  const objects = await readForestallObjects(client);
  return { actions: coverageOf(objects), feeds: objects.feeds.length };
}

/** The Forestall objects a report reads from a cluster. */
export interface ClusterObjects {
  actions: PreemptiveAction[];
  policies: ExposurePolicy[];
  feeds: ThreatFeed[];
  exceptions: ThreatException[];
}

export async function readForestallObjects(client: KubeClient): Promise<ClusterObjects> {
  const list = async <T>(kind: string) => (await client.list(API_VERSION, kind)).items as T[];
  const [actions, policies, feeds, exceptions] = await Promise.all([
    list<PreemptiveAction>('PreemptiveAction'),
    list<ExposurePolicy>('ExposurePolicy'),
    list<ThreatFeed>('ThreatFeed'),
    list<ThreatException>('ThreatException'),
  ]);
  return { actions, policies, feeds, exceptions };
}

/**
 * The cluster's PreemptiveActions as the reports see them. An action's feeds are its
 * spec.feeds, which the policy controller records; an action written before that field
 * existed has the feeds its policy selects (by name or label) as the cluster stands
 * now, and a hand-written one none.
 */
export function coverageOf({ actions, policies, feeds }: ClusterObjects): CoverageAction[] {
  const feedsOf = new Map(
    policies.map((p) => [
      p.metadata?.name ?? '',
      feeds
        .filter((f) => selectsFeed(p.spec, f.metadata?.name ?? '', f.metadata?.labels ?? {}))
        .map((f) => f.metadata?.name ?? '')
        .sort(),
    ]),
  );
  const byName = (a: PreemptiveAction, b: PreemptiveAction) =>
    (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1;
  return [...actions].sort(byName).map((a) => ({
    name: a.metadata?.name ?? '',
    policy: a.spec.policyRef?.name ?? '',
    type: a.spec.type,
    layer: a.spec.layer,
    feeds: a.spec.feeds ?? feedsOf.get(a.spec.policyRef?.name ?? '') ?? [],
    phase: a.status?.phase ?? 'Pending',
  }));
}

/** --out FILE, refused when it is a directory. */
export async function checkOut(values: ArgValues): Promise<string | undefined> {
  const out = values.out as string | undefined;
  if (out === undefined) return undefined;
  if (out === '') throw new UsageError('--out needs a FILE');
  if (
    await stat(out).then(
      (s) => s.isDirectory(),
      () => false,
    )
  )
    throw new UsageError(`--out ${out}: is a directory; give a FILE`);
  return out;
}

/**
 * --kubeconfig FILE [--context NAME]: the caller's client, and the server it talks to.
 * A missing file or an unknown context is bad usage.
 */
export async function clusterClient(
  values: ArgValues,
): Promise<{ client: KubeClient; server: string }> {
  await checkPathsExist([values.kubeconfig as string]);
  const client = connect(values);
  if (values.context !== undefined && !client.kc.getContextObject(values.context as string))
    throw new UsageError(`--context ${String(values.context)}: no such context in the kubeconfig`);
  return { client, server: client.kc.getCurrentCluster()?.server ?? '(no server)' };
}

/**
 * A report's sources from its command line, or the exit status: 0 after --help, 2 for
 * bad usage (with the pointer to --help), 1 when the cluster refused.
 */
export async function readOrExit<T>(
  report: string,
  usage: string,
  argv: string[],
  out: Writer,
  err: Writer,
  read: (argv: string[]) => Promise<T>,
): Promise<{ read: T } | { exit: number }> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(usage);
    return { exit: 0 };
  }
  try {
    return { read: await read(argv) };
  } catch (e) {
    if (e instanceof UsageError) {
      const help = `Run forestall report ${report} --help for the flags.\n`;
      return { exit: badUsage(e, err, `forestall report ${report}`, help) };
    }
    err.write(`forestall report ${report}: ${apiMessage(e)}\n`);
    return { exit: 1 };
  }
}

/**
 * Takes a report's own flags out of argv and leaves plan's command line: `flag` (a
 * boolean), `value` (--value FILE or --value=FILE), and the plan flags the report
 * refuses, each with why.
 */
export function splitReportFlags(
  argv: string[],
  own: { flag: string; value: string; refused: readonly string[]; why: string },
): { flag: boolean; value?: string; rest: string[] } {
  const rest: string[] = [];
  let flag = false;
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.split('=')[0]!;
    if (arg === own.flag) flag = true;
    else if (arg === own.value) {
      value = argv[++i];
      if (value === undefined)
        throw new UsageError(`Option '${own.value} <value>' argument missing`);
    } else if (name === own.value) value = arg.slice(own.value.length + 1);
    else if (own.refused.includes(name)) throw new UsageError(`${name} is a plan flag; ${own.why}`);
    else rest.push(arg);
  }
  return { flag, ...(value !== undefined ? { value } : {}), rest };
}

/** A report's own command line besides its source: see splitReportFlags. */
export interface ReportFlags {
  /** The boolean flag (`--json`) and the FILE flag (`--html`), FILE checked as --out is. */
  flag: `--${string}`;
  value: `--${string}`;
  refused: readonly string[];
  why: string;
  /** What --kubeconfig reads, for the message that refuses a PATH beside it. */
  clusterReads: string;
}

/**
 * A report's source from its command line: with --kubeconfig, what `cluster` makes of
 * the cluster (no PATH allowed); otherwise what `plan` makes of a plan of the files,
 * with the plan's errors as problems. The report's own flag and FILE come back either way.
 */
export async function readReportSource<T>(
  argv: string[],
  own: ReportFlags,
  from: {
    cluster: (client: KubeClient, server: string) => Promise<T>;
    plan: (plan: Plan, paths: string[]) => T;
  },
): Promise<{ source: T; problems: string[]; flag: boolean; value?: string }> {
  if (argv.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='))) {
    const flagName = own.flag.slice(2);
    const valueName = own.value.slice(2);
    const { values, positionals } = parseCommandLine(argv, {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      [flagName]: { type: 'boolean' },
      [valueName]: { type: 'string' },
    });
    if (positionals.length)
      throw new UsageError(`--kubeconfig reads ${own.clusterReads}: give no PATH`);
    const value = await checkOut({ out: values[valueName] });
    const { client, server } = await clusterClient(values);
    return {
      source: await from.cluster(client, server),
      problems: [],
      flag: values[flagName] === true,
      ...(value !== undefined ? { value } : {}),
    };
  }
  const { flag, value, rest } = splitReportFlags(argv, own);
  await checkOut({ out: value });
  const { input } = await parsePlanArgs(rest);
  const plan = await buildPlan(input);
  return {
    source: from.plan(plan, input.paths),
    problems: plan.errors,
    flag,
    ...(value !== undefined ? { value } : {}),
  };
}
