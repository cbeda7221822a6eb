import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { formatIssues, validateObject } from '../crds/index.js';

export const VALIDATE_USAGE = `Usage: forestall validate PATH...

Reads every .yaml/.yml file under each PATH and checks each Forestall object
(forestall.io/v1alpha1) against the CRD schema and its CEL rules. Other kinds are
skipped. Exits 1 when any object is invalid, naming the file, object and field.
`;

interface Writer {
  write(s: string): unknown;
}

async function yamlFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (s.isFile()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(p)));
    else if (['.yaml', '.yml'].includes(extname(entry.name))) out.push(p);
  }
  return out;
}

export async function runValidate(paths: string[], out: Writer, err: Writer): Promise<number> {
  if (paths.length === 0) {
    err.write(VALIDATE_USAGE);
    return 2;
  }
  let valid = 0;
  let invalid = 0;
  for (const root of paths) {
    let files: string[];
    try {
      files = await yamlFiles(root);
    } catch (e) {
      err.write(`${root}: ${(e as Error).message}\n`);
      invalid++;
      continue;
    }
    for (const file of files) {
      const docs = parseAllDocuments(await readFile(file, 'utf8'));
      for (const doc of Array.isArray(docs) ? docs : [docs]) {
        if (doc.errors.length) {
          err.write(`${file}: YAML error: ${doc.errors[0]!.message}\n`);
          invalid++;
          continue;
        }
        const obj = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
        if (!obj || !String(obj.apiVersion ?? '').startsWith('forestall.io/')) continue;
        const result = validateObject(obj);
        const label = `${file}: ${obj.kind}/${obj.metadata?.name ?? '(no name)'}`;
        if (result.ok) {
          out.write(`${label}: valid\n`);
          valid++;
        } else {
          err.write(`${label}: ${formatIssues(result.issues)}\n`);
          invalid++;
        }
      }
    }
  }
  out.write(`${valid} valid, ${invalid} invalid\n`);
  return invalid > 0 ? 1 : 0;
}
