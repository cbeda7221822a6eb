/**
 * Whole processes timed the same way for every benchmark that compares us with a
 * reference tool (bench/ip-ingest.ts, bench/controller-ingest.ts): wall time around
 * spawn-to-exit, CPU time and peak RSS from GNU time when it is installed, else peak
 * RSS from /proc/<pid>/status VmHWM polled every 2 ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunResult {
  wallMs: number;
  peakRssKb: number;
  /** User plus system CPU time, from GNU time; undefined without it. */
  cpuMs?: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Debian's iprange, the reference for IP list processing; installed by bench/setup-iprange.sh when missing. */
export function ensureIprange(): void {
  if (onPath('iprange')) return;
  const setup = spawnSync('bash', [join(repoRoot, 'bench', 'setup-iprange.sh')], {
    stdio: 'inherit',
  });
  if (setup.status !== 0 || !onPath('iprange')) {
    throw new Error('iprange is not installed and bench/setup-iprange.sh could not install it');
  }
}

const GNU_TIME = '/usr/bin/time';
export const haveGnuTime =
  existsSync(GNU_TIME) &&
  spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;

/** Runs `command` with stdout to `outputPath`; fails on a non-zero exit. */
export async function runOnce(
  command: string[],
  outputPath: string,
  scratchDir: string,
): Promise<RunResult> {
  const timeFile = join(scratchDir, 'time.out');
  const argv = haveGnuTime
    ? [GNU_TIME, '-f', '%U %S %M', '-o', timeFile, '--', ...command]
    : command;
  const out = openSync(outputPath, 'w');
  const errors: Buffer[] = [];
  let polledPeakKb = 0;
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, 'pipe'] });
  child.stderr?.on('data', (data: Buffer) => errors.push(data));
  const exited = new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => done(code));
  });
  let finished = false;
  const markFinished = (): void => {
    finished = true;
  };
  exited.then(markFinished, markFinished);
  if (!haveGnuTime) {
    while (!finished) {
      polledPeakKb = Math.max(polledPeakKb, readPeakRssKb(child.pid));
      await sleep(2);
    }
  }
  const code = await exited;
  const wallMs = performance.now() - started;
  closeSync(out);
  if (code !== 0)
    throw new Error(
      `${command.join(' ')} exited ${code}: ${Buffer.concat(errors).toString().slice(0, 2000)}`,
    );
  if (!haveGnuTime) return { wallMs, peakRssKb: polledPeakKb };
  const [user, system, peak] = readFileSync(timeFile, 'utf8')
    .trim()
    .split('\n')
    .pop()!
    .split(' ')
    .map(Number);
  return { wallMs, peakRssKb: peak!, cpuMs: (user! + system!) * 1000 };
}

export function readPeakRssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // the process has already gone
  }
}
