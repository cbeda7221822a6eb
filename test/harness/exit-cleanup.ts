import { spawn } from 'node:child_process';

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
let hooked = false;

function runAll(): void {
  // Last registered runs first, like deferred calls: processes started inside a
  // control plane are killed before its directory is removed.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // Exit is already under way; one failed cleanup must not stop the others.
    }
  }
  cleanups.clear();
}

/**
 * Runs `cleanup` synchronously when this Node process exits, unless the returned
 * function is called first. The cleanup must be synchronous: 'exit' listeners
 * cannot await, so they can only send SIGKILL and remove files.
 *
 * This does not cover SIGKILL of the test process (or an OOM kill); the orphan
 * watchdog below does.
 */
export function onProcessExit(cleanup: Cleanup): () => void {
  if (!hooked) {
    process.on('exit', runAll);
    hooked = true;
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

// Written as POSIX sh so that it survives the death of Node itself. Every
// managed process leaves `<name>.pid` in the directory while it runs.
const WATCHDOG_SCRIPT = `
parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for f in "$dir"/*.pid; do
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
done
rm -rf "$dir"
`;

/**
 * Starts a detached shell that waits for this Node process to disappear, however
 * it ends, then SIGKILLs every process with a pid file in `dir` and removes
 * `dir`. Returns a function that stops the watchdog once normal cleanup is done.
 *
 * Without it, a vitest worker killed by a timeout or by the OOM killer would leave
 * etcd and kube-apiserver running, holding ports and memory on the machine.
 */
export function startOrphanWatchdog(dir: string): () => void {
  const watchdog = spawn(
    'sh',
    ['-c', WATCHDOG_SCRIPT, 'forestall-watchdog', String(process.pid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.unref();
  return () => {
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      watchdog.kill('SIGKILL');
    }
  };
}
