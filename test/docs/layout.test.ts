import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The paths named in the first column of the README's layout table (the table under
 * `## Layout`), folders with their trailing slash, as `lib/` or `controller/runtime/`.
 */
function layoutRows(readme: string): string[] {
  const section = readme.split(/^## Layout$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

/**
 * The folders of `files` (tracked paths) that the table does not name, at the table's
 * granularity: a top-level folder is covered by its own row (`crds/`); one without a
 * row of its own is split (`controller/`, `test/`), and then each of its subfolders
 * needs a row. Deeper folders are the rows' business (`connectors/<layer>/<name>/`).
 */
function missingFolders(rows: string[], files: string[]): string[] {
  const listed = new Set(rows);
  const missing = new Set<string>();
  for (const file of files) {
    const parts = file.split('/');
    if (parts.length < 2) continue;
    const top = `${parts[0]}/`;
    if (listed.has(top)) continue;
    const split = rows.some((row) => row.startsWith(top));
    if (!split) missing.add(top);
    else if (parts.length > 2 && !listed.has(`${top}${parts[1]}/`))
      missing.add(`${top}${parts[1]}/`);
  }
  return [...missing].sort();
}

/** The rows naming a folder or file the tree does not have. */
function staleRows(rows: string[], files: string[]): string[] {
  return rows.filter((row) =>
    row.endsWith('/') ? !files.some((f) => f.startsWith(row)) : !files.includes(row),
  );
}

describe('README layout table', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);

  it('GIVEN every tracked folder THEN the layout table names it (or its subfolders)', () => {
    const rows = layoutRows(readme);
    expect(rows.length).toBeGreaterThan(10);
    expect(missingFolders(rows, files)).toEqual([]);
  });

  it('GIVEN the layout table THEN every folder and file it names is tracked', () => {
    expect(staleRows(layoutRows(readme), files)).toEqual([]);
  });

  it('GIVEN a folder the table does not name THEN it is reported, at the table granularity', () => {
    const rows = ['lib/', 'controller/runtime/', 'controller/main.ts'];
    const tree = [
      'README.md',
      'lib/http/fetch.ts',
      'controller/main.ts',
      'controller/config.ts',
      'controller/runtime/queue.ts',
      'controller/action/decide.ts',
      'report/readiness/score.ts',
      'report/facts.ts',
    ];
    expect(missingFolders(rows, tree)).toEqual(['controller/action/', 'report/']);
    expect(staleRows([...rows, 'gone/', 'controller/old.ts'], tree)).toEqual([
      'gone/',
      'controller/old.ts',
    ]);
  });
});
