import { describe, expect, it } from 'vitest';
import { lintRuleIds } from '../test/harness/lint.js';
import {
  CloudEventsNotifier,
  createNotifier,
  NOTIFY_ERROR_CODES,
  NotifyError,
  SlackNotifier,
  WebhookNotifier,
  type NotifierType,
} from './index.js';

const URL_WITH_SECRET =
  'https://hooks.slack.com/services/T0000SECRET/B0000SECRET/abcdefghijklmnopqrstuvwx';

describe('createNotifier', () => {
  it.each<[NotifierType, unknown]>([
    ['Slack', SlackNotifier],
    ['Webhook', WebhookNotifier],
    ['CloudEvents', CloudEventsNotifier],
  ])(
    'GIVEN type %s THEN it builds that notifier, whose target is the redacted URL',
    (type, cls) => {
      const notifier = createNotifier(type, URL_WITH_SECRET);
      expect(notifier).toBeInstanceOf(cls);
      expect(notifier.type).toBe(type);
      expect(notifier.target).toBe('https://hooks.slack.com/…');
    },
  );

  it('GIVEN a signing secret for Webhook THEN it is accepted; for Slack or CloudEvents it is a configuration error', () => {
    expect(
      createNotifier('Webhook', 'https://receiver.example/hook', { signingSecret: 'k' }),
    ).toBeInstanceOf(WebhookNotifier);
    for (const type of ['Slack', 'CloudEvents'] as const) {
      expect(() => createNotifier(type, URL_WITH_SECRET, { signingSecret: 'k' })).toThrow(
        expect.objectContaining({ code: 'FST_NOTIFY_INVALID_CONFIG' }),
      );
    }
  });

  it('GIVEN an unknown type THEN FST_NOTIFY_INVALID_CONFIG', () => {
    expect(() => createNotifier('Teams' as NotifierType, URL_WITH_SECRET)).toThrow(
      expect.objectContaining({ code: 'FST_NOTIFY_INVALID_CONFIG' }),
    );
  });

  it('GIVEN a non-http URL THEN FST_NOTIFY_INVALID_URL at construction, not at the first send', () => {
    let err: unknown;
    try {
      createNotifier('Slack', URL_WITH_SECRET.replace('https:', 'ftp:'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotifyError);
    expect(err).toMatchObject({ code: 'FST_NOTIFY_INVALID_URL', errorClass: 'terminal' });
    expect((err as Error).message).not.toMatch(/SECRET|abcdefghij/);
  });

  it('GIVEN the registry THEN every code is FST_NOTIFY_* with a class and a summary', () => {
    for (const [code, info] of Object.entries(NOTIFY_ERROR_CODES)) {
      expect(code).toMatch(/^FST_NOTIFY_[A-Z_]+$/);
      expect(['terminal', 'transient']).toContain(info.class);
      expect(info.summary.length).toBeGreaterThan(20);
    }
  });
});

describe('import boundary', () => {
  it('GIVEN notify/ code importing controller/ or test/ THEN lint reports it', async () => {
    for (const from of ['../controller/runtime/index.js', '../test/harness/outbound.js']) {
      const code = `import { x } from '${from}';\nexport const y = x;\n`;
      expect(await lintRuleIds(code, 'notify/http.ts')).toContain('no-restricted-imports');
    }
  });

  it('GIVEN a notify/ test importing the receiver harness THEN lint allows it', async () => {
    const code =
      "import { startReceiver } from '../test/harness/notify-receiver.js';\nexport const s = startReceiver;\n";
    expect(await lintRuleIds(code, 'notify/http.test.ts')).not.toContain('no-restricted-imports');
  });
});
