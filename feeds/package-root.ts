import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The Forestall package root, found by walking up from this module to the
 * package.json named "forestall". Works from source (feeds/) and from the build
 * (dist/feeds/), so data shipped in the package (feeds/warninglists,
 * feeds/stix-schemas) is found either way.
 */
export function packageRoot(): string {
  if (root) return root;
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'forestall'
    ) {
      root = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no forestall package.json above ${here}`);
  }
}
