import { writeFile } from 'node:fs/promises';
import { parseDuration } from '../crds/duration.js';
import { percentiles } from '../lib/stats.js';
import { confidenceAt, templateLayers, type SourceConfidence } from '../policies/index.js';
import { tacticCoverage } from '../report/attack/index.js';
import type { FeedFacts, PolicyFacts, ReadinessFacts } from '../report/facts.js';
import {
  assessReadiness,
  readinessHtml,
  readinessJson,
  readinessText,
} from '../report/readiness/index.js';
import type { Writer } from './usage.js';
import { exposureIfEnforcedNow, type Plan } from './plan.js';
import { printable } from './printable.js';
import {
  readOrExit,
  readReportSource,
  countedPhases,
  coverageFromPlan,
  coverageOf,
  readForestallObjects,
  type ClusterObjects,
} from './report-sources.js';

export const READINESS_USAGE = `Usage: forestall report readiness PATH... [--json] [--html FILE] [plan flags]
       forestall report readiness --kubeconfig FILE [--context NAME] [--json] [--html FILE]

Scores the organisation on Forestall's five maturity levels (docs/readiness.md), from
what is really configured and observed: feeds and their freshness, the mode of each
layer, the layers covered, time to enforce and the exposure window, ATT&CK coverage by
tactic (the early ones above all) and the feedback loop's activity. Each level shows
its evidence and the next concrete step.

Offline, it reads the plan of PATH... (as \`forestall plan\`, with its flags: --feed,
--cluster, --now, --connector, --never-block): nothing is observed, so levels 4 and 5
cannot be reached and the exposure window is what it would be if enforced now. With
--kubeconfig it reads the cluster's ThreatFeeds, ExposurePolicies, PreemptiveActions
and ThreatExceptions with your own credentials.

Flags:
  --json                    the report as JSON (the overall level as a number in .level)
  --html FILE               also write one self-contained HTML page (no external assets)
  --kubeconfig FILE         read this cluster; give no PATH
  --context NAME            with --kubeconfig: the context (default: the current one)

Exit status: 0 when the report was written (whatever the level); 1 when the plan found
problems (the report is still written), the cluster refused the reads or FILE could not
be written; 2 for bad usage.
`;

const ZERO_FEEDBACK: ReadinessFacts['feedback'] = {
  rejected: 0,
  excepted: 0,
  lifted: 0,
  expiredClean: 0,
  feedsAdjusted: 0,
};

/** What a plan of files says: nothing observed, the exposure window as if enforced now. */
export function readinessFromPlan(plan: Plan, paths: string[]): ReadinessFacts {
  const actions = coverageFromPlan(plan);
  const planned = plan.policies.flatMap((p) =>
    p.actions.map((a) => a.action).filter((a) => a.decision !== 'audit'),
  );
  const exceptions = new Set(
    plan.policies.flatMap((p) => p.evaluation.excepted?.exceptions.map((e) => e.name) ?? []),
  );
  return {
    source: 'files',
    target: paths.join(', '),
    generatedAt: plan.now.toISOString(),
    feeds: plan.feeds.map((f): FeedFacts => ({
      name: f.name,
      format: f.format,
      ...(f.result ? { indicators: f.result.kept } : {}),
      // A feed with no content or that could not be read is not usable.
      ...(f.missing || f.error ? { fresh: false } : {}),
    })),
    policies: plan.policies.map((p): PolicyFacts => ({
      name: p.name,
      mode: p.mode as PolicyFacts['mode'],
      layers: p.layers,
      ...optional(
        'exposureWindow',
        exposureIfEnforcedNow(
          p.actions.map((a) => a.action),
          plan.now,
        ),
      ),
    })),
    actions,
    exceptions: exceptions.size,
    ...optional('exposureWindow', exposureIfEnforcedNow(planned, plan.now)),
    attack: tacticCoverage(actions, countedPhases(false)),
    feedback: ZERO_FEEDBACK,
  };
}

/** What a cluster says: its feeds' freshness and ledgers, its actions' observed times. */
export function readinessFromCluster(
  objects: ClusterObjects,
  target: string,
  now: Date,
): ReadinessFacts {
  const actions = coverageOf(objects);
  const feedback = { ...ZERO_FEEDBACK };
  const feeds = objects.feeds.map((f): FeedFacts => {
    const st = f.status;
    const refreshMs = parseDuration(f.spec.refreshInterval ?? '1h');
    const synced = st?.lastSyncTime ? Date.parse(st.lastSyncTime) : undefined;
    const ledger = st?.sourceConfidence as SourceConfidence | undefined;
    if (ledger) {
      for (const k of ['rejected', 'excepted', 'lifted', 'expiredClean'] as const)
        feedback[k] += ledger.counts[k] ?? 0;
    }
    const effective = confidenceAt(ledger, now);
    if (effective < 100) feedback.feedsAdjusted++;
    return {
      name: f.metadata?.name ?? '',
      format: f.spec.format,
      ...(st?.indicatorCount !== undefined ? { indicators: st.indicatorCount } : {}),
      ...(st?.lastSyncTime ? { lastSyncAt: st.lastSyncTime } : {}),
      refreshIntervalSeconds: refreshMs / 1000,
      fresh: synced !== undefined && now.getTime() - synced <= 2 * refreshMs,
      ...(ledger
        ? {
            sourceConfidence: {
              effective,
              adjustment: ledger.adjustment,
              rejected: ledger.counts.rejected ?? 0,
              excepted: ledger.counts.excepted ?? 0,
              lifted: ledger.counts.lifted ?? 0,
              expiredClean: ledger.counts.expiredClean ?? 0,
            },
          }
        : {}),
    };
  });
  const observed = (
    pick: (s: NonNullable<ClusterObjects['actions'][number]['status']>) => number | undefined,
  ) =>
    percentiles(
      objects.actions
        .flatMap((a) => (a.status ? [pick(a.status)] : []))
        .filter((v): v is number => v !== undefined),
    );
  return {
    source: 'cluster',
    target,
    generatedAt: now.toISOString(),
    feeds,
    policies: objects.policies.map((p): PolicyFacts => {
      const w = p.status?.exposureWindow;
      return {
        name: p.metadata?.name ?? '',
        mode: p.spec.mode ?? 'Audit',
        layers: templateLayers(p.spec),
        ...(w?.count
          ? {
              exposureWindow: {
                count: w.count,
                p50: w.p50Seconds ?? 0,
                p90: w.p90Seconds ?? 0,
                p99: w.p99Seconds ?? 0,
              },
            }
          : {}),
      };
    }),
    actions,
    exceptions: objects.exceptions.filter((e) => e.status?.phase === 'Active').length,
    ...optional(
      'timeToEnforce',
      observed((s) => s.timeToEnforceSeconds),
    ),
    ...optional(
      'exposureWindow',
      observed((s) => s.exposureWindowSeconds),
    ),
    attack: tacticCoverage(actions, countedPhases(false)),
    feedback,
  };
}

/** `{ [key]: value }` when value is defined, else nothing: for optional fields. */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

interface Read {
  facts: ReadinessFacts;
  problems: string[];
  json: boolean;
  html?: string;
}

async function read(argv: string[]): Promise<Read> {
  const r = await readReportSource(
    argv,
    {
      flag: '--json',
      value: '--html',
      refused: ['--out', '--decisions'],
      why: 'the report goes to standard output (--html FILE for the page)',
      clusterReads: 'the cluster',
    },
    {
      cluster: async (client, server) =>
        readinessFromCluster(await readForestallObjects(client), server, new Date()),
      plan: readinessFromPlan,
    },
  );
  return {
    facts: r.source,
    problems: r.problems,
    json: r.flag,
    ...(r.value !== undefined ? { html: r.value } : {}),
  };
}

export async function runReadiness(argv: string[], out: Writer, err: Writer): Promise<number> {
  const got = await readOrExit('readiness', READINESS_USAGE, argv, out, err, read);
  if ('exit' in got) return got.exit;
  const r = got.read;
  const readiness = assessReadiness(r.facts);
  for (const p of r.problems) err.write(`forestall report readiness: ${printable(p)}\n`);
  out.write(
    r.json
      ? `${JSON.stringify(readinessJson(readiness), null, 2)}\n`
      : readinessText(readiness, (line) => printable(line)),
  );
  if (r.html !== undefined) {
    try {
      await writeFile(r.html, readinessHtml(readiness));
    } catch (e) {
      err.write(`forestall report readiness: --html ${r.html}: ${(e as Error).message}\n`);
      return 1;
    }
    err.write(`forestall report readiness: level ${readiness.level}; page written to ${r.html}\n`);
  }
  return r.problems.length ? 1 : 0;
}
