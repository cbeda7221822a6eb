/**
 * `forestall plan`: the policy engine offline, as `kyverno apply` runs Kyverno's. It
 * reads ThreatFeeds, ExposurePolicies and ThreatExceptions from YAML, feed content from
 * local files and the cluster from a directory of objects, then runs the controller's
 * own code on them: feeds/ingest with the default guardrails, policies/evaluatePolicy,
 * and the connectors' renderers. Nothing is applied. With --kubeconfig the same inputs
 * come from a live cluster instead (plan-cluster.ts), read with the caller's own
 * credentials, and the same engine plans on them.
 */
import { badUsage, checkPathsExist, parseCommandLine, UsageError, type Writer } from './usage.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  formatIssues,
  LAYERS,
  validateObject,
  type ExposurePolicy,
  type ThreatException,
  type ThreatFeed,
  type Layer,
} from '../crds/index.js';
import {
  clusterRangesOf,
  ConfidenceExpressionError,
  defaultGuardrailConfig,
  Guardrails,
  infrastructureHosts,
  ingest,
  ingestSpecOf,
  type Indicator,
  type IngestResult,
} from '../feeds/index.js';
import {
  compileException,
  evaluatePolicy,
  type CompiledException,
  inventoryFromObjects,
  remediation,
  selectFeeds,
  type ActionEvidence,
  type CompileError,
  type CveEvidence,
  type Evaluation,
  type FeedView,
  type Inventory,
  type PlannedAction,
  confidenceAt,
  describeFeedback,
  templateLayers,
  type SourceConfidence,
} from '../policies/index.js';
import { percentiles, type Percentiles } from '../lib/stats.js';
import { shortAge } from './status.js';
import {
  defaultConnectorCatalog,
  manifestConnectorIds,
  writeKustomization,
  type Manifest,
  type WriteResult,
} from '../connectors/index.js';
import { feedProblems, meantForForestall, templateProblems, undefinedFeeds } from './checks.js';
import { readYamlDocuments } from './validate.js';
import { CelCache } from '../cel/index.js';
import type { KubeClient } from '../controller/runtime/client.js';
import { readCluster, type ClusterSources } from './plan-cluster.js';
import { connect } from './operate.js';

/** The connectors `plan` knows: the ones the controller ships. */
const catalog = defaultConnectorCatalog;

/** The ThreatFeed annotation naming a local copy of the feed, relative to the YAML file. */
export const PLAN_FILE_ANNOTATION = 'forestall.io/plan-file';

export const PLAN_USAGE = `Usage: forestall plan PATH... [flags]
       forestall plan --kubeconfig FILE [flags]

Runs the policy engine offline: reads ThreatFeed and ExposurePolicy YAML under each
PATH (files or directories, multi-document; other kinds are ignored), ingests each
feed from a local file with the controller's parsers and guardrails, evaluates every
policy against the cluster objects in --cluster, and prints the actions it would take:
for each, the connector, the indicators, the decision (auto: applied without review;
approval: needs a reviewer; audit: reported only) with its reason, the blast radius
and the objects the connector renders. Nothing is applied.

Feed content comes from --feed NAME=FILE, or else from the ThreatFeed's annotation
${PLAN_FILE_ANNOTATION}: FILE (relative to its YAML file). A feed with neither is
reported as having no content, and policies reading it see it as missing.

Flags:
  --feed NAME=FILE          read ThreatFeed NAME from FILE (repeatable)
  --cluster DIR             YAML of the cluster's objects (Namespaces, Deployments,
                            StatefulSets, DaemonSets, ReplicaSets, Pods, Services,
                            Ingresses, Gateways and their routes, Trivy Operator
                            VulnerabilityReports, Nodes). Without it, a cluster/ folder
                            directly under a PATH is used if there is one. Service
                            cluster IPs and Node ranges join the guardrails; Services,
                            Ingresses and routes decide which workloads are
                            internet-facing, and the reports which CVEs they run.
  --now RFC3339             evaluate at this time instead of now (reproducible output)
  --connector LAYER=ID      default connector for a layer, e.g. network=network:cilium
                            (repeatable; layers: ${LAYERS.join(', ')})
  --never-block CIDR|DOMAIN never block this either, as the controller's --never-block (repeatable)
  --json                    print one JSON object: {"actions":[{"name","type","layer",
                            "decision","indicators","blastRadius","objects":[{"apiVersion",
                            "kind","namespace","name"}]}],"policies":[...],"feeds":[...],
                            "cluster":{...},"errors":[...]} (namespace is "" for
                            cluster-scoped objects); Isolate actions also have "evidence":
                            {"target","internetFacing","exposure","vulnerabilities"}, each
                            vulnerability with its "remediation"; identity actions with
                            params.around Isolated have "evidence":
                            {"isolatedWorkloads":[{"target","isolation","accounts"}]}
  --kubeconfig FILE         read from a live cluster instead of PATHs, with your own
                            credentials: the ThreatFeeds and their last-known-good
                            snapshots (the indicators the controller keeps, guardrails
                            applied), the ExposurePolicies, the ThreatExceptions and the
                            inventory (the kinds --cluster takes); give no PATH
  --context NAME            with --kubeconfig: the context (default: the current one)
  --namespace NS            with --kubeconfig: the controller's namespace, where the
                            snapshots are (default forestall-system)
  --out DIR                 write the rendered manifests of every action, whatever its
                            decision (audit and approval ones too), into DIR as a
                            kustomization that \`kubectl kustomize DIR\` builds. A second
                            run over the same inputs changes no file: a manifest that
                            differs only in its expiry (which follows the clock) is kept
  --decisions LIST          with --out: write only the actions of these decisions,
                            comma-separated from auto, approval, audit (default: all)

Exit status: 0 when everything was evaluated; 1 when the run found problems (everything
else is still printed): a file or object is invalid as \`forestall validate\` judges it, a
feed could not be ingested, a policy has CEL compile errors, names a ThreatFeed not
defined under the PATHs, or gives its connector params it does not take, or an action
is one its connector refuses (values it cannot carry, over its size budget); 2 for bad
usage: an unknown flag, no PATH, or a PATH, --feed FILE or --cluster DIR that cannot
be read.
`;

/** What the planner needs, once the flags are parsed. */
export interface PlanInput {
  paths: string[];
  /** Feed name → file, from --feed (relative to the working directory). */
  feedFiles: ReadonlyMap<string, string>;
  /** Directories of cluster objects. */
  clusterDirs: string[];
  /** The directories came from --cluster, not from a cluster/ folder under a PATH. */
  clusterFromFlag: boolean;
  now: Date;
  neverBlock: string[];
  defaultConnectors: Partial<Record<Layer, string>>;
  /** --kubeconfig: read everything from this cluster instead of PATHs (paths[0] names it). */
  live?: { client: KubeClient; namespace: string };
}

export interface FeedReport {
  name: string;
  format: string;
  labels: Record<string, string>;
  /** Where the content came from; undefined when the feed has none. */
  file?: string;
  /** The ExposurePolicies that select it. */
  readBy: string[];
  /** Why there is no content. */
  missing?: string;
  /** Why the content could not be read or ingested. */
  error?: string;
  result?: IngestResult;
  /** --kubeconfig: the indicators of the feed's last-known-good snapshot, as the controller judged them. */
  snapshot?: readonly Indicator[];
}

export interface ActionReport {
  action: PlannedAction;
  manifests: Manifest[];
  /** The connector could not render the action: unknown connector, bad params, values it cannot carry. */
  problems: string[];
}

export interface PolicyReport {
  name: string;
  file: string;
  mode: string;
  /** spec.suspend: the controller produces no new actions for it. */
  suspended: boolean;
  /** The layers its action templates act on, sorted. */
  layers: Layer[];
  evaluation: Evaluation;
  actions: ActionReport[];
}

export interface Plan {
  now: Date;
  paths: string[];
  cluster: {
    dirs: string[];
    fromFlag: boolean;
    inventory: Inventory;
    ranges: string[];
    /** --kubeconfig: optional kinds the cluster does not serve, and what that means. */
    absent?: string[];
  };
  feeds: FeedReport[];
  policies: PolicyReport[];
  /** Anything that makes the exit status 1, each naming its file, object or field. */
  errors: string[];
}

type Loaded<T> = { object: T; file: string };

/** Reads and validates the Forestall objects under the paths, as `kubectl apply` would (schema defaults filled in). */
async function loadForestallObjects(
  paths: readonly string[],
  defaults: Partial<Record<Layer, string>>,
  errors: string[],
): Promise<{
  feeds: Loaded<ThreatFeed>[];
  policies: Loaded<ExposurePolicy>[];
  exceptions: Loaded<ThreatException>[];
}> {
  const feeds = new Map<string, Loaded<ThreatFeed>>();
  const policies = new Map<string, Loaded<ExposurePolicy>>();
  const exceptions = new Map<string, Loaded<ThreatException>>();
  for (const doc of await readYamlDocuments(paths)) {
    if ('error' in doc) {
      errors.push(`${doc.file}: ${doc.error}`);
      continue;
    }
    if (!meantForForestall(doc.object)) continue;
    const label = `${doc.file}: ${String(doc.object.kind)}/${doc.object.metadata?.name ?? '(no name)'}`;
    const result = validateObject(doc.object);
    if (!result.ok) {
      errors.push(`${label}: ${formatIssues(result.issues)}`);
      continue;
    }
    const o = result.object;
    const into =
      o.kind === 'ThreatFeed'
        ? feeds
        : o.kind === 'ExposurePolicy'
          ? policies
          : o.kind === 'ThreatException'
            ? exceptions
            : undefined;
    if (!into) continue;
    const name = o.metadata?.name ?? '';
    const seen = into.get(name);
    if (seen) {
      errors.push(
        `${label}: a ${o.kind} named ${name} is already defined in ${seen.file}; this one is ignored`,
      );
      continue;
    }
    (into as Map<string, Loaded<typeof o>>).set(name, { object: o, file: doc.file });
    // What the action reconciler would refuse; the policy is still evaluated, as the controller evaluates it.
    if (o.kind === 'ExposurePolicy') {
      const problems = templateProblems(o.spec, defaults);
      if (problems.length) errors.push(`${label}: ${formatIssues(problems)}`);
    }
  }
  for (const { object, file } of policies.values()) {
    const problems = undefinedFeeds(object.spec, new Set(feeds.keys()));
    if (problems.length)
      errors.push(
        `${file}: ExposurePolicy/${object.metadata?.name ?? ''}: ${formatIssues(problems)}`,
      );
  }
  // Code-point order, not the locale's: the output must not depend on where it runs.
  const byName = <T extends { object: { metadata?: { name?: string } } }>(a: T, b: T) => {
    const [x, y] = [a.object.metadata?.name ?? '', b.object.metadata?.name ?? ''];
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return {
    feeds: [...feeds.values()].sort(byName),
    policies: [...policies.values()].sort(byName),
    exceptions: [...exceptions.values()].sort(byName),
  };
}

/** Ingests one feed from its local file with exactly the options the controller's reconciler uses. */
async function ingestFeed(
  loaded: Loaded<ThreatFeed>,
  input: PlanInput,
  guardrails: Guardrails,
): Promise<FeedReport> {
  const feed = loaded.object;
  const name = feed.metadata?.name ?? '';
  const report = emptyReport(feed);
  // A confidence expression that does not compile is the YAML's fault, content or not.
  const problems = feedProblems(feed.spec);
  if (problems.length) {
    report.error = `${loaded.file}: ${formatIssues(problems)}`;
    return report;
  }
  const annotated = feed.metadata?.annotations?.[PLAN_FILE_ANNOTATION];
  const file =
    input.feedFiles.get(name) ?? (annotated ? join(dirname(loaded.file), annotated) : undefined);
  if (!file) {
    report.missing = `no content: give --feed ${name}=FILE or the ${PLAN_FILE_ANNOTATION} annotation`;
    return report;
  }
  report.file = file;
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
  } catch (e) {
    const via = input.feedFiles.has(name)
      ? `--feed ${name}=${file}`
      : `${loaded.file}: annotation ${PLAN_FILE_ANNOTATION}`;
    report.error = `${via}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`;
    return report;
  }
  try {
    report.result = await ingest(createReadStream(file), {
      ...ingestSpecOf(name, feed.spec),
      now: input.now,
      guardrails,
    });
  } catch (e) {
    // A confidence expression that does not compile is the YAML's fault, not the file's.
    report.error =
      e instanceof ConfidenceExpressionError
        ? `${loaded.file}: ${e.message}`
        : `${file}: ${(e as Error).message}`;
  }
  return report;
}

/** A feed's report before its content is known. */
function emptyReport(feed: ThreatFeed): FeedReport {
  return {
    name: feed.metadata?.name ?? '',
    format: feed.spec.format,
    labels: { ...feed.metadata?.labels },
    readBy: [],
  };
}

/** A feed read from the cluster: its snapshot's indicators, or why there are none. */
function snapshotReport(feed: ThreatFeed, live: ClusterSources): FeedReport {
  const name = feed.metadata?.name ?? '';
  const report = emptyReport(feed);
  const snap = live.snapshots.get(name);
  if (!snap || 'missing' in snap) report.missing = snap?.missing ?? 'no snapshot';
  else {
    report.file = snap.source;
    report.snapshot = snap.indicators;
  }
  return report;
}

/** The connector's objects for one action, or why there are none; one action's problem never hides the others'. */
function renderAction(action: PlannedAction): ActionReport {
  const info = catalog.info(action.connector);
  // Identity connectors call the provider's API once the action is approved; there is no object to render.
  if (info?.layer === 'identity') return { action, manifests: [], problems: [] };
  if (!info?.rendersManifests) {
    return {
      action,
      manifests: [],
      problems: [
        `no connector ${action.connector} renders Kubernetes objects; known connectors: ${manifestConnectorIds(catalog).join(', ')}`,
      ],
    };
  }
  const problems = info.gitForm.validate(action.request);
  if (problems.length) return { action, manifests: [], problems };
  try {
    // A manifest connector's Git form is its render: what `plan --out` writes is what a pull request carries.
    return { action, manifests: info.gitForm.render(action.request, [], ''), problems };
  } catch (e) {
    return {
      action,
      manifests: [],
      problems: [`${action.connector} failed to render: ${(e as Error).message}`],
    };
  }
}

export async function buildPlan(input: PlanInput): Promise<Plan> {
  const errors: string[] = [];
  const live = input.live
    ? await readCluster(input.live.client, input.live.namespace, errors)
    : undefined;
  const { feeds, policies, exceptions } =
    live ?? (await loadForestallObjects(input.paths, input.defaultConnectors, errors));
  for (const name of input.feedFiles.keys()) {
    // Flags are usage: a --feed file that cannot be read is bad usage, as a PATH is.
    if (!feeds.some((f) => f.object.metadata?.name === name))
      throw new UsageError(
        `--feed ${name}=...: no ThreatFeed named ${name} under ${input.paths.join(', ')}`,
      );
    const file = input.feedFiles.get(name)!;
    if (
      !(await stat(file).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      throw new UsageError(`--feed ${name}=${file}: not a readable file`);
  }

  const clusterObjects: unknown[] = live ? live.objects : [];
  for (const doc of await readYamlDocuments(input.clusterDirs)) {
    if ('error' in doc) errors.push(`${doc.file}: ${doc.error}`);
    else if (!meantForForestall(doc.object)) clusterObjects.push(doc.object);
  }
  const inventory = inventoryFromObjects(clusterObjects);
  const ranges = clusterRangesOf(clusterObjects);
  // As the controller builds them: the hosts every feed and policy names are never blocked.
  const hosts = infrastructureHosts(
    feeds.map((f) => f.object),
    policies.map((p) => p.object),
  );
  const guardrails = new Guardrails(
    defaultGuardrailConfig({
      clusterCidrs: ranges,
      infrastructureHosts: hosts,
      allowlist: input.neverBlock,
    }),
  );

  const feedReports: FeedReport[] = [];
  for (const f of feeds) {
    const report = live ? snapshotReport(f.object, live) : await ingestFeed(f, input, guardrails);
    if (report.error) errors.push(`ThreatFeed ${report.name}: ${report.error}`);
    feedReports.push(report);
  }
  // Through --kubeconfig the feeds' status says when they last changed and what the
  // feedback loop thinks of them, as the controller reads them.
  const feedStatus = new Map(feeds.map((f) => [f.object.metadata?.name, f.object.status]));
  const views: FeedView[] = feedReports.map((r) => {
    const status = live ? feedStatus.get(r.name) : undefined;
    const ledger = status?.sourceConfidence as SourceConfidence | undefined;
    return {
      name: r.name,
      labels: r.labels,
      indicators: r.result?.indicators ?? r.snapshot,
      ...(status?.lastChangeTime ? { changedAt: status.lastChangeTime } : {}),
      ...(ledger
        ? {
            sourceConfidence: {
              effective: confidenceAt(ledger, input.now),
              feedback: describeFeedback(ledger),
            },
          }
        : {}),
    };
  });
  for (const { object } of policies) {
    for (const f of selectFeeds(object.spec, views).selected)
      feedReports.find((r) => r.name === f.name)!.readBy.push(object.metadata?.name ?? '');
  }

  const compiled = compileExceptions(exceptions, errors);
  const cel = new CelCache();
  const policyReports: PolicyReport[] = policies.map(({ object, file }) => {
    const name = object.metadata?.name ?? '';
    const evaluation = evaluatePolicy(
      { name, generation: object.metadata?.generation ?? 1, spec: object.spec },
      views,
      inventory,
      {
        now: input.now,
        cel,
        connectors: catalog,
        defaultConnectors: input.defaultConnectors,
        ...(compiled.length ? { exceptions: compiled } : {}),
      },
    );
    for (const c of evaluation.compileErrors)
      errors.push(`${file}: ExposurePolicy/${name}: ${compileMessage(c)}`);
    const actions = evaluation.actions.map(renderAction);
    // What the action reconciler would refuse (values the connector cannot carry, a size
    // over its budget). A policy whose templates were refused at load is not told twice.
    if (!templateProblems(object.spec, input.defaultConnectors).length) {
      for (const { action, problems } of actions)
        for (const p of problems)
          errors.push(`${file}: ExposurePolicy/${name}: action ${action.name}: ${p}`);
    }
    return {
      name,
      file,
      mode: object.spec.mode ?? 'Audit',
      suspended: object.spec.suspend === true,
      layers: templateLayers(object.spec),
      evaluation,
      actions,
    };
  });
  return {
    now: input.now,
    paths: input.paths,
    cluster: {
      dirs: live ? [input.paths[0]!] : input.clusterDirs,
      fromFlag: input.clusterFromFlag,
      inventory,
      ranges,
      ...(live ? { absent: live.absent } : {}),
    },
    feeds: feedReports,
    policies: policyReports,
    errors,
  };
}

/** The valid ThreatExceptions, compiled as the controller compiles them; the others are errors naming the field. */
function compileExceptions(
  exceptions: readonly Loaded<ThreatException>[],
  errors: string[],
): CompiledException[] {
  const out: CompiledException[] = [];
  for (const { object, file } of exceptions) {
    const name = object.metadata?.name ?? '';
    const verdict = compileException(name, object.spec);
    if (verdict.exception) out.push(verdict.exception);
    else
      errors.push(
        `${file}: ThreatException/${name}: ${verdict.problems.join('; ')}; no policy honours it`,
      );
  }
  return out;
}

/** "spec.match: ...", whether or not the message already starts with the field path. */
function compileMessage(c: CompileError): string {
  return c.message.startsWith(`${c.field}: `) ? c.message : `${c.field}: ${c.message}`;
}

/** The --json document. "actions" has exactly the documented keys; the rest is context. */
export function planJson(plan: Plan): unknown {
  const actions = plan.policies.flatMap((p) => p.actions);
  return {
    now: plan.now.toISOString(),
    actions: actions.map(({ action, manifests }) => ({
      name: action.name,
      type: action.type,
      layer: action.layer,
      decision: action.decision,
      indicators: action.request.values.length,
      blastRadius: action.blastRadius,
      objects: manifests.map((m) => ({
        apiVersion: m.apiVersion,
        kind: m.kind,
        namespace: m.metadata.namespace ?? '',
        name: m.metadata.name,
      })),
      ...(action.evidence ? { evidence: evidenceJson(action.evidence) } : {}),
      ...(action.isolatedWorkloads?.length
        ? { evidence: { isolatedWorkloads: action.isolatedWorkloads } }
        : {}),
    })),
    policies: plan.policies.map((p) => ({
      name: p.name,
      file: p.file,
      mode: p.mode,
      suspended: p.suspended,
      matched: p.evaluation.matched,
      missingFeeds: p.evaluation.missingFeeds,
      compileErrors: p.evaluation.compileErrors,
      warnings: p.evaluation.warnings,
      exposureWindow: exposureIfEnforcedNow(
        p.actions.map((a) => a.action),
        plan.now,
      ),
      actions: p.actions.map(({ action, problems }) => ({
        name: action.name,
        connector: action.connector,
        confidence: action.confidence,
        sourceConfidence: action.sourceConfidence,
        publishedAt: action.publishedAt ?? null,
        exposureWindowSeconds: exposureSeconds(action, plan.now) ?? null,
        reason: action.reason,
        feeds: action.feeds,
        digest: action.digest,
        expiresAt: action.request.expiresAt ?? null,
        exceptions: action.exceptions ?? [],
        problems,
      })),
      excepted: p.evaluation.excepted ?? { indicators: 0, exceptions: [] },
      exceptedAway: p.evaluation.exceptedAway ?? [],
    })),
    feeds: plan.feeds.map((f) => ({
      name: f.name,
      format: f.format,
      file: f.file ?? null,
      readBy: f.readBy,
      ...(f.missing ? { missing: f.missing } : {}),
      ...(f.error ? { error: f.error } : {}),
      ...(f.snapshot ? { indicators: f.snapshot.length } : {}),
      ...(f.result
        ? {
            indicators: f.result.kept,
            byType: f.result.byType,
            dropped: f.result.dropped,
            rejected: f.result.rejected,
          }
        : {}),
    })),
    cluster: {
      dirs: plan.cluster.dirs,
      namespaces: plan.cluster.inventory.namespaces.length,
      workloads: plan.cluster.inventory.workloads.length,
      ranges: plan.cluster.ranges,
      internetFacing: internetFacing(plan.cluster.inventory),
      vulnerabilityReports: plan.cluster.inventory.exposure?.reports ?? 0,
      ignoredReports: plan.cluster.inventory.exposure?.ignoredReports ?? [],
      warnings: plan.cluster.inventory.exposure?.warnings ?? [],
    },
    errors: plan.errors,
  };
}

function evidenceJson(evidence: ActionEvidence): unknown {
  return {
    ...evidence,
    vulnerabilities: evidence.vulnerabilities.map((v) => ({ ...v, remediation: remediation(v) })),
  };
}

/** "Kind namespace/name" of every internet-facing workload, sorted. */
function internetFacing(inventory: Inventory): string[] {
  return [...(inventory.exposure?.workloads.values() ?? [])]
    .filter((w) => w.internetFacing)
    .map((w) => `${w.kind} ${w.namespace}/${w.name}`)
    .sort();
}

const n = (x: number) => x.toLocaleString('en-US');
const counts = (m: Record<string, number | undefined>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${n(v ?? 0)}`)
    .join(', ');
const plural = (x: number, one: string, many = `${one}s`) => `${n(x)} ${x === 1 ? one : many}`;

/** The readable summary. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const { inventory } = plan.cluster;
  const pods = inventory.workloads.reduce((s, w) => s + w.pods, 0);
  lines.push(
    `Plan of ${plural(plan.feeds.length, 'ThreatFeed')} and ${plural(plan.policies.length, 'ExposurePolicy', 'ExposurePolicies')} under ${plan.paths.join(', ')}, at ${plan.now.toISOString()}`,
  );
  lines.push(
    plan.cluster.dirs.length
      ? `Cluster ${plan.cluster.dirs.join(', ')}${plan.cluster.fromFlag ? '' : ' (found under the PATH; --cluster DIR chooses another)'}: ` +
          `${plural(inventory.namespaces.length, 'namespace')}, ${plural(inventory.workloads.length, 'workload')}, ${plural(pods, 'pod')}; ${plural(plan.cluster.ranges.length, 'cluster range')} never blocked`
      : 'No cluster objects (--cluster DIR): no namespaces or workloads are in scope, so namespaced connectors render nothing',
  );
  const exposure = inventory.exposure;
  if (plan.cluster.dirs.length && exposure) {
    const facing = internetFacing(inventory);
    lines.push(`  internet-facing: ${facing.length ? facing.join(', ') : 'none'}`);
    lines.push(
      `  VulnerabilityReports: ${n(exposure.reports)}${exposure.ignoredReports.length ? `, ${n(exposure.ignoredReports.length)} ignored:` : ''}`,
    );
    for (const r of exposure.ignoredReports) lines.push(`    ${r.report}: ${r.reason}`);
    for (const w of exposure.warnings) lines.push(`  warning: ${w}`);
  }
  for (const a of plan.cluster.absent ?? []) lines.push(`  absent: ${a}`);

  lines.push('', 'Feeds');
  const width = Math.max(...plan.feeds.map((f) => f.name.length), 4);
  for (const f of plan.feeds) {
    const head = `  ${f.name.padEnd(width)}  ${f.format.padEnd(5)}`;
    if (f.missing)
      lines.push(
        `${head}  ${f.missing}; ${f.readBy.length ? `missing for ${f.readBy.join(', ')}` : 'no policy reads it'}`,
      );
    else if (f.error) lines.push(`${head}  ERROR ${f.error}`);
    else if (f.snapshot) {
      const byType: Record<string, number> = {};
      for (const i of f.snapshot) byType[i.type] = (byType[i.type] ?? 0) + 1;
      lines.push(
        `${head}  ${plural(f.snapshot.length, 'indicator')} (${counts(byType) || 'none'}) from ${f.file}`,
      );
    } else if (f.result) {
      const r = f.result;
      const dropped = Object.values(r.dropped).reduce((a, b) => a + b, 0);
      lines.push(
        `${head}  ${plural(r.kept, 'indicator')} (${counts(r.byType) || 'none'}) from ${f.file}`,
      );
      if (dropped)
        lines.push(
          `  ${''.padEnd(width)}         dropped by guardrails: ${counts(r.dropped)}${r.droppedSamples.length <= 3 ? ` (${r.droppedSamples.map((d) => d.value).join(', ')})` : ''}`,
        );
      if (r.rejected)
        lines.push(
          `  ${''.padEnd(width)}         malformed records: ${n(r.rejected)}${r.rejectedSamples[0] ? ` (first: ${r.rejectedSamples[0].ref}: ${r.rejectedSamples[0].reason})` : ''}`,
        );
    }
  }
  if (!plan.feeds.length) lines.push('  none');

  for (const p of plan.policies) {
    const e = p.evaluation;
    lines.push('', `Policy ${p.name} (mode ${p.mode}, ${p.file})`);
    for (const c of e.compileErrors) lines.push(`  COMPILE ERROR ${compileMessage(c)}`);
    if (e.compileErrors.length) {
      lines.push('  not evaluated');
      continue;
    }
    if (p.suspended)
      lines.push(
        '  suspended: in a cluster it produces no new actions; the plan shows what it would do otherwise',
      );
    if (e.missingFeeds.length)
      lines.push(`  missing feeds: ${e.missingFeeds.join(', ')} (not defined, or no content)`);
    lines.push(`  matched ${plural(e.matched, 'indicator')}`);
    const window = exposureIfEnforcedNow(
      p.actions.map((a) => a.action),
      plan.now,
    );
    if (window)
      lines.push(
        `  exposure window if enforced now: p50 ${shortAge(window.p50)}, p90 ${shortAge(window.p90)}, p99 ${shortAge(window.p99)} over ${plural(window.count, 'action')} (from the intelligence's publication)`,
      );
    if (e.excepted)
      lines.push(
        `  excepted ${plural(e.excepted.indicators, 'indicator')} by ThreatExceptions: ${e.excepted.exceptions.map((x) => `${x.name} (${n(x.indicators)})`).join(', ')}`,
      );
    for (const away of e.exceptedAway ?? [])
      lines.push(
        `  action ${away.action}: every indicator excepted (${away.exceptions.map((x) => x.name).join(', ')}); in a cluster it is lifted`,
      );
    for (const { action, manifests, problems } of p.actions) {
      const br = action.blastRadius;
      const count = action.request.values.length;
      const values =
        action.type === 'Isolate'
          ? plural(count, 'CVE')
          : action.type === 'IdentitySuspend' || action.type === 'StepUpAuth'
            ? plural(count, 'account')
            : plural(count, 'indicator');
      lines.push(
        `  action ${action.name}: ${action.type} via ${action.connector}, ${values}, highest confidence ${action.confidence}`,
      );
      lines.push(`    decision     ${action.decision} (${action.reason})`);
      const exposed = exposureSeconds(action, plan.now);
      lines.push(
        exposed === undefined
          ? '    published    unknown: the source gives no first_seen, valid_from or dateAdded (in a cluster, the feed change that brought it counts)'
          : `    published    ${action.publishedAt}: exposed ${shortAge(exposed)} if enforced now`,
      );
      if (action.sourceConfidence < 100)
        lines.push(
          `    source       confidence ${action.sourceConfidence} (feedback on its feeds)`,
        );
      if (action.exceptions?.length)
        lines.push(
          `    excepted     ${action.exceptions.map((x) => `${plural(x.indicators, 'indicator')} by ${x.name}`).join(', ')}`,
        );
      if (action.layer === 'identity') {
        const reach =
          action.type === 'IdentityBlock'
            ? plural(br.addresses, 'address', 'addresses')
            : plural(br.users, 'user');
        lines.push(
          `    blast radius ${reach} at the identity provider${br.production ? ', touches production' : ''}`,
        );
        if (count <= 10) lines.push(`    values       ${action.request.values.join(', ')}`);
        (action.isolatedWorkloads ?? []).forEach((w, i) =>
          lines.push(
            `    ${i === 0 ? 'around      ' : '            '} ${w.target.kind} ${w.target.namespace}/${w.target.name} (isolated): ${listed(w.accounts)}`,
          ),
        );
      } else {
        lines.push(
          `    blast radius ${plural(br.namespaces, 'namespace')}, ${plural(br.workloads, 'workload')}, ${plural(br.pods, 'pod')}, ${plural(br.addresses, 'address', 'addresses')}${br.production ? ', touches production' : ''}`,
        );
      }
      if (action.request.expiresAt) lines.push(`    expires      ${action.request.expiresAt}`);
      else if (action.type === 'Isolate')
        lines.push('    expires      when patched (expiry UntilPatched)');
      if (action.evidence) lines.push(...formatEvidence(action.evidence));
      for (const problem of problems) lines.push(`    not rendered: ${problem}`);
      if (manifests.length) lines.push(`    objects      ${summariseObjects(manifests)}`);
      else if (catalog.info(action.connector)?.layer === 'identity')
        lines.push(
          `    objects      none: ${action.connector} changes the accounts through the provider's API once the action is approved`,
        );
    }
    if (!p.actions.length && !e.warnings.length) lines.push('  no actions');
    for (const w of e.warnings) lines.push(`  warning: ${w}`);
  }
  if (!plan.policies.length) lines.push('', 'No ExposurePolicies found.');

  const actions = plan.policies.flatMap((p) => p.actions.map((a) => a.action));
  const by = (d: string) => actions.filter((a) => a.decision === d).length;
  lines.push(
    '',
    `${plural(actions.length, 'action')}: ${by('auto')} auto, ${by('approval')} approval, ${by('audit')} audit; ${plural(actions.length ? plan.policies.flatMap((p) => p.actions).reduce((s, a) => s + a.manifests.length, 0) : 0, 'object')} rendered (--out DIR writes them)`,
  );
  if (plan.errors.length) lines.push(`${plural(plan.errors.length, 'error')}, listed on stderr`);
  return lines.join('\n') + '\n';
}

/** Seconds from the action's publication to `now`: its exposure window if it were enforced now. */
function exposureSeconds(action: PlannedAction, now: Date): number | undefined {
  if (!action.publishedAt) return undefined;
  return Math.max(0, Math.round((now.getTime() - Date.parse(action.publishedAt)) / 1000));
}

/** Percentiles of the exposure window of these actions, were they all enforced now. */
export function exposureIfEnforcedNow(
  actions: readonly PlannedAction[],
  now: Date,
): Percentiles | undefined {
  return percentiles(
    actions.flatMap((a) => {
      const s = exposureSeconds(a, now);
      return s === undefined ? [] : [s];
    }),
  );
}

/** Which workload an Isolate action isolates, through what it is reachable, and for each CVE why and how to fix it. */
function formatEvidence(evidence: ActionEvidence): string[] {
  const { target } = evidence;
  const lines = [`    isolates     ${target.kind} ${target.namespace}/${target.name}`];
  if (evidence.internetFacing)
    evidence.exposure.forEach((p, i) =>
      lines.push(`    ${i === 0 ? 'exposed by  ' : '            '} ${p.via}`),
    );
  else lines.push('    exposed by   nothing: not internet-facing (scope.exposure Any)');
  for (const v of evidence.vulnerabilities) {
    lines.push(
      `    ${v.cveID}  ${kevFacts(v)}: ${v.severity} in ${v.package ?? 'a package'} ${v.installedVersion}, container ${v.container}`,
    );
    lines.push(`      remediation: ${remediation(v)}`);
  }
  return lines;
}

/** Up to ten values, then how many more. */
function listed(values: readonly string[]): string {
  return values.length <= 10
    ? values.join(', ')
    : `${values.slice(0, 10).join(', ')}, … ${values.length - 10} more`;
}

/** "Apache Tomcat, in KEV since 2025-04-01, used in ransomware campaigns, EPSS 0.94": what the indicator carries. */
function kevFacts(v: CveEvidence): string {
  const facts = [
    [v.vendor, v.product].filter(Boolean).join(' '),
    v.dateAdded ? `in KEV since ${v.dateAdded}` : '',
    v.knownRansomwareCampaignUse ? 'used in ransomware campaigns' : '',
    v.epss !== undefined ? `EPSS ${v.epss}` : '',
  ].filter(Boolean);
  return facts.length ? facts.join(', ') : 'no KEV facts';
}

/** "2 NetworkPolicy (shop/a, staging/a), 1 ConfigMap (kube-system/b)", at most a few names per kind. */
function summariseObjects(manifests: readonly Manifest[]): string {
  const byKind = new Map<string, string[]>();
  for (const m of manifests) {
    const names = byKind.get(m.kind) ?? [];
    names.push(
      m.metadata.namespace ? `${m.metadata.namespace}/${m.metadata.name}` : m.metadata.name,
    );
    byKind.set(m.kind, names);
  }
  return [...byKind]
    .map(
      ([kind, names]) =>
        `${names.length} ${kind} (${names.slice(0, 3).join(', ')}${names.length > 3 ? `, … ${names.length - 3} more` : ''})`,
    )
    .join(', ');
}

/** Splits NAME=VALUE flags; a malformed one is a usage error naming the flag. */
function pairs(flag: string, values: readonly string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1)
      throw new UsageError(
        `--${flag} ${JSON.stringify(v)}: expected ${flag === 'feed' ? 'NAME=FILE' : 'LAYER=ID'}`,
      );
    return [v.slice(0, i), v.slice(i + 1)];
  });
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Turns the command line into a PlanInput, or throws UsageError naming the flag or path. */
export async function parsePlanArgs(
  argv: string[],
): Promise<{ input: PlanInput; json: boolean; out?: string; decisions?: Set<string> }> {
  const { values, positionals } = parseCommandLine(argv, {
    feed: { type: 'string', multiple: true },
    cluster: { type: 'string' },
    now: { type: 'string' },
    connector: { type: 'string', multiple: true },
    'never-block': { type: 'string', multiple: true },
    json: { type: 'boolean' },
    out: { type: 'string' },
    decisions: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    namespace: { type: 'string' },
  });
  let live: PlanInput['live'];
  if (values.kubeconfig !== undefined) {
    if (positionals.length)
      throw new UsageError(
        '--kubeconfig reads the feeds, policies and exceptions from the cluster: give no PATH',
      );
    for (const flag of ['feed', 'cluster', 'never-block'])
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} is for PATHs; with --kubeconfig the cluster gives it`);
    await checkPathsExist([values.kubeconfig as string]);
    const client = connect(values);
    live = { client, namespace: (values.namespace as string | undefined) ?? 'forestall-system' };
    positionals.push(`cluster ${client.kc.getCurrentCluster()?.server ?? '(no server)'}`);
  } else {
    if (values.context !== undefined || values.namespace !== undefined)
      throw new UsageError('--context and --namespace go with --kubeconfig');
    if (!positionals.length)
      throw new UsageError(
        'give at least one PATH of ThreatFeed and ExposurePolicy YAML, or --kubeconfig FILE',
      );
    await checkPathsExist(positionals);
  }
  const feedFiles = new Map<string, string>();
  for (const [name, file] of pairs('feed', values.feed as string[] | undefined)) {
    if (feedFiles.has(name)) throw new UsageError(`--feed ${name}=...: given twice`);
    feedFiles.set(name, file);
  }
  const defaultConnectors: Partial<Record<Layer, string>> = {};
  for (const [layer, id] of pairs('connector', values.connector as string[] | undefined)) {
    if (!(LAYERS as readonly string[]).includes(layer))
      throw new UsageError(
        `--connector ${layer}=${id}: unknown layer ${JSON.stringify(layer)}; expected one of ${LAYERS.join(', ')}`,
      );
    defaultConnectors[layer as Layer] = id;
  }
  let now = new Date();
  if (values.now !== undefined) {
    const text = values.now as string;
    // RFC 3339 needs a date, a time and an offset; Date.parse alone accepts far more.
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(text) ||
      Number.isNaN(Date.parse(text))
    ) {
      throw new UsageError(
        `--now ${JSON.stringify(text)}: expected an RFC 3339 time such as 2026-08-22T12:00:00Z`,
      );
    }
    now = new Date(text);
  }
  let clusterDirs: string[];
  if (values.cluster !== undefined) {
    const dir = values.cluster as string;
    if (!(await isDirectory(dir))) throw new UsageError(`--cluster ${dir}: not a directory`);
    clusterDirs = [dir];
  } else {
    clusterDirs = [];
    for (const p of positionals)
      if (await isDirectory(join(p, 'cluster'))) clusterDirs.push(join(p, 'cluster'));
  }
  const out = values.out as string | undefined;
  if (
    out !== undefined &&
    (await stat(out).then(
      (s) => !s.isDirectory(),
      () => false,
    ))
  )
    throw new UsageError(`--out ${out}: exists and is not a directory`);
  let decisions: Set<string> | undefined;
  if (values.decisions !== undefined) {
    if (out === undefined)
      throw new UsageError('--decisions chooses what --out writes: give --out DIR');
    decisions = new Set((values.decisions as string).split(',').map((d) => d.trim()));
    const unknown = [...decisions].filter((d) => !DECISIONS.includes(d));
    if (unknown.length || !decisions.size)
      throw new UsageError(
        `--decisions ${JSON.stringify(values.decisions)}: expected a comma-separated list of ${DECISIONS.join(', ')}`,
      );
  }
  return {
    input: {
      paths: positionals,
      feedFiles,
      clusterDirs,
      clusterFromFlag: values.cluster !== undefined,
      now,
      neverBlock: (values['never-block'] as string[] | undefined) ?? [],
      defaultConnectors,
      ...(live ? { live } : {}),
    },
    json: values.json === true,
    ...(out !== undefined ? { out: resolve(out) } : {}),
    ...(decisions ? { decisions } : {}),
  };
}

const DECISIONS = ['auto', 'approval', 'audit'];

export async function runPlan(argv: string[], out: Writer, err: Writer): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(PLAN_USAGE);
    return 0;
  }
  let plan: Plan;
  let args: Awaited<ReturnType<typeof parsePlanArgs>>;
  try {
    args = await parsePlanArgs(argv);
    plan = await buildPlan(args.input);
  } catch (e) {
    return badUsage(e, err, 'forestall plan', 'Run forestall plan --help for the flags.\n');
  }
  let wrote: WriteResult | undefined;
  if (args.out) {
    try {
      const chosen = plan.policies
        .flatMap((p) => p.actions)
        .filter((a) => !args.decisions || args.decisions.has(a.action.decision));
      wrote = writeKustomization(
        args.out,
        chosen.flatMap((a) => a.manifests),
        { keepExpiry: true },
      );
    } catch (e) {
      plan.errors.push(`--out ${args.out}: ${(e as Error).message}`);
    }
  }
  out.write(args.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : formatPlan(plan));
  if (wrote && !args.json) {
    out.write(
      `Wrote ${plural(wrote.files.length, 'file')} for ${args.decisions ? `the ${[...args.decisions].join(', ')} actions` : 'every action, whatever its decision,'} and kustomization.yaml to ${args.out}${wrote.removed.length ? ` (removed ${plural(wrote.removed.length, 'stale file')})` : ''}\n`,
    );
  }
  for (const e of plan.errors) err.write(`forestall plan: ${e}\n`);
  return plan.errors.length ? 1 : 0;
}
