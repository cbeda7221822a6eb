import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onProcessExit } from './exit-cleanup.js';

export interface ManagedProcessSpec {
  /** Short name, used for the log and pid file names and in errors. */
  name: string;
  binary: string;
  args: readonly string[];
  /** Directory that receives `<name>.log` and, while running, `<name>.pid`. */
  dir: string;
}

export interface ReadinessProbe {
  /** What is being waited for, as it should read in an error ("GET https://…/readyz == 200"). */
  description: string;
  /** Resolves true when ready; a rejection or false means "not yet". */
  check: () => Promise<boolean | { ready: boolean; detail: string }>;
  timeoutMs: number;
  intervalMs?: number;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const LOG_TAIL_BYTES = 64 * 1024;
const STOP_GRACE_MS = 5_000;

/**
 * One control-plane binary running as a child of the test process.
 *
 * stdout and stderr both go to `<dir>/<name>.log` (appended, so a restart keeps
 * the earlier run's output) because the Kubernetes binaries log to stderr and the
 * interesting line is usually just before a failure, whichever stream it was on.
 * The pid file lets the orphan watchdog kill the process if Node dies.
 */
export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  private readonly pidPath: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly forgetExitCleanup: () => void;

  private constructor(spec: ManagedProcessSpec) {
    this.name = spec.name;
    this.logPath = join(spec.dir, `${spec.name}.log`);
    this.pidPath = join(spec.dir, `${spec.name}.pid`);

    const log = openSync(this.logPath, 'a');
    try {
      writeSync(
        log,
        `\n=== ${new Date().toISOString()} starting ${spec.binary} ${spec.args.join(' ')}\n`,
      );
      this.child = spawn(spec.binary, [...spec.args], { stdio: ['ignore', log, log] });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(log);
    }

    this.exited = new Promise<Exit>((resolve) => {
      const settle = (exit: Exit): void => {
        if (this.exit !== undefined) return;
        this.exit = exit;
        rmSync(this.pidPath, { force: true });
        this.forgetExitCleanup();
        resolve(exit);
      };
      this.child.once('exit', (code, signal) => settle({ code, signal }));
      // 'error' without 'exit' happens when the binary cannot be executed at all.
      this.child.once('error', (err) => {
        writeFileSync(this.logPath, `\n=== spawn failed: ${err.message}\n`, { flag: 'a' });
        settle({ code: null, signal: null });
      });
    });

    if (this.child.pid !== undefined) {
      writeFileSync(this.pidPath, `${this.child.pid}\n`);
    }
    this.forgetExitCleanup = onProcessExit(() => this.child.kill('SIGKILL'));
  }

  static spawn(spec: ManagedProcessSpec): ManagedProcess {
    return new ManagedProcess(spec);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The last `lines` lines of the process's combined output. */
  logTail(lines = 30): string {
    let fd: number;
    try {
      fd = openSync(this.logPath, 'r');
    } catch {
      return '(no log written)';
    }
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, LOG_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer
        .toString('utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n')
        .trimEnd();
    } finally {
      closeSync(fd);
    }
  }

  /** Builds an error whose message carries the end of the log, so CI output alone explains a failure. */
  failure(summary: string): Error {
    return new Error(
      `${summary}\n--- last 30 lines of ${this.name} output (${this.logPath}) ---\n${this.logTail(30)}\n--- end of ${this.name} log ---`,
    );
  }

  /**
   * Polls `probe` until it reports ready. Fails at once if the process exits,
   * and after `timeoutMs` otherwise, with the last probe outcome and log tail.
   */
  async waitUntilReady(probe: ReadinessProbe): Promise<void> {
    const deadline = Date.now() + probe.timeoutMs;
    let lastOutcome = 'not probed yet';
    for (;;) {
      if (this.exit !== undefined) {
        throw this.failure(
          `${this.name} exited (code ${String(this.exit.code)}, signal ${String(this.exit.signal)}) before ${probe.description}.`,
        );
      }
      try {
        const result = await probe.check();
        const ready = typeof result === 'boolean' ? result : result.ready;
        if (ready) return;
        lastOutcome = typeof result === 'boolean' ? 'probe returned false' : result.detail;
      } catch (err) {
        lastOutcome = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) {
        throw this.failure(
          `${this.name} did not become ready within ${probe.timeoutMs} ms: waited for ${probe.description}; last probe: ${lastOutcome}.`,
        );
      }
      await sleep(probe.intervalMs ?? 100);
    }
  }

  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.kill('SIGTERM');
    // The grace timer is cancelled once the process exits, so it cannot hold the
    // event loop open after the last test.
    const graceTimer = new AbortController();
    const exitedInTime = await Promise.race([
      this.exited.then(() => true),
      sleep(graceMs, false, { signal: graceTimer.signal }).catch(() => false),
    ]);
    graceTimer.abort();
    if (!exitedInTime) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
