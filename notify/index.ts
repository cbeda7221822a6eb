/**
 * Notifiers, the public surface of notify/: Slack, a generic JSON webhook and
 * CloudEvents, announcing what happened to a PreemptiveAction, why, and how to fix it.
 * Kubernetes Events are the controller's own; these are the optional targets of an
 * ExposurePolicy's spec.notify. A pure library: it never imports controller/; the
 * controller reads each target URL from the Secret named by urlSecretRef and passes it in.
 */
import { CloudEventsNotifier } from './cloudevents.js';
import { NotifyError } from './errors.js';
import type { HttpOptions } from './http.js';
import { SlackNotifier } from './slack.js';
import type { Notifier, NotifierType } from './types.js';
import { WebhookNotifier } from './webhook.js';

export * from './types.js';
export { NOTIFY_ERROR_CODES, NotifyError, type NotifyErrorCode } from './errors.js';
export { HttpSender, type HttpOptions } from './http.js';
export { remediationLines } from './remediation.js';
export {
  SlackNotifier,
  slackMessage,
  escapeMrkdwn,
  SLACK_LIMITS,
  type SlackMessage,
  type SlackBlock,
  type SlackText,
} from './slack.js';
export { WebhookNotifier, signBody, WEBHOOK_HEADERS, type WebhookOptions } from './webhook.js';
export {
  CloudEventsNotifier,
  toCloudEvent,
  CLOUDEVENTS_CONTENT_TYPE,
  CLOUDEVENTS_TYPE_PREFIX,
  type CloudEvent,
  type CloudEventsOptions,
} from './cloudevents.js';

export interface NotifierOptions extends HttpOptions {
  /** Webhook only: sign each body with HMAC-SHA256 (X-Forestall-Signature). */
  signingSecret?: string;
}

/**
 * The notifier for one spec.notify entry. Validates at once, so a bad target fails when
 * the policy is loaded rather than when the first action happens: FST_NOTIFY_INVALID_URL
 * for a URL that is not absolute http(s) or has user info in it, FST_NOTIFY_INVALID_CONFIG
 * for an unknown type, bad options, or a signing secret for Slack or CloudEvents (neither
 * is signed here; configuring one is a mistake better reported than ignored).
 */
export function createNotifier(
  type: NotifierType,
  url: string,
  options: NotifierOptions = {},
): Notifier {
  const { signingSecret, ...http } = options;
  switch (type) {
    case 'Webhook':
      return new WebhookNotifier(url, options);
    case 'Slack':
    case 'CloudEvents':
      if (signingSecret !== undefined) {
        throw new NotifyError(
          'FST_NOTIFY_INVALID_CONFIG',
          `${type} notifier: a signing secret applies to the Webhook notifier only${type === 'Slack' ? '; the Slack URL is itself the secret' : ''}`,
          { secrets: [signingSecret] },
        );
      }
      return type === 'Slack' ? new SlackNotifier(url, http) : new CloudEventsNotifier(url, http);
    default:
      throw new NotifyError(
        'FST_NOTIFY_INVALID_CONFIG',
        `unknown notifier type ${JSON.stringify(String(type)).slice(0, 40)}; expected Slack, Webhook or CloudEvents`,
      );
  }
}
