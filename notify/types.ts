import type { PreemptiveActionSpec } from '../crds/index.js';

/**
 * What a notifier is told: what happened to one PreemptiveAction, why, and how to fix
 * the cause. The controller builds it; every notifier renders the same value, so Slack,
 * a generic webhook and CloudEvents never disagree about the facts.
 *
 * Contract: `id` is the idempotency key. The same occurrence (one action, one episode,
 * one event) always gets the same id, and every retry of a delivery carries it, so a
 * receiver that remembers ids sees each occurrence once (see notificationId()).
 */

export const NOTIFICATION_EVENTS = [
  'Isolated',
  'Enforced',
  'Proposed',
  'Lifted',
  'Expired',
  'Rejected',
  'Failed',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export type NotifierType = 'Slack' | 'Webhook' | 'CloudEvents';
export const NOTIFIER_TYPES: readonly NotifierType[] = ['Slack', 'Webhook', 'CloudEvents'];

/** One workload the action acts on. */
export interface NotificationTarget {
  /** Deployment, StatefulSet, DaemonSet, Pod, … */
  kind: string;
  /** Absent for cluster-scoped targets. */
  namespace?: string;
  name: string;
}

/** One CVE finding: the KEV entry joined with a vulnerability report row. */
export interface CveFinding {
  cveID: string;
  /** When CISA added it to KEV (YYYY-MM-DD). */
  dateAdded?: string;
  /** KEV's knownRansomwareCampaignUse: "Known" or "Unknown". */
  knownRansomwareCampaignUse?: string;
  vendor?: string;
  product?: string;
  /** From the vulnerability report: CRITICAL, HIGH, … */
  severity?: string;
  installedVersion?: string;
  /** Empty or absent when no fixed version is published. */
  fixedVersion?: string;
  /** The affected package (Trivy's resource), for example openssl. */
  package?: string;
  container?: string;
  image?: string;
}

export interface Notification {
  /** Stable idempotency key, for example `<action>/<episode detectedAt>/<event>`. */
  id: string;
  event: NotificationEvent;
  action: {
    name: string;
    type: PreemptiveActionSpec['type'];
    layer: PreemptiveActionSpec['layer'];
    /** The ExposurePolicy that produced it; absent for hand-written actions. */
    policy?: string;
    /** Connector id (layer:name) that enforces it. */
    connector?: string;
  };
  /** One line, for people. */
  summary: string;
  /** The cluster's name, when the controller was told it. */
  cluster?: string;
  targets: NotificationTarget[];
  why: {
    cves?: CveFinding[];
    /** Paths from the internet, for example "Ingress shop/web → Service web:80". */
    exposure?: string[];
    /** Free text, for example why an action failed or was lifted. */
    reason?: string;
  };
  /** What a person should do, one step a line (see remediationLines()). */
  remediation: string[];
  links?: {
    pullRequest?: string;
    /** A URL for the PreemptiveAction, for example in a dashboard. */
    action?: string;
  };
  /** When it happened, RFC 3339. */
  time: string;
}

export interface SendOptions {
  /** Cancels the delivery, retries and backoff included (FST_NOTIFY_ABORTED). */
  signal?: AbortSignal;
}

/**
 * One notification target. send() resolves once the receiver accepted the notification
 * (HTTP 2xx) and throws a NotifyError otherwise, after the transport's bounded retries.
 */
export interface Notifier {
  readonly type: NotifierType;
  /** The target URL with path and query removed (scheme://host/…), safe to log. */
  readonly target: string;
  send(notification: Notification, options?: SendOptions): Promise<void>;
}

/** Pino's child loggers fit. Never given the target URL, only its redacted form. */
export interface NotifyLogger {
  warn(obj: object, msg: string): void;
}

/**
 * The idempotency key of an occurrence: the action, the episode it belongs to (the
 * detectedAt of the intelligence that started it) and the event. Two episodes of the
 * same action (isolated, lifted, isolated again) get distinct ids; a re-reconcile of the
 * same episode gets the same one.
 */
export function notificationId(
  action: string,
  detectedAt: string,
  event: NotificationEvent,
): string {
  return `${action}/${detectedAt}/${event}`;
}
