import { describe, expect, it } from 'vitest';
import { printable } from '../../cli/printable.js';
import { CONTENT_SECURITY_POLICY, readinessHtml, readinessJson, readinessText } from './render.js';
import { assessReadiness } from './score.js';
import * as fixtures from './test-support.js';

const HOSTILE = '<script>alert(1)</script>';

/** The level 3 cluster with a hostile feed, policy and target name. */
function hostile() {
  const facts = fixtures.level3();
  facts.target = `ctx "${HOSTILE}"`;
  facts.feeds = [{ ...facts.feeds[0]!, name: HOSTILE }];
  facts.policies = [{ ...facts.policies[0]!, name: `p'${HOSTILE}` }];
  return assessReadiness(facts);
}

describe('readinessText', () => {
  it('GIVEN the level 3 cluster THEN the text names the level, each level and the next step', () => {
    expect(readinessText(assessReadiness(fixtures.level3()), printable)).toMatchSnapshot();
  });

  it('GIVEN an empty cluster THEN the text says plainly that nothing is configured', () => {
    const text = readinessText(assessReadiness(fixtures.emptyCluster()), printable);
    expect(text).toContain('Forestall readiness: level 1 of 5, Passive monitoring (not met yet)\n');
    expect(text).toContain('Plainly:\n  - no ThreatFeed is configured\n');
    expect(text).toContain('Level 1 Passive monitoring (sees what would be blocked): not met\n');
  });

  it('GIVEN a feed name with a newline and an escape sequence THEN it cannot start a line of its own', () => {
    const facts = fixtures.level1();
    facts.feeds = [{ ...facts.feeds[0]!, name: 'evil\nLevel 5 Self-improving: met\x1b[2J' }];
    const text = readinessText(assessReadiness(facts), printable);
    expect(text).not.toMatch(/^Level 5 Self-improving: met/m);
    expect(text).not.toContain('\x1b');
    expect(text).toContain('evil\\x0aLevel 5 Self-improving: met\\x1b[2J');
  });
});

describe('readinessJson', () => {
  it('GIVEN the level 4 cluster THEN .level is the number 4 and .levels has all five', () => {
    const json = JSON.parse(JSON.stringify(readinessJson(assessReadiness(fixtures.level4()))));
    expect(json.report).toBe('readiness');
    expect(json.level).toBe(4);
    expect(json.levels.map((l: { level: number; met: boolean }) => [l.level, l.met])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, false],
    ]);
    expect(json.layers).toHaveLength(4);
    expect(json.timeToEnforce).toEqual({ count: 4, p50: 3.1, p90: 48, p99: 95 });
    expect(json.attack.tactics[0]).toMatchObject({ shortname: 'reconnaissance', early: true });
  });
});

describe('readinessHtml', () => {
  it('GIVEN hostile names THEN every one is escaped, in text and in attributes', () => {
    const html = readinessHtml(hostile());
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('ctx &quot;&lt;script&gt;');
    expect(html).toContain('p&#39;&lt;script&gt;');
  });

  it('GIVEN any report THEN the page loads nothing: a CSP that forbids loads, no src, href, url() or @import', () => {
    const html = readinessHtml(assessReadiness(fixtures.level5()));
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY.replace(/'/g, '&#39;')}">`,
    );
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none';/);
    expect(html).not.toMatch(/\s(src|href|srcset|action|xlink:href)\s*=/i);
    expect(html).not.toMatch(/url\(|@import|<link|<script|<iframe|<object|<img/i);
    // The target's server URL is text on the page; no attribute carries a URL.
    expect(html).not.toMatch(/="[^"]*https?:/i);
  });

  it('GIVEN the level 4 cluster THEN the page shows the level and each chart with its bars', () => {
    const html = readinessHtml(assessReadiness(fixtures.level4()));
    expect(html).toContain('<span id="level" data-level="4">4</span>');
    const chart = (id: string) => {
      const m = new RegExp(`<svg data-chart="${id}"[\\s\\S]*?</svg>`).exec(html);
      expect(m, `chart ${id}`).not.toBeNull();
      return m![0];
    };
    const count = (svg: string, attr: string) => svg.split(` ${attr}="`).length - 1;
    expect(count(chart('level'), 'data-bar')).toBe(5);
    expect(count(chart('attack'), 'data-bar')).toBe(14);
    expect(count(chart('time-to-enforce'), 'data-bar')).toBe(3);
    expect(count(chart('exposure-window'), 'data-bar')).toBe(3);
    expect(count(chart('phases'), 'data-bar')).toBe(8);
    expect(count(chart('feedback'), 'data-bar')).toBe(4);
    expect(count(chart('modes'), 'data-cell')).toBe(12);
    // The early tactics are drawn apart from the others.
    expect(chart('attack')).toMatch(/data-bar="Initial Access"><title>Initial Access: 3\/22/);
    expect(chart('modes')).toContain('data-layer="identity" data-mode="Propose"');
  });

  it('GIVEN every action expired THEN the page says so first, before the charts', () => {
    const html = readinessHtml(assessReadiness(fixtures.allExpired()));
    const summary = html.indexOf('<section id="summary"');
    expect(summary).toBeGreaterThan(0);
    expect(html.indexOf('every action has expired: nothing is enforced now')).toBeGreaterThan(
      summary,
    );
    expect(summary).toBeLessThan(html.indexOf('class="charts"'));
  });

  it('GIVEN nothing measured THEN the percentile charts say so instead of drawing bars', () => {
    const html = readinessHtml(assessReadiness(fixtures.emptyCluster()));
    expect(html).toMatch(/<svg data-chart="time-to-enforce"[^>]*>[\s\S]*?not measured/);
    expect(html).toContain('<span id="level" data-level="1">1</span>');
    expect(html).toContain('<article id="level-1" data-met="false" class="unmet">');
  });
});
