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

/** One YAML document read from disk: the object, or why it could not be read. */
export type YamlDocument = { file: string; object: unknown } | { file: string; error: string };

/**
 * Every document of every .yaml/.yml file under each path (a file is read whatever its
 * name), in path order and then file-name order. A path that cannot be read, or a
 * document that is not valid YAML, comes back as an error naming the file; empty
 * documents are left out. Shared by `validate` and `plan`.
 */
export async function readYamlDocuments(paths: readonly string[]): Promise<YamlDocument[]> {
  const out: YamlDocument[] = [];
  for (const root of paths) {
    let files: string[];
    try {
      files = await yamlFiles(root);
    } catch (e) {
      out.push({ file: root, error: (e as Error).message });
      continue;
    }
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        if (doc.errors.length) out.push({ file, error: `YAML error: ${doc.errors[0]!.message}` });
        else if (doc.contents !== null) out.push({ file, object: doc.toJS() as unknown });
      }
    }
  }
  return out;
}

/** A Forestall object (forestall.io/...), as opposed to the other kinds a directory may hold. */
export function isForestallObject(o: unknown): o is { apiVersion: string; kind?: string; metadata?: { name?: string } } {
  return typeof o === 'object' && o !== null && String((o as { apiVersion?: unknown }).apiVersion ?? '').startsWith('forestall.io/');
}

export async function runValidate(paths: string[], out: Writer, err: Writer): Promise<number> {
  if (paths.length === 0) {
    err.write(VALIDATE_USAGE);
    return 2;
  }
  let valid = 0;
  let invalid = 0;
  for (const doc of await readYamlDocuments(paths)) {
    if ('error' in doc) {
      err.write(`${doc.file}: ${doc.error}\n`);
      invalid++;
      continue;
    }
    const obj = doc.object;
    if (!isForestallObject(obj)) continue;
    const result = validateObject(obj);
    const label = `${doc.file}: ${obj.kind}/${obj.metadata?.name ?? '(no name)'}`;
    if (result.ok) {
      out.write(`${label}: valid\n`);
      valid++;
    } else {
      err.write(`${label}: ${formatIssues(result.issues)}\n`);
      invalid++;
    }
  }
  out.write(`${valid} valid, ${invalid} invalid\n`);
  return invalid > 0 ? 1 : 0;
}
