import {
  ACTION_PHASES,
  API_VERSION,
  parseDuration,
  type ExposurePolicy,
  type PreemptiveAction,
  type ThreatException,
  type ThreatFeed,
} from '../crds/index.js';
import type { KubeClient } from '../controller/runtime/client.js';
import { apiMessage, connect } from './operate.js';
import { badUsage, parseCommandLine, type ArgValues, type Writer } from './usage.js';

export const STATUS_USAGE = `Usage: forestall status [--json] [flags]

What an on-call engineer looks at first, read from the live cluster with your own
credentials: each feed's freshness and health, each policy's state, the actions by
phase, the oldest action waiting for approval, and the ThreatExceptions.

Flags:
  --json                    one JSON document instead of tables
  --kubeconfig FILE         the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME            the kubeconfig context (default: its current context)
`;

/** A feed is stale when its last sync is older than this many refresh intervals. */
const STALE_INTERVALS = 3;
const STALE_FLOOR_MS = 10 * 60_000;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

const conditionOf = (o: { status?: { conditions?: unknown[] } }, type: string) =>
  (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);

export interface ClusterStatus {
  feeds: {
    name: string;
    ready: string;
    indicators: number;
    lastSync?: string;
    ageSeconds?: number;
    stale: boolean;
    degraded?: string;
  }[];
  policies: {
    name: string;
    mode: string;
    ready: string;
    reason?: string;
    matched: number;
    excepted: number;
  }[];
  actions: Record<string, number>;
  oldestProposed?: {
    name: string;
    policy?: string;
    since: string;
    ageSeconds: number;
    reason?: string;
  };
  exceptions: {
    active: number;
    broad: number;
    expired: number;
    invalid: number;
    nextExpiry?: { name: string; at: string };
  };
}

async function list<T>(client: KubeClient, kind: string): Promise<T[]> {
  return (await client.list(API_VERSION, kind)).items as T[];
}

/** Reads the Forestall objects and sums them up as of `now`. */
export async function clusterStatus(client: KubeClient, now: Date): Promise<ClusterStatus> {
  const [feeds, policies, actions, exceptions] = await Promise.all([
    list<ThreatFeed>(client, 'ThreatFeed'),
    list<ExposurePolicy>(client, 'ExposurePolicy'),
    list<PreemptiveAction>(client, 'PreemptiveAction'),
    list<ThreatException>(client, 'ThreatException'),
  ]);
  const age = (t: string | undefined) =>
    t ? Math.max(0, Math.round((now.getTime() - Date.parse(t)) / 1000)) : undefined;
  const byName = <T extends { metadata?: { name?: string } }>(a: T, b: T) =>
    (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1;
  const counts: Record<string, number> = Object.fromEntries(ACTION_PHASES.map((p) => [p, 0]));
  for (const a of actions)
    counts[a.status?.phase ?? 'Pending'] = (counts[a.status?.phase ?? 'Pending'] ?? 0) + 1;
  const proposed = actions
    .filter((a) => a.status?.phase === 'Proposed')
    .map((a) => {
      // From detectedAt, as the ForestallActionStuckProposed alert counts.
      const since = a.status?.detectedAt ?? a.metadata?.creationTimestamp;
      return { a, since: since ? new Date(since).toISOString() : now.toISOString() };
    })
    .sort((x, y) => (x.since < y.since ? -1 : 1))[0];
  const live = exceptions.filter(
    (e) => e.status?.phase !== 'Expired' && e.status?.phase !== 'Invalid',
  );
  const next = live
    .filter((e) => e.spec.expiresAt)
    .sort((a, b) => (a.spec.expiresAt! < b.spec.expiresAt! ? -1 : 1))[0];
  return {
    feeds: feeds.sort(byName).map((f) => {
      const interval = parseDuration(f.spec.refreshInterval ?? '1h');
      const ageSeconds = age(f.status?.lastSyncTime);
      const degraded = conditionOf(f, 'Degraded');
      return {
        name: f.metadata!.name!,
        ready: conditionOf(f, 'Ready')?.status ?? 'Unknown',
        indicators: f.status?.indicatorCount ?? 0,
        ...(f.status?.lastSyncTime ? { lastSync: f.status.lastSyncTime } : {}),
        ...(ageSeconds !== undefined ? { ageSeconds } : {}),
        // The controller's Stale condition; and, should the controller itself be down,
        // a last sync older than three refresh intervals (at least ten minutes).
        stale:
          !f.spec.suspend &&
          (conditionOf(f, 'Stale')?.status === 'True' ||
            ageSeconds === undefined ||
            ageSeconds * 1000 > Math.max(STALE_INTERVALS * interval, STALE_FLOOR_MS)),
        ...(degraded?.status === 'True'
          ? { degraded: degraded.message ?? degraded.reason ?? '' }
          : {}),
      };
    }),
    policies: policies.sort(byName).map((p) => ({
      name: p.metadata!.name!,
      mode: p.spec.mode ?? 'Audit',
      ready: conditionOf(p, 'Ready')?.status ?? 'Unknown',
      ...(conditionOf(p, 'Ready')?.reason ? { reason: conditionOf(p, 'Ready')!.reason } : {}),
      matched: p.status?.matchedIndicators ?? 0,
      excepted: p.status?.exceptedIndicators ?? 0,
    })),
    actions: counts,
    ...(proposed
      ? {
          oldestProposed: {
            name: proposed.a.metadata!.name!,
            ...(proposed.a.spec.policyRef?.name ? { policy: proposed.a.spec.policyRef.name } : {}),
            since: proposed.since,
            ageSeconds: age(proposed.since) ?? 0,
            ...(proposed.a.spec.approval?.reason
              ? { reason: proposed.a.spec.approval.reason }
              : {}),
          },
        }
      : {}),
    exceptions: {
      active: exceptions.filter((e) => e.status?.phase === 'Active').length,
      broad: live.filter((e) => e.spec.broad).length,
      expired: exceptions.filter((e) => e.status?.phase === 'Expired').length,
      invalid: exceptions.filter((e) => e.status?.phase === 'Invalid').length,
      ...(next ? { nextExpiry: { name: next.metadata!.name!, at: next.spec.expiresAt! } } : {}),
    },
  };
}

/** "3m", "2h", "4d": an age as kubectl prints one. */
export function shortAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export function formatStatus(s: ClusterStatus): string {
  const out: string[] = [];
  out.push(`Feeds (${s.feeds.length})`);
  if (s.feeds.length)
    out.push(
      table([
        ['NAME', 'READY', 'INDICATORS', 'LAST SYNC', 'STATE'],
        ...s.feeds.map((f) => [
          f.name,
          f.ready,
          String(f.indicators),
          f.ageSeconds === undefined ? 'never' : `${shortAge(f.ageSeconds)} ago`,
          [f.stale ? 'Stale' : 'Fresh', f.degraded !== undefined ? `Degraded: ${f.degraded}` : '']
            .filter(Boolean)
            .join('; ')
            .slice(0, 160),
        ]),
      ]),
    );
  out.push('', `Policies (${s.policies.length})`);
  if (s.policies.length)
    out.push(
      table([
        ['NAME', 'MODE', 'READY', 'REASON', 'MATCHED', 'EXCEPTED'],
        ...s.policies.map((p) => [
          p.name,
          p.mode,
          p.ready,
          p.reason ?? '',
          String(p.matched),
          String(p.excepted),
        ]),
      ]),
    );
  out.push(
    '',
    `Actions: ${Object.entries(s.actions)
      .map(([phase, n]) => `${phase} ${n}`)
      .join(', ')}`,
  );
  out.push(
    s.oldestProposed
      ? `Oldest Proposed: ${s.oldestProposed.name}${s.oldestProposed.policy ? ` (policy ${s.oldestProposed.policy})` : ''}, waiting ${shortAge(s.oldestProposed.ageSeconds)}${s.oldestProposed.reason ? `: ${s.oldestProposed.reason}` : ''}`
      : 'Oldest Proposed: none waits for approval',
  );
  const e = s.exceptions;
  out.push(
    `Exceptions: ${e.active} active${e.broad ? ` (${e.broad} broad)` : ''}, ${e.expired} expired, ${e.invalid} invalid${e.nextExpiry ? `; next to expire: ${e.nextExpiry.name} at ${e.nextExpiry.at}` : ''}`,
  );
  return `${out.join('\n')}\n`;
}

export async function runStatus(argv: string[], out: Writer, err: Writer): Promise<number> {
  let values: ArgValues;
  try {
    ({ values } = parseCommandLine(argv, {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    }));
    if (values.help) {
      out.write(STATUS_USAGE);
      return 0;
    }
  } catch (e) {
    return badUsage(e, err, 'forestall status', `\n${STATUS_USAGE}`);
  }
  try {
    const status = await clusterStatus(connect(values), new Date());
    out.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return 0;
  } catch (e) {
    err.write(`forestall status: ${apiMessage(e)}\n`);
    return 1;
  }
}
