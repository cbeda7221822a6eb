import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { emit } from '../../bench/report.js';
import { REPO_ROOT, buildEnvtestAssets } from '../harness/envtest-assets.js';
import { type E2eNode, NODE_SCRIPTS, lastLine, run, runOk, secondsSince } from './node.js';

/**
 * vitest globalSetup for the e2e project: the real node (test/node/) with the
 * Forestall image in its containerd, for every case under test/e2e/.
 *
 *  1. builds or restores the control-plane binaries, kubectl and helm
 *     (test/envtest/build.sh), the node (test/node/build.sh) and the image
 *     (test/image/build.sh, cached by the build context's tree hash);
 *  2. snapshots the host (test/node/leftovers.sh), brings the node up
 *     (test/node/up.sh) and imports the image with `ctr -n k8s.io images import`
 *     on the node's own containerd socket;
 *  3. on teardown, takes the node down (test/node/down.sh, which exits 3 when the
 *     guard table counted a packet on its way off the machine) and diffs the host
 *     against the snapshot.
 *
 * Anything that goes wrong throws: the run fails loudly and nothing is skipped. A
 * node left by another run is an error too, never reused or taken down by us: there
 * is one node per machine and it may be somebody else's.
 */
const NODE_DIR = process.env.NODE_DIR ?? '/tmp/forestall-node';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) {
    throw new Error('the e2e suite needs root: it runs kubelet, containerd and iptables');
  }
  if (existsSync(NODE_DIR)) {
    throw new Error(
      `${NODE_DIR} exists: another node is up (one per machine). ` +
        'Wait for it, or take it down with `bash test/node/down.sh` if it is yours.',
    );
  }
  const envtestAssets = await buildEnvtestAssets();
  let t = Date.now();
  const nodeAssets = lastLine(await runOk('bash', [join(NODE_SCRIPTS, 'build.sh')], loud));
  const imageTar = lastLine(await runOk('bash', [join(REPO_ROOT, 'test/image/build.sh')], loud));
  emit('e2e build checks (node and image)', secondsSince(t), 's', {}, 2);
  // forestall-<tree>.tar holds localhost/forestall:<tree> (test/image/build.sh).
  const treeTag = /^forestall-([0-9a-f]+)\.tar$/.exec(basename(imageTar))?.[1];
  if (!treeTag)
    throw new Error(`test/image/build.sh printed ${imageTar}, not forestall-<tree>.tar`);

  const work = mkdtempSync(join(tmpdir(), 'forestall-e2e-'));
  await runOk('bash', [join(NODE_SCRIPTS, 'leftovers.sh'), 'snapshot', join(work, 'before')]);

  const teardown = async (): Promise<void> => {
    const problems: string[] = [];
    const down = await run('bash', [join(NODE_SCRIPTS, 'down.sh')], loud);
    if (down.code === 3) {
      problems.push('the guard table counted packets leaving the machine (see down.sh above)');
    } else if (down.code !== 0) {
      problems.push(`test/node/down.sh exited ${String(down.code)}`);
    }
    if (!/guard table: 0 packets/.test(down.stderr) && down.code !== 3) {
      problems.push('down.sh did not report the guard counters as 0');
    }
    await runOk('bash', [join(NODE_SCRIPTS, 'leftovers.sh'), 'snapshot', join(work, 'after')]);
    const diff = await run('bash', [
      join(NODE_SCRIPTS, 'leftovers.sh'),
      'diff',
      join(work, 'before'),
      join(work, 'after'),
    ]);
    process.stderr.write(diff.stdout);
    if (diff.code !== 0) problems.push('the node left things behind (diff above)');
    rmSync(work, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`e2e teardown: ${problems.join('; ')}`);
  };

  t = Date.now();
  const up = await run('bash', [join(NODE_SCRIPTS, 'up.sh')], loud);
  if (up.code !== 0) {
    // up.sh took the node down itself; make sure, and report both.
    await teardown().catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    throw new Error(
      `test/node/up.sh exited ${String(up.code)}: the node did not start ` +
        `(its logs are in ${NODE_DIR}.failed-logs)`,
    );
  }
  emit('e2e node up', secondsSince(t), 's', {}, 2);
  try {
    t = Date.now();
    await runOk('ctr', [
      '--address',
      join(NODE_DIR, 'containerd/containerd.sock'),
      '-n',
      'k8s.io',
      'images',
      'import',
      imageTar,
    ]);
    emit('e2e image import', secondsSince(t), 's', {}, 2);
    const node: E2eNode = {
      nodeDir: NODE_DIR,
      kubeconfig: lastLine(up.stdout),
      envtestAssets,
      nodeAssets,
      image: { repository: 'localhost/forestall', tag: treeTag },
      busyboxImage: readFileSync(join(nodeAssets, 'images/busybox.tar.tag'), 'utf8').trim(),
    };
    project.provide('e2eNode', node);
  } catch (err) {
    await teardown().catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
    throw err;
  }
  return teardown;
}

const loud = { echoStderr: true };
