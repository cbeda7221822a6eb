import { stat, writeFile } from 'node:fs/promises';
import {
  API_VERSION,
  TERMINAL_PHASES,
  type ExposurePolicy,
  type PreemptiveAction,
  type ThreatFeed,
} from '../crds/index.js';
import type { KubeClient } from '../controller/runtime/client.js';
import { selectsFeed, type Decision } from '../policies/index.js';
import { attackLayer } from '../report/attack/index.js';
import type { CoverageAction } from '../report/facts.js';
import { apiMessage, connect, type Writer } from './operate.js';
import { buildPlan, parsePlanArgs, type Plan } from './plan.js';
import { checkPathsExist, parseCommandLine, UsageError, type ArgValues } from './usage.js';

/**
 * `forestall report`: what Forestall's actions amount to, for people who do not read
 * PreemptiveActions. `report attack` writes an ATT&CK Navigator layer of the techniques
 * the actions mitigate (report/attack). The actions come from a plan of files, built by
 * the same code as `forestall plan`, or from a live cluster read with the caller's own
 * credentials. Each subcommand is one case of runReport.
 */

export const REPORT_USAGE = `Usage: forestall report <report> [flags]

Reports:
  attack PATH...        an ATT&CK Navigator layer (format 4.5, enterprise-attack, ATT&CK
                        18.1) of the techniques the enforced actions mitigate

Run forestall report <report> --help for its flags.
`;

export const ATTACK_USAGE = `Usage: forestall report attack PATH... [--planned] [--out FILE] [plan flags]
       forestall report attack --kubeconfig FILE [--context NAME] [--planned] [--out FILE]

Writes an ATT&CK Navigator layer (layer format 4.5, domain enterprise-attack, ATT&CK
18.1) of the techniques Forestall's actions mitigate: each action type implements
ATT&CK mitigations (docs/attack.md), and a technique scores the number of counted
actions whose mitigations MITRE relates to it. Each technique's comment names those
actions (policy/name) and the feeds behind them. Load the file in ATT&CK Navigator
(Open Existing Layer, Upload from local).

Offline, the actions are those \`forestall plan PATH...\` plans (it takes plan's flags:
--feed, --cluster, --now, --connector, --never-block): an action the plan applies
without review (decision auto) counts as enforced, one that needs approval as
planned, and an Audit policy's actions never count. With --kubeconfig they are the
cluster's PreemptiveActions, each with the feeds its spec records (else the ones
its policy selects now).

Flags:
  --planned                 count planned actions too: Pending, Proposed and Enforced
                            (offline: decisions auto and approval); without it only
                            Enforced ones count
  --out FILE                write the layer to FILE instead of standard output
  --kubeconfig FILE         read the PreemptiveActions of this cluster, with your own
                            credentials; give no PATH
  --context NAME            with --kubeconfig: the context (default: the current one)

A one-line summary goes to standard error, and when nothing is covered, why (no
feeds, no actions, none enforced): the layer says so in its description and is still
valid. Exit status: 0 when the layer was written; 1 when the plan found problems (the
layer is still written), the cluster refused the reads or FILE could not be written;
2 for bad usage.
`;

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
  const list = async <T>(kind: string) => (await client.list(API_VERSION, kind)).items as T[];
  const [actions, policies, feeds] = await Promise.all([
    list<PreemptiveAction>('PreemptiveAction'),
    list<ExposurePolicy>('ExposurePolicy'),
    list<ThreatFeed>('ThreatFeed'),
  ]);
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
  return {
    actions: actions.sort(byName).map((a) => ({
      name: a.metadata?.name ?? '',
      policy: a.spec.policyRef?.name ?? '',
      type: a.spec.type,
      layer: a.spec.layer,
      feeds: a.spec.feeds ?? feedsOf.get(a.spec.policyRef?.name ?? '') ?? [],
      phase: a.status?.phase ?? 'Pending',
    })),
    feeds: feeds.length,
  };
}

/** Takes --planned and --out out of argv; the rest is plan's command line. */
function splitReportFlags(argv: string[]): { planned: boolean; out?: string; rest: string[] } {
  const rest: string[] = [];
  let planned = false;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--planned') planned = true;
    else if (arg === '--out') {
      out = argv[++i];
      if (out === undefined) throw new UsageError("Option '--out <value>' argument missing");
    } else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
    else if (arg === '--json' || arg === '--decisions' || arg.startsWith('--decisions='))
      throw new UsageError(`${arg} is a plan flag; the report is the layer's JSON`);
    else rest.push(arg);
  }
  return { planned, ...(out !== undefined ? { out } : {}), rest };
}

interface Source {
  actions: CoverageAction[];
  /** What was read, and anything that explains an empty report: the description's opening. */
  description: string;
  problems: string[];
}

async function readSource(
  argv: string[],
): Promise<{ source: Source; planned: boolean; out?: string }> {
  if (argv.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='))) {
    const { values, positionals } = parseCommandLine(argv, {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      planned: { type: 'boolean' },
      out: { type: 'string' },
    });
    if (positionals.length)
      throw new UsageError('--kubeconfig reads the actions from the cluster: give no PATH');
    const out = await checkOut(values);
    await checkPathsExist([values.kubeconfig as string]);
    const client = connect(values);
    if (values.context !== undefined && !client.kc.getContextObject(values.context as string))
      throw new UsageError(
        `--context ${String(values.context)}: no such context in the kubeconfig`,
      );
    const server = client.kc.getCurrentCluster()?.server ?? '(no server)';
    const { actions, feeds } = await coverageFromCluster(client);
    return {
      source: {
        actions,
        description: `PreemptiveActions of the cluster at ${server}.${feeds ? '' : ' The cluster has no ThreatFeeds, so no policy has indicators to act on.'}`,
        problems: [],
      },
      planned: values.planned === true,
      ...(out !== undefined ? { out } : {}),
    };
  }
  const { planned, out, rest } = splitReportFlags(argv);
  await checkOut({ out });
  const { input } = await parsePlanArgs(rest);
  const plan = await buildPlan(input);
  const noFeeds = plan.feeds.length
    ? ''
    : ' No ThreatFeeds were found, so no policy has indicators to act on.';
  return {
    source: {
      actions: coverageFromPlan(plan),
      description: `Plan of ${input.paths.join(', ')} (decision auto counts as enforced, approval as planned).${noFeeds}`,
      problems: plan.errors,
    },
    planned,
    ...(out !== undefined ? { out } : {}),
  };
}

/** --out FILE, refused when it is a directory. */
async function checkOut(values: ArgValues): Promise<string | undefined> {
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

async function runAttack(argv: string[], out: Writer, err: Writer): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(ATTACK_USAGE);
    return 0;
  }
  let read: Awaited<ReturnType<typeof readSource>>;
  try {
    read = await readSource(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(
        `forestall report attack: ${e.message}\nRun forestall report attack --help for the flags.\n`,
      );
      return 2;
    }
    err.write(`forestall report attack: ${apiMessage(e)}\n`);
    return 1;
  }
  const { source, planned } = read;
  const counted = countedPhases(planned);
  const label = planned ? 'enforced or planned' : 'enforced';
  const layer = attackLayer(source.actions, {
    description: source.description,
    counted,
    countedLabel: label,
  });
  const text = `${JSON.stringify(layer, null, 2)}\n`;
  for (const p of source.problems) err.write(`forestall report attack: ${p}\n`);
  if (read.out !== undefined) {
    try {
      await writeFile(read.out, text);
    } catch (e) {
      err.write(`forestall report attack: --out ${read.out}: ${(e as Error).message}\n`);
      return 1;
    }
  } else out.write(text);
  const n = source.actions.filter(counted).length;
  err.write(
    `forestall report attack: ${layer.techniques.length} techniques covered by ${n} ${label} action${n === 1 ? '' : 's'} (of ${source.actions.length})${read.out !== undefined ? `; layer written to ${read.out}` : ''}\n`,
  );
  if (!layer.techniques.length) err.write(`forestall report attack: ${layer.description}\n`);
  return source.problems.length ? 1 : 0;
}

/** `forestall report <report> ...`: one case per report. */
export async function runReport(argv: string[], out: Writer, err: Writer): Promise<number> {
  const [report, ...rest] = argv;
  switch (report) {
    case 'attack':
      return runAttack(rest, out, err);
    case '-h':
    case '--help':
      out.write(REPORT_USAGE);
      return 0;
    default:
      err.write(
        `forestall report: ${report === undefined ? 'name a report' : `unknown report ${JSON.stringify(report)}`}\n\n${REPORT_USAGE}`,
      );
      return 2;
  }
}
