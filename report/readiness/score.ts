import { ACTION_PHASES, POLICY_MODES, TERMINAL_PHASES } from '../../crds/index.js';
import type {
  CoverageAction,
  FeedFacts,
  Percentiles,
  PolicyFacts,
  ReadinessFacts,
  TacticCoverage,
} from '../facts.js';

/**
 * The readiness report's scoring (issue 17): the organisation's level on the five levels
 * of DESIGN.md's maturity model, from what is configured and observed. Pure: it reads
 * only the facts, so the same facts always give the same report.
 *
 * Each level is a list of criteria; a level is met when all its criteria are. The
 * overall level is the highest level met together with every level below it. Level 1 is
 * the floor: a cluster with nothing configured is reported at level 1 with level 1 itself
 * unmet (`levels[0].met === false`), rather than at a level 0 the model does not have.
 * docs/readiness.md documents the criteria; change both together.
 */

export type LevelNumber = 1 | 2 | 3 | 4 | 5;
export type PolicyMode = PolicyFacts['mode'];

/** The layers the report scores: the action layers, with Isolate (network) as its own. */
export const READINESS_LAYERS = ['network', 'dns', 'identity', 'workload'] as const;
export type ReadinessLayer = (typeof READINESS_LAYERS)[number];

/** The tactics before an attack lands, where threat intelligence pays most. */
export const EARLY_TACTICS = ['reconnaissance', 'resource-development', 'initial-access'] as const;

/** Level 4 wants the 90th percentile of time to enforce at or under this. */
export const TIME_TO_ENFORCE_P90_BOUND_SECONDS = 15 * 60;

/** Level 4: "from many sources" and "at the DNS, network and identity layers". */
export const MIN_FEEDS_FOR_LEVEL_4 = 2;
export const MIN_LAYERS_FOR_LEVEL_4 = 3;

/** The phases an offline plan gives (CoverageAction.phase), then a cluster's, in order. */
export const PHASES = ['Audit', ...ACTION_PHASES] as const;

export const LEVELS: readonly { level: LevelNumber; name: string; means: string }[] = [
  { level: 1, name: 'Passive monitoring', means: 'sees what would be blocked' },
  { level: 2, name: 'Manual enforcement', means: 'a human decides every block' },
  { level: 3, name: 'Policy-based integration', means: 'automation for one use case' },
  {
    level: 4,
    name: 'Automated enforcement',
    means: 'known-bad traffic is blocked fast, from many sources, on several layers',
  },
  {
    level: 5,
    name: 'Self-improving',
    means: 'outcomes tune policy, and the team can show what was stopped and how fast',
  },
];

export interface LevelAssessment {
  level: LevelNumber;
  name: string;
  /** What the organisation does at this level (DESIGN.md's maturity model). */
  means: string;
  met: boolean;
  /** Short sentences built from the facts, one per criterion, for and against. */
  evidence: string[];
  /** What to configure for each criterion still unmet, in order; empty when met. */
  steps: string[];
  /** The first of `steps`: the next concrete step at this level. */
  next?: string;
}

export interface LayerState {
  layer: ReadinessLayer;
  /** How many policies act on the layer, by mode. */
  policies: Record<PolicyMode, number>;
  /** The strongest mode on the layer (Enforce, then Propose, then Audit); absent when none acts on it. */
  mode?: PolicyMode;
  actions: number;
  enforced: number;
}

export interface EarlyAwareTactic extends TacticCoverage {
  early: boolean;
}

export interface Readiness {
  level: LevelNumber;
  name: string;
  source: ReadinessFacts['source'];
  target: string;
  generatedAt: string;
  /** Plain statements about the input that a reader must see first (no feeds, all expired). */
  summary: string[];
  /** The next concrete step overall: the first unmet level's. */
  next?: string;
  levels: LevelAssessment[];
  feeds: FeedFacts[];
  freshFeeds: number;
  policies: Record<PolicyMode, number>;
  layers: LayerState[];
  /** Actions by phase, every phase of PHASES present. */
  phases: Record<string, number>;
  exceptions: number;
  timeToEnforce?: Percentiles;
  exposureWindow?: Percentiles;
  attack: { tactics: EarlyAwareTactic[]; techniquesCovered: number };
  feedback: ReadinessFacts['feedback'];
}

interface Criterion {
  met: boolean;
  evidence: string;
  /** What to configure when unmet. */
  step: string;
}

/** What the criteria read, derived once from the facts. */
interface Observed {
  facts: ReadinessFacts;
  usable: FeedFacts[];
  stale: FeedFacts[];
  phases: Record<string, number>;
  layers: LayerState[];
  tactics: EarlyAwareTactic[];
}

export function assessReadiness(facts: ReadinessFacts): Readiness {
  const o = observe(facts);
  const levels = [level1, level2, level3, level4, level5].map((criteriaOf, i) =>
    assessLevel(LEVELS[i]!, criteriaOf(o)),
  );
  const firstUnmet = levels.findIndex((l) => !l.met);
  const reached = (firstUnmet === -1 ? 5 : Math.max(1, firstUnmet)) as LevelNumber;
  const policies = countBy(POLICY_MODES, facts.policies, (p) => p.mode);
  return {
    level: reached,
    name: LEVELS[reached - 1]!.name,
    source: facts.source,
    target: facts.target,
    generatedAt: facts.generatedAt,
    summary: summaryOf(o),
    next: firstUnmet === -1 ? undefined : levels[firstUnmet]!.next,
    levels,
    feeds: facts.feeds,
    freshFeeds: o.usable.length,
    policies,
    layers: o.layers,
    phases: o.phases,
    exceptions: facts.exceptions,
    timeToEnforce: facts.timeToEnforce,
    exposureWindow: facts.exposureWindow,
    attack: { tactics: o.tactics, techniquesCovered: facts.attack.techniquesCovered },
    feedback: facts.feedback,
  };
}

function assessLevel(
  def: (typeof LEVELS)[number],
  criteria: readonly Criterion[],
): LevelAssessment {
  const steps = criteria.filter((c) => !c.met).map((c) => c.step);
  return {
    ...def,
    met: steps.length === 0,
    evidence: criteria.map((c) => c.evidence),
    steps,
    next: steps[0],
  };
}

function observe(facts: ReadinessFacts): Observed {
  // Offline, freshness is unknown (undefined): a feed file that was read counts. In a
  // cluster only a feed the filler judged fresh does; unknown there means never synced.
  const usable = facts.feeds.filter((f) =>
    facts.source === 'files' ? f.fresh !== false : f.fresh === true,
  );
  return {
    facts,
    usable,
    stale: facts.feeds.filter((f) => !usable.includes(f)),
    phases: countBy(PHASES, facts.actions, (a) => a.phase),
    layers: layerStates(facts.policies, facts.actions),
    tactics: facts.attack.tactics.map((t) => ({
      ...t,
      early: (EARLY_TACTICS as readonly string[]).includes(t.shortname),
    })),
  };
}

/** The report's layer of an action: Isolate is the workload layer; notify is none. */
export function layerOfAction(
  a: Pick<CoverageAction, 'type' | 'layer'>,
): ReadinessLayer | undefined {
  if (a.type === 'Isolate') return 'workload';
  return a.layer === 'notify' ? undefined : a.layer;
}

/**
 * The layers a policy acts on: those of its actions, else the layers its templates
 * declare. PolicyFacts does not tell Isolate from EgressDeny, so a policy with only
 * Isolate templates and no actions yet counts under network: a known limit.
 */
function policyLayers(p: PolicyFacts, actions: readonly CoverageAction[]): Set<ReadinessLayer> {
  const own = actions.filter((a) => a.policy === p.name).map(layerOfAction);
  const layers =
    own.length > 0 ? own : p.layers.map((l) => layerOfAction({ type: 'Notify', layer: l }));
  return new Set(layers.filter((l): l is ReadinessLayer => l !== undefined));
}

function layerStates(
  policies: readonly PolicyFacts[],
  actions: readonly CoverageAction[],
): LayerState[] {
  const byLayer = policies.map((p) => ({ mode: p.mode, layers: policyLayers(p, actions) }));
  return READINESS_LAYERS.map((layer) => {
    const acting = byLayer.filter((p) => p.layers.has(layer));
    const counts = countBy(POLICY_MODES, acting, (p) => p.mode);
    const mode = [...POLICY_MODES].reverse().find((m) => counts[m] > 0);
    const own = actions.filter((a) => layerOfAction(a) === layer);
    return {
      layer,
      policies: counts,
      mode,
      actions: own.length,
      enforced: own.filter((a) => a.phase === 'Enforced').length,
    };
  });
}

/** A layer counts as enforced when a policy in Enforce acts on it and an action there is Enforced. */
const isEnforcedLayer = (l: LayerState) => l.policies.Enforce > 0 && l.enforced > 0;

// ---- the levels -------------------------------------------------------------------

function level1(o: Observed): Criterion[] {
  const { policies } = o.facts;
  const feedRef = o.usable[0] ? `ThreatFeed ${o.usable[0].name}` : 'your ThreatFeed';
  return [
    {
      met: o.usable.length > 0,
      evidence: feedEvidence(o),
      step:
        o.stale.length === 0
          ? 'Add a ThreatFeed (an IP or domain blocklist over http, or the CISA KEV catalog) and check that it turns Ready: kubectl get threatfeeds.'
          : `Fix ThreatFeed ${o.stale[0]!.name}: it has not synced within twice its refreshInterval; kubectl describe threatfeed ${o.stale[0]!.name} shows the last error.`,
    },
    {
      met: policies.length > 0,
      evidence:
        policies.length === 0
          ? 'no ExposurePolicy is configured'
          : `${plural(policies.length, 'ExposurePolicy', 'ExposurePolicies')}: ${modeCounts(policies)}`,
      step: `Add an ExposurePolicy with spec.mode: Audit that reads ${feedRef}, to see what would be blocked without changing anything.`,
    },
  ];
}

function level2(o: Observed): Criterion[] {
  const { policies, actions } = o.facts;
  const beyondAudit = policies.filter((p) => p.mode !== 'Audit');
  const decided = actions.filter((a) => DECIDED_PHASES.has(a.phase));
  const busiestAudit = busiest(
    policies.filter((p) => p.mode === 'Audit'),
    actions,
  );
  return [
    {
      met: beyondAudit.length > 0,
      evidence:
        beyondAudit.length > 0
          ? `beyond Audit: ${names(beyondAudit.map((p) => `${p.name} (${p.mode})`))}`
          : policies.length === 0
            ? 'no ExposurePolicy proposes or enforces anything'
            : `every ExposurePolicy is in Audit mode: ${names(policies.map((p) => p.name))}`,
      step: `Set spec.mode: Propose on ${policyRef(busiestAudit)}, with spec.git for a pull request per action, so a reviewer decides each block.`,
    },
    {
      met: decided.length > 0,
      evidence:
        decided.length > 0
          ? `${plural(decided.length, 'action')} reached review or enforcement (${phaseCounts(decided)})`
          : actions.length === 0
            ? 'no action was planned'
            : `no action has reached review or enforcement yet (${phaseCounts(actions)})`,
      step:
        beyondAudit.length > 0
          ? `ExposurePolicy ${beyondAudit[0]!.name} has no action to decide: check its spec.match and spec.feeds against the feeds' indicators (forestall plan shows the matches).`
          : 'Once a policy proposes, review its pull requests, or decide with forestall approve or forestall reject.',
    },
  ];
}

function level3(o: Observed): Criterion[] {
  const { policies, actions } = o.facts;
  const enforcing = policies.filter((p) => p.mode === 'Enforce');
  const enforced = actions.filter((a) => a.phase === 'Enforced');
  const candidate =
    busiest(
      policies.filter((p) => p.mode === 'Propose'),
      actions,
    ) ?? busiest(policies, actions);
  const waiting = actions.filter((a) => a.phase === 'Proposed' || a.phase === 'Pending');
  return [
    {
      met: enforcing.length > 0,
      evidence:
        enforcing.length > 0
          ? `in Enforce: ${names(enforcing.map((p) => p.name))}`
          : 'no ExposurePolicy is in Enforce mode',
      step: `Set spec.mode: Enforce on ${policyRef(candidate)} with a narrow spec.autoApprove, for example "action.confidence >= 90 && !action.blastRadius.production".`,
    },
    {
      met: enforced.length > 0,
      evidence:
        enforced.length > 0
          ? `${plural(enforced.length, 'action')} enforced, on ${names(layersOf(enforced)) || 'no scored layer (notify only)'}`
          : allExpired(o)
            ? 'every action has expired: none is enforced now'
            : 'no action is enforced',
      step: allExpired(o)
        ? 'Every action has expired: check that the feeds still carry live indicators (kubectl get threatfeeds) and that spec.autoApprove still allows them.'
        : waiting.length > 0
          ? `${plural(waiting.length, 'action')} ${waiting.length === 1 ? 'waits' : 'wait'} for review (${names(waiting.map((a) => a.name))}): ` +
            `widen spec.autoApprove on ${waiting[0]!.policy} so low-risk ones apply at once, or forestall approve ${waiting[0]!.name}.`
          : `Give ${policyRef(enforcing[0] ?? candidate)} in Enforce an autoApprove expression its actions pass (forestall plan shows each action's decision).`,
    },
  ];
}

const LAYER_STEPS: Record<ReadinessLayer, string> = {
  network: 'an EgressDeny action over an IP or CIDR feed',
  dns: 'a DNSBlock action over a domain feed',
  identity: 'an IdentityBlock or IdentitySuspend action over account indicators',
  workload: 'an Isolate action over the KEV catalog, with expiry: UntilPatched',
};

function level4(o: Observed): Criterion[] {
  const { facts } = o;
  const enforcedLayers = o.layers.filter(isEnforcedLayer);
  const missing = o.layers.filter((l) => !isEnforcedLayer(l));
  const early = o.tactics.filter((t) => t.early);
  const earlyCovered = early.filter((t) => t.covered > 0);
  const uncoveredEarly =
    names(early.filter((t) => t.covered === 0).map((t) => t.name)) ||
    'reconnaissance, resource development, initial access';
  const tte = facts.timeToEnforce;
  const window = facts.exposureWindow;
  return [
    {
      met: o.usable.length >= MIN_FEEDS_FOR_LEVEL_4,
      evidence: `${plural(o.usable.length, 'usable ThreatFeed')} (level 4 wants ${MIN_FEEDS_FOR_LEVEL_4} or more sources)`,
      step: 'Add a ThreatFeed from another source: the KEV catalog for workloads, a domain list for DNS, or a TAXII collection.',
    },
    {
      met: enforcedLayers.length >= MIN_LAYERS_FOR_LEVEL_4,
      evidence: `enforced on ${enforcedLayers.length} of ${READINESS_LAYERS.length} layers: ${o.layers.map(layerPhrase).join('; ')}`,
      step: layerStep(missing[0]),
    },
    {
      met: tte !== undefined && tte.count > 0 && tte.p90 <= TIME_TO_ENFORCE_P90_BOUND_SECONDS,
      evidence: tte?.count
        ? `time to enforce ${percentilePhrase(tte)} (level 4 wants p90 at most ${formatSeconds(TIME_TO_ENFORCE_P90_BOUND_SECONDS)})`
        : facts.source === 'files'
          ? 'time to enforce is observed only on a cluster'
          : 'time to enforce is unmeasured: no action has been enforced',
      step: tte?.count
        ? "Cut the wait for review: widen spec.autoApprove so low-blast-radius actions apply without a pull request, and shorten the feeds' refreshInterval."
        : facts.source === 'files'
          ? 'Run forestall report readiness --kubeconfig FILE against the cluster to measure time to enforce.'
          : 'Let a policy in Enforce apply an action, so time to enforce is measured.',
    },
    {
      met: window !== undefined && window.count > 0,
      evidence: window?.count
        ? `exposure window ${percentilePhrase(window)}`
        : 'the exposure window is unmeasured',
      step: 'Use feeds that date their intelligence (STIX, TAXII, KEV dateAdded), so the exposure window from publication to enforcement is measured.',
    },
    {
      met: earlyCovered.length > 0,
      evidence:
        early.length === 0
          ? 'no ATT&CK coverage of the early tactics was computed'
          : `early ATT&CK tactics: ${early.map((t) => `${t.name} ${t.covered}/${t.techniques}`).join(', ')}`,
      step: `Cover an early tactic (${uncoveredEarly}): forestall report attack lists the techniques still uncovered and the actions that mitigate them.`,
    },
  ];
}

function level5(o: Observed): Criterion[] {
  const { facts } = o;
  const fb = facts.feedback;
  const events = fb.rejected + fb.excepted + fb.lifted + fb.expiredClean;
  const adjusted = facts.feeds.flatMap((f) =>
    f.sourceConfidence && f.sourceConfidence.effective < 100
      ? [`${f.name} at ${f.sourceConfidence.effective}`]
      : [],
  );
  const tuned = adjusted.length > 0 ? `: ${names(adjusted)}` : '';
  return [
    {
      met: facts.source === 'cluster',
      evidence:
        facts.source === 'cluster'
          ? `observed on the cluster ${facts.target}`
          : 'read from files: outcomes and feedback are observed only on a cluster',
      step: 'Run forestall report readiness --kubeconfig FILE against the cluster, where outcomes are observed.',
    },
    {
      met: events > 0,
      evidence: `feedback: ${fb.rejected} rejected, ${fb.excepted} excepted, ${fb.lifted} lifted, ${fb.expiredClean} expired cleanly`,
      step: "Decide proposals with forestall approve and forestall reject, and record false positives with forestall except: each decision feeds back into its source's confidence.",
    },
    {
      met: fb.feedsAdjusted > 0 || fb.expiredClean > 0,
      evidence:
        fb.feedsAdjusted > 0
          ? `${plural(fb.feedsAdjusted, 'feed')} ${fb.feedsAdjusted === 1 ? 'has its' : 'have their'} confidence tuned by feedback${tuned}`
          : fb.expiredClean > 0
            ? `${plural(fb.expiredClean, 'action')} expired cleanly, confirming their sources`
            : "no feed's confidence has been tuned by feedback yet",
      step: "Let enforced actions run to their expiry and settle false positives with ThreatExceptions, so the feedback loop has outcomes to tune each source's confidence with.",
    },
  ];
}

// ---- the summary ------------------------------------------------------------------

/** Phases that show a block left Audit: a person or autoApprove decided it. */
const DECIDED_PHASES = new Set(['Proposed', 'Enforced', 'Expired', 'Lifted', 'Rejected']);

/** Every phase a lifecycle stops in, Failed included (unlike crds ENDED_PHASES). */
const STOPPED_PHASES: ReadonlySet<string> = TERMINAL_PHASES;

const allExpired = (o: Observed) =>
  o.facts.actions.length > 0 && o.facts.actions.every((a) => a.phase === 'Expired');

function summaryOf(o: Observed): string[] {
  const { facts } = o;
  const out: string[] = [];
  if (facts.feeds.length === 0) out.push('no ThreatFeed is configured');
  else if (o.usable.length === 0)
    out.push(
      `no ThreatFeed is fresh: ${plural(facts.feeds.length, 'is', 'are')} configured, none synced within twice its refresh interval`,
    );
  if (facts.policies.length === 0) out.push('no ExposurePolicy is configured');
  else if (facts.actions.length === 0) out.push('no action was planned');
  const ended = facts.actions.filter((a) => STOPPED_PHASES.has(a.phase));
  if (allExpired(o)) out.push('every action has expired: nothing is enforced now');
  else if (facts.actions.length > 0 && ended.length === facts.actions.length)
    out.push(`every action has ended (${phaseCounts(ended)}): nothing is enforced now`);
  else if (facts.actions.length > 0 && o.phases.Enforced === 0) out.push('no action is enforced');
  if (facts.source === 'files')
    out.push(
      'read from files: phases are what forestall plan would do; freshness, time to enforce and feedback are observed only on a cluster',
    );
  return out;
}

// ---- sentences --------------------------------------------------------------------

function feedEvidence(o: Observed): string {
  const { feeds, source } = o.facts;
  if (feeds.length === 0) return 'no ThreatFeed is configured';
  const usable = o.usable.map((f) =>
    f.indicators === undefined ? f.name : `${f.name} (${plural(f.indicators, 'indicator')})`,
  );
  const word = source === 'files' ? 'read' : 'fresh';
  const parts = [`${o.usable.length} ${word}${usable.length ? `: ${names(usable)}` : ''}`];
  if (o.stale.length > 0) {
    const stale = o.stale.map((f) =>
      f.lastSyncAt ? `${f.name} (last synced ${f.lastSyncAt})` : `${f.name} (never synced)`,
    );
    parts.push(`${o.stale.length} stale: ${names(stale)}`);
  }
  return `${plural(feeds.length, 'ThreatFeed')}, ${parts.join('; ')}`;
}

function layerPhrase(l: LayerState): string {
  if (!l.mode) return `${l.layer} not covered`;
  return `${l.layer} ${l.mode} (${l.enforced} of ${plural(l.actions, 'action')} enforced)`;
}

function layerStep(l: LayerState | undefined): string {
  if (!l) return 'Every layer is enforced.';
  if (l.mode && l.policies.Enforce === 0)
    return `Move the ${l.layer} layer to Enforce: set spec.mode: Enforce on its ExposurePolicy (now ${l.mode}) with an autoApprove expression.`;
  if (l.mode && l.actions > 0)
    return `Get the ${l.layer} layer's ${l.actions === 1 ? 'action' : `${l.actions} actions`} enforced: approve ${l.actions === 1 ? 'it' : 'them'} (forestall approve, or merge the pull request), or let its Enforce policy's spec.autoApprove allow ${l.actions === 1 ? 'it' : 'them'}.`;
  return `Add an ExposurePolicy in Enforce for the ${l.layer} layer, with ${LAYER_STEPS[l.layer]}.`;
}

export function percentilePhrase(p: Percentiles): string {
  return `p50 ${formatSeconds(p.p50)}, p90 ${formatSeconds(p.p90)}, p99 ${formatSeconds(p.p99)} over ${plural(p.count, 'action')}`;
}

/** Seconds as a short human duration: 350 ms, 42 s, 3.5 min, 2 h, 1.5 d. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return 'unknown';
  const one = (n: number) => String(Math.round(n * 10) / 10);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${one(s)} s`;
  if (s < 7200) return `${one(s / 60)} min`;
  if (s < 172_800) return `${one(s / 3600)} h`;
  return `${one(s / 86_400)} d`;
}

/** "1 action", "2 actions"; `many` for irregular plurals. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const MAX_NAMES = 5;

/** A list of names for a sentence, cut after five: "a, b, c, d, e and 3 more". */
function names(list: readonly string[]): string {
  const shown = list.slice(0, MAX_NAMES).join(', ');
  return list.length > MAX_NAMES ? `${shown} and ${list.length - MAX_NAMES} more` : shown;
}

function modeCounts(policies: readonly PolicyFacts[]): string {
  const counts = countBy(POLICY_MODES, policies, (p) => p.mode);
  return POLICY_MODES.filter((m) => counts[m] > 0)
    .map((m) => `${counts[m]} ${m}`)
    .join(', ');
}

function phaseCounts(actions: readonly CoverageAction[]): string {
  const counts = countBy(PHASES, actions, (a) => a.phase);
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([phase, n]) => `${n} ${phase}`)
    .join(', ');
}

function layersOf(actions: readonly CoverageAction[]): string[] {
  const seen = new Set(actions.map(layerOfAction));
  return READINESS_LAYERS.filter((l) => seen.has(l));
}

const policyRef = (p: PolicyFacts | undefined) =>
  p ? `ExposurePolicy ${p.name}` : 'a new ExposurePolicy';

/** The policy with the most actions, first in order on a tie. */
function busiest(policies: readonly PolicyFacts[], actions: readonly CoverageAction[]) {
  const count = (p: PolicyFacts) => actions.filter((a) => a.policy === p.name).length;
  return policies.reduce<PolicyFacts | undefined>(
    (best, p) => (best === undefined || count(p) > count(best) ? p : best),
    undefined,
  );
}

/**
 * Counts items by key with every known key present (zero when none); a key outside
 * `keys` (a phase this code does not know yet) is counted too, after them.
 */
function countBy<K extends string, T>(
  keys: readonly K[],
  items: readonly T[],
  keyOf: (item: T) => string,
): Record<K, number> {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<string, number>;
  for (const item of items) out[keyOf(item)] = (out[keyOf(item)] ?? 0) + 1;
  return out as Record<K, number>;
}
