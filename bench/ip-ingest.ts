/**
 * IP ingest benchmark: our parser and CIDR aggregation against Debian's `iprange`,
 * each as a whole process on the same 1,000,000-line feed (bench/gen-ip-feed.ts).
 *
 * Both sides pay for process start, reading the file, parsing, aggregating and
 * writing the minimal CIDR set to a file; nothing is measured in-process. Runs are
 * interleaved, and which side goes first alternates, so drift in machine load hits
 * both alike; the figures are medians. Wall time is taken around spawn-to-exit here;
 * peak RSS comes from GNU time's %M (or, without /usr/bin/time, from polling
 * /proc/<pid>/status VmHWM, which can miss a very short peak).
 *
 * Prints JSON lines {"name","value","unit"}: ours_ms, iprange_ms, ratio (ours /
 * iprange; the target is <= 1.0), ours_cpu_ms, iprange_cpu_ms, cpu_ratio (with GNU
 * time), ours_peak_rss_mb, iprange_peak_rss_mb (target < 300), cidrs_match,
 * ours_cidrs, iprange_cidrs. Exits 1 when the CIDR sets differ.
 *
 * Usage: npx tsc -p tsconfig.json && node dist/bench/ip-ingest.js [--runs N]
 * iprange is installed with bench/setup-iprange.sh when missing (needs root).
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCacheDir, ensureIpFeed } from './gen-ip-feed.js';
import { ensureIprange, haveGnuTime, median, runOnce, type RunResult } from './processes.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Our side. Later this becomes the `forestall feed parse` CLI, which calls the same readIpLines/Ipv4Set. */
function oursCommand(feed: string): string[] {
  return [process.execPath, join(here, 'ip-ingest-worker.js'), feed];
}

/** iprange's default mode (--optimize) merges all inputs and prints the minimal CIDR set. */
function iprangeCommand(feed: string): string[] {
  return ['iprange', '--optimize', feed];
}

function emit(
  name: string,
  value: number | boolean,
  unit: string,
  extra: Record<string, unknown> = {},
): void {
  const rounded = typeof value === 'number' ? Math.round(value * 100) / 100 : value;
  console.log(JSON.stringify({ name, value: rounded, unit, ...extra }));
}

/** The output as a list of "a.b.c.d/p"; iprange writes a lone address without "/32". */
function readCidrs(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.includes('/') ? line : `${line}/32`));
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function main(): Promise<void> {
  const runsFlag = process.argv.indexOf('--runs');
  const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');

  ensureIprange();
  const feed = ensureIpFeed();
  const scratch = benchCacheDir();
  const oursOut = join(scratch, 'ip-1m.ours.out');
  const iprangeOut = join(scratch, 'ip-1m.iprange.out');

  // The product's own command, which also loads the never-block lists and applies
  // guardrails (so it keeps fewer CIDRs than iprange): measured beside the other two.
  const cliCommand = [
    process.execPath,
    join(here, '..', 'cli', 'main.js'),
    'feed',
    'parse',
    feed,
    '--format',
    'lines',
    '--json',
  ];
  const sides = [
    { name: 'ours', command: oursCommand(feed), output: oursOut, results: [] as RunResult[] },
    {
      name: 'iprange',
      command: iprangeCommand(feed),
      output: iprangeOut,
      results: [] as RunResult[],
    },
    {
      name: 'cli',
      command: cliCommand,
      output: join(scratch, 'ip-1m.cli.json'),
      results: [] as RunResult[],
    },
  ];
  // One untimed run each: the feed in the page cache, the binaries loaded.
  for (const side of sides) await runOnce(side.command, side.output, scratch);
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) side.results.push(await runOnce(side.command, side.output, scratch));
  }

  const [ours, iprange, cli] = sides as [(typeof sides)[0], (typeof sides)[0], (typeof sides)[0]];
  const oursMs = median(ours.results.map((r) => r.wallMs));
  const iprangeMs = median(iprange.results.map((r) => r.wallMs));
  const detail = { runs, feed, rss: haveGnuTime ? 'GNU time %M' : '/proc VmHWM polled every 2 ms' };
  emit('ours_ms', oursMs, 'ms', { ...detail, all: ours.results.map((r) => Math.round(r.wallMs)) });
  emit('iprange_ms', iprangeMs, 'ms', {
    ...detail,
    all: iprange.results.map((r) => Math.round(r.wallMs)),
  });
  emit('ratio', oursMs / iprangeMs, 'x', { target: '<= 1.0' });
  if (haveGnuTime) {
    // CPU time is steadier than wall time on a busy machine; it counts every thread (Node's GC and JIT too).
    const oursCpu = median(ours.results.map((r) => r.cpuMs!));
    const iprangeCpu = median(iprange.results.map((r) => r.cpuMs!));
    emit('ours_cpu_ms', oursCpu, 'ms', { runs });
    emit('iprange_cpu_ms', iprangeCpu, 'ms', { runs });
    emit('cpu_ratio', oursCpu / iprangeCpu, 'x');
  }
  emit('ours_peak_rss_mb', Math.max(...ours.results.map((r) => r.peakRssKb)) / 1024, 'MB', {
    target: '< 300',
  });
  emit('iprange_peak_rss_mb', Math.max(...iprange.results.map((r) => r.peakRssKb)) / 1024, 'MB');

  const oursCidrs = readCidrs(oursOut);
  const iprangeCidrs = readCidrs(iprangeOut);
  const match = sameList(oursCidrs, iprangeCidrs);
  const cliMs = median(cli.results.map((r) => r.wallMs));
  const cliSummary = JSON.parse(readFileSync(cli.output, 'utf8')) as {
    indicators: number;
    aggregatedCidrs: number;
    dropped: Record<string, number>;
  };
  emit('cli_feed_parse_ms', cliMs, 'ms', {
    command: 'forestall feed parse --format lines --json',
    includes: 'guardrails and never-block lists',
    all: cli.results.map((r) => Math.round(r.wallMs)),
  });
  emit('cli_ratio', cliMs / iprangeMs, 'x');
  emit('cli_peak_rss_mb', Math.max(...cli.results.map((r) => r.peakRssKb)) / 1024, 'MB', {
    target: '< 300',
  });
  emit('cli_aggregated_cidrs', cliSummary.aggregatedCidrs, 'cidrs', {
    kept: cliSummary.indicators,
    droppedByGuardrails: Object.values(cliSummary.dropped).reduce((a, b) => a + b, 0),
  });
  emit('cidrs_match', match, 'bool');
  emit('ours_cidrs', oursCidrs.length, 'cidrs');
  emit('iprange_cidrs', iprangeCidrs.length, 'cidrs');
  rmSync(join(scratch, 'time.out'), { force: true });
  if (!match) process.exitCode = 1;
}

await main();
