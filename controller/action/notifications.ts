import type { ExposurePolicy, PreemptiveAction, PreemptiveActionStatus } from '../../crds/index.js';
import {
  createNotifier,
  notificationId,
  remediationLines,
  type CveFinding,
  type Notification,
  type NotificationEvent,
  type NotifierOptions,
  type NotifierType,
} from '../../notify/index.js';
import type { KubeClient } from '../runtime/client.js';
import type { Informer } from '../runtime/informer.js';
import { readSecret } from '../runtime/secrets.js';
import type { Logger } from '../runtime/logger.js';

/**
 * Announces what happened to a PreemptiveAction to the targets of its policy's
 * spec.notify (Slack, a webhook, CloudEvents), once per episode and event: the id
 * (action, detectedAt, event) is recorded in status.notified with the status write
 * that follows the send, and remembered in memory for reconciles that run before the
 * informer cache shows that write, so a re-reconcile does not send again. A crash
 * between the send and the write sends once more after the restart (at least once).
 */
export interface ActionNotifierDeps {
  client: KubeClient;
  /** Namespace of Secrets referenced without one. */
  namespace: string;
  policies: Informer<ExposurePolicy>;
  log: Logger;
  /** The cluster's name in messages, when known. */
  cluster?: string;
  /** Transport settings (tests shorten the retries); `fetch` is the controller's outbound client. */
  http?: Pick<NotifierOptions, 'retries' | 'backoffMs' | 'timeoutMs' | 'fetch'>;
}

const KEEP_IDS = 16;

/**
 * Sends spec.notify notifications, once per (episode, event): status.notified records what
 * was sent. A reconcile right after our own status write reads that write (the informer
 * reads its own writes, runtime/mutation-cache.ts), so nothing is remembered here.
 */
export class ActionNotifier {
  constructor(private readonly deps: ActionNotifierDeps) {}

  /** The event a phase announces, or undefined for phases that announce nothing. */
  static eventFor(
    action: PreemptiveAction,
    phase: PreemptiveActionStatus['phase'],
  ): NotificationEvent | undefined {
    switch (phase) {
      case 'Enforced':
        return action.spec.type === 'Isolate' ? 'Isolated' : 'Enforced';
      case 'Proposed':
      case 'Lifted':
      case 'Expired':
      case 'Rejected':
      case 'Failed':
        return phase;
      default:
        return undefined;
    }
  }

  /** Whether the action's policy has notification targets. */
  wants(action: PreemptiveAction): boolean {
    return (this.policy(action)?.spec.notify?.length ?? 0) > 0;
  }

  /**
   * Sends the notification `status` calls for, unless it was sent. Returns the
   * status.notified list to write, or undefined when nothing was due. Throws when a
   * target could not be reached (after the transport's retries), naming it.
   */
  async notify(
    action: PreemptiveAction,
    status: PreemptiveActionStatus,
    readyMessage: string | undefined,
    now: Date,
  ): Promise<string[] | undefined> {
    const policy = this.policy(action);
    const event = ActionNotifier.eventFor(action, status.phase);
    if (!policy?.spec.notify?.length || !event || !status.detectedAt) return undefined;
    const id = notificationId(action.metadata.name!, status.detectedAt, event);
    const sent = status.notified ?? [];
    if (sent.includes(id)) return undefined;
    const notification = buildNotification({
      id,
      event,
      action,
      status,
      readyMessage,
      now,
      cluster: this.deps.cluster,
    });
    for (const [index, target] of policy.spec.notify.entries()) {
      const { url, signingSecret } = await this.secret(
        target.urlSecretRef,
        `spec.notify[${index}].urlSecretRef`,
      );
      const notifier = createNotifier(target.type as NotifierType, url, {
        ...this.deps.http,
        ...(signingSecret && target.type === 'Webhook' ? { signingSecret } : {}),
      });
      await notifier.send(notification);
      this.deps.log.info(
        { action: action.metadata.name, event, target: notifier.target, type: target.type },
        'Notification sent',
      );
    }
    return [...sent, id].slice(-KEEP_IDS);
  }

  private policy(action: PreemptiveAction): ExposurePolicy | undefined {
    return action.spec.policyRef?.name
      ? this.deps.policies.get(action.spec.policyRef.name)
      : undefined;
  }

  /**
   * The target URL (key `url`, or the key named) and, for webhooks, an optional
   * `signing-secret`. Here the destination is inside the Secret itself, so a policy
   * author cannot choose it; the Secret must still opt in and list the URL's host (or a
   * prefix of it) in forestall.io/allowed-destinations. Without that, any Secret of the
   * release namespace whose key holds a URL (a database or proxy URL, another team's
   * webhook) could be named as a notify target, and the signing secret of one Secret
   * could be sent to a URL an administrator never approved for it.
   */
  private async secret(
    ref: { name: string; namespace?: string; key?: string },
    field: string,
  ): Promise<{ url: string; signingSecret?: string }> {
    const key = ref.key ?? 'url';
    const secret = await readSecret(this.deps.client, ref, {
      defaultNamespace: this.deps.namespace,
      defaultKey: 'url',
      field,
      destinations: (data) => (data[key] ? [data[key]] : []),
    });
    const signingSecret = secret.optional('signing-secret');
    return { url: secret.value, ...(signingSecret ? { signingSecret } : {}) };
  }
}

/** What a notification is built from. */
export interface NotificationInput {
  id: string;
  event: NotificationEvent;
  action: PreemptiveAction;
  status: PreemptiveActionStatus;
  readyMessage: string | undefined;
  now: Date;
  cluster?: string | undefined;
}

/** What the action did, why, and what to do about it. */
export function buildNotification(input: NotificationInput): Notification {
  const { id, event, action, status, readyMessage, now, cluster } = input;
  const { spec } = action;
  const cves = cveFindings(action);
  const exposure = spec.evidence?.exposure ?? [];
  const targets = (spec.targets ?? []).map((t) => ({
    kind: t.kind,
    name: t.name,
    ...(t.namespace ? { namespace: t.namespace } : {}),
  }));
  const remediation =
    event === 'Isolated' || event === 'Proposed' ? remediationLines(cves, exposure) : [];
  const reason = readyMessage || spec.approval?.reason;
  return {
    id,
    event,
    action: {
      name: action.metadata.name!,
      type: spec.type,
      layer: spec.layer,
      ...(spec.policyRef?.name ? { policy: spec.policyRef.name } : {}),
      ...(spec.connector ? { connector: spec.connector } : {}),
    },
    summary: summaryOf(event, action, status, cves),
    ...(cluster ? { cluster } : {}),
    targets,
    why: {
      ...(cves.length ? { cves } : {}),
      ...(exposure.length ? { exposure } : {}),
      ...(reason ? { reason } : {}),
    },
    remediation,
    ...(status.pullRequest?.url ? { links: { pullRequest: status.pullRequest.url } } : {}),
    time: now.toISOString(),
  };
}

/** The action's CVE evidence as notify/ reports it. */
function cveFindings(action: PreemptiveAction): CveFinding[] {
  return (action.spec.evidence?.vulnerabilities ?? []).map((v) => ({
    cveID: v.cveID,
    ...(v.dateAdded ? { dateAdded: v.dateAdded } : {}),
    ...(v.knownRansomwareCampaignUse !== undefined
      ? { knownRansomwareCampaignUse: v.knownRansomwareCampaignUse ? 'Known' : 'Unknown' }
      : {}),
    ...(v.vendor ? { vendor: v.vendor } : {}),
    ...(v.product ? { product: v.product } : {}),
    ...(v.severity ? { severity: v.severity } : {}),
    ...(v.installedVersion ? { installedVersion: v.installedVersion } : {}),
    ...(v.fixedVersion ? { fixedVersion: v.fixedVersion } : {}),
    ...(v.package ? { package: v.package } : {}),
    ...(v.container ? { container: v.container } : {}),
    ...(v.image ? { image: v.image } : {}),
  }));
}

/** One line: what happened to what. */
function summaryOf(
  event: NotificationEvent,
  action: PreemptiveAction,
  status: PreemptiveActionStatus,
  cves: readonly CveFinding[],
): string {
  const { spec } = action;
  const what = subjectOf(action);
  const ids = [...new Set(cves.map((c) => c.cveID))].join(', ') || 'vulnerable';
  const review = status.pullRequest?.url ? ` in ${status.pullRequest.url}` : '';
  const summaries: Record<NotificationEvent, string> = {
    Isolated: `Isolated ${what}: ${ids} and reachable from the internet`,
    Enforced: `${spec.type} enforced on ${what}`,
    Proposed: `${spec.type} on ${what} awaits approval${review}`,
    Lifted: `${spec.type} on ${what} lifted`,
    Expired: `${spec.type} on ${what} expired`,
    Rejected: `${spec.type} on ${what} rejected in review`,
    Failed: `${spec.type} on ${what} failed`,
  };
  return summaries[event];
}

/** What the action acts on: its targets, the accounts around isolated workloads, or its indicators. */
function subjectOf({ spec }: PreemptiveAction): string {
  const named = (t: { kind: string; name: string; namespace?: string | undefined }) =>
    `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;
  if (spec.targets?.length) return spec.targets.map(named).join(', ');
  if (spec.layer !== 'identity' || spec.type === 'IdentityBlock')
    return `${spec.indicators.count} indicators`;
  const around = (spec.evidence?.isolatedWorkloads ?? []).map((w) => named(w.target));
  return `${spec.indicators.count} accounts${around.length ? ` around the isolated ${around.join(', ')}` : ''}`;
}
