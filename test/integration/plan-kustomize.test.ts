import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { runPlan } from '../../cli/plan.js';
import { envtestBinary } from '../harness/envtest-assets.js';

/**
 * What Argo CD and Flux do with the tree `forestall plan --out` (and Git delivery)
 * writes: `kubectl kustomize` must build it into exactly the objects the plan reports.
 * kubectl is built with the control-plane binaries (test/envtest/build.sh), from the
 * same Kubernetes module; a missing kubectl fails the suite, it never skips it.
 */
const exec = promisify(execFile);
const examples = new URL('../../examples', import.meta.url).pathname;

const kubectlPath = () => envtestBinary(inject('envtestAssets'), 'kubectl');

describe('forestall plan --out', () => {
  it('GIVEN the examples WHEN planned with --out THEN kubectl kustomize builds every object the plan lists, and nothing else', async () => {
    const kubectl = kubectlPath();

    const out = join(await mkdtemp(join(tmpdir(), 'forestall-plan-out-')), 'manifests');
    let stdout = '';
    const code = await runPlan(
      [examples, '--now', '2026-08-22T12:00:00Z', '--json', '--out', out],
      { write: (s: string) => (stdout += s) },
      { write: () => undefined },
    );
    expect(code).toBe(0);
    const planned = (
      JSON.parse(stdout) as {
        actions: {
          objects: { apiVersion: string; kind: string; namespace: string; name: string }[];
        }[];
      }
    ).actions
      .flatMap((a) => a.objects)
      .map((o) => `${o.apiVersion}|${o.kind}|${o.namespace}|${o.name}`)
      .sort();
    expect(planned.length).toBeGreaterThan(0);

    const built = await exec(kubectl, ['kustomize', out], { maxBuffer: 64 * 1024 * 1024 });
    const objects = parseAllDocuments(built.stdout).map(
      (d) =>
        d.toJS() as {
          apiVersion: string;
          kind: string;
          metadata: { name: string; namespace?: string; labels?: Record<string, string> };
        },
    );
    expect(
      objects
        .map((o) => `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`)
        .sort(),
    ).toEqual(planned);
    for (const o of objects)
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('forestall');
  });
});
