import { describe, expect, it } from 'vitest';
import { parseUrl } from './url.js';
import { itEvaluates, run } from './test-support.js';

describe('url helpers', () => {
  itEvaluates([
    ["isURL('https://example.org/path')", true],
    ["isURL('/just/a/path')", true],
    ["isURL('example.org/path')", false], // neither absolute URI nor absolute path
    ["isURL('https://exa mple.org/')", false],
    ["isURL('')", false],
  ]);

  it.each([
    ["url(indicator.value).getScheme() == 'https'", true],
    ["url(indicator.value).getHost() == 'evil.example:8443'", true],
    ["url(indicator.value).getHostname() == 'evil.example'", true],
    ["url(indicator.value).getPort() == '8443'", true],
    ["url(indicator.value).getEscapedPath() == '/a%20b/c'", true],
    ["url(indicator.value).getQuery()['id'] == ['1', '2']", true],
    ["'x' in url(indicator.value).getQuery()", false],
    ["url(indicator.value).getHostname().endsWith('.example')", true],
  ])(
    'GIVEN the URL https://user@evil.example:8443/a b/c?id=1&id=2 and %s THEN it is %s',
    (expression, expected) => {
      expect(
        run(expression, { type: 'url', value: 'https://user@evil.example:8443/a b/c?id=1&id=2' }),
      ).toBe(expected);
    },
  );

  it('GIVEN IPv6 hosts, default ports and paths THEN host parts follow the text as written', () => {
    expect(parseUrl('http://[2001:db8::1]:8080/x')).toMatchObject({
      host: '[2001:db8::1]:8080',
      hostname: '2001:db8::1',
      port: '8080',
    });
    expect(parseUrl('https://h.example:443/')).toMatchObject({
      hostname: 'h.example',
      port: '443',
    });
    expect(parseUrl('https://h.example/')).toMatchObject({ port: '' });
    expect(parseUrl('/p?q=1')).toMatchObject({
      scheme: '',
      host: '',
      escapedPath: '/p',
      search: '?q=1',
    });
  });

  it('GIVEN url() of text that is not a URL THEN evaluation fails', () => {
    expect(() =>
      run("url(indicator.value).getScheme() == 'http'", { type: 'domain', value: 'evil.example' }),
    ).toThrow(/not an absolute URL/);
  });
});
