import { describe, expect, it } from 'vitest';
import { CloudEventsNotifier, toCloudEvent } from './cloudevents.js';
import {
  loopbackFetch,
  sampleNotification,
  receiversClosedAfterEach,
} from '../test/harness/notify-receiver.js';
import { NOTIFICATION_EVENTS } from './types.js';

const receiver = receiversClosedAfterEach();

describe('CloudEventsNotifier', () => {
  it('GIVEN a notification THEN it POSTs one structured-mode CloudEvent (application/cloudevents+json) with the notification as data', async () => {
    const r = await receiver();
    const n = sampleNotification();
    await new CloudEventsNotifier(r.url, { fetch: loopbackFetch }).send(n);

    expect(r.requests).toHaveLength(1);
    const request = r.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(JSON.parse(request.body)).toEqual({
      specversion: '1.0',
      id: 'isolate-shop-web-3f9a/2024-03-29T18:00:00Z/Isolated',
      source: 'forestall/prod-eu-1/preemptiveactions/isolate-shop-web-3f9a',
      type: 'io.forestall.action.isolated',
      subject: 'Deployment/shop/web',
      time: '2024-03-29T18:00:01Z',
      datacontenttype: 'application/json',
      data: n,
    });
  });

  it('GIVEN no cluster name and no targets THEN source leaves the cluster out and there is no subject', () => {
    const event = toCloudEvent(sampleNotification({ cluster: undefined, targets: [] }));
    expect(event.source).toBe('forestall/preemptiveactions/isolate-shop-web-3f9a');
    expect(event).not.toHaveProperty('subject');
  });

  it('GIVEN a cluster name with spaces THEN source stays a valid URI-reference', () => {
    const event = toCloudEvent(sampleNotification({ cluster: 'prod eu/1' }));
    expect(event.source).toBe('forestall/prod%20eu%2F1/preemptiveactions/isolate-shop-web-3f9a');
    expect(new URL(event.source, 'http://base.example/').pathname).toBe(
      '/forestall/prod%20eu%2F1/preemptiveactions/isolate-shop-web-3f9a',
    );
  });

  it.each(NOTIFICATION_EVENTS)(
    'GIVEN event %s THEN type is io.forestall.action.<event in lower case>',
    (event) => {
      expect(toCloudEvent(sampleNotification({ event })).type).toBe(
        `io.forestall.action.${event.toLowerCase()}`,
      );
    },
  );
});
