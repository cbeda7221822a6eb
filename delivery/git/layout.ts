/**
 * What a Forestall branch looks like on disk, independent of git: branch names, the
 * repository path actions are written under, and the parent kustomization that makes
 * `kubectl kustomize <path>` (and so Argo CD and Flux) build every action on a branch.
 *
 *   <path>/kustomization.yaml            resources: [<action-a>, <action-b>, ...]
 *   <path>/<action-a>/kustomization.yaml  written by connectors' writeKustomization
 *   <path>/<action-a>/<kind.group_ns_name>.yaml
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { posix, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { KUSTOMIZATION_FILE } from '../../connectors/core/render.js';
import { GitDeliveryError } from './errors.js';

/** PreemptiveAction names are DNS-1123 subdomains: safe as a directory and as a branch segment. */
const ACTION_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function assertActionName(name: string): void {
  if (name.length > 253 || !ACTION_NAME.test(name) || name.includes('..')) {
    throw new GitDeliveryError(
      'FST_GIT_INVALID_REQUEST',
      `action name ${JSON.stringify(name)} is not a DNS-1123 subdomain`,
    );
  }
}

/** The branch that proposes an action: forestall/<action-name>. */
export function actionBranchName(actionName: string): string {
  assertActionName(actionName);
  return `forestall/${actionName}`;
}

/**
 * The branch that proposes removing an action (expiry, lift). It lives under another
 * prefix than forestall/ so that no action name can collide with it: git cannot hold
 * both `forestall/x` and `forestall/x/...`, and an action may be called anything.
 */
export function removalBranchName(actionName: string): string {
  assertActionName(actionName);
  return `forestall-removal/${actionName}`;
}

/** Branch names we accept from callers: no option-like, revision-like or odd characters. */
export function assertBranchName(branch: string): void {
  if (
    !/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(branch) ||
    branch.includes('..') ||
    branch.includes('//') ||
    branch.endsWith('/') ||
    branch.endsWith('.lock') ||
    branch.endsWith('.')
  ) {
    throw new GitDeliveryError(
      'FST_GIT_INVALID_REQUEST',
      `branch name ${JSON.stringify(branch)} is not allowed`,
    );
  }
}

/**
 * The repository-relative directory actions go under, normalised ('.' for the root).
 * Refuses absolute paths, `..` and anything inside .git.
 */
export function normalizeRepoPath(path: string): string {
  const trimmed = path.trim().replace(/\\/g, '/');
  if (trimmed.startsWith('/'))
    throw new GitDeliveryError(
      'FST_GIT_INVALID_REQUEST',
      `path ${JSON.stringify(path)} must be relative to the repository root`,
    );
  const normal = posix.normalize(trimmed === '' ? '.' : trimmed).replace(/\/+$/, '') || '.';
  const segments = normal.split('/');
  if (
    segments.includes('..') ||
    segments.some((s) => s.toLowerCase() === '.git') ||
    segments.some((s) => s.startsWith('-'))
  ) {
    throw new GitDeliveryError(
      'FST_GIT_INVALID_REQUEST',
      `path ${JSON.stringify(path)} must stay inside the repository and outside .git`,
    );
  }
  return normal;
}

/** <path>/<action>, repository-relative. */
export function actionDir(path: string, actionName: string): string {
  return path === '.' ? actionName : `${path}/${actionName}`;
}

/**
 * Rewrites `<dir>/kustomization.yaml` so that its resources list every subdirectory that
 * holds a kustomization.yaml (the action directories present on this branch), keeps
 * every other entry that still exists (files or directories a person added, remote
 * bases), and drops single-segment entries whose directory is gone (removed actions).
 * Other fields a person set (commonAnnotations, namespace, ...) are kept. The list is
 * sorted, so two branches that add different actions touch the file the same way.
 * Kept with an empty list when the last action goes (so Argo CD and Flux prune its
 * objects); not created when there was none and nothing to list. Returns whether the
 * file changed.
 */
export function updateParentKustomization(dir: string): boolean {
  const file = join(dir, KUSTOMIZATION_FILE);
  const existing = existsSync(file)
    ? ((parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null) ?? {})
    : {};
  const listed = Array.isArray(existing.resources)
    ? existing.resources.filter((r): r is string => typeof r === 'string')
    : [];
  const actionDirs = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter(
          (e) =>
            e.isDirectory() &&
            !e.name.startsWith('.') &&
            existsSync(join(dir, e.name, KUSTOMIZATION_FILE)),
        )
        .map((e) => e.name)
    : [];
  const kept = listed.filter((entry) => {
    if (entry.includes('://') || entry.includes('/') || entry.includes('?')) return true;
    return (
      existsSync(join(dir, entry)) &&
      (statSync(join(dir, entry)).isFile() || existsSync(join(dir, entry, KUSTOMIZATION_FILE)))
    );
  });
  const resources = [...new Set([...kept, ...actionDirs])].sort();
  // Nothing to list and nothing there before: do not create a file (a removal of an action that was never merged).
  if (resources.length === 0 && !existsSync(file)) return false;
  const doc = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    ...existing,
    resources,
  };
  const text = stringify(doc, { lineWidth: 0 });
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, text);
  return true;
}
