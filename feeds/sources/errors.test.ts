import { describe, expect, it } from 'vitest';
import { HTTP_ERROR_CODES, HttpError } from '../../lib/http/errors.js';
import { redactUrl } from '../../lib/redact.js';
import { FEED_ERROR_CODES, FeedError, feedErrorFrom } from './errors.js';

describe('FeedError', () => {
  it('GIVEN the registry WHEN it is read THEN every code is FST_FEED_*, summarised, and has a class', () => {
    const codes = Object.entries(FEED_ERROR_CODES);
    expect(codes.length).toBeGreaterThanOrEqual(9);
    for (const [code, info] of codes) {
      expect(code).toMatch(/^FST_FEED_[A-Z_]+$/);
      expect(info.summary.length).toBeGreaterThan(20);
      expect(['transient', 'terminal']).toContain(info.class);
    }
  });

  it('GIVEN a code WHEN an error is built THEN transient follows the registry unless overridden', () => {
    expect(new FeedError('FST_FEED_TIMEOUT', 'x').transient).toBe(true);
    expect(new FeedError('FST_FEED_SSRF_BLOCKED', 'x').transient).toBe(false);
    expect(
      new FeedError('FST_FEED_HTTP_STATUS', 'x', { errorClass: 'terminal', status: 404 }),
    ).toMatchObject({ transient: false, status: 404 });
  });

  it('GIVEN a URL with credentials, query values and a fragment WHEN an error carries it THEN only names remain', () => {
    const err = new FeedError('FST_FEED_HTTP_STATUS', 'x', {
      url: 'https://user:s3cret@feeds.example.org/list.txt?key=abc123&fmt=txt#frag',
    });
    expect(err.url).toBe('https://feeds.example.org/list.txt?key=REDACTED&fmt=REDACTED');
    expect(JSON.stringify(err)).not.toMatch(/s3cret|abc123|frag/);
  });

  it('GIVEN something that is not a URL WHEN redacted THEN nothing of it is echoed', () => {
    expect(redactUrl('not a url with token abc')).toBe('(invalid URL)');
  });

  it('GIVEN every outbound-client code WHEN reported for a feed THEN it becomes the FST_FEED_* code of the same name, with message, URL and status kept', () => {
    for (const code of Object.keys(HTTP_ERROR_CODES) as Array<keyof typeof HTTP_ERROR_CODES>) {
      const mapped = feedErrorFrom(
        new HttpError(code, 'm', { url: 'https://f.example/x?key=k', status: 503 }),
      ) as FeedError;
      expect(mapped).toBeInstanceOf(FeedError);
      expect(mapped.code).toBe(code.replace('FST_HTTP_', 'FST_FEED_'));
      expect(mapped.code in FEED_ERROR_CODES).toBe(true);
      expect(mapped).toMatchObject({
        message: 'm',
        url: 'https://f.example/x?key=REDACTED',
        status: 503,
      });
    }
    const other = new Error('x');
    expect(feedErrorFrom(other)).toBe(other);
  });
});
