/**
 * A 1,000,000-line IP feed through the controller, as its own OS process, on the real
 * API server: fetch over loopback HTTP, parse, guardrails, and the snapshot persisted.
 * The reference is Debian's `iprange --optimize` on the same file, as a whole process,
 * in the same run (bench/ip-ingest.ts has the details of that side).
 *
 * Each run starts a fresh controller (`forestall controller`, as the container runs it),
 * waits until it is idle, creates a ThreatFeed whose source is the file served from
 * 127.0.0.1, and times creation to the status reporting the synced snapshot (Ready
 * True, reason Synced, the digest set). Meanwhile /healthz is asked every 20 ms; the
 * slowest answer is how long the event loop stalled at worst, which is what the
 * liveness probe and the lease renewal see. Peak RSS is the process's VmHWM at the end
 * (the worker thread's heap included); idle RSS is VmRSS five seconds after the sync.
 *
 * Prints JSON lines: controller_ingest_1m_ms, iprange_1m_ms,
 * controller_ingest_1m_ratio_vs_iprange (target <= 2), controller_ingest_1m_peak_rss
 * (MiB, target <= 256), controller_ingest_1m_idle_rss (MiB),
 * controller_ingest_1m_max_probe_ms (target <= 100), controller_ingest_1m_indicators.
 *
 *   node dist/bench/controller-ingest.js [--runs N] [--controller-arg=--flag=value ...]
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ThreatFeed } from '../crds/index.js';
import { KubeClient } from '../controller/runtime/client.js';
import { ControlPlane } from '../test/harness/control-plane.js';
import { ControllerProcess } from '../test/harness/controller-process.js';
import { eventually } from '../test/harness/eventually.js';
import { threatFeed } from '../test/harness/threat-feeds.js';
import { benchCacheDir, ensureIpFeed } from './gen-ip-feed.js';
import { ensureIprange, median, readPeakRssKb, runOnce } from './processes.js';
import { emit, runMain } from './report.js';

const NS = 'forestall-system';
const PROBE_EVERY_MS = 20;

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** Serves one file at /feed.txt with Content-Length, as a feed server would. */
async function serveFile(path: string): Promise<{ url: string; server: Server }> {
  const body = readFileSync(path);
  const server = createServer((req, res) => {
    if (req.url !== '/feed.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed.txt`,
    server,
  };
}

/** Asks /healthz every PROBE_EVERY_MS until stopped; the slowest answer is the worst stall. */
function probeHealth(port: number): { stop: () => Promise<{ maxMs: number; probes: number }> } {
  let running = true;
  let maxMs = 0;
  let probes = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status} during the sync`);
      maxMs = Math.max(maxMs, performance.now() - started);
      probes++;
      await sleep(PROBE_EVERY_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxMs, probes };
    },
  };
}

/** Polls the ThreatFeed until its status reports the synced snapshot; a failed sync fails the run at once. */
async function syncedFeed(
  client: KubeClient,
  name: string,
  proc: ControllerProcess,
): Promise<ThreatFeed> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const feed = await client.get<ThreatFeed>('forestall.io/v1alpha1', 'ThreatFeed', name);
    const ready = feed?.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.reason === 'Synced' && feed?.status?.digest) return feed;
    if (ready?.status === 'False' && ready.reason !== 'AwaitingFirstSync')
      throw new Error(`ThreatFeed ${name} did not sync: ${ready.reason}: ${ready.message}`);
    await sleep(50);
  }
  throw new Error(`ThreatFeed ${name} did not sync in 600 s; controller log: ${proc.tail(5)}`);
}

/** The controller's used V8 heap (main thread), from its own metrics. */
async function heapUsedMb(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = /^forestall_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return line ? Number(line[1]) / 2 ** 20 : NaN;
}

interface Run {
  ms: number;
  peakRssMb: number;
  idleRssMb: number;
  idleHeapMb: number;
  /** RSS before the feed was created. */
  baselineRssMb: number;
  maxProbeMs: number;
  indicators: number;
}

async function oneRun(
  cp: ControlPlane,
  client: KubeClient,
  url: string,
  run: number,
  controllerArgs: string[],
): Promise<Run> {
  const proc = new ControllerProcess(`bench-ingest-${run}`, cp.kubeconfigPath, [
    '--outbound-allow',
    '127.0.0.1',
    '--leader-elect=false',
    '--log-level',
    'info',
    ...controllerArgs,
  ]);
  const name = `bench-1m-${run}`;
  try {
    const port = await eventually('the controller to serve probes', () => proc.port(), 60_000);
    await sleep(3000); // idle: informers synced, start-up garbage collected
    const baselineRssMb = rssKb(proc.pid!) / 1024;
    const probe = probeHealth(port);
    const started = performance.now();
    await client.apply(
      threatFeed(name, {
        format: 'lines',
        source: { http: { url } },
        refreshInterval: '24h',
        maxChangePercent: 100,
      }) as KubernetesObject,
    );
    const synced = await syncedFeed(client, name, proc);
    const ms = performance.now() - started;
    const { maxMs } = await probe.stop();
    await sleep(5000);
    const pid = proc.pid!;
    const result = {
      ms,
      peakRssMb: readPeakRssKb(pid) / 1024,
      idleRssMb: rssKb(pid) / 1024,
      idleHeapMb: await heapUsedMb(port),
      baselineRssMb,
      maxProbeMs: maxMs,
      indicators: synced.status?.indicatorCount ?? 0,
    };
    await client.delete({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ThreatFeed',
      metadata: { name },
    });
    await eventually(
      `ThreatFeed ${name} to be deleted`,
      async () =>
        (await client.get('forestall.io/v1alpha1', 'ThreatFeed', name)) === undefined || undefined,
      60_000,
    );
    return result;
  } finally {
    proc.kill('SIGTERM');
    await proc.exited;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      'controller-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  const runs = Number(values.runs);
  ensureIprange();
  const feed = ensureIpFeed();
  const bytes = statSync(feed).size;
  // The feed's own size as the byte cap: this measures the pipeline, not the defaults' refusal.
  const controllerArgs = [
    `--feed-max-bytes=${bytes}`,
    '--feed-max-records=2000000',
    '--feed-max-indicators=2000000',
    ...values['controller-arg']!,
  ];
  const scratch = benchCacheDir();
  const iprange: number[] = [];
  await runOnce(['iprange', '--optimize', feed], join(scratch, 'ip-1m.iprange.out'), scratch);
  for (let i = 0; i < runs; i++)
    iprange.push(
      (await runOnce(['iprange', '--optimize', feed], join(scratch, 'ip-1m.iprange.out'), scratch))
        .wallMs,
    );

  const cp = await ControlPlane.start();
  const { url, server } = await serveFile(feed);
  const client = new KubeClient(cp.kubeConfig());
  const results: Run[] = [];
  try {
    await client.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    } as KubernetesObject);
    for (let run = 0; run < runs; run++)
      results.push(await oneRun(cp, client, url, run, controllerArgs));
  } finally {
    server.close();
    await cp.stop();
  }
  const ms = median(results.map((r) => r.ms));
  const iprangeMs = median(iprange);
  const detail = { runs, feed, bytes, controllerArgs };
  emit('controller_ingest_1m_ms', ms, 'ms', {
    ...detail,
    all: results.map((r) => Math.round(r.ms)),
  });
  emit('iprange_1m_ms', iprangeMs, 'ms', { all: iprange.map(Math.round) });
  emit('controller_ingest_1m_ratio_vs_iprange', ms / iprangeMs, 'ratio', { target: '<= 2' }, 2);
  emit('controller_ingest_1m_peak_rss', Math.max(...results.map((r) => r.peakRssMb)), 'MiB', {
    target: '<= 256',
    all: results.map((r) => Math.round(r.peakRssMb)),
  });
  emit('controller_ingest_1m_idle_rss', median(results.map((r) => r.idleRssMb)), 'MiB', {
    after: '5 s after the sync',
    heapUsedMiB: Math.round(median(results.map((r) => r.idleHeapMb))),
    beforeTheFeedMiB: Math.round(median(results.map((r) => r.baselineRssMb))),
  });
  emit('controller_ingest_1m_max_probe_ms', Math.max(...results.map((r) => r.maxProbeMs)), 'ms', {
    target: '<= 100',
    probeEveryMs: PROBE_EVERY_MS,
    all: results.map((r) => Math.round(r.maxProbeMs)),
  });
  emit('controller_ingest_1m_indicators', results[0]?.indicators ?? 0, 'indicators');
}

runMain(main);
