/**
 * The readiness report's HTML page in a real browser: Debian's Chromium, driven over
 * CDP by playwright-core (no browser download). Each page is served from loopback the
 * way a reader opens it; the test fails on any page error, console error, failed or
 * extra request, or dialog, checks that the level and every chart are drawn with the
 * expected bars, and keeps a full-page screenshot whose path it prints.
 *
 * Needs /usr/bin/chromium: `bash test/browser/setup.sh` as root installs it (.ci/run
 * does). Without it the test fails; it never skips.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessFacts } from '../../report/facts.js';
import { readinessHtml } from '../../report/readiness/render.js';
import { assessReadiness } from '../../report/readiness/score.js';
import * as fixtures from '../../report/readiness/test-support.js';

const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshots stay after the run, for a person to look at. */
const ARTIFACTS = join(tmpdir(), 'forestall-readiness-html');

// Without the background-networking flags Chromium keeps trying hosts that this
// machine's closed network refuses; none of that is the page's doing.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The pages under test, by path: facts in, the page's HTML out. */
const pages = new Map<string, string>();
const served: string[] = [];
let server: Server;
let origin: string;
let profile: string;
let context: BrowserContext;

function publish(path: string, facts: ReadinessFacts): string {
  pages.set(path, readinessHtml(assessReadiness(facts)));
  return `${origin}${path}`;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the readiness report's browser test needs Debian's Chromium. Install it as root with: bash test/browser/setup.sh (apt-get install chromium fonts-dejavu-core)`,
    );
  }
  server = createServer((req, res) => {
    served.push(req.url ?? '');
    const html = pages.get(req.url ?? '');
    if (html === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await mkdir(ARTIFACTS, { recursive: true });
  // A fresh, empty profile per run: nothing from an earlier run (cache, service
  // workers) can make a page look as if it loaded.
  profile = await mkdtemp(join(tmpdir(), 'forestall-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
});

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (profile) await rm(profile, { recursive: true, force: true });
});

interface Loaded {
  page: Page;
  problems: string[];
}

/** Opens the page and records everything that must not happen while it loads. */
async function open(url: string): Promise<Loaded> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning')
      problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('requestfailed', (req) =>
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText ?? '?'})`),
  );
  page.on('request', (req) => {
    if (req.url() !== url) problems.push(`unexpected request: ${req.url()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  const response = await page.goto(url, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  return { page, problems };
}

// What the page function below uses of the browser: the project's tsconfig has no DOM lib.
interface ImageBitmapLike {
  width: number;
  height: number;
}
declare function createImageBitmap(blob: Blob): Promise<ImageBitmapLike>;
declare class OffscreenCanvas {
  constructor(width: number, height: number);
  getContext(type: '2d'): {
    drawImage(image: ImageBitmapLike, x: number, y: number): void;
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
}

/** The number of distinct colours in a PNG, and whether it holds each of `colours`, decoded by the browser. */
async function pixels(png: Buffer, colours: string[]) {
  const page = await context.newPage();
  try {
    return await page.evaluate(
      async ({ b64, want }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bitmap, 0, 0);
        const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < data.length; i += 4)
          seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return {
          width: bitmap.width,
          height: bitmap.height,
          distinct: seen.size,
          has: want.map((hex) => seen.has(parseInt(hex.slice(1), 16))),
        };
      },
      { b64: png.toString('base64'), want: colours },
    );
  } finally {
    await page.close();
  }
}

describe('the readiness page in Chromium', () => {
  it('GIVEN a level 4 cluster THEN the page loads cleanly and draws the level and every chart', async () => {
    const started = Date.now();
    const url = publish('/level-4.html', fixtures.level4());
    const { page, problems } = await open(url);

    const level = page.locator('#level');
    await expect.poll(() => level.isVisible()).toBe(true);
    expect(await level.textContent()).toBe('4');
    expect(await page.title()).toBe('Forestall readiness: level 4 of 5, Automated enforcement');

    const charts: [string, string, number][] = [
      ['level', '[data-bar]', 5],
      ['attack', '[data-bar]', 14],
      ['modes', '[data-cell]', 12],
      ['time-to-enforce', '[data-bar]', 3],
      ['exposure-window', '[data-bar]', 3],
      ['phases', '[data-bar]', 8],
      ['feedback', '[data-bar]', 4],
    ];
    for (const [id, item, count] of charts) {
      const svg = page.locator(`svg[data-chart="${id}"]`);
      const box = await svg.boundingBox();
      expect(box, `chart ${id} is laid out`).not.toBeNull();
      expect(box!.width, `chart ${id} width`).toBeGreaterThan(100);
      expect(box!.height, `chart ${id} height`).toBeGreaterThan(30);
      expect(await svg.locator(item).count(), `chart ${id} items`).toBe(count);
    }
    // A drawn bar has a size: the covered share of Initial Access (3 of 22) is visible.
    const initialAccess = page.locator('svg[data-chart="attack"] [data-bar="Initial Access"] rect');
    const fill = await initialAccess.nth(1).boundingBox();
    expect(fill!.width).toBeGreaterThan(1);
    // The reached step of the ladder is outlined.
    expect(
      await page.locator('svg[data-chart="level"] [data-bar="4"] rect').getAttribute('stroke'),
    ).not.toBeNull();

    const shot = join(ARTIFACTS, 'readiness-level-4.png');
    const png = await page.screenshot({ path: shot, fullPage: true });
    console.log(`readiness page screenshot: ${shot} (${png.length} bytes)`);
    expect((await stat(shot)).size).toBe(png.length);
    expect(png.length).toBeGreaterThan(20_000);
    // Decoded: many colours, among them the met green of the ladder and the blue of
    // the early tactics; a blank or single-colour page has one or two.
    const decoded = await pixels(png, ['#2e7d4f', '#1f6fb2', '#d9941e']);
    expect(decoded.width).toBe(1400);
    expect(decoded.height).toBeGreaterThan(900);
    expect(decoded.distinct).toBeGreaterThan(50);
    expect(decoded.has).toEqual([true, true, true]);

    const levelShot = await level.screenshot();
    expect((await pixels(levelShot, [])).distinct).toBeGreaterThan(2);

    expect(problems).toEqual([]);
    expect(served).toContain('/level-4.html');
    await page.close();
    console.log(`level 4 page checked in ${Date.now() - started} ms`);
  });

  it('GIVEN an empty cluster THEN the page says plainly that nothing is configured, at level 1', async () => {
    const { page, problems } = await open(publish('/empty.html', fixtures.emptyCluster()));
    expect(await page.locator('#level').textContent()).toBe('1');
    const summary = page.locator('#summary');
    expect(await summary.isVisible()).toBe(true);
    expect(await summary.textContent()).toContain('no ThreatFeed is configured');
    expect(await page.locator('#level-1').getAttribute('data-met')).toBe('false');
    await page.screenshot({ path: join(ARTIFACTS, 'readiness-empty.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('GIVEN a page that tries to load an image THEN the checks above see it (they can fail)', async () => {
    const html = readinessHtml(assessReadiness(fixtures.level1()));
    pages.set('/control.html', html.replace('</main>', '<img src="/pixel.png" alt=""></main>'));
    const { page, problems } = await open(`${origin}/control.html`);
    // The page's Content-Security-Policy refuses the load, and says so on the console.
    expect(problems.join('\n')).toMatch(/Content Security Policy/);
    expect(served).not.toContain('/pixel.png');
    await page.close();
  });

  it('GIVEN names that carry markup THEN they show as text and nothing runs or loads', async () => {
    const facts = fixtures.level3();
    const script = '<script>alert(1)</script>';
    const img = '<img src="http://127.0.0.1:9/x.png" onerror="alert(2)">';
    facts.feeds = [{ ...facts.feeds[0]!, name: script }];
    facts.policies = [{ ...facts.policies[0]!, name: img }];
    facts.actions = facts.actions.map((a) => ({ ...a, policy: img }));
    const { page, problems } = await open(publish('/hostile.html', facts));
    expect(await page.locator('script, img, iframe, object').count()).toBe(0);
    expect(await page.locator('#levels').textContent()).toContain(script);
    expect(await page.locator('#levels').textContent()).toContain(img);
    expect(problems).toEqual([]);
    await page.close();
  });
});
