import { describe, expect, it } from 'vitest';
import { sourceErrorForStatus } from './sync.js';

describe('sourceErrorForStatus', () => {
  it('GIVEN a refusal that quotes the rejected line THEN the quote is replaced and the location kept', () => {
    const message =
      'ConfigMap payments/app key list.txt: 3 of 4 records are malformed (first: line 1: not an IP address, domain, URL, hash, CVE or account: "DB_PASSWORD=hunter2"); refusing it as garbage';
    const safe = sourceErrorForStatus(message);
    expect(safe).not.toContain('hunter2');
    expect(safe).toBe(
      'ConfigMap payments/app key list.txt: 3 of 4 records are malformed (first: line 1: not an IP address, domain, URL, hash, CVE or account: "…"); refusing it as garbage',
    );
  });

  it('GIVEN escaped quotes, an unterminated quote, control characters and length THEN none survive', () => {
    expect(
      sourceErrorForStatus('epss: line 1 should be the header but is "a,\\"token=abc\\",b"'),
    ).toBe('epss: line 1 should be the header but is "…"');
    expect(sourceErrorForStatus('cut: "secret value that never ends')).toBe('cut: "…"');
    expect(sourceErrorForStatus('a\u0000b\u001b[31mc')).toBe('a b [31mc');
    const long = sourceErrorForStatus(`x${'y'.repeat(2000)}`);
    expect(long).toHaveLength(512);
    expect(long.endsWith('…')).toBe(true);
  });
});
