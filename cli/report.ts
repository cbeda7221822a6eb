import { writeFile } from 'node:fs/promises';
import { attackLayer } from '../report/attack/index.js';
import type { CoverageAction } from '../report/facts.js';
import type { Writer } from './usage.js';
import { runReadiness } from './report-readiness.js';
import {
  readOrExit,
  readReportSource,
  countedPhases,
  coverageFromCluster,
  coverageFromPlan,
} from './report-sources.js';

export { countedPhases, coverageFromCluster, coverageFromPlan } from './report-sources.js';

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
  readiness PATH...     the organisation's level on the five-level maturity model, with
                        the evidence and the next step of each level (text, --json,
                        --html FILE)

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

interface Source {
  actions: CoverageAction[];
  /** What was read, and anything that explains an empty report: the description's opening. */
  description: string;
}

async function readSource(
  argv: string[],
): Promise<{ source: Source; problems: string[]; planned: boolean; out?: string }> {
  const r = await readReportSource<Source>(
    argv,
    {
      flag: '--planned',
      value: '--out',
      refused: ['--json', '--decisions'],
      why: "the report is the layer's JSON",
      clusterReads: 'the actions from the cluster',
    },
    {
      cluster: async (client, server) => {
        const { actions, feeds } = await coverageFromCluster(client);
        return {
          actions,
          description: `PreemptiveActions of the cluster at ${server}.${feeds ? '' : ' The cluster has no ThreatFeeds, so no policy has indicators to act on.'}`,
        };
      },
      plan: (plan, paths) => {
        const noFeeds = plan.feeds.length
          ? ''
          : ' No ThreatFeeds were found, so no policy has indicators to act on.';
        return {
          actions: coverageFromPlan(plan),
          description: `Plan of ${paths.join(', ')} (decision auto counts as enforced, approval as planned).${noFeeds}`,
        };
      },
    },
  );
  return {
    source: r.source,
    problems: r.problems,
    planned: r.flag,
    ...(r.value !== undefined ? { out: r.value } : {}),
  };
}

async function runAttack(argv: string[], out: Writer, err: Writer): Promise<number> {
  const got = await readOrExit('attack', ATTACK_USAGE, argv, out, err, readSource);
  if ('exit' in got) return got.exit;
  const read = got.read;
  const { source, planned } = read;
  const counted = countedPhases(planned);
  const label = planned ? 'enforced or planned' : 'enforced';
  const layer = attackLayer(source.actions, {
    description: source.description,
    counted,
    countedLabel: label,
  });
  const text = `${JSON.stringify(layer, null, 2)}\n`;
  for (const p of read.problems) err.write(`forestall report attack: ${p}\n`);
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
  return read.problems.length ? 1 : 0;
}

/** `forestall report <report> ...`: one case per report. */
export async function runReport(argv: string[], out: Writer, err: Writer): Promise<number> {
  const [report, ...rest] = argv;
  switch (report) {
    case 'attack':
      return runAttack(rest, out, err);
    case 'readiness':
      return runReadiness(rest, out, err);
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
