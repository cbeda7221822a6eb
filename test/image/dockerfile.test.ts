/**
 * The image holds every file the runtime reads, on the Node.js release the project
 * is tested with.
 *
 * The list of files is derived from the code, not kept by hand: every path built from
 * packageRoot() or from a module's own location in the runtime sources, and every
 * package they import. The Dockerfile's runtime stage must copy each of them, and
 * .dockerignore must not hide them from the build context. The image itself cannot be
 * built here without a builder; issue 15's end-to-end suite builds and runs it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

/** The folders compiled into dist/ that run in the image: tsconfig.json's, minus bench and test. */
const RUNTIME_FOLDERS = (JSON.parse(read('tsconfig.json')) as { include: string[] }).include.filter(
  (folder) => folder !== 'bench' && folder !== 'test' && !folder.startsWith('test/'),
);

function runtimeSources(): string[] {
  const files = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', ...RUNTIME_FOLDERS],
    {
      cwd: root,
      encoding: 'utf8',
    },
  ).split('\n');
  return files.filter(
    (f) =>
      f.endsWith('.ts') &&
      !f.endsWith('.test.ts') &&
      !f.endsWith('.d.ts') &&
      !f.includes('/testdata/') &&
      // Test helpers beside the code they serve (cli/test-support.ts): compiled, never loaded by the product.
      !/(^|\/)test-support\.ts$/.test(f) &&
      !DEVELOPMENT_ONLY.includes(f) &&
      existsSync(join(root, f)),
  );
}

/** Compiled into dist/ but only run by developers (npm run generate), never in the image. */
const DEVELOPMENT_ONLY = ['crds/generate.ts'];

const literalArgs = (args: string): string[] => [...args.matchAll(/'([^']+)'/g)].map((m) => m[1]!);

/**
 * Package-relative paths the runtime reads: join(packageRoot(), 'a', 'b') and
 * join(dirname(fileURLToPath(import.meta.url)), '..', 'x') (resolved from the module's
 * place in dist/). A packageRoot() or import.meta.url use of another shape cannot be
 * derived and is reported, so the list never silently misses a file.
 */
function derivedRuntimePaths(files: string[]): { paths: Set<string>; underived: string[] } {
  const paths = new Set<string>();
  const underived: string[] = [];
  for (const file of files) {
    const text = read(file);
    for (const m of text.matchAll(/join\(packageRoot\(\)((?:\s*,\s*'[^']+')+)\s*\)/g)) {
      paths.add(normalize(join(...literalArgs(m[1]!))));
    }
    for (const m of text.matchAll(
      /join\(dirname\(fileURLToPath\(import\.meta\.url\)\)((?:\s*,\s*'[^']+')+)\s*\)/g,
    )) {
      const fromDist = join('dist', dirname(file), ...literalArgs(m[1]!));
      paths.add(normalize(fromDist));
    }
    // new URL('./x.js', import.meta.url): a module loaded at run time (the ingestion worker).
    for (const m of text.matchAll(/new URL\('([^']+)',\s*import\.meta\.url\)/g)) {
      paths.add(normalize(join('dist', dirname(file), m[1]!)));
    }
    const packageRootUses = text.match(/packageRoot\(\)/g)?.length ?? 0;
    const derivable = text.match(/join\(packageRoot\(\)((?:\s*,\s*'[^']+')+)\s*\)/g)?.length ?? 0;
    const definitions = text.match(/export function packageRoot\(\)/g)?.length ?? 0;
    if (packageRootUses - derivable - definitions > 0)
      underived.push(`${file}: packageRoot() used without literal segments`);
  }
  return { paths, underived };
}

/** The build-context sources that the Dockerfile's last stage copies (COPY without --from). */
function runtimeStageCopies(dockerfile: string): { sources: string[]; fromStages: string[] } {
  const stages = dockerfile.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  const sources: string[] = [];
  const fromStages: string[] = [];
  for (const line of last.split('\n')) {
    const m = /^COPY\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const words = m[1]!.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='));
    const args = words.filter((w) => !w.startsWith('--'));
    args.pop(); // the destination
    if (from) fromStages.push(...args.map((a) => normalize(a.replace(/^\/app\//, ''))));
    else sources.push(...args.map((a) => normalize(a)));
  }
  return { sources, fromStages };
}

function dockerignored(path: string): boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => !p.includes('*') && (path === p || path.startsWith(`${p}/`)));
}

const covers = (source: string, path: string): boolean =>
  path === source || path.startsWith(`${source}/`);

describe('the image', () => {
  const files = runtimeSources();
  const { paths, underived } = derivedRuntimePaths(files);
  const dockerfile = read('Dockerfile');
  const { sources, fromStages } = runtimeStageCopies(dockerfile);

  it('derives the data paths from the code (the derivation finds the files we know of)', () => {
    expect(underived).toEqual([]);
    // If these disappear from the derived list, the derivation broke, not the image.
    expect([...paths]).toEqual(
      expect.arrayContaining(['feeds/warninglists', 'feeds/stix-schemas', 'package.json']),
    );
  });

  it('compiles every module the runtime loads by URL into dist/', () => {
    const loaded = [...paths].filter((p) => p.startsWith('dist/') && p.endsWith('.js'));
    // The ingestion worker is one; if it disappears from the list, the derivation broke.
    expect(loaded).toContain('dist/feeds/sandbox-worker.js');
    for (const p of loaded)
      expect(
        existsSync(join(root, p.slice('dist/'.length).replace(/\.js$/, '.ts'))),
        `${p} has a source`,
      ).toBe(true);
  });

  it('copies every path the runtime reads, and the build context holds it', () => {
    const missing = [...paths].filter(
      (p) => !p.startsWith('dist/') && !sources.some((s) => covers(s, p)),
    );
    expect(missing).toEqual([]);
    for (const p of paths) {
      if (p.startsWith('dist/')) continue;
      expect(existsSync(join(root, p)), `${p} exists`).toBe(true);
      expect(dockerignored(p), `${p} is not in .dockerignore`).toBe(false);
    }
    // The compiled code and the production dependencies come from the build stages.
    expect(fromStages).toEqual(expect.arrayContaining(['dist', 'node_modules']));
  });

  it('installs every package the runtime imports as a production dependency', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const file of files) {
      for (const m of read(file).matchAll(
        /(?:^import\s[^;]*?from\s+|^export\s[^;]*?from\s+|import\()\s*'([^'.][^']*)'/gm,
      )) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || builtins.has(spec)) continue;
        imported.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
        );
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    const notProduction = [...imported].filter((name) => !(name in pkg.dependencies));
    expect(notProduction).toEqual([]);
  });
});

describe('the Node.js release', () => {
  const version = read('.node-version').trim();

  it('is an even-numbered (LTS) release line', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(version.split('.')[0]) % 2).toBe(0);
  });

  it('is the same in .node-version, package.json engines, the Dockerfile and CI', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines
      .node;
    const major = version.split('.')[0];
    expect(engines).toBe(`>=${version} <${Number(major) + 1}`);
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(read('Dockerfile'))?.[1];
    expect(image).toMatch(
      new RegExp(`^node:${version.replace(/\./g, '\\.')}-[a-z0-9-]+@sha256:[0-9a-f]{64}$`),
    );
    // CI runs the tests on that release: .ci/run puts scripts/node-lts.sh's node first on PATH.
    expect(read('.ci/run')).toMatch(/PATH="\$\(bash scripts\/node-lts\.sh\):\$PATH"/);
    expect(read('scripts/node-lts.sh')).toContain('.node-version');
  });

  // A developer may run the tests on another node; CI (CI=true) may not.
  it.runIf(process.env.CI === 'true')('is the release CI runs this test on', () => {
    expect(process.version).toBe(`v${version}`);
  });
});
