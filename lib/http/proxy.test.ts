import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import {
  bypassesProxy,
  parseNoProxy,
  parseProxyUrl,
  proxyFor,
  proxySettingsFromEnv,
} from './proxy.js';

const bypass = (noProxy: string, url: string): boolean =>
  bypassesProxy(new URL(url), parseNoProxy(noProxy));

describe('NO_PROXY: which targets go directly', () => {
  it.each([
    // Domains: the name itself and every name under it, with or without the leading dot.
    ['example.com', 'https://example.com/', true],
    ['example.com', 'https://feeds.example.com/', true],
    ['example.com', 'https://a.b.example.com/x', true],
    ['.example.com', 'https://example.com/', true],
    ['.example.com', 'https://feeds.example.com/', true],
    ['*.example.com', 'https://feeds.example.com/', true],
    ['example.com', 'https://notexample.com/', false],
    ['example.com', 'https://example.com.evil.test/', false],
    ['example.com', 'https://example.org/', false],
    // Case, and a trailing dot on either side.
    ['Example.COM', 'https://FEEDS.example.com/', true],
    ['example.com.', 'https://feeds.example.com./', true],
    // Everything.
    ['*', 'https://anything.test/', true],
    ['*', 'http://10.1.2.3/', true],
    // IPv4 and IPv6 addresses and CIDRs match literal-address hosts only (no DNS).
    ['10.0.0.0/8', 'https://10.1.2.3/', true],
    ['10.0.0.0/8', 'https://11.1.2.3/', false],
    ['192.0.2.7', 'http://192.0.2.7:8080/', true],
    ['192.0.2.7', 'http://192.0.2.8/', false],
    ['10.0.0.0/8', 'https://ten.example/', false],
    ['::1', 'https://[::1]:8443/', true],
    ['fd00::/8', 'https://[fd12:3456::1]/', true],
    ['fd00::/8', 'https://[2001:db8::1]/', false],
    // Ports: only that port; the scheme's default when the URL names none.
    ['example.com:8443', 'https://feeds.example.com:8443/', true],
    ['example.com:8443', 'https://feeds.example.com/', false],
    ['example.com:443', 'https://feeds.example.com/', true],
    ['example.com:80', 'http://example.com/', true],
    ['127.0.0.1:9000', 'http://127.0.0.1:9000/', true],
    ['127.0.0.1:9000', 'http://127.0.0.1:9001/', false],
    ['[::1]:8443', 'https://[::1]:8443/', true],
    ['[::1]:8443', 'https://[::1]:9443/', false],
    // Lists: spaces and empty entries are ignored.
    [' .svc , ,cluster.local,10.96.0.1 ', 'https://api.ns.svc/', true],
    [' .svc , ,cluster.local,10.96.0.1 ', 'https://kubernetes.default.svc.cluster.local/', true],
    [' .svc , ,cluster.local,10.96.0.1 ', 'https://10.96.0.1/', true],
    [' .svc , ,cluster.local,10.96.0.1 ', 'https://feeds.example.org/', false],
    // Loopback is not special: without an entry it is proxied like any host.
    ['', 'https://127.0.0.1/', false],
    ['', 'https://localhost/', false],
    ['localhost', 'https://localhost:8443/', true],
  ])('GIVEN NO_PROXY=%j WHEN the target is %s THEN direct is %s', (noProxy, url, direct) => {
    expect(bypass(noProxy, url)).toBe(direct);
  });

  it.each(['exa mple.com', '[example.com]', 'example.com:0', 'example.com:70000', 'a..b', '/x'])(
    'GIVEN the entry %j WHEN parsed THEN it is refused, naming the entry',
    (entry) => {
      const err = (() => {
        try {
          parseNoProxy(`ok.example,${entry}`);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).code).toBe('FST_HTTP_INVALID_REQUEST');
      expect((err as HttpError).message).toContain(`"${entry}"`);
    },
  );
});

describe('proxy URLs', () => {
  it('GIVEN a URL with credentials WHEN parsed THEN they become a Basic Proxy-Authorization the endpoint never shows', () => {
    const proxy = parseProxyUrl('http://fst%40user:p%3Ass@proxy.corp.example:3128/', 'HTTPS_PROXY');
    expect(proxy).toMatchObject({ hostname: 'proxy.corp.example', port: 3128 });
    expect(proxy.label).toBe('proxy.corp.example:3128');
    expect(proxy.authorization).toBe(`Basic ${Buffer.from('fst@user:p:ss').toString('base64')}`);
    // Not in JSON, not in a log line that prints the settings, not in the label.
    const shown = JSON.stringify(proxy) + String(Object.keys(proxy)) + proxy.label;
    expect(shown).not.toContain('p:ss');
    expect(shown).not.toContain('p%3Ass');
    expect(shown).not.toContain(proxy.authorization!);
  });

  it('GIVEN host:port without a scheme, or an IPv6 proxy WHEN parsed THEN http is assumed and the brackets dropped', () => {
    expect(parseProxyUrl('proxy:8080', 'HTTPS_PROXY')).toMatchObject({
      hostname: 'proxy',
      port: 8080,
      label: 'proxy:8080',
    });
    expect(parseProxyUrl('http://[fd00::5]:3128', 'HTTPS_PROXY')).toMatchObject({
      hostname: 'fd00::5',
      port: 3128,
    });
    // :80 is the scheme's default, which URL parsing drops: it is still an explicit port.
    expect(parseProxyUrl('http://proxy:80', 'HTTP_PROXY')).toMatchObject({ port: 80 });
    expect(parseProxyUrl('http://proxy:80', 'HTTP_PROXY').authorization).toBeUndefined();
  });

  it.each([
    ['http://proxy.corp', 'has no port'],
    ['http://user:secret-pw@proxy.corp', 'has no port'],
    ['https://proxy.corp:3129', 'only http:// proxies'],
    ['socks5://proxy.corp:1080', 'only http:// proxies'],
    ['http://proxy.corp:3128/path', 'without a path'],
    ['http://user:secret-pw@[bad:3128', 'not a valid URL'],
  ])('GIVEN %s WHEN parsed THEN it is refused (%s) without showing a password', (text, why) => {
    let err: unknown;
    try {
      parseProxyUrl(text, 'HTTPS_PROXY');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).message).toContain('HTTPS_PROXY');
    expect((err as HttpError).message).toContain(why);
    expect((err as HttpError).message).not.toContain('secret-pw');
  });
});

describe('proxySettingsFromEnv', () => {
  it('GIVEN no proxy variable WHEN read THEN there are no settings, NO_PROXY alone included', () => {
    expect(proxySettingsFromEnv({})).toBeUndefined();
    expect(proxySettingsFromEnv({ NO_PROXY: '.svc', HTTPS_PROXY: '  ' })).toBeUndefined();
  });

  it('GIVEN both spellings WHEN read THEN lower case is used when they agree, and differing values are refused', () => {
    const same = proxySettingsFromEnv({
      https_proxy: 'http://p:3128',
      HTTPS_PROXY: 'http://p:3128',
      no_proxy: '.svc',
      NO_PROXY: '.svc',
    });
    expect(same?.https?.label).toBe('p:3128');
    expect(() =>
      proxySettingsFromEnv({ https_proxy: 'http://a:3128', HTTPS_PROXY: 'http://b:3128' }),
    ).toThrow(/https_proxy and HTTPS_PROXY are both set, to different values/);
  });

  it('GIVEN HTTPS_PROXY only WHEN a target is routed THEN https goes through it and plain http goes direct', () => {
    const settings = proxySettingsFromEnv({
      HTTPS_PROXY: 'http://proxy.corp:3128',
      NO_PROXY: '.svc,10.0.0.0/8',
    });
    expect(proxyFor(new URL('https://feeds.example.org/x'), settings)?.label).toBe(
      'proxy.corp:3128',
    );
    expect(proxyFor(new URL('http://feeds.example.org/x'), settings)).toBeUndefined();
    expect(proxyFor(new URL('https://gitea.tools.svc/x'), settings)).toBeUndefined();
    expect(proxyFor(new URL('https://10.2.3.4/x'), settings)).toBeUndefined();
  });

  it('GIVEN HTTP_PROXY and HTTPS_PROXY WHEN a target is routed THEN each scheme takes its own proxy', () => {
    const settings = proxySettingsFromEnv({
      http_proxy: 'http://plain.corp:8080',
      https_proxy: 'http://tls.corp:3128',
    });
    expect(proxyFor(new URL('http://a.example/'), settings)?.label).toBe('plain.corp:8080');
    expect(proxyFor(new URL('https://a.example/'), settings)?.label).toBe('tls.corp:3128');
  });

  it('GIVEN a bad NO_PROXY entry next to a proxy WHEN read THEN start-up is refused', () => {
    expect(() =>
      proxySettingsFromEnv({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'good.example,bad host' }),
    ).toThrow(/NO_PROXY entry "bad host"/);
  });
});
