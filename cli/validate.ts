import { badUsage, checkPathsExist, parseCommandLine, UsageError, type Writer } from './usage.js';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  formatIssues,
  validateObject,
  type ForestallObject,
  type ValidationIssue,
} from '../crds/index.js';
import {
  actionProblems,
  exceptionProblems,
  feedProblems,
  meantForForestall,
  policyProblems,
  undefinedFeeds,
} from './checks.js';

export const VALIDATE_USAGE = `Usage: forestall validate PATH...

Reads every .yaml/.yml file under each PATH and checks each Forestall object as the
API server and then the controller would:
  - the CRD schema and its CEL rules, with unknown fields refused as strict field
    validation (kubectl's default) refuses them, and an apiVersion or kind that is a
    near miss of Forestall's (forestal.io/v1alpha1, forestall.io/v1alpha2, ThreatFed)
    refused rather than skipped;
  - what the controller refuses: CEL that does not compile (spec.match,
    spec.autoApprove, spec.confidence.expression), unknown connectors, connector params
    the connector does not take or that are invalid, and spec.feeds.names that no
    ThreatFeed under the PATHs defines.
Objects of other API groups (a cluster's Deployments, Services) are skipped.

Exit status: 0 when every object is valid; 1 when any object or YAML document is
invalid (each problem names the file, the object and the field); 2 for bad usage (an
unknown flag, no PATH, a PATH that cannot be read).
`;

async function yamlFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (s.isFile()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
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

/** The PATH arguments of validate, or a UsageError: flags are refused, and each path must exist. */
async function validatePaths(argv: string[]): Promise<string[]> {
  const { positionals } = parseCommandLine(argv, {});
  if (positionals.length === 0) throw new UsageError('give at least one PATH of Forestall YAML');
  await checkPathsExist(positionals);
  return positionals;
}

/** One Forestall object as read and checked. */
interface Checked {
  label: string;
  object?: ForestallObject;
  issues: ValidationIssue[];
}

/**
 * Checks every Forestall object of the documents: the API server's rules, then the
 * controller's (cli/checks.ts), then the names a policy reads against the ThreatFeeds
 * among them. A second object of the same kind and name is refused, as applying both
 * would keep only the last.
 */
export function checkDocuments(docs: readonly YamlDocument[]): {
  checked: Checked[];
  yamlErrors: string[];
} {
  const checked: Checked[] = [];
  const yamlErrors: string[] = [];
  const seen = new Map<string, string>();
  for (const doc of docs) {
    if ('error' in doc) {
      yamlErrors.push(`${doc.file}: ${doc.error}`);
      continue;
    }
    const obj = doc.object;
    if (!meantForForestall(obj)) continue;
    const name = obj.metadata?.name ?? '(no name)';
    const label = `${doc.file}: ${String(obj.kind)}/${name}`;
    const result = validateObject(obj);
    if (!result.ok) {
      checked.push({ label, issues: result.issues });
      continue;
    }
    const object = result.object;
    const key = `${object.kind}/${name}`;
    const first = seen.get(key);
    if (first !== undefined) {
      checked.push({
        label,
        issues: [
          {
            path: 'metadata.name',
            message: `a ${object.kind} named ${name} is already defined in ${first}`,
          },
        ],
      });
      continue;
    }
    seen.set(key, doc.file);
    const issues =
      object.kind === 'ThreatFeed'
        ? feedProblems(object.spec)
        : object.kind === 'ExposurePolicy'
          ? policyProblems(name, object.spec)
          : object.kind === 'ThreatException'
            ? exceptionProblems(name, object.spec)
            : actionProblems(object.spec);
    checked.push({ label, object, issues });
  }
  const feeds = new Set(
    checked.flatMap((c) =>
      c.object?.kind === 'ThreatFeed' ? [c.object.metadata?.name ?? ''] : [],
    ),
  );
  for (const c of checked)
    if (c.object?.kind === 'ExposurePolicy') c.issues.push(...undefinedFeeds(c.object.spec, feeds));
  return { checked, yamlErrors };
}

export async function runValidate(argv: string[], out: Writer, err: Writer): Promise<number> {
  let paths: string[];
  try {
    paths = await validatePaths(argv);
  } catch (e) {
    return badUsage(e, err, 'forestall validate', `\n${VALIDATE_USAGE}`);
  }
  const { checked, yamlErrors } = checkDocuments(await readYamlDocuments(paths));
  for (const e of yamlErrors) err.write(`${e}\n`);
  let valid = 0;
  for (const c of checked) {
    if (c.issues.length === 0) {
      out.write(`${c.label}: valid\n`);
      valid++;
    } else {
      err.write(`${c.label}: ${formatIssues(c.issues)}\n`);
    }
  }
  const invalid = checked.length - valid + yamlErrors.length;
  out.write(`${valid} valid, ${invalid} invalid\n`);
  return invalid > 0 ? 1 : 0;
}
