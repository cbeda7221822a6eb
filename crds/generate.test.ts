import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generatedFiles, repoRoot } from './generate.js';

describe('generated files', () => {
  it('GIVEN the schemas THEN every generated file on disk is up to date (run `npm run generate` if this fails)', async () => {
    const stale: string[] = [];
    for (const [rel, content] of await generatedFiles()) {
      const onDisk = await readFile(join(repoRoot, rel), 'utf8').catch(() => '');
      if (onDisk !== content) stale.push(rel);
    }
    expect(stale).toEqual([]);
  });

  it('GIVEN the ThreatFeed CRD THEN it is cluster-scoped with the status subresource, category, short name and the one-source rule', async () => {
    const files = await generatedFiles();
    const crd = parse(files.get(join('crds', 'generated', 'forestall.io_threatfeeds.yaml'))!);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ categories: ['forestall'], shortNames: ['tf'] });
    const v = crd.spec.versions[0];
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.map((c: { name: string }) => c.name)).toContain('Ready');
    expect(
      v.schema.openAPIV3Schema.properties.spec.properties.source['x-kubernetes-validations'][0]
        .message,
    ).toMatch(/exactly one of/);
  });
});
