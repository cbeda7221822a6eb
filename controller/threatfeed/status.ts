import { parse as parseCel } from '@marcbachmann/cel-js';
import type { ThreatFeed, ThreatFeedStatus } from '../../crds/index.js';
import { setCondition, type Condition, type ConditionInput } from '../runtime/conditions.js';
import { ThreatFeedCondition, ThreatFeedReason } from './reasons.js';

/**
 * The status a ThreatFeed should have, computed from its spec and current status
 * alone (a pure function: no I/O, time passed in). Fields owned by the sync (counts,
 * digest, lastSyncTime) are carried over unchanged.
 */
export function desiredStatus(feed: ThreatFeed, now: Date): ThreatFeedStatus {
  const generation = feed.metadata.generation ?? 0;
  const ready = readyCondition(feed, generation);
  const conditions = setCondition(feed.status?.conditions as Condition[] | undefined, ready, now);
  return { ...feed.status, observedGeneration: generation, conditions };
}

function readyCondition(feed: ThreatFeed, generation: number): ConditionInput {
  const base = { type: ThreatFeedCondition.Ready, observedGeneration: generation };
  const problem = specProblem(feed);
  if (problem) return { ...base, status: 'False', reason: ThreatFeedReason.InvalidSpec, message: problem };
  if (feed.spec.suspend) {
    return { ...base, status: 'False', reason: ThreatFeedReason.Suspended, message: 'spec.suspend is true: the feed is not fetched; indicators already known stay in force' };
  }
  return { ...base, status: 'Unknown', reason: ThreatFeedReason.AwaitingFirstSync, message: `Spec accepted (${feed.spec.format} from ${sourceKind(feed)}); waiting for the first sync` };
}

/** Checks the CRD schema cannot make: today, that the confidence expression compiles. */
export function specProblem(feed: ThreatFeed): string | undefined {
  const expr = feed.spec.confidence?.expression;
  if (expr) {
    try {
      parseCel(expr);
    } catch (err) {
      return `spec.confidence.expression: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  return undefined;
}

function sourceKind(feed: ThreatFeed): string {
  const s = feed.spec.source;
  return s.http ? 'http' : s.taxii ? 'taxii' : 'configMapRef';
}
