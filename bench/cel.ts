/**
 * CEL policy benchmark: how many spec.match evaluations per second the policy engine
 * gets, on indicators built from a real IPsum snapshot.
 *
 * The loop is the engine's: for each indicator, `evaluateBool(program, { indicator:
 * indicatorActivation(i), now })`, so the view lookup and the activation object are
 * paid per evaluation. The first pass over the indicators builds the views (measured
 * separately as cel_indicator_views_per_second); the timed passes then run for a fixed
 * time after a warm-up. The target is at least 1,000,000 evaluations per second.
 *
 * Prints JSON lines {"name","value","unit",...}: cel_indicator_views_per_second,
 * cel_first_compile_ms (includes building the environments), cel_compile_ms (median
 * time to compile the match expression), cel_match_evals_per_second and
 * cel_cidr_evals_per_second (a Kubernetes CIDR helper).
 *
 * Usage: npx tsc -p tsconfig.json && node dist/bench/cel.js [ipsum-file] [--seconds N]
 * The default file is ../shared/feeds/ipsum/ipsum-2026-08-22.txt from the repository
 * root; without it the indicators are synthetic, and the output says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Indicator } from '../feeds/index.js';
import { compileCel, evaluateBool, indicatorActivation, type CelProgram } from '../cel/index.js';
import { seededRandom } from '../test/harness/seeded-random.js';
import { emit } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const DEFAULT_FEED = resolve(repoRoot, '../shared/feeds/ipsum/ipsum-2026-08-22.txt');
const INDICATORS = 100_000;

const MATCH =
  "indicator.type == 'ipv4' && indicator.confidence >= 80 && indicator.tags.exists(t, t == 'c2')";
const CIDR = "indicator.type == 'ipv4' && cidr('185.220.0.0/16').containsIP(indicator.value)";

const TAG_SETS: readonly string[][] = [
  ['scanner'],
  ['bruteforce', 'scanner'],
  ['c2'],
  ['spam'],
  ['botnet', 'c2'],
  [],
  ['malware', 'phishing', 'tor'],
];

/** IPsum lines are "address<TAB>blacklist count"; the count becomes the confidence, as a feed's confidence expression would. */
function readIpsum(path: string, limit: number): { address: string; score: number }[] {
  const out: { address: string; score: number }[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [address, score] = line.split('\t');
    if (!address) continue;
    out.push({ address, score: Number(score) || 1 });
    if (out.length === limit) break;
  }
  return out;
}

function syntheticIpsum(limit: number, random: () => number): { address: string; score: number }[] {
  return Array.from({ length: limit }, () => ({
    address: [1 + Math.floor(random() * 223), 0, 0, 0]
      .map((o, i) => (i === 0 ? o : Math.floor(random() * 256)))
      .join('.'),
    score: 1 + Math.floor(random() * 10),
  }));
}

function buildIndicators(
  entries: readonly { address: string; score: number }[],
  random: () => number,
): Indicator[] {
  const day = Date.parse('2026-08-22T00:00:00Z');
  return entries.map(({ address, score }) => ({
    type: 'ipv4',
    value: address,
    // IPsum's count of blacklists (mostly 1-3) raised into 35-100 with jitter, so that
    // a good share pass `confidence >= 80` and reach the tags loop (reported as
    // confidence_pass_share).
    confidence: Math.min(100, 20 + score * 15 + Math.floor(random() * 61)),
    sources: ['ipsum'],
    tags: TAG_SETS[Math.floor(random() * TAG_SETS.length)]!,
    firstSeen: new Date(day - Math.floor(random() * 30) * 86_400_000).toISOString(),
    lastSeen: new Date(day).toISOString(),
    ref: `line ${address}`,
  }));
}

/** Evaluations per second over `seconds`, after `warmupSeconds` of the same loop. */
function measure(
  program: CelProgram,
  indicators: readonly Indicator[],
  now: Date,
  seconds: number,
  warmupSeconds: number,
): { rate: number; matched: number; errors: number } {
  let errors = 0;
  const onError = (): void => {
    errors++;
  };
  const pass = (): number => {
    let matched = 0;
    for (let i = 0; i < indicators.length; i++) {
      if (evaluateBool(program, { indicator: indicatorActivation(indicators[i]!), now }, onError))
        matched++;
    }
    return matched;
  };
  const run = (
    budgetSeconds: number,
  ): { evaluations: number; elapsed: number; matched: number } => {
    const start = performance.now();
    let evaluations = 0;
    let matched = 0;
    do {
      matched = pass();
      evaluations += indicators.length;
    } while (performance.now() - start < budgetSeconds * 1000);
    return { evaluations, elapsed: (performance.now() - start) / 1000, matched };
  };
  run(warmupSeconds);
  errors = 0;
  const timed = run(seconds);
  return { rate: timed.evaluations / timed.elapsed, matched: timed.matched, errors };
}

function main(): void {
  const args = process.argv.slice(2);
  const secondsAt = args.indexOf('--seconds');
  const seconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : 3;
  const feedArg = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--seconds');
  const feedPath = feedArg ? resolve(feedArg) : DEFAULT_FEED;
  const random = seededRandom(20260822);

  let source: string;
  let entries: { address: string; score: number }[];
  if (existsSync(feedPath)) {
    entries = readIpsum(feedPath, INDICATORS);
    source = basename(feedPath);
  } else {
    entries = syntheticIpsum(INDICATORS, random);
    source = 'synthetic';
    console.error(
      `Note: ${feedPath} not found; using ${INDICATORS} synthetic IPv4 indicators instead`,
    );
  }
  const indicators = buildIndicators(entries, random);
  const now = new Date('2026-08-22T12:00:00Z');
  const confidencePassShare =
    indicators.filter((i) => i.confidence >= 80).length / indicators.length;
  const common = {
    indicators: indicators.length,
    confidence_pass_share: Math.round(confidencePassShare * 1000) / 1000,
    source,
    node: process.version,
  };

  // The first pass builds the CEL views; later passes only look them up.
  const viewsStart = performance.now();
  for (const i of indicators) indicatorActivation(i);
  emit(
    'cel_indicator_views_per_second',
    indicators.length / ((performance.now() - viewsStart) / 1000),
    'views/s',
    common,
    3,
  );

  // The first compile also builds the two CEL environments, once per process.
  const firstStart = performance.now();
  compileCel(MATCH, 'spec.match', 'match');
  emit(
    'cel_first_compile_ms',
    performance.now() - firstStart,
    'ms',
    {
      expression: MATCH,
      note: 'includes building the CEL environments',
    },
    3,
  );

  const compileTimes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const start = performance.now();
    compileCel(MATCH, 'spec.match', 'match');
    compileTimes.push(performance.now() - start);
  }
  compileTimes.sort((a, b) => a - b);
  emit(
    'cel_compile_ms',
    compileTimes[compileTimes.length >> 1]!,
    'ms',
    {
      expression: MATCH,
      samples: compileTimes.length,
    },
    3,
  );

  for (const [name, expression] of [
    ['cel_match_evals_per_second', MATCH],
    ['cel_cidr_evals_per_second', CIDR],
  ] as const) {
    const program = compileCel(expression, 'spec.match', 'match');
    const { rate, matched, errors } = measure(program, indicators, now, seconds, 1);
    emit(
      name,
      rate,
      'evals/s',
      {
        expression,
        matched,
        errors,
        target: name === 'cel_match_evals_per_second' ? 1_000_000 : undefined,
        ...common,
      },
      3,
    );
  }
}

main();
