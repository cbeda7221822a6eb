import { createHash } from 'node:crypto';
import { parseDuration } from '../crds/duration.js';
import {
  ACTION_TYPES,
  type ExposurePolicySpec,
  type ActionType,
  type Layer,
} from '../crds/index.js';
import { indicatorKey, type Indicator, type IndicatorType } from '../feeds/index.js';
import { Ipv4Set, parseCidr, parseIpv4 } from '../lib/net.js';
import { sortedUnion } from '../lib/sorted.js';
import {
  aroundIsolated,
  aroundProblems,
  connectorParams,
  isolatedAccounts,
  type IsolatedAccounts,
  type Isolation,
} from './around.js';
import {
  actionActivation,
  EMPTY_WORKLOAD,
  evaluateBool,
  indicatorActivation,
  type CelCache,
  type CelProgram,
  CelCompileError,
} from '../cel/index.js';
import {
  isolateActionName,
  isolationEvidence,
  matchVulnerableWorkloads,
  type IsolationCandidate,
  type IsolationMatch,
} from './isolate.js';
import {
  coversScope,
  ExceptionTally,
  exceptionApplies,
  exceptsIndicator,
  type CompiledException,
} from './exceptions.js';
import { MatchedIndicators } from './matched.js';
import { snapshotIndex } from './snapshot-index.js';
import { matchesSelector } from './selector.js';
import {
  anyLowered,
  feedsByName,
  indicatorSourceConfidence,
  provenance,
  type FeedsByName,
} from './provenance.js';
import { DEFAULT_MIN_SOURCE_CONFIDENCE } from './source-confidence.js';
import type {
  BlastRadius,
  CompileError,
  ConnectorDirectory,
  Decision,
  Evaluation,
  FeedView,
  Inventory,
  NamespaceView,
  PlannedAction,
  PolicyView,
  WorkloadView,
} from './types.js';
import { workloadKey } from './workloads.js';

/**
 * The policy engine: an ExposurePolicy, the indicators of the feeds it selects and the
 * cluster inventory in; the actions it wants, each with its blast radius and approval
 * decision, out. Pure and deterministic, so the controller and `forestall plan` agree.
 *
 * EgressDeny and DNSBlock: one action per template, carrying every matched indicator of
 * its types; spec.match sees each indicator with the empty `workload`. Isolate: one
 * action per workload in scope (and internet-facing, with scope.exposure
 * InternetFacing) that has a CVE indicator × finding pair for which spec.match holds
 * (isolate.ts); a workload without one gets no action, which the controller turns into a
 * lift. IdentitySuspend and StepUpAuth: one action per template carrying every matched
 * account; IdentityBlock: the same with IPs and CIDRs (network zones at the provider).
 * With `params.around: Isolated` (around.ts), IdentitySuspend and StepUpAuth also take
 * the accounts annotated on the workloads the policy's Isolate templates isolate.
 * Identity actions need approval unless spec.autoApprove names them (decide()).
 * policies/README.md has the rules.
 */

export interface EngineOptions {
  now: Date;
  cel: CelCache;
  /** The connectors there are (connectors/ defaultConnectorCatalog), and each layer's default. */
  connectors: ConnectorDirectory;
  /** Connector per layer when an action template names none, over the catalogue's defaults (--connector, --default-connector). */
  defaultConnectors?: Partial<Record<Layer, string>>;
  /**
   * Indicator values reviewers rejected for this policy (feedback from closed pull
   * requests): left out of every action while their suppression lasts.
   */
  suppressed?: ReadonlySet<string>;
  /**
   * The ThreatExceptions there are (compileException), valid ones only. Those in force
   * and honoured by this policy leave their indicators out of every action
   * (policies/exceptions.ts).
   */
  exceptions?: readonly CompiledException[];
}

/** Which layer each action type acts on (the CRD rules say the same). */
export const LAYER_OF: Record<ActionType, Layer> = {
  EgressDeny: 'network',
  Isolate: 'network',
  DNSBlock: 'dns',
  IdentityBlock: 'identity',
  IdentitySuspend: 'identity',
  StepUpAuth: 'identity',
  Notify: 'notify',
};

/** The layers a policy's action templates act on, sorted. */
export function templateLayers(spec: Pick<ExposurePolicySpec, 'actions'>): Layer[] {
  return [...new Set(spec.actions.map((t) => LAYER_OF[t.type]))].sort();
}

/**
 * Which indicator types each action type can act on; the others are ignored for that
 * action. Isolate acts on workloads, through their CVEs. IdentityBlock blocks sign-ins
 * from addresses (a network zone at the provider); IdentitySuspend and StepUpAuth act on
 * accounts, which feeds only produce when they state the type (feeds/normalise.ts).
 */
const VALUE_TYPES: Partial<Record<ActionType, readonly IndicatorType[]>> = {
  EgressDeny: ['ipv4', 'ipv6', 'cidr'],
  DNSBlock: ['domain'],
  IdentityBlock: ['ipv4', 'ipv6', 'cidr'],
  IdentitySuspend: ['account'],
  StepUpAuth: ['account'],
};

/** Action types this version produces: every one but Notify. */
const PRODUCED: ReadonlySet<ActionType> = new Set(ACTION_TYPES.filter((type) => type !== 'Notify'));

/**
 * The Action fields that say what kind of action it is. spec.autoApprove approves an
 * identity action only when it reads one of them (decide()).
 */
const ACTION_KIND_FIELDS = ['action.type', 'action.layer', 'action.connector'] as const;

/**
 * Labels that mark production. A namespace or workload carrying one of them makes the
 * action's blast radius `production`.
 */
export function isProduction(labels: Readonly<Record<string, string>>): boolean {
  const env = (labels['environment'] ?? labels['env'] ?? '').toLowerCase();
  return env === 'production' || env === 'prod' || labels['forestall.io/production'] === 'true';
}

/** Compiles the policy's expressions; errors carry the field path. */
export function compilePolicy(
  spec: ExposurePolicySpec,
  cel: CelCache,
): { match?: CelProgram; autoApprove?: CelProgram; errors: CompileError[] } {
  const errors: CompileError[] = [];
  const compile = (source: string | undefined, field: string, kind: 'match' | 'autoApprove') => {
    if (!source?.trim()) return undefined;
    try {
      return cel.compile(source, field, kind);
    } catch (err) {
      if (err instanceof CelCompileError) errors.push({ field: err.field, message: err.message });
      else errors.push({ field, message: `${field}: ${(err as Error).message}` });
      return undefined;
    }
  };
  const match = compile(spec.match, 'spec.match', 'match');
  const autoApprove = compile(spec.autoApprove, 'spec.autoApprove', 'autoApprove');
  return { match, autoApprove, errors };
}

/** Whether a policy reads a feed: by name, or by its label selector. */
export function selectsFeed(
  spec: Pick<ExposurePolicySpec, 'feeds'>,
  name: string,
  labels: Readonly<Record<string, string>>,
): boolean {
  return (
    (spec.feeds.names?.includes(name) ?? false) ||
    (spec.feeds.selector !== undefined && matchesSelector(spec.feeds.selector, labels))
  );
}

/** The feeds a policy selects, by name or label selector, and the names it asks for that do not exist. */
export function selectFeeds(
  spec: ExposurePolicySpec,
  feeds: readonly FeedView[],
): { selected: FeedView[]; missing: string[] } {
  const names = new Set(spec.feeds.names ?? []);
  const selected = feeds.filter((f) => selectsFeed(spec, f.name, f.labels));
  const present = new Set(selected.map((f) => f.name));
  const missing = [...names].filter((n) => !present.has(n));
  for (const f of selected)
    if (f.indicators === undefined && !missing.includes(f.name)) missing.push(f.name);
  return { selected, missing: missing.sort() };
}

/** sha256 over the sorted values, one per line. */
export function valuesDigest(values: readonly string[]): string {
  // One update: the same bytes as one per value, without a native call per value.
  return createHash('sha256')
    .update(values.length ? `${values.join('\n')}\n` : '')
    .digest('hex');
}

/** Deterministic action name: policy, type, and the template index when a type repeats; long names keep a hash. */
export function actionName(
  policy: string,
  type: ActionType,
  index: number,
  repeated: boolean,
): string {
  const name = `${policy}-${type.toLowerCase()}${repeated ? `-${index}` : ''}`;
  if (name.length <= 200) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 189)}-${hash}`;
}

/** How many addresses the values cover (a /24 counts 256). IPv6 counts saturate at Number.MAX_SAFE_INTEGER. */
export function addressCount(values: readonly string[]): number {
  const v4 = new Ipv4Set();
  let v6 = 0n;
  for (const value of values) {
    const address = parseIpv4(value);
    if (address !== undefined) {
      v4.addAddress(address);
      continue;
    }
    const cidr = parseCidr(value);
    if (cidr?.family === 4) v4.addCidr(cidr.network, cidr.prefix);
    else if (cidr?.family === 6) v6 += 1n << BigInt(128 - cidr.prefix);
    else if (value.includes(':')) v6 += 1n;
  }
  const total = BigInt(v4.addressCount()) + v6;
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

/**
 * All that evaluating `spec` reads of the inventory, as a string, when that is only its
 * scope: the namespaces and workloads it selects, with their labels and pod counts.
 * Undefined when the policy reads more: an Isolate template reads exposure and
 * vulnerability reports, a DNSBlock's blast radius (and the exceptions that cover it)
 * the whole cluster. A controller keeps an evaluation while this stays the same, so a
 * change to a workload out of a policy's scope does not evaluate that policy again.
 */
export function scopeReadKey(spec: ExposurePolicySpec, inventory: Inventory): string | undefined {
  if (spec.actions.some((t) => t.type === 'Isolate' || t.type === 'DNSBlock')) return undefined;
  const { namespaces, workloads } = scopeOf(spec, inventory);
  return JSON.stringify([
    namespaces.map((ns) => [ns.name, ns.labels]),
    workloads.map((w) => [workloadKey(w), w.labels, w.podLabels, w.pods]),
  ]);
}

/** The namespaces and workloads a policy's scope selects. */
export function scopeOf(
  spec: ExposurePolicySpec,
  inventory: Inventory,
): { namespaces: NamespaceView[]; workloads: WorkloadView[] } {
  const namespaces = inventory.namespaces.filter((ns) =>
    matchesSelector(spec.scope?.namespaceSelector, ns.labels),
  );
  const inScope = new Set(namespaces.map((ns) => ns.name));
  const workloads = inventory.workloads.filter(
    (w) => inScope.has(w.namespace) && matchesSelector(spec.scope?.workloadSelector, w.podLabels),
  );
  return { namespaces, workloads };
}

/**
 * Matches the selected feeds' indicators on their own (with the empty workload) against
 * spec.match, merging an indicator seen in several feeds into one (highest confidence
 * wins). Runtime errors are reported in `warnings` unless `warnings` is undefined.
 */
function matchIndicators(
  feeds: readonly FeedView[],
  match: CelProgram | undefined,
  now: Date,
  warnings: string[] | undefined,
): MatchedIndicators {
  const matched = new MatchedIndicators();
  const errors = new Map<string, number>();
  const nowValue = now;
  const byName = anyLowered(feeds) ? feedsByName(feeds) : undefined;
  const shortcut = match?.shortcut;
  const visit = (indicator: Indicator) => {
    const judged = shortcut ? shortcut.judge(indicator) : 'cel';
    if (judged === 'no') return;
    const sourceConfidence =
      judged === 'cel' && byName ? indicatorSourceConfidence(indicator.sources, byName) : undefined;
    if (
      match &&
      judged === 'cel' &&
      !evaluateBool(
        match,
        {
          indicator: indicatorActivation(indicator, sourceConfidence),
          workload: EMPTY_WORKLOAD,
          now: nowValue,
        },
        (m) => errors.set(m, (errors.get(m) ?? 0) + 1),
      )
    )
      return;
    matched.add(indicator);
  };
  for (const feed of feeds) {
    const list = feed.indicators ?? [];
    const index = shortcut && snapshotIndex(list);
    if (!shortcut || !index) {
      for (const indicator of list) visit(indicator);
      continue;
    }
    // Only the types the match allows, and only confidences within its bounds, reach judge().
    const { min, max } = shortcut.confidence;
    for (const [type, [from, to]] of index.ranges) {
      if (shortcut.types && !shortcut.types.has(type)) continue;
      for (let n = from; n < to; n++) {
        const c = index.confidence[n]!;
        if (c >= min && c <= max) visit(list[n]!);
      }
    }
  }
  for (const [message, count] of errors)
    warnings?.push(
      `spec.match failed on ${count} indicator(s), which count as not matching: ${message}`,
    );
  return matched;
}

interface Guards {
  maxAddresses: number;
  maxWorkloads: number;
  maxFeedChangePercent: number;
  minSourceConfidence: number;
}

function decide(
  spec: ExposurePolicySpec,
  autoApprove: CelProgram | undefined,
  action: Omit<PlannedAction, 'decision' | 'reason'>,
  feeds: readonly FeedView[],
  now: Date,
): { decision: Decision; reason: string } {
  const mode = spec.mode ?? 'Audit';
  if (mode === 'Audit')
    return { decision: 'audit', reason: 'mode Audit: computed and reported, nothing is applied' };
  if (mode === 'Propose')
    return { decision: 'approval', reason: 'mode Propose: every action needs approval' };
  const g: Guards = {
    maxAddresses: spec.guardrails?.maxAddresses ?? 65536,
    maxWorkloads: spec.guardrails?.maxWorkloads ?? 10,
    maxFeedChangePercent: spec.guardrails?.maxFeedChangePercent ?? 30,
    minSourceConfidence: spec.guardrails?.minSourceConfidence ?? DEFAULT_MIN_SOURCE_CONFIDENCE,
  };
  const br = action.blastRadius;
  if (br.addresses > g.maxAddresses)
    return {
      decision: 'approval',
      reason: `blast radius ${br.addresses} addresses exceeds spec.guardrails.maxAddresses ${g.maxAddresses}`,
    };
  if (br.workloads > g.maxWorkloads)
    return {
      decision: 'approval',
      reason: `blast radius ${br.workloads} workloads exceeds spec.guardrails.maxWorkloads ${g.maxWorkloads}`,
    };
  for (const f of feeds) {
    if (!action.feeds.includes(f.name)) continue;
    if (f.largeChange)
      return {
        decision: 'approval',
        reason: `feed ${f.name} reports LargeChange: its last sync changed more than its maxChangePercent`,
      };
    if (f.changePercent !== undefined && f.changePercent > g.maxFeedChangePercent) {
      return {
        decision: 'approval',
        reason: `feed ${f.name} changed ${f.changePercent.toFixed(1)}% in its last sync, over spec.guardrails.maxFeedChangePercent ${g.maxFeedChangePercent}`,
      };
    }
    const confidence = f.sourceConfidence;
    if (confidence && confidence.effective < g.minSourceConfidence)
      return {
        decision: 'approval',
        reason: `feed ${f.name} has source confidence ${confidence.effective}, below spec.guardrails.minSourceConfidence ${g.minSourceConfidence} (${confidence.feedback})`,
      };
  }
  if (!autoApprove)
    return {
      decision: 'approval',
      reason: 'mode Enforce without spec.autoApprove: nothing is approved automatically',
    };
  // Identity actions suspend people or force them to sign in again, so they need
  // approval by default. A rule written with network blocks in mind
  // (`action.confidence >= 90`) must not approve them as a side effect: only an
  // expression that looks at what kind of action it is can.
  if (action.layer === 'identity' && !ACTION_KIND_FIELDS.some((f) => autoApprove.reads.has(f))) {
    return {
      decision: 'approval',
      reason: `identity actions need approval unless spec.autoApprove names them, and it reads none of ${ACTION_KIND_FIELDS.join(', ')} (for example action.type == '${action.type}' && ...)`,
    };
  }
  let failure: string | undefined;
  const approved = evaluateBool(autoApprove, { action: actionActivation(action), now }, (m) => {
    failure = m;
  });
  if (failure)
    return {
      decision: 'approval',
      reason: `spec.autoApprove failed (${failure}), so approval is needed`,
    };
  return approved
    ? { decision: 'auto', reason: 'spec.autoApprove allowed it and the guardrails passed' }
    : { decision: 'approval', reason: 'spec.autoApprove is false for this action' };
}

/**
 * The blast radius of one action type over the scope. DNS blocks act cluster-wide,
 * whatever the scope. Identity actions touch no namespace or workload: their radius is
 * the accounts (IdentitySuspend, StepUpAuth) or the addresses (IdentityBlock, which
 * names no one), and it always counts as production, since an identity provider holds
 * people's real accounts and has no staging copy of them.
 */
function blastRadiusOf(
  type: ActionType,
  values: readonly string[],
  scope: ReturnType<typeof scopeOf>,
  inventory: Inventory,
): BlastRadius {
  if (LAYER_OF[type] === 'identity') {
    const block = type === 'IdentityBlock';
    return {
      namespaces: 0,
      workloads: 0,
      pods: 0,
      users: block ? 0 : values.length,
      addresses: block ? addressCount(values) : 0,
      production: true,
    };
  }
  const clusterWide = type === 'DNSBlock';
  const namespaces = clusterWide ? inventory.namespaces : scope.namespaces;
  const workloads = clusterWide ? inventory.workloads : scope.workloads;
  return {
    namespaces: namespaces.length,
    workloads: workloads.length,
    pods: workloads.reduce((n, w) => n + w.pods, 0),
    users: 0,
    addresses: type === 'EgressDeny' ? addressCount(values) : 0,
    production:
      namespaces.some((ns) => isProduction(ns.labels)) ||
      workloads.some((w) => isProduction(w.labels) || isProduction(w.podLabels)),
  };
}

export function evaluatePolicy(
  policy: PolicyView,
  feeds: readonly FeedView[],
  inventory: Inventory,
  opts: EngineOptions,
): Evaluation {
  const { spec } = policy;
  const { match, autoApprove, errors } = compilePolicy(spec, opts.cel);
  const { selected, missing } = selectFeeds(spec, feeds);
  const connectorOf = (template: ExposurePolicySpec['actions'][number]): string =>
    template.connector ??
    opts.defaultConnectors?.[LAYER_OF[template.type]] ??
    opts.connectors.defaultFor(LAYER_OF[template.type]) ??
    '';
  // A connector typo must not lift what the template enforces today: it stops the evaluation as a CEL error does.
  spec.actions.forEach((template, index) => {
    if (!VALUE_TYPES[template.type] && template.type !== 'Isolate') return;
    const problem = connectorProblem(opts.connectors, template.type, connectorOf(template));
    if (problem)
      errors.push({
        field: `spec.actions[${index}].connector`,
        message: `spec.actions[${index}].connector: ${problem}`,
      });
  });
  errors.push(...aroundProblems(spec));
  const result: Evaluation = {
    compileErrors: errors,
    missingFeeds: missing,
    matched: 0,
    actions: [],
    warnings: [],
  };
  if (errors.length) return result;

  const scope = scopeOf(spec, inventory);
  const isolates = spec.actions.some((t) => t.type === 'Isolate');
  // In a policy that only isolates, indicators on their own decide nothing but the
  // matched count: an expression over `workload` fails on the empty workload by design,
  // and saying so for every indicator would be noise.
  const alone = matchIndicators(
    selected,
    match,
    opts.now,
    isolates && !spec.actions.some((t) => VALUE_TYPES[t.type]) ? undefined : result.warnings,
  );
  let isolation: IsolationMatch | undefined;
  if (isolates) {
    if (inventory.exposure) {
      const exposure = inventory.exposure;
      const internetFacingOnly = spec.scope?.exposure === 'InternetFacing';
      const candidates = scope.workloads.filter(
        (w) =>
          !internetFacingOnly || exposure.workloads.get(workloadKey(w))?.internetFacing === true,
      );
      isolation = matchVulnerableWorkloads(
        selected,
        match,
        candidates,
        exposure,
        opts.now,
        result.warnings,
      );
    } else {
      result.warnings.push(
        "Isolate needs the workloads' exposure and VulnerabilityReports, which this inventory does not carry (Inventory.exposure); no workload is isolated",
      );
    }
  }
  // Matched: on their own, or in at least one CVE × workload pair.
  const pairOnly = [...(isolation?.indicators ?? [])]
    .filter(([, indicator]) => !alone.has(indicator))
    .map(([, indicator]) => indicator);
  result.matched = alone.size + pairOnly.length;
  if (opts.suppressed?.size) {
    const suppressed = opts.suppressed;
    const leaveOut = () => (result.suppressed = (result.suppressed ?? 0) + 1);
    for (const indicator of alone.values()) {
      if (suppressed.has(indicator.value)) {
        alone.delete(indicator);
        leaveOut();
      }
    }
    for (const indicator of pairOnly) if (suppressed.has(indicator.value)) leaveOut();
    if (isolation) {
      isolation.candidates = isolation.candidates
        .map((c) => ({ ...c, hits: c.hits.filter((h) => !suppressed.has(h.indicator.value)) }))
        .filter((c) => c.hits.length > 0);
    }
  }
  const exceptions = (opts.exceptions ?? []).filter((e) =>
    exceptionApplies(e, policy.name, opts.now),
  );
  const tally = new ExceptionTally();
  const excepted = new Set<string>();
  /** The exceptions among `candidates` that leave this indicator out; recorded as excepted when any does. */
  const exceptedBy = (indicator: Indicator, candidates: readonly CompiledException[]) => {
    const by = candidates.filter((e) => exceptsIndicator(e, indicator));
    if (by.length) excepted.add(indicatorKey(indicator));
    return by;
  };
  const exceptedCandidates =
    isolation && exceptions.length
      ? exceptIsolation(isolation, exceptions, exceptedBy)
      : new Map<IsolationCandidate, CompiledException[][]>();
  const typeCounts = new Map<ActionType, number>();
  for (const t of spec.actions) typeCounts.set(t.type, (typeCounts.get(t.type) ?? 0) + 1);
  const namespacesByName = new Map(inventory.namespaces.map((ns) => [ns.name, ns]));
  const byName = feedsByName(selected);

  // The Isolate templates are planned first: a template with params.around takes the
  // accounts of the workloads they isolate, wherever it sits in spec.actions.
  const isolatePlans = new Map<number, Omit<PlannedAction, 'decision' | 'reason'>[]>();
  spec.actions.forEach((template, index) => {
    if (template.type !== 'Isolate') return;
    const connector = connectorOf(template);
    const repeated = (typeCounts.get('Isolate') ?? 0) > 1;
    const plans = isolateActions(
      policy.name,
      spec,
      { index, repeated, connector, params: (template.params ?? {}) as Record<string, unknown> },
      isolation?.candidates ?? [],
      { namespaces: namespacesByName, feeds: byName },
      result.warnings,
      opts.now,
    );
    isolatePlans.set(index, plans);
    tallyIsolation(tally, policy.name, repeated ? index : undefined, plans, exceptedCandidates);
  });
  const around = spec.actions.some(aroundIsolated)
    ? isolatedAccounts(isolationsOf(isolatePlans, isolation), opts.suppressed, result.warnings)
    : undefined;

  spec.actions.forEach((template, index) => {
    if (!PRODUCED.has(template.type)) {
      result.warnings.push(
        `spec.actions[${index}]: ${template.type} actions are not produced by this version; the template is skipped`,
      );
      return;
    }
    const repeated = (typeCounts.get(template.type) ?? 0) > 1;
    if (template.type === 'Isolate') {
      for (const base of isolatePlans.get(index) ?? [])
        result.actions.push({ ...base, ...decide(spec, autoApprove, base, selected, opts.now) });
      return;
    }
    const types = VALUE_TYPES[template.type]!;
    const layer = LAYER_OF[template.type];
    const name = actionName(policy.name, template.type, index, repeated);
    // Exceptions narrowed to namespaces or workloads count only when the action touches
    // nothing outside them: DNS blocks act on every namespace, identity actions on none.
    const touched =
      layer === 'identity'
        ? { namespaces: [], workloads: [] }
        : template.type === 'DNSBlock'
          ? {
              namespaces: inventory.namespaces.map((ns) => ns.name),
              workloads: inventory.workloads,
            }
          : { namespaces: scope.namespaces.map((ns) => ns.name), workloads: scope.workloads };
    const honoured = exceptions.filter((e) =>
      coversScope(e, touched.namespaces, touched.workloads),
    );
    const leftOut = (indicator: Indicator) => {
      const by = honoured.length ? exceptedBy(indicator, honoured) : [];
      if (by.length) tally.add(name, by);
      return by.length > 0;
    };
    // Per type, in snapshot order: the values merge into one sorted list in linear time.
    const picked: Indicator[] = [];
    const runs: string[][] = types.map((type) => {
      const run: string[] = [];
      for (const i of alone.ofType(type)) {
        if (leftOut(i)) continue;
        picked.push(i);
        run.push(i.value);
      }
      return run;
    });
    // params.around: the accounts of the isolated workloads join the matched ones.
    const derived: IsolatedAccounts | undefined = aroundIsolated(template) ? around : undefined;
    const accounts = [...(derived?.accounts ?? [])].filter(
      (value) =>
        !leftOut({ type: 'account', value, confidence: 0, sources: [...derived!.feeds], tags: [] }),
    );
    const values = sortedUnion(accounts.length ? [...runs, accounts.sort()] : runs);
    // Nothing to act on (no account matched, no isolated workload names one): no action, so an existing one lifts.
    if (!values.length) {
      if (tally.uses(name).length) tally.emptied.add(name);
      return;
    }
    const connector = connectorOf(template);
    const feedNames = new Set<string>(derived?.feeds);
    for (const i of picked) for (const source of i.sources) feedNames.add(source);
    const sources = [...feedNames].sort();
    // The identity provider has no namespaces or pods: spec.scope does not apply to it.
    const selectors =
      layer === 'identity'
        ? {}
        : {
            ...(spec.scope?.namespaceSelector
              ? { namespaceSelector: spec.scope.namespaceSelector }
              : {}),
            ...(spec.scope?.workloadSelector
              ? { workloadSelector: spec.scope.workloadSelector }
              : {}),
          };
    const namespaces = layer === 'identity' ? [] : scope.namespaces.map((ns) => ns.name);
    const base = {
      name,
      policy: policy.name,
      type: template.type,
      layer,
      connector,
      request: {
        name,
        policy: policy.name,
        type: template.type,
        values,
        scope: { namespaces, ...selectors },
        params: connectorParams(template),
        ...(expiresAt(spec, opts.now) ? { expiresAt: expiresAt(spec, opts.now) } : {}),
      },
      digest: valuesDigest(values),
      // An account from an isolated workload is as certain as the isolation that names it.
      confidence: picked.reduce((m, i) => Math.max(m, i.confidence), derived?.confidence ?? 0),
      ...provenance(sources, picked, byName, derived?.publishedAt),
      blastRadius: blastRadiusOf(template.type, values, scope, inventory),
      feeds: sources,
      ...selectors,
      ...(derived?.workloads.length ? { isolatedWorkloads: derived.workloads } : {}),
    };
    result.actions.push({ ...base, ...decide(spec, autoApprove, base, selected, opts.now) });
  });
  if (excepted.size) {
    result.excepted = { indicators: excepted.size, exceptions: tally.summary() };
    for (const action of result.actions) {
      const uses = tally.uses(action.name);
      if (uses.length) action.exceptions = uses;
    }
    result.exceptedAway = [...tally.emptied]
      .sort()
      .map((action) => ({ action, exceptions: tally.uses(action) }));
  }
  return result;
}

/**
 * Leaves the excepted CVEs out of each isolation candidate, judging narrowed exceptions
 * by the candidate's own workload. Returns, per candidate that lost any, the exceptions
 * behind each CVE it lost; a candidate left with no CVE stays in the map and leaves the
 * isolation's candidates, so its action lifts.
 */
function exceptIsolation(
  isolation: IsolationMatch,
  exceptions: readonly CompiledException[],
  exceptedBy: (i: Indicator, candidates: readonly CompiledException[]) => CompiledException[],
): Map<IsolationCandidate, CompiledException[][]> {
  const lost = new Map<IsolationCandidate, CompiledException[][]>();
  isolation.candidates = isolation.candidates.filter((candidate) => {
    const w = candidate.workload;
    const honoured = exceptions.filter((e) => coversScope(e, [w.namespace], [w]));
    const byValue = new Map<string, CompiledException[]>();
    const hits = candidate.hits.filter((h) => {
      const by = honoured.length ? exceptedBy(h.indicator, honoured) : [];
      if (by.length) byValue.set(h.indicator.value, by);
      return by.length === 0;
    });
    if (byValue.size) lost.set(candidate, [...byValue.values()]);
    if (hits.length === 0 && byValue.size) return false;
    candidate.hits = hits;
    return true;
  });
  return lost;
}

/** Records, for one Isolate template, what exceptions left out of each workload's action, and the actions they emptied. */
function tallyIsolation(
  tally: ExceptionTally,
  policy: string,
  templateIndex: number | undefined,
  plans: readonly Omit<PlannedAction, 'decision' | 'reason'>[],
  lost: ReadonlyMap<IsolationCandidate, CompiledException[][]>,
): void {
  if (!lost.size) return;
  const byTarget = new Map(
    plans.map((p) => [
      workloadKey({ ...p.evidence!.target, namespace: p.evidence!.target.namespace ?? '' }),
      p.name,
    ]),
  );
  for (const [candidate, perValue] of lost) {
    const planned = byTarget.get(workloadKey(candidate.workload));
    const name = planned ?? isolateActionName(policy, candidate.workload, templateIndex);
    for (const by of perValue) tally.add(name, by);
    if (!planned) tally.emptied.add(name);
  }
}

/**
 * The workloads the Isolate actions isolate, once each (the first Isolate template's
 * action when several isolate one workload), in workload-key order. Built from the
 * planned actions, not the candidates, so a workload skipped for want of pod labels is
 * not counted as isolated.
 */
function isolationsOf(
  plans: ReadonlyMap<number, readonly Omit<PlannedAction, 'decision' | 'reason'>[]>,
  isolation: IsolationMatch | undefined,
): Isolation[] {
  const workloads = new Map(
    (isolation?.candidates ?? []).map((c) => [workloadKey(c.workload), c.workload]),
  );
  const out = new Map<string, Isolation>();
  for (const index of [...plans.keys()].sort((a, b) => a - b)) {
    for (const action of plans.get(index)!) {
      const target = action.evidence?.target;
      const key = target
        ? workloadKey({ kind: target.kind, namespace: target.namespace ?? '', name: target.name })
        : undefined;
      const workload = key === undefined ? undefined : workloads.get(key);
      if (!key || !workload || out.has(key)) continue;
      out.set(key, {
        workload,
        action: action.name,
        confidence: action.confidence,
        feeds: action.feeds,
        ...(action.publishedAt ? { publishedAt: action.publishedAt } : {}),
      });
    }
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, i]) => i);
}

/**
 * Why a template's connector cannot carry it, or undefined when it can. Identity
 * templates take exactly the identity connectors; the others take the connectors that
 * render Kubernetes objects, never an identity one.
 */
function connectorProblem(
  catalog: ConnectorDirectory,
  type: ActionType,
  id: string,
): string | undefined {
  const info = catalog.info(id);
  const layer = LAYER_OF[type];
  const known = (fits: (i: NonNullable<typeof info>) => boolean) =>
    catalog
      .ids()
      .filter((other) => fits(catalog.info(other)!))
      .join(', ');
  if (layer === 'identity') {
    return info?.layer === 'identity'
      ? undefined
      : `no identity connector ${id} for ${type}; known: ${known((i) => i.layer === 'identity')}`;
  }
  const manifests = known((i) => i.rendersManifests);
  if (info?.layer === 'identity')
    return `${id} acts on identity providers, not on the ${layer} layer of ${type}; known: ${manifests}`;
  return info?.rendersManifests ? undefined : `no connector ${id}; known: ${manifests}`;
}

/**
 * One Isolate action per candidate workload: its CVE ids as the values, the workload as
 * the one target, its pod template labels as the selector, a blast radius of that one
 * workload, and the evidence. A workload without pod labels is skipped with a warning: an
 * empty selector would isolate its whole namespace.
 */
function isolateActions(
  policy: string,
  spec: ExposurePolicySpec,
  template: {
    index: number;
    repeated: boolean;
    connector: string;
    params: Record<string, unknown>;
  },
  candidates: readonly IsolationCandidate[],
  byName: { namespaces: ReadonlyMap<string, NamespaceView>; feeds: FeedsByName },
  warnings: string[],
  now: Date,
): Omit<PlannedAction, 'decision' | 'reason'>[] {
  const usable = candidates.filter(({ workload: w }) => {
    if (Object.keys(w.podLabels).length) return true;
    warnings.push(
      `${w.kind} ${w.namespace}/${w.name} has no pod labels to select its pods by, so it is not isolated`,
    );
    return false;
  });
  const templateIndex = template.repeated ? template.index : undefined;
  const names = usable.map(({ workload: w }) => isolateActionName(policy, w, templateIndex));
  const expiry = expiresAt(spec, now);
  return usable.map((candidate, i) => {
    const w = candidate.workload;
    // Two workloads whose names join into the same text keep apart by a hash of their identity.
    const name =
      names.indexOf(names[i]!) === names.lastIndexOf(names[i]!)
        ? names[i]!
        : isolateActionName(policy, w, templateIndex, workloadKey(w));
    const values = [...new Set(candidate.hits.map((h) => h.indicator.value))].sort();
    const evidence = isolationEvidence(candidate);
    const workloadSelector = { matchLabels: { ...w.podLabels } };
    const ns = byName.namespaces.get(w.namespace);
    const feeds = [...new Set(candidate.hits.flatMap((h) => h.indicator.sources))].sort();
    return {
      name,
      policy,
      type: 'Isolate' as const,
      layer: LAYER_OF.Isolate,
      connector: template.connector,
      request: {
        name,
        policy,
        type: 'Isolate' as const,
        values,
        targets: [evidence.target],
        scope: { namespaces: [w.namespace], workloadSelector },
        params: template.params,
        ...(expiry ? { expiresAt: expiry } : {}),
      },
      digest: valuesDigest(values),
      confidence: candidate.hits.reduce((m, h) => Math.max(m, h.indicator.confidence), 0),
      ...provenance(
        feeds,
        candidate.hits.map((h) => h.indicator),
        byName.feeds,
      ),
      blastRadius: {
        namespaces: 1,
        workloads: 1,
        pods: w.pods,
        users: 0,
        addresses: 0,
        production:
          isProduction(ns?.labels ?? {}) || isProduction(w.labels) || isProduction(w.podLabels),
      },
      feeds,
      workloadSelector,
      evidence,
    };
  });
}

/** When an action that starts at `from` expires, or undefined for UntilPatched. */
export function expiresAt(
  spec: Pick<ExposurePolicySpec, 'expiry'>,
  from: Date,
): string | undefined {
  const expiry = spec.expiry ?? '168h';
  if (expiry === 'UntilPatched') return undefined;
  return new Date(from.getTime() + parseDuration(expiry)).toISOString();
}
