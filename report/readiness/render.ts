import type { Percentiles } from '../facts.js';
import {
  PHASES,
  TIME_TO_ENFORCE_P90_BOUND_SECONDS,
  formatSeconds,
  percentilePhrase,
  plural,
  type LayerState,
  type LevelAssessment,
  type Readiness,
} from './score.js';

/**
 * The readiness report in three forms: text for a terminal, JSON for tools, and one
 * self-contained HTML page. Feed, policy and action names and the target are user
 * input, and they reach every form inside the evidence sentences: the text form passes
 * each line through the caller's `printable` (the CLI's terminal escaping), the HTML
 * form escapes every piece of text, and the page loads nothing: inline CSS, inline SVG
 * built here, no script, and a Content-Security-Policy that forbids any load.
 */

// ---- text -------------------------------------------------------------------------

/**
 * The report for a terminal. `printable` makes one line of untrusted text safe to print
 * (cli/printable.ts: control characters escaped); it is applied to every line whole,
 * so a name cannot break out of the line it is in.
 */
export function readinessText(r: Readiness, printable: (line: string) => string): string {
  const lines: string[] = [
    `Forestall readiness: level ${r.level} of 5, ${r.name}${floorNote(r)}`,
    `Read from ${r.source === 'files' ? 'files' : 'the cluster'} ${r.target} at ${r.generatedAt}`,
  ];
  if (r.summary.length > 0) lines.push('', 'Plainly:', ...r.summary.map((s) => `  - ${s}`));
  if (r.next) lines.push('', `Next step: ${r.next}`);
  for (const l of r.levels) {
    lines.push('', `Level ${l.level} ${l.name} (${l.means}): ${metWord(l)}`);
    lines.push(...l.evidence.map((e) => `  - ${e}`));
    if (l.next) lines.push(`  next: ${l.next}`);
  }
  lines.push(
    '',
    `Layers: ${r.layers.map(layerText).join(', ')}`,
    `Time to enforce: ${percentilesText(r.timeToEnforce)}`,
    `Exposure window: ${percentilesText(r.exposureWindow)}`,
    `ATT&CK: ${plural(r.attack.techniquesCovered, 'technique')} covered; early tactics: ${
      r.attack.tactics
        .filter((t) => t.early)
        .map((t) => `${t.name} ${t.covered}/${t.techniques}`)
        .join(', ') || 'not computed'
    }`,
    `Feedback: ${feedbackText(r)}`,
  );
  return `${lines.map((line) => printable(line)).join('\n')}\n`;
}

const metWord = (l: LevelAssessment) => (l.met ? 'met' : 'not met');

/** Level 1 is the floor even when unmet: the headline says so. */
const floorNote = (r: Readiness) => (r.levels[0]!.met ? '' : ' (not met yet)');

function layerText(l: LayerState): string {
  return l.mode ? `${l.layer} ${l.mode} (${l.enforced}/${l.actions} enforced)` : `${l.layer} none`;
}

function percentilesText(p: Percentiles | undefined): string {
  return p?.count ? percentilePhrase(p) : 'not measured';
}

function feedbackText(r: Readiness): string {
  const f = r.feedback;
  return [
    `${f.rejected} rejected, ${f.excepted} excepted, ${f.lifted} lifted, ${f.expiredClean} expired cleanly`,
    `${plural(f.feedsAdjusted, 'feed')} tuned`,
    `${plural(r.exceptions, 'ThreatException')} in force`,
  ].join('; ');
}

// ---- JSON -------------------------------------------------------------------------

/** The report as one JSON document: `.level` is the overall level as a number, `.levels[]` each level. */
export function readinessJson(r: Readiness): Readiness & { report: 'readiness' } {
  return { report: 'readiness', ...r };
}

// ---- HTML -------------------------------------------------------------------------

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
const esc = escapeHtml;

type Attrs = Record<string, string | number | boolean | undefined>;

/**
 * One element. Attribute values are always escaped here; `children` are markup already
 * (from `el`, or `esc` of text), so text must go through `esc` or `text` on its way in.
 */
function el(tag: string, attrs: Attrs, ...children: string[]): string {
  const list = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(String(v))}"`)
    .join('');
  return `<${tag}${list}>${children.join('')}</${tag}>`;
}

/** An element holding plain text. */
const text = (tag: string, attrs: Attrs, content: string) => el(tag, attrs, esc(content));

/** The page loads nothing: no script, font, image or frame from anywhere. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const COLOURS = {
  met: '#2e7d4f',
  unmet: '#b3261e',
  muted: '#d9dee4',
  track: '#eef1f4',
  ink: '#1f2933',
  faint: '#6b7785',
  Audit: '#7b8fa6',
  Propose: '#d9941e',
  Enforce: '#2e7d4f',
  early: '#1f6fb2',
  tactic: '#7b8fa6',
} as const;

/** One self-contained HTML page: the level, the charts, each level's evidence and next step. */
export function readinessHtml(r: Readiness): string {
  const title = `Forestall readiness: level ${r.level} of 5, ${r.name}`;
  const from = `Read from ${r.source === 'files' ? 'files' : 'the cluster'} `;
  const headline = el(
    'div',
    { class: 'headline' },
    text('p', { class: 'kicker' }, 'Forestall readiness'),
    el(
      'p',
      { class: 'level-line' },
      text('span', { id: 'level', 'data-level': r.level }, String(r.level)),
      text('span', { class: 'of' }, ' of 5'),
    ),
    text('p', { class: 'level-name' }, `${r.name}${floorNote(r)}`),
    el('p', { class: 'meta' }, esc(from), text('code', {}, r.target), esc(` at ${r.generatedAt}`)),
  );
  const csp = `<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${csp}
<meta name="viewport" content="width=device-width, initial-scale=1">
${text('title', {}, title)}
<style>${STYLE}</style>
</head>
<body>
${el('header', {}, headline, el('figure', { class: 'ladder' }, ladderChart(r)))}
<main>
${summarySection(r)}
${r.next ? el('section', { id: 'next' }, text('h2', {}, 'Next step'), text('p', {}, r.next)) : ''}
${el('section', { class: 'charts' }, ...charts(r))}
${el('section', { id: 'levels' }, text('h2', {}, 'Levels'), ...r.levels.map(levelArticle))}
${feedTable(r)}
</main>
<footer>forestall report readiness &middot; criteria in docs/readiness.md</footer>
</body>
</html>
`;
}

function charts(r: Readiness): string[] {
  const f = r.feedback;
  const feedbackHint = `${plural(f.feedsAdjusted, 'feed')} tuned, ${plural(r.exceptions, 'ThreatException')} in force`;
  return [
    figure(
      'ATT&CK coverage by tactic',
      'covered of live techniques; early tactics in blue',
      attackChart(r),
    ),
    figure('Mode per layer', 'policies by mode; enforced of all actions', modeGrid(r.layers)),
    figure(
      'Time to enforce',
      "detection to Enforced; the line is level 4's p90 bound",
      percentileChart('time-to-enforce', r.timeToEnforce, TIME_TO_ENFORCE_P90_BOUND_SECONDS),
    ),
    figure(
      'Exposure window',
      'intelligence published to Enforced',
      percentileChart('exposure-window', r.exposureWindow),
    ),
    figure('Actions by phase', undefined, phaseChart(r)),
    figure('Feedback loop', feedbackHint, feedbackChart(r)),
  ];
}

function figure(caption: string, hint: string | undefined, chart: string): string {
  const small = hint === undefined ? '' : ` ${text('span', { class: 'hint' }, `(${hint})`)}`;
  return el('figure', {}, el('figcaption', {}, esc(caption), small), chart);
}

const list = (items: readonly string[]) => el('ul', {}, ...items.map((i) => text('li', {}, i)));

function summarySection(r: Readiness): string {
  if (r.summary.length === 0) return '';
  return el(
    'section',
    { id: 'summary', role: 'alert' },
    text('h2', {}, 'Plainly'),
    list(r.summary),
  );
}

function levelArticle(l: LevelAssessment): string {
  const heading = el(
    'h3',
    {},
    text('span', { class: 'badge' }, String(l.level)),
    esc(` ${l.name} `),
    text('span', { class: 'status' }, metWord(l)),
  );
  const next = l.next ? el('p', { class: 'step' }, '<strong>Next:</strong> ', esc(l.next)) : '';
  return el(
    'article',
    { id: `level-${l.level}`, 'data-met': l.met, class: l.met ? 'met' : 'unmet' },
    heading,
    text('p', { class: 'means' }, l.means),
    list(l.evidence),
    next,
  );
}

function feedState(fresh: boolean | undefined, source: Readiness['source']): string {
  if (fresh !== undefined) return fresh ? 'fresh' : 'stale';
  return source === 'files' ? 'read' : 'unknown';
}

function feedTable(r: Readiness): string {
  if (r.feeds.length === 0) return '';
  const heads = ['name', 'format', 'indicators', 'last sync', 'freshness', 'confidence'];
  const rows = r.feeds.map((f) => {
    const state = feedState(f.fresh, r.source);
    return el(
      'tr',
      {},
      text('td', {}, f.name),
      text('td', {}, f.format ?? ''),
      text('td', { class: 'num' }, f.indicators === undefined ? '' : String(f.indicators)),
      text('td', {}, f.lastSyncAt ?? ''),
      text('td', { class: `state ${state}` }, state),
      text('td', { class: 'num' }, String(f.sourceConfidence?.effective ?? '')),
    );
  });
  const head = el('thead', {}, el('tr', {}, ...heads.map((h) => text('th', {}, h))));
  return el(
    'section',
    { id: 'feeds' },
    text('h2', {}, 'ThreatFeeds'),
    el('table', {}, head, el('tbody', {}, ...rows)),
  );
}

// ---- charts -----------------------------------------------------------------------

function svg(id: string, width: number, height: number, title: string, ...body: string[]): string {
  const attrs = { 'data-chart': id, role: 'img', 'aria-label': title };
  const size = { viewBox: `0 0 ${width} ${height}`, width, height };
  return el('svg', { ...attrs, ...size }, text('title', {}, title), ...body);
}

/** The level as a five-step ladder: steps met are filled, the reached one outlined. */
function ladderChart(r: Readiness): string {
  const step = 64;
  const height = 150;
  const bars = r.levels.map((l, i) => {
    const h = 30 + i * 24;
    const x = i * (step + 8) + 2;
    const y = height - 20 - h;
    const outline = l.level !== r.level ? {} : { stroke: l.met ? COLOURS.ink : COLOURS.unmet };
    const centre = x + step / 2;
    return el(
      'g',
      { 'data-bar': l.level, 'data-met': l.met },
      text('title', {}, `Level ${l.level} ${l.name}: ${metWord(l)}`),
      el('rect', {
        x,
        y,
        width: step,
        height: h,
        rx: 4,
        fill: l.met ? COLOURS.met : COLOURS.muted,
        ...outline,
        'stroke-width': l.level === r.level ? 3 : undefined,
      }),
      text(
        'text',
        {
          x: centre,
          y: y + h / 2 + 7,
          'text-anchor': 'middle',
          class: 'step-num',
          fill: l.met ? '#fff' : COLOURS.ink,
        },
        String(l.level),
      ),
      text(
        'text',
        { x: centre, y: height - 4, 'text-anchor': 'middle', class: 'small' },
        shortName(l.name),
      ),
    );
  });
  return svg('level', 5 * (step + 8), height, `Readiness level ${r.level} of 5`, ...bars);
}

const shortName = (name: string) => name.split(' ')[0]!;

interface Bar {
  label: string;
  /** 0-1 of the bar's full width. */
  fraction: number;
  /** Printed after the bar. */
  text: string;
  colour: string;
  /** Draw the full width as a track (a share of a whole, as covered of total). */
  track?: boolean;
  strong?: boolean;
}

const LABEL_W = 170;
const BAR_W = 280;
const VALUE_W = 120;
const CHART_W = LABEL_W + BAR_W + VALUE_W;
const ROW_H = 22;

/** Horizontal bars, one `data-bar` group per row; `bound` draws a dashed line at that fraction. */
function barChart(
  id: string,
  title: string,
  bars: readonly Bar[],
  bound?: { at: number; label: string },
): string {
  if (bars.length === 0) return emptyChart(id, title, 'nothing to show');
  const rows = bars.map((b, i) => {
    const y = 6 + i * ROW_H;
    const w = b.fraction > 0 ? Math.max(2, Math.min(1, b.fraction) * BAR_W) : 0;
    const box = { y, height: ROW_H - 6, rx: 3 };
    const track = b.track
      ? el('rect', { x: LABEL_W, width: BAR_W, ...box, fill: COLOURS.track })
      : '';
    const label = {
      x: LABEL_W - 8,
      y: y + 12,
      'text-anchor': 'end',
      'font-weight': b.strong ? 700 : undefined,
    };
    return el(
      'g',
      { 'data-bar': b.label },
      text('title', {}, `${b.label}: ${b.text}`),
      text('text', label, b.label),
      track,
      el('rect', { x: LABEL_W, width: w.toFixed(1), ...box, fill: b.colour }),
      text('text', { x: LABEL_W + BAR_W + 8, y: y + 12 }, b.text),
    );
  });
  const height = 12 + bars.length * ROW_H + (bound ? 14 : 0);
  return svg(id, CHART_W, height, title, ...rows, bound ? boundLine(bound, height) : '');
}

function boundLine(bound: { at: number; label: string }, height: number): string {
  const x = LABEL_W + bound.at * BAR_W;
  const colour = COLOURS.unmet;
  return (
    el('line', {
      x1: x,
      x2: x,
      y1: 2,
      y2: height - 14,
      stroke: colour,
      'stroke-dasharray': '4 3',
    }) +
    text(
      'text',
      { x, y: height - 2, 'text-anchor': 'middle', class: 'small', fill: colour },
      bound.label,
    )
  );
}

function emptyChart(id: string, title: string, message: string): string {
  const note = { x: CHART_W / 2, y: 25, 'text-anchor': 'middle', fill: COLOURS.faint };
  return svg(id, CHART_W, 40, title, text('text', note, message));
}

function attackChart(r: Readiness): string {
  const title = 'ATT&CK coverage by tactic';
  const bars = r.attack.tactics.map((t) => ({
    label: t.name,
    fraction: t.techniques > 0 ? t.covered / t.techniques : 0,
    text: `${t.covered}/${t.techniques}`,
    colour: t.early ? COLOURS.early : COLOURS.tactic,
    track: true,
    strong: t.early,
  }));
  if (bars.length === 0) return emptyChart('attack', title, 'no ATT&CK coverage was computed');
  return barChart('attack', title, bars);
}

function percentileChart(id: string, p: Percentiles | undefined, bound?: number): string {
  const title = id.replace(/-/g, ' ');
  if (!p?.count) return emptyChart(id, title, 'not measured');
  const max = Math.max(p.p99, bound ?? 0) * 1.1 || 1;
  const slow = (k: string) => bound !== undefined && k === 'p90' && p.p90 > bound;
  const bars = (['p50', 'p90', 'p99'] as const).map((k) => ({
    label: k,
    fraction: p[k] / max,
    text: formatSeconds(p[k]),
    colour: slow(k) ? COLOURS.unmet : COLOURS.early,
  }));
  const line = bound === undefined ? undefined : { at: bound / max, label: formatSeconds(bound) };
  return barChart(id, `${title}, ${plural(p.count, 'action')}`, bars, line);
}

function countBars(entries: readonly (readonly [string, number, string])[]): Bar[] {
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return entries.map(([label, n, colour]) => ({
    label,
    fraction: n / max,
    text: String(n),
    colour,
  }));
}

const PHASE_COLOURS: Record<string, string> = {
  Audit: COLOURS.Audit,
  Pending: COLOURS.Propose,
  Proposed: COLOURS.Propose,
  Enforced: COLOURS.Enforce,
  Expired: COLOURS.faint,
  Lifted: COLOURS.faint,
  Rejected: COLOURS.unmet,
  Failed: COLOURS.unmet,
};

function phaseChart(r: Readiness): string {
  const known = new Set<string>(PHASES);
  const phases = [...PHASES, ...Object.keys(r.phases).filter((p) => !known.has(p))];
  const entries = phases.map(
    (p) => [p, r.phases[p] ?? 0, PHASE_COLOURS[p] ?? COLOURS.faint] as const,
  );
  return barChart('phases', 'Actions by phase', countBars(entries));
}

function feedbackChart(r: Readiness): string {
  const f = r.feedback;
  const entries = [
    ['rejected', f.rejected, COLOURS.unmet],
    ['excepted', f.excepted, COLOURS.Propose],
    ['lifted', f.lifted, COLOURS.Audit],
    ['expired cleanly', f.expiredClean, COLOURS.met],
  ] as const;
  return barChart('feedback', 'Feedback loop activity', countBars(entries));
}

const MODES = ['Audit', 'Propose', 'Enforce'] as const;
const CELL_W = 90;
const CELL_H = 30;
const GRID_LEFT = 90;
const GRID_TOP = 22;

/** Layers down, modes across: each cell the number of policies, coloured when any; then enforced of all actions. */
function modeGrid(layers: readonly LayerState[]): string {
  const column = (i: number) => GRID_LEFT + i * CELL_W;
  const middle = { 'text-anchor': 'middle' };
  const head = [...MODES, 'enforced'].map((m, i) =>
    text('text', { x: column(i) + CELL_W / 2, y: 14, ...middle, class: 'small' }, m),
  );
  const rows = layers.map((l, row) => {
    const y = GRID_TOP + row * CELL_H;
    const cells = MODES.map((m, col) => {
      const n = l.policies[m];
      return el(
        'g',
        { 'data-cell': `${l.layer}-${m}` },
        text('title', {}, `${l.layer}, ${m}: ${plural(n, 'policy', 'policies')}`),
        el('rect', {
          x: column(col) + 2,
          y: y + 2,
          width: CELL_W - 4,
          height: CELL_H - 4,
          rx: 4,
          fill: n > 0 ? COLOURS[m] : COLOURS.track,
        }),
        text(
          'text',
          {
            x: column(col) + CELL_W / 2,
            y: y + 20,
            ...middle,
            fill: n > 0 ? '#fff' : COLOURS.faint,
          },
          String(n),
        ),
      );
    });
    const enforced = { x: column(MODES.length) + CELL_W / 2, y: y + 20, ...middle };
    return el(
      'g',
      { 'data-layer': l.layer, 'data-mode': l.mode ?? 'none' },
      text('text', { x: GRID_LEFT - 8, y: y + 20, 'text-anchor': 'end' }, l.layer),
      ...cells,
      text('text', enforced, `${l.enforced}/${l.actions}`),
    );
  });
  const width = column(MODES.length + 1) + 10;
  const height = GRID_TOP + layers.length * CELL_H + 6;
  return svg('modes', width, height, 'Mode per layer', ...head, ...rows);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: ${COLOURS.ink}; background: #f6f7f9; }
header { display: flex; flex-wrap: wrap; gap: 32px; align-items: center; padding: 24px 32px;
  background: #fff; border-bottom: 1px solid ${COLOURS.muted}; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; color: ${COLOURS.faint}; font-size: 12px; }
.level-line { margin: 0; line-height: 1; }
#level { font-size: 72px; font-weight: 700; }
.of { font-size: 24px; color: ${COLOURS.faint}; }
.level-name { margin: 4px 0 0; font-size: 22px; font-weight: 600; }
.meta { margin: 8px 0 0; color: ${COLOURS.faint}; font-size: 12px; }
.ladder { margin: 0; }
main { padding: 16px 32px 32px; max-width: 1280px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
#summary { background: #fdecea; border-left: 4px solid ${COLOURS.unmet}; padding: 4px 16px 8px; }
#summary h2 { margin-top: 8px; }
#summary + #next { margin-top: 12px; }
#next { background: #e8f1fa; border-left: 4px solid ${COLOURS.early}; padding: 4px 16px 8px; }
#next h2 { margin-top: 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(600px, 1fr)); gap: 16px; margin-top: 16px; }
figure { margin: 0; background: #fff; border: 1px solid ${COLOURS.muted}; border-radius: 6px; padding: 12px; }
figcaption { font-weight: 600; margin-bottom: 8px; }
.hint { font-weight: 400; color: ${COLOURS.faint}; font-size: 12px; }
svg { display: block; max-width: 100%; height: auto; font: 12px "DejaVu Sans", system-ui, sans-serif; fill: ${COLOURS.ink}; }
svg .small { font-size: 10px; }
svg .step-num { font-size: 20px; font-weight: 700; }
article { background: #fff; border: 1px solid ${COLOURS.muted}; border-left: 4px solid ${COLOURS.muted};
  border-radius: 6px; padding: 8px 16px; margin: 8px 0; }
article.met { border-left-color: ${COLOURS.met}; }
article.unmet { border-left-color: ${COLOURS.unmet}; }
article h3 { margin: 4px 0; font-size: 16px; }
.badge { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 4px;
  background: ${COLOURS.ink}; color: #fff; }
.status { font-size: 12px; font-weight: 400; color: ${COLOURS.faint}; }
.means { margin: 0; color: ${COLOURS.faint}; }
.step { margin: 4px 0; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid ${COLOURS.muted}; padding: 4px 8px; text-align: left; }
td.num { text-align: right; }
td.state.fresh { color: ${COLOURS.met}; }
td.state.stale { color: ${COLOURS.unmet}; font-weight: 600; }
footer { padding: 16px 32px; color: ${COLOURS.faint}; font-size: 12px; }
`;
