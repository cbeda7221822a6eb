import { describe, expect, it } from 'vitest';
import {
  escapeMrkdwn,
  SLACK_LIMITS,
  SlackNotifier,
  slackMessage,
  type SlackBlock,
  type SlackMessage,
} from './slack.js';
import {
  loopbackFetch,
  sampleNotification,
  receiversClosedAfterEach,
} from '../test/harness/notify-receiver.js';
import type { CveFinding } from './types.js';

const receiver = receiversClosedAfterEach();

/** Every Block Kit limit the message must keep. */
function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
  expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  let total = 0;
  for (const block of message.blocks) {
    if (block.type === 'header') {
      expect(block.text.type).toBe('plain_text');
      expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      total += block.text.text.length;
    } else if (block.type === 'section') {
      expect(block.text ?? block.fields).toBeDefined();
      expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      expect((block.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
      for (const f of block.fields ?? [])
        expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
      total +=
        (block.text?.text.length ?? 0) +
        (block.fields ?? []).reduce((n, f) => n + f.text.length, 0);
    } else {
      expect(block.elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
      total += block.elements.reduce((n, e) => n + e.text.length, 0);
    }
  }
  expect(total).toBeLessThanOrEqual(SLACK_LIMITS.totalText);
}

function sectionTexts(message: SlackMessage): string[] {
  return message.blocks.flatMap((b: SlackBlock) =>
    b.type === 'section'
      ? [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)]
      : b.type === 'context'
        ? b.elements.map((e) => e.text)
        : [],
  );
}

describe('SlackNotifier', () => {
  it('GIVEN a notification THEN it POSTs {text, blocks} as JSON: header, summary with fields, targets, why, exposure, remediation, links, context', async () => {
    const r = await receiver();
    await new SlackNotifier(r.url, { fetch: loopbackFetch }).send(sampleNotification());

    expect(r.requests).toHaveLength(1);
    const request = r.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hook');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({
      text: 'Isolated: Isolated Deployment shop/web: CVE-2023-0286 (KEV) in openssl, reachable from the internet',
      blocks: [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: 'Isolated: Isolate isolate-shop-web-3f9a',
            emoji: false,
          },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: 'Isolated Deployment shop/web: CVE-2023-0286 (KEV) in openssl, reachable from the internet',
          },
          fields: [
            { type: 'mrkdwn', text: '*Event*\nIsolated' },
            { type: 'mrkdwn', text: '*Action*\nisolate-shop-web-3f9a' },
            { type: 'mrkdwn', text: '*Type*\nIsolate (network)' },
            { type: 'mrkdwn', text: '*Cluster*\nprod-eu-1' },
            { type: 'mrkdwn', text: '*Policy*\nkev-internet-facing' },
            { type: 'mrkdwn', text: '*Connector*\nnetwork:networkpolicy' },
            { type: 'mrkdwn', text: '*Time*\n2024-03-29T18:00:01Z' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*Targets*\n• Deployment shop/web' } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Why*\n• *CVE-2023-0286* · HIGH · KEV since 2024-03-29 · known ransomware use · OpenSSL OpenSSL · openssl 3.0.7, fixed in 3.0.8 · container web (nginx:1.25.3)',
          },
        },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: '*Exposure*\n• Ingress shop/web → Service web:80' },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Remediation*\n1. Upgrade openssl in container web (nginx:1.25.3) from 3.0.7 to 3.0.8 (fixes CVE-2023-0286)',
          },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Links*\n<https://git.example/acme/policy/pulls/7|Pull request>',
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: 'Forestall · delivery isolate-shop-web-3f9a/2024-03-29T18:00:00Z/Isolated',
            },
          ],
        },
      ],
    });
  });

  it('GIVEN 300 CVEs, 300 remediation lines and 100 targets THEN what reaches the receiver keeps every Slack limit, keeps remediation, and says what was left out', async () => {
    const cves: CveFinding[] = Array.from({ length: 300 }, (_, i) => ({
      cveID: `CVE-2024-${String(10000 + i)}`,
      dateAdded: '2024-05-01',
      severity: 'CRITICAL',
      vendor: 'Vendor',
      product: `product-${'x'.repeat(60)}`,
      package: `lib${'y'.repeat(40)}${i}`,
      installedVersion: '1.0.0',
      fixedVersion: i % 3 === 0 ? '' : '1.0.1',
      container: `container-${i}`,
      image: `registry.example/team/image-${i}:1.0.0`,
    }));
    const n = sampleNotification({
      targets: Array.from({ length: 100 }, (_, i) => ({
        kind: 'Deployment',
        namespace: `ns-${i}`,
        name: `web-${i}`,
      })),
      why: {
        cves,
        exposure: Array.from({ length: 40 }, (_, i) => `Ingress ns-${i}/web → Service web:80`),
        reason: 'x'.repeat(2000),
      },
      remediation: cves.map(
        (c) =>
          `Upgrade ${c.package} in container ${c.container} (${c.image}) from 1.0.0 to 1.0.1 (fixes ${c.cveID})`,
      ),
    });
    const r = await receiver();
    await new SlackNotifier(r.url, { fetch: loopbackFetch }).send(n);

    const sent = JSON.parse(r.requests[0]!.body) as SlackMessage;
    expectWithinSlackLimits(sent);
    const texts = sectionTexts(sent);
    expect(texts.some((t) => t.startsWith('*Remediation*\n1. Upgrade'))).toBe(true);
    expect(texts.some((t) => /…and \d+ more/.test(t))).toBe(true);
    expect(sent.blocks.at(-1)!.type).toBe('context');
  });

  it('GIVEN values of 10,000 characters each, all `&` THEN escaping (which quintuples them) still keeps every limit', () => {
    const huge = '&'.repeat(10_000);
    const message = slackMessage(
      sampleNotification({
        id: huge,
        summary: huge,
        cluster: huge,
        action: { name: huge, type: 'Isolate', layer: 'network', policy: huge, connector: huge },
        targets: Array.from({ length: 30 }, () => ({ kind: huge, namespace: huge, name: huge })),
        why: {
          reason: huge,
          exposure: [huge, huge],
          cves: Array.from({ length: 30 }, () => ({
            cveID: huge,
            severity: huge,
            dateAdded: huge,
            vendor: huge,
            product: huge,
            package: huge,
            installedVersion: huge,
            fixedVersion: huge,
            container: huge,
            image: huge,
          })),
        },
        remediation: Array.from({ length: 30 }, () => huge),
        links: { pullRequest: `https://git.example/${huge}`, action: huge },
        time: huge,
      }),
    );
    expectWithinSlackLimits(message);
    expect(sectionTexts(message).some((t) => t.includes('not shown'))).toBe(true);
  });

  it('GIVEN text from a feed with Slack control characters THEN &, < and > are escaped and form no link or mention', () => {
    const message = slackMessage(
      sampleNotification({
        summary: 'Isolated <!channel> & <https://evil.example|click here>',
        targets: [{ kind: 'Deployment', namespace: 'shop', name: '<@U123>' }],
        why: { reason: '> quoted & <b>bold</b>', cves: [{ cveID: 'CVE-1 <!here>' }] },
        remediation: ['Upgrade a<b to c>d & e'],
        links: { pullRequest: 'javascript:alert(1)', action: 'https://dash.example/a?x=1&y=<2>|z' },
      }),
    );
    expect(message.text).toBe(
      'Isolated: Isolated &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;',
    );
    const texts = sectionTexts(message);
    expect(texts).toContain(
      'Isolated &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;',
    );
    expect(texts.join('\n')).toContain('*Targets*\n• Deployment shop/&lt;@U123&gt;');
    expect(texts.join('\n')).toContain('1. Upgrade a&lt;b to c&gt;d &amp; e');
    // The only `<…>` left are our own links, to http(s) URLs, with `|` and `&` in the URL encoded.
    const links = texts.join('\n').match(/<[^>]*>/g) ?? [];
    expect(links).toEqual(['<https://dash.example/a?x=1&amp;y=%3C2%3E%7Cz|PreemptiveAction>']);
    expect(texts.join('\n')).toContain('Pull request: javascript:alert(1)');
  });

  it('GIVEN an unpublished fix and no links THEN the CVE line says so and there is no links section', () => {
    const message = slackMessage(
      sampleNotification({
        why: { cves: [{ cveID: 'CVE-2024-9999', package: 'glibc', installedVersion: '2.36' }] },
        links: {},
      }),
    );
    const texts = sectionTexts(message);
    expect(texts).toContain('*Why*\n• *CVE-2024-9999* · glibc 2.36, no fixed version yet');
    expect(texts.some((t) => t.startsWith('*Links*'))).toBe(false);
  });
});

describe('escapeMrkdwn', () => {
  it.each([
    ['a & b', 'a &amp; b'],
    ['<!channel>', '&lt;!channel&gt;'],
    ['&amp;', '&amp;amp;'],
    ['plain *bold* _it_', 'plain *bold* _it_'],
  ])('GIVEN %j THEN it becomes %j', (input, expected) => {
    expect(escapeMrkdwn(input)).toBe(expected);
  });
});
