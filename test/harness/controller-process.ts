import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './envtest-assets.js';

const CLI = `${REPO_ROOT}dist/cli/main.js`;

/**
 * One `forestall controller` OS process, started from the built CLI exactly as the
 * container runs it. Its JSON log lines are kept so tests can wait for a message and
 * find the ports it bound (it binds port 0).
 */
export class ControllerProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(
    readonly identity: string,
    kubeconfig: string,
    extraArgs: string[] = [],
    /** The process's whole environment; defaults to this one's (proxy and CA tests pass their own). */
    env: NodeJS.ProcessEnv = process.env,
  ) {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does).`);
    this.child = spawn(
      process.execPath,
      [
        CLI,
        'controller',
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        'forestall-system',
        '--identity',
        identity,
        '--metrics-bind-address',
        '127.0.0.1:0',
        '--health-probe-bind-address',
        '127.0.0.1:0',
        '--log-level',
        'debug',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface(stream).on('line', (line) => {
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ msg: line });
        }
      });
    }
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** The OS process id (benchmarks read its /proc/<pid>/status). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  logged(msg: string): boolean {
    return this.logs.some((l) => l.msg === msg);
  }

  /** The port serving /metrics, /healthz and /readyz (both flags name the same address). */
  port(): number | undefined {
    const line = this.logs.find((l) => l.msg === 'Serving probes and metrics') as
      { addresses?: number[] } | undefined;
    return line?.addresses?.[0];
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  tail(n = 20): string {
    return this.logs
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }
}
