import { HttpSender, type HttpOptions } from './http.js';
import type { Notification, Notifier, SendOptions } from './types.js';

/**
 * CloudEvents 1.0 over HTTP in structured content mode: one POST whose body is the whole
 * event in the JSON event format, with `Content-Type: application/cloudevents+json;
 * charset=utf-8` (HTTP protocol binding, section 3.2). The attributes:
 *
 * - `specversion` "1.0";
 * - `id`: the notification id. source + id is unique per occurrence, and a retry
 *   re-sends the same id, which the spec lets consumers treat as a duplicate;
 * - `source`: `forestall/<cluster>/preemptiveactions/<action>` (a relative
 *   URI-reference; `forestall/preemptiveactions/<action>` when no cluster name is set);
 * - `type`: `io.forestall.action.<event in lower case>`, for example
 *   io.forestall.action.isolated;
 * - `subject`: the first target, `<kind>/<namespace>/<name>`, when there is one, for
 *   brokers that filter on it;
 * - `time`: the notification's time (RFC 3339);
 * - `datacontenttype` "application/json", and `data`: the Notification.
 */
export type CloudEventsOptions = HttpOptions;

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const CLOUDEVENTS_TYPE_PREFIX = 'io.forestall.action.';

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: Notification;
}

export class CloudEventsNotifier implements Notifier {
  readonly type = 'CloudEvents' as const;
  readonly target: string;
  private readonly http: HttpSender;

  /** Throws FST_NOTIFY_INVALID_URL or FST_NOTIFY_INVALID_CONFIG (see HttpSender). */
  constructor(url: string, options: CloudEventsOptions = {}) {
    this.http = new HttpSender('CloudEvents', url, options);
    this.target = this.http.target;
  }

  async send(notification: Notification, options: SendOptions = {}): Promise<void> {
    await this.http.post({
      body: JSON.stringify(toCloudEvent(notification)),
      headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE },
      what: `deliver ${notification.event} of action ${notification.action.name}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/** The structured-mode event for a notification. Pure. */
export function toCloudEvent(n: Notification): CloudEvent {
  const action = encodeURIComponent(n.action.name);
  const source = n.cluster
    ? `forestall/${encodeURIComponent(n.cluster)}/preemptiveactions/${action}`
    : `forestall/preemptiveactions/${action}`;
  const first = n.targets[0];
  return {
    specversion: '1.0',
    id: n.id,
    source,
    type: `${CLOUDEVENTS_TYPE_PREFIX}${n.event.toLowerCase()}`,
    ...(first
      ? { subject: [first.kind, first.namespace, first.name].filter(Boolean).join('/') }
      : {}),
    time: n.time,
    datacontenttype: 'application/json',
    data: n,
  };
}
