/**
 * Commit messages for action branches. The subject is short and greppable
 * (`forestall: add egress-block (EgressDeny, 1200 indicators)`); the body says where the
 * action came from and why it needs review, so `git log` alone is an audit trail.
 */
import type { PlannedAction } from '../../policies/types.js';
import type { ActionType } from '../../crds/index.js';

/** What a commit message says about an action; PlannedAction has all of it (see summarizeAction). */
export interface ActionSummary {
  name: string;
  type: ActionType;
  /** How many indicator values the action carries. */
  indicators: number;
  policy?: string;
  feeds?: readonly string[];
  /** Highest confidence among the indicators, 0-100. */
  confidence?: number;
  /** sha256 of the sorted values. */
  digest?: string;
  /** Why the action needs review (the threshold, the mode). */
  reason?: string;
  /** RFC 3339. */
  expiresAt?: string;
}

export function summarizeAction(action: PlannedAction): ActionSummary {
  return {
    name: action.name,
    type: action.type,
    indicators: action.request.values.length,
    policy: action.policy,
    feeds: action.feeds,
    confidence: action.confidence,
    digest: action.digest,
    reason: action.reason,
    ...(action.request.expiresAt ? { expiresAt: action.request.expiresAt } : {}),
  };
}

export type CommitVerb = 'add' | 'update' | 'remove';

export function commitSubject(verb: CommitVerb, action: ActionSummary): string {
  return `forestall: ${verb} ${action.name} (${action.type}, ${action.indicators} indicator${action.indicators === 1 ? '' : 's'})`;
}

/** The body: facts about the action, one per line, then the caller's own text. */
export function commitBody(
  verb: CommitVerb,
  action: ActionSummary,
  dir: string,
  files: readonly string[],
  extra?: string,
): string {
  const lines: string[] = [];
  lines.push(
    verb === 'remove'
      ? `Removes the objects of PreemptiveAction ${action.name} (${dir}/).`
      : `${verb === 'add' ? 'Adds' : 'Updates'} the objects that enforce PreemptiveAction ${action.name} (${dir}/).`,
  );
  lines.push('');
  if (action.policy) lines.push(`Policy: ${action.policy}`);
  if (action.feeds?.length) lines.push(`Feeds: ${action.feeds.join(', ')}`);
  lines.push(
    `Indicators: ${action.indicators}${action.confidence !== undefined ? `, highest confidence ${action.confidence}` : ''}`,
  );
  if (action.digest) lines.push(`Digest: ${action.digest}`);
  if (action.reason) lines.push(`Review: ${action.reason}`);
  if (action.expiresAt) lines.push(`Expires: ${action.expiresAt}`);
  if (verb !== 'remove' && files.length > 0) lines.push(`Objects: ${files.join(', ')}`);
  if (extra?.trim()) lines.push('', extra.trim());
  return lines.join('\n');
}
