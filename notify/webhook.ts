import { createHmac } from 'node:crypto';
import { NotifyError } from './errors.js';
import { HttpSender, type HttpOptions } from './http.js';
import type { Notification, Notifier, SendOptions } from './types.js';

/**
 * A generic JSON webhook: a POST of the Notification itself as JSON, with
 *
 * - `Content-Type: application/json`;
 * - `X-Forestall-Event`: the event (Isolated, Lifted, …);
 * - `X-Forestall-Delivery`: the notification id, the same on every retry, for the
 *   receiver to deduplicate on;
 * - `X-Forestall-Signature: sha256=<hex>` when a signing secret is configured: the
 *   HMAC-SHA256 of the raw body bytes under the secret, lower-case hex. A receiver
 *   recomputes it over the bytes it received (before parsing) and compares in constant
 *   time. The signature covers the body only; the body carries `id` and `time`, so a
 *   receiver that remembers ids and refuses old times also refuses replays.
 */
export interface WebhookOptions extends HttpOptions {
  signingSecret?: string;
}

export const WEBHOOK_HEADERS = {
  event: 'x-forestall-event',
  delivery: 'x-forestall-delivery',
  signature: 'x-forestall-signature',
} as const;

export class WebhookNotifier implements Notifier {
  readonly type = 'Webhook' as const;
  readonly target: string;
  private readonly http: HttpSender;
  private readonly signingSecret: string | undefined;

  /** Throws FST_NOTIFY_INVALID_URL, or FST_NOTIFY_INVALID_CONFIG for an empty signing secret. */
  constructor(url: string, options: WebhookOptions = {}) {
    const { signingSecret, ...http } = options;
    if (signingSecret !== undefined && signingSecret === '') {
      throw new NotifyError(
        'FST_NOTIFY_INVALID_CONFIG',
        'Webhook notifier: the signing secret is empty; leave it out to send unsigned notifications',
      );
    }
    this.signingSecret = signingSecret;
    this.http = new HttpSender(
      'Webhook',
      url,
      http,
      signingSecret === undefined ? [] : [signingSecret],
    );
    this.target = this.http.target;
  }

  async send(notification: Notification, options: SendOptions = {}): Promise<void> {
    const body = JSON.stringify(notification);
    await this.http.post({
      body,
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_HEADERS.event]: headerValue(notification.event),
        [WEBHOOK_HEADERS.delivery]: headerValue(notification.id),
        ...(this.signingSecret === undefined
          ? {}
          : { [WEBHOOK_HEADERS.signature]: signBody(this.signingSecret, body) }),
      },
      what: `deliver ${notification.event} of action ${notification.action.name}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/** `sha256=<hex>`: HMAC-SHA256 of the body's UTF-8 bytes under the secret. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * A header value fetch accepts: printable ASCII stays, anything else (and `%`) is
 * percent-encoded as UTF-8, the CloudEvents HTTP binding's rule. Ids are built from
 * Kubernetes names and RFC 3339 times, so in practice nothing changes.
 */
export function headerValue(text: string): string {
  return text.replace(/[^\x21-\x24\x26-\x7e]/gu, (ch) =>
    [...Buffer.from(ch, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}
