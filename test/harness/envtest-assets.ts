import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Brings 'vitest' into the program; without it the augmentation below fails
// with "module 'vitest' cannot be found" under NodeNext.
import type {} from 'vitest';

// The directory that holds the control-plane binaries is handed from the vitest
// globalSetup (main process) to the test workers through `provide`/`inject`. The
// augmentation lives here, beside the code that resolves the directory, so every
// module that imports the harness sees the key with its type.
declare module 'vitest' {
  export interface ProvidedContext {
    envtestAssets: string;
  }
}

/** Environment variable that carries the assets directory to child processes and workers. */
export const ENVTEST_ASSETS_ENV = 'FORESTALL_ENVTEST_ASSETS';

/** The repository root (with a trailing slash), from source or from dist/. */
export const REPO_ROOT = findRepoRoot(fileURLToPath(new URL('.', import.meta.url)));

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir.endsWith('/') ? dir : `${dir}/`;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
export const BUILD_SCRIPT = join(REPO_ROOT, 'test/envtest/build.sh');

/** Everything build.sh promises. helm and kubectl are not run by the harness but by chart and kustomize tests. */
export const ENVTEST_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'helm',
  'kubectl',
] as const;
export type EnvtestBinary = (typeof ENVTEST_BINARIES)[number];

/**
 * Throws, naming every missing binary, unless `dir` holds an executable for each
 * of `binaries`. Tests must never be skipped because the control plane is
 * missing: a skipped integration suite looks green and proves nothing.
 */
export function assertEnvtestAssets(
  dir: string,
  binaries: readonly EnvtestBinary[] = ENVTEST_BINARIES,
): string {
  const missing = binaries.filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `Envtest assets directory ${dir} lacks executable ${missing.join(', ')}. ` +
        `Run \`bash test/envtest/build.sh\` (or point KUBEBUILDER_ASSETS / ${ENVTEST_ASSETS_ENV} at a complete directory).`,
    );
  }
  return dir;
}

/** The path of one binary in the assets directory; throws, naming it, when it is missing. */
export function envtestBinary(dir: string, name: EnvtestBinary): string {
  return join(assertEnvtestAssets(dir, [name]), name);
}

function assetsDirFromBuildOutput(stdout: string): string {
  const lines = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const last = lines.at(-1);
  if (last === undefined) {
    throw new Error(
      `${BUILD_SCRIPT} printed nothing on stdout; expected the assets directory as its last line.`,
    );
  }
  return last;
}

/**
 * Runs build.sh and returns the assets directory it prints last. stderr is
 * inherited so that a cold build (tens of minutes) shows its progress.
 */
export async function buildEnvtestAssets(): Promise<string> {
  const child = spawn('bash', [BUILD_SCRIPT], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  if (exitCode !== 0) {
    throw new Error(
      `${BUILD_SCRIPT} failed with exit code ${String(exitCode)}; see its stderr above.`,
    );
  }
  return assertEnvtestAssets(assetsDirFromBuildOutput(stdout));
}

/**
 * Synchronous variant for code that runs outside the vitest globalSetup (a
 * script, or a test started without the integration project). It blocks, which
 * is acceptable only because a warm build.sh returns in well under a second.
 */
export function buildEnvtestAssetsSync(): string {
  const result = spawnSync('bash', [BUILD_SCRIPT], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (result.error !== undefined) {
    throw result.error;
  }
  if (result.status !== 0) {
    throw new Error(
      `${BUILD_SCRIPT} failed with exit code ${String(result.status)}; see its stderr above.`,
    );
  }
  return assertEnvtestAssets(assetsDirFromBuildOutput(result.stdout));
}
