/**
 * One ExposurePolicy evaluated over a 1,000,000-indicator snapshot, in process: the
 * engine's whole evaluatePolicy (spec.match on every indicator, the merge, the action
 * with its values, digest and blast radius), as the controller and `forestall plan`
 * run it. The target is at most 200 ms.
 *
 * The indicators are the distinct values of the 1M-line bench feed (bench/gen-ip-feed.ts,
 * from the real IPsum snapshot), topped up with seeded random public addresses to
 * exactly 1,000,000, with seeded confidences (uniform 1-100) and a tenth tagged `c2`,
 * sorted by type then value as a sync leaves a snapshot.
 * The match is the common shape: a type and a confidence threshold.
 *
 * Prints JSON lines: policy_full_evaluation_1m (ms, median), its p99 over the runs,
 * policy_full_evaluation_1m_matched (indicators).
 *
 *   node dist/bench/policy-evaluation.js [--runs N]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CelCache } from '../cel/index.js';
import { defaultConnectorCatalog } from '../connectors/index.js';
import type { Indicator } from '../feeds/index.js';
import { formatIpv4, ipv4Network, parseIpv4 } from '../lib/net.js';
import { evaluatePolicy } from '../policies/engine.js';
import { inventoryFromObjects } from '../policies/inventory.js';
import type { FeedView, PolicyView } from '../policies/types.js';
import { seededRandom } from '../test/harness/seeded-random.js';
import { ensureIpFeed } from './gen-ip-feed.js';
import { median } from './processes.js';
import { emit, percentile, runMain } from './report.js';

const SNAPSHOT_SIZE = 1_000_000;
const FEED = 'bench-1m';

/** The distinct canonical values of the bench feed, topped up to `size` with seeded random public addresses. */
function benchValues(size = SNAPSHOT_SIZE): { type: 'ipv4' | 'cidr'; value: string }[] {
  const seen = new Set<string>();
  const out: { type: 'ipv4' | 'cidr'; value: string }[] = [];
  const add = (type: 'ipv4' | 'cidr', value: string) => {
    if (out.length >= size || seen.has(value)) return;
    seen.add(value);
    out.push({ type, value });
  };
  for (const line of readFileSync(ensureIpFeed(), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [address, prefix] = line.split('/');
    const parsed = parseIpv4(address!);
    if (parsed === undefined) continue;
    if (prefix === undefined || prefix === '32') add('ipv4', formatIpv4(parsed));
    else add('cidr', `${formatIpv4(ipv4Network(parsed, Number(prefix)))}/${prefix}`);
  }
  const random = seededRandom(0x1e6);
  while (out.length < size) {
    const address = Math.floor(random() * 4294967296);
    const first = address >>> 24;
    if (first >= 1 && first <= 223 && first !== 10 && first !== 127)
      add('ipv4', formatIpv4(address));
  }
  return out;
}

function benchIndicators(size = SNAPSHOT_SIZE): Indicator[] {
  const random = seededRandom(0xc0f);
  const sources = [FEED];
  const none: string[] = [];
  const c2 = ['c2'];
  // Sorted by type then value, as a feed sync leaves a snapshot (feeds/ingest.ts).
  const values = benchValues(size).sort((a, b) =>
    a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  );
  return values.map(({ type, value }) => ({
    type,
    value,
    confidence: 1 + Math.floor(random() * 100),
    sources,
    tags: random() < 0.1 ? c2 : none,
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  const indicators = benchIndicators();
  const feeds: FeedView[] = [{ name: FEED, labels: {}, indicators }];
  const policy: PolicyView = {
    name: 'c2-egress',
    generation: 1,
    spec: {
      mode: 'Enforce',
      feeds: { names: [FEED] },
      match: "indicator.type in ['ipv4', 'cidr'] && indicator.confidence >= 80",
      autoApprove: 'action.confidence >= 80',
      guardrails: { maxAddresses: 1 << 30 },
      actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }],
    },
  };
  const inventory = inventoryFromObjects([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  ]);
  const opts = {
    now: new Date('2026-12-08T00:00:00Z'),
    cel: new CelCache(),
    connectors: defaultConnectorCatalog,
  };
  let matched = 0;
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const evaluation = evaluatePolicy(policy, feeds, inventory, opts);
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    if (evaluation.compileErrors.length)
      throw new Error(evaluation.compileErrors.map((e) => e.message).join('; '));
    matched = evaluation.matched;
    // The first run builds the indicator views and the snapshot's index.
    if (run > 0) {
      times.push(ms);
      cpuTimes.push((cpu.user + cpu.system) / 1000);
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  emit('policy_full_evaluation_1m', median(times), 'ms', {
    target: '<= 200',
    runs,
    indicators: indicators.length,
    all: times.map(Math.round),
  });
  emit('policy_full_evaluation_1m_p99', percentile(sorted, 99), 'ms', { runs });
  // CPU time (every thread of the process, GC included) is steadier than wall time on a busy machine.
  emit('policy_full_evaluation_1m_cpu', median(cpuTimes), 'ms', { all: cpuTimes.map(Math.round) });
  emit('policy_full_evaluation_1m_matched', matched, 'indicators');
}

runMain(main);
