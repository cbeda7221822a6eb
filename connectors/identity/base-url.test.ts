import { describe, expect, it } from 'vitest';
import { checkedBaseUrl } from './base-url.js';

describe('checkedBaseUrl', () => {
  it('GIVEN an https URL THEN it without the trailing slash; the path only where allowed', () => {
    expect(checkedBaseUrl('url', 'https://graph.microsoft.com/v1.0/', { path: true })).toBe(
      'https://graph.microsoft.com/v1.0',
    );
    expect(checkedBaseUrl('url', 'https://acme.okta.com/', { path: false })).toBe(
      'https://acme.okta.com',
    );
    expect(() => checkedBaseUrl('url', 'https://acme.okta.com/api', { path: false })).toThrow(
      /params\.url must be the origin only/,
    );
  });

  it('GIVEN plain http THEN refused except to a loopback host', () => {
    for (const url of ['http://localhost:8080', 'http://127.0.0.1', 'http://[::1]:9000'])
      expect(checkedBaseUrl('url', url, { path: false }), url).toMatch(/^http:\/\//);
    expect(() => checkedBaseUrl('tokenUrl', 'http://10.0.0.1/token', { path: true })).toThrow(
      expect.objectContaining({
        code: 'FST_CONNECTOR_INVALID_REQUEST',
        message: expect.stringMatching(/params\.tokenUrl must be an https URL/),
      }),
    );
  });
});
