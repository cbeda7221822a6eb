import type { Manifest } from '../../connectors/core/types.js';
import type { BlastRadius } from '../../policies/types.js';
import type { ActionType, Layer, ObjectRef } from '../../crds/index.js';

/**
 * The pull request a reviewer reads. It must let them decide without opening the
 * cluster: which intelligence, what changes, how far it reaches, why a human is asked,
 * when it ends and how to undo it. Output is a pure function of the input (no clock, no
 * locale), so re-rendering an unchanged action gives the same text and the controller
 * can skip the update.
 *
 * Everything that comes from outside (indicator values, the reason, names) is escaped:
 * values sit in code spans, so a domain never becomes a link, and text cannot open
 * Markdown constructs or @-mention anyone.
 *
 * A hidden marker, `<!-- forestall:action=<name> digest=<digest> -->`, ties a pull
 * request to its action (parseMarker reads it back).
 */

/** What the body needs from an action. A PlannedAction satisfies it; so does a PreemptiveAction's spec with its name. */
export interface BodyAction {
  name: string;
  /** The ExposurePolicy; absent for a hand-written action. */
  policy?: string;
  type: ActionType;
  layer: Layer;
  connector?: string;
  /** sha256 of the sorted values, hex. */
  digest: string;
  /** Highest confidence among the indicators, 0-100. */
  confidence: number;
  blastRadius: BlastRadius;
  /** The decision's reason; names the threshold or guardrail that asked for review. */
  reason: string;
  /** 'auto': already applied, recorded in Git for the audit trail (spec.git.recordAutoApproved). Default: approval needed. */
  decision?: 'auto' | 'approval' | 'audit';
  feeds: readonly string[];
}

export interface PullRequestBodyInput {
  action: BodyAction;
  /** The indicator values, sorted (the first ten are shown). */
  values: readonly string[];
  /** Total indicators, when `values` is not the full set. Default values.length. */
  count?: number;
  /** The values of the previous render (the branch before this update, or what is enforced now), for the diff summary. */
  previousValues?: readonly string[];
  /** The objects the pull request adds or changes. */
  objects: readonly (ObjectRef | Manifest)[];
  /** RFC 3339, or 'UntilPatched'; absent: no expiry. */
  expiresAt?: string;
  /** Directory in the repository holding the manifests (spec.git.path). */
  path?: string;
  /** The base branch, for the revert instructions. */
  base?: string;
  /** Default 'enforce'. */
  verb?: string;
  /** When the intelligence appeared, RFC 3339; shown only when given. */
  detectedAt?: string;
}

export interface RemovalBodyInput {
  action: Pick<BodyAction, 'name' | 'policy' | 'type' | 'layer' | 'digest'>;
  /** Indicators the action covered. */
  count: number;
  /** The objects the pull request removes. */
  objects: readonly (ObjectRef | Manifest)[];
  /** Expired: its expiresAt passed. Lifted: the cause went away (for example, a patched image runs). */
  cause: 'Expired' | 'Lifted';
  /** One sentence on why, for example "expired at 2025-01-01T00:00:00Z" or "a patched image is running". */
  detail?: string;
  /** The pull request that put the objects in place, when known. */
  enforcedBy?: { number: number; url: string };
  path?: string;
  base?: string;
}

export interface RenderedPullRequest {
  title: string;
  body: string;
}

export const SAMPLE_SIZE = 10;
/** Object rows shown before "and N more"; keeps the body far below GitHub's 65,536 characters. */
export const MAX_OBJECT_ROWS = 50;

export function pullRequestTitle(
  verb: string,
  action: Pick<BodyAction, 'name' | 'policy' | 'type'>,
  count: number,
): string {
  const target = action.policy ? action.policy : `action ${action.name}`;
  return `forestall: ${verb} ${action.type} for ${target} (${count} ${count === 1 ? 'indicator' : 'indicators'})`;
}

export function pullRequestBody(input: PullRequestBodyInput): RenderedPullRequest {
  const { action } = input;
  const count = input.count ?? input.values.length;
  const verb = input.verb ?? 'enforce';
  const base = input.base ?? 'the base branch';
  const out: string[] = [];
  out.push(marker(action.name, action.digest));
  out.push(
    `## Forestall: ${text(verb)} ${text(action.type)} for ${action.policy ? `policy ${code(action.policy)}` : `action ${code(action.name)}`}`,
  );
  out.push('');
  const auto = action.decision === 'auto';
  out.push(
    `Forestall wants to ${text(verb)} **${text(action.type)}** on the **${text(action.layer)}** layer${action.connector ? ` through ${code(action.connector)}` : ''}, ` +
      `as PreemptiveAction ${code(action.name)}. ` +
      (auto
        ? 'The action was approved automatically and is already applied; this pull request records it in Git, the audit trail.'
        : "The action needs a reviewer's approval, so it has not been applied: merging this pull request lets Argo CD or Flux apply it."),
  );

  out.push('', '### Intelligence', '');
  out.push('| | |', '|---|---|');
  out.push(
    `| Feeds | ${action.feeds.length > 0 ? cell([...action.feeds].sort().map(code).join(', ')) : 'none recorded'} |`,
  );
  out.push(`| Indicators | ${thousands(count)} |`);
  out.push(`| Highest confidence | ${action.confidence} / 100 |`);
  out.push(`| Indicator digest | ${cell(code(`sha256:${action.digest}`))} |`);
  if (input.detectedAt) out.push(`| Detected | ${cell(text(input.detectedAt))} |`);
  const sample = input.values.slice(0, SAMPLE_SIZE);
  if (sample.length > 0) {
    out.push('', `Sample (${sample.length} of ${thousands(count)}):`, '');
    for (const value of sample) out.push(`- ${code(value)}`);
  }

  out.push('', '### What changes', '');
  if (input.previousValues !== undefined) {
    const { added, removed } = diffValues(input.previousValues, input.values);
    if (added.length === 0 && removed.length === 0) {
      out.push('Indicators: unchanged since the previous render.');
    } else {
      out.push(
        `Indicators since the previous render: **${thousands(added.length)} added**, **${thousands(removed.length)} removed**.`,
      );
      if (added.length > 0) out.push(`- added: ${sampleList(added)}`);
      if (removed.length > 0) out.push(`- removed: ${sampleList(removed)}`);
    }
    out.push('');
  }
  out.push(objectTable(input.objects, input.path));

  out.push('', '### Blast radius', '');
  out.push(blastRadiusTable(action.blastRadius));

  out.push('', auto ? '### Why no approval was needed' : '### Why approval is needed', '');
  out.push(`> ${text(action.reason)}`);

  out.push('', '### Expiry', '');
  out.push(expiryText(input.expiresAt));

  out.push('', '### How to roll back', '');
  if (!auto)
    out.push(
      "- **Before merging:** close this pull request. Forestall records the action as Rejected and does not propose it again for the policy's suppression period.",
    );
  out.push(
    `- **After merging:** revert this pull request (the forge's *Revert* button, or \`git revert -m 1 <merge commit>\` on ${base === 'the base branch' ? base : code(base)}). Argo CD or Flux then remove the objects.`,
  );
  out.push(
    `- **Stop Forestall tracking it:** \`kubectl delete preemptiveaction ${shellArg(action.name)}\`${action.policy ? `. The policy plans it again on its next evaluation unless the policy changes, for example \`kubectl patch exposurepolicy ${shellArg(action.policy)} --type merge -p '{"spec":{"suspend":true}}'\`` : ''}.`,
  );
  out.push('');
  return { title: pullRequestTitle(verb, action, count), body: out.join('\n') };
}

export function removalBody(input: RemovalBodyInput): RenderedPullRequest {
  const { action } = input;
  const base = input.base ?? 'the base branch';
  const out: string[] = [];
  out.push(marker(action.name, action.digest, 'remove'));
  out.push(
    `## Forestall: remove ${text(action.type)} for ${action.policy ? `policy ${code(action.policy)}` : `action ${code(action.name)}`}`,
  );
  out.push('');
  const why = input.cause === 'Expired' ? 'has expired' : 'has been lifted';
  out.push(
    `PreemptiveAction ${code(action.name)} (${text(action.type)} on the ${text(action.layer)} layer, ${thousands(input.count)} ${input.count === 1 ? 'indicator' : 'indicators'}) ${why}` +
      `${input.detail ? `: ${text(input.detail)}` : ''}. Merging this pull request removes its objects; Argo CD or Flux then delete them from the cluster.`,
  );
  if (input.enforcedBy)
    out.push(
      '',
      `It was put in place by #${input.enforcedBy.number} (${text(input.enforcedBy.url)}).`,
    );
  out.push('', '### What is removed', '');
  out.push(objectTable(input.objects, input.path));
  out.push('', '### If the protection is still needed', '');
  out.push(
    '- Close this pull request: the objects stay in Git and in the cluster. Forestall opens a new removal pull request if the action is still due for removal after its next reconcile.',
  );
  out.push(
    `- After merging, revert this pull request (\`git revert -m 1 <merge commit>\` on ${base === 'the base branch' ? base : code(base)}) to restore the objects.`,
  );
  out.push('');
  return { title: pullRequestTitle('remove', action, input.count), body: out.join('\n') };
}

const MARKER =
  /<!--\s*forestall:action=([A-Za-z0-9._-]+)\s+digest=([A-Za-z0-9:._-]*)(?:\s+op=([a-z]+))?\s*-->/;

/** The action, digest and operation a pull request body belongs to; undefined when it has no marker. */
export function parseMarker(
  body: string,
): { action: string; digest: string; op: 'apply' | 'remove' } | undefined {
  const m = MARKER.exec(body);
  if (!m) return undefined;
  return { action: m[1]!, digest: m[2]!, op: m[3] === 'remove' ? 'remove' : 'apply' };
}

function marker(name: string, digest: string, op?: 'remove'): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9:._-]/g, '');
  return `<!-- forestall:action=${safe(name)} digest=${safe(digest)}${op ? ` op=${op}` : ''} -->`;
}

/** Added and removed values, each sorted. */
export function diffValues(
  previous: readonly string[],
  current: readonly string[],
): { added: string[]; removed: string[] } {
  const before = new Set(previous);
  const after = new Set(current);
  return {
    added: [...after].filter((v) => !before.has(v)).sort(),
    removed: [...before].filter((v) => !after.has(v)).sort(),
  };
}

function sampleList(values: readonly string[]): string {
  const shown = values.slice(0, SAMPLE_SIZE).map(code).join(', ');
  return values.length > SAMPLE_SIZE
    ? `${shown} and ${thousands(values.length - SAMPLE_SIZE)} more`
    : shown;
}

function objectTable(objects: readonly (ObjectRef | Manifest)[], path: string | undefined): string {
  const refs = objects.map(refOf).sort(compareRefs);
  const lines: string[] = [];
  lines.push(
    `${thousands(refs.length)} ${refs.length === 1 ? 'object' : 'objects'}${path ? `, under ${code(path.replace(/\/+$/, '') + '/')} in this branch` : ''}:`,
    '',
  );
  lines.push('| apiVersion | kind | namespace | name |', '|---|---|---|---|');
  for (const ref of refs.slice(0, MAX_OBJECT_ROWS)) {
    lines.push(
      `| ${cell(code(ref.apiVersion))} | ${cell(text(ref.kind))} | ${ref.namespace ? cell(code(ref.namespace)) : '(cluster)'} | ${cell(code(ref.name))} |`,
    );
  }
  if (refs.length > MAX_OBJECT_ROWS)
    lines.push(`| … | ${thousands(refs.length - MAX_OBJECT_ROWS)} more | | |`);
  return lines.join('\n');
}

function refOf(o: ObjectRef | Manifest): ObjectRef {
  if ('metadata' in o && typeof o.metadata === 'object') {
    const m = o as Manifest;
    return {
      apiVersion: m.apiVersion,
      kind: m.kind,
      name: m.metadata.name,
      ...(m.metadata.namespace ? { namespace: m.metadata.namespace } : {}),
    };
  }
  return o as ObjectRef;
}

function compareRefs(a: ObjectRef, b: ObjectRef): number {
  const key = (r: ObjectRef) => [r.apiVersion, r.kind, r.namespace ?? '', r.name];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i]! < kb[i]!) return -1;
    if (ka[i]! > kb[i]!) return 1;
  }
  return 0;
}

function blastRadiusTable(b: BlastRadius): string {
  const headers = [
    'namespaces',
    'workloads',
    'pods',
    ...(b.users > 0 ? ['users'] : []),
    'addresses',
    'production',
  ];
  const cells = [
    thousands(b.namespaces),
    thousands(b.workloads),
    thousands(b.pods),
    ...(b.users > 0 ? [thousands(b.users)] : []),
    thousands(b.addresses),
    b.production ? '**yes**' : 'no',
  ];
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    `| ${cells.join(' | ')} |`,
  ].join('\n');
}

function expiryText(expiresAt: string | undefined): string {
  if (expiresAt === undefined || expiresAt === '')
    return 'No expiry: the action stays until it is lifted or deleted.';
  if (expiresAt === 'UntilPatched')
    return 'Until patched: Forestall lifts the action, and opens a pull request removing these objects, once a patched image is running.';
  return `Expires at ${code(expiresAt)}. Forestall then opens a pull request that removes these objects.`;
}

/** 1234567 → 1,234,567 without Intl, so the output does not depend on the locale. */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A code span that cannot be broken out of: the fence is longer than any backtick run inside. */
export function code(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/** A table cell: GFM splits cells on every unescaped pipe, even inside code spans. */
function cell(markdown: string): string {
  return markdown.replace(/\|/g, '\\|');
}

/** Plain text with Markdown, HTML and @-mentions neutralised; one line. */
export function text(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/[\\`*_[\]<#|~@&]/g, (c) => `\\${c}`);
}

/** A Kubernetes name is shell-safe; quote anything else. */
function shellArg(value: string): string {
  return /^[A-Za-z0-9._-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
