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
  return `${f.rejected} rejected, ${f.excepted} excepted, ${f.lifted} lifted, ${f.expiredClean} expired cleanly; ${plural(f.feedsAdjusted, 'feed')} tuned; ${plural(r.exceptions, 'ThreatException')} in force`;
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
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <div class="headline">
    <p class="kicker">Forestall readiness</p>
    <p class="level-line"><span id="level" data-level="${r.level}">${r.level}</span><span class="of"> of 5</span></p>
    <p class="level-name">${esc(r.name)}${floorNote(r)}</p>
    <p class="meta">Read from ${r.source === 'files' ? 'files' : 'the cluster'} <code>${esc(r.target)}</code> at ${esc(r.generatedAt)}</p>
  </div>
  <figure class="ladder">${ladderChart(r)}</figure>
</header>
<main>
${summarySection(r)}
${r.next ? `<section id="next"><h2>Next step</h2><p>${esc(r.next)}</p></section>` : ''}
<section class="charts">
  <figure><figcaption>ATT&amp;CK coverage by tactic <span class="hint">(covered of live techniques; early tactics in blue)</span></figcaption>${attackChart(r)}</figure>
  <figure><figcaption>Mode per layer <span class="hint">(policies by mode; enforced of all actions)</span></figcaption>${modeGrid(r.layers)}</figure>
  <figure><figcaption>Time to enforce <span class="hint">(detection to Enforced; the line is level 4's p90 bound)</span></figcaption>${percentileChart('time-to-enforce', r.timeToEnforce, TIME_TO_ENFORCE_P90_BOUND_SECONDS)}</figure>
  <figure><figcaption>Exposure window <span class="hint">(intelligence published to Enforced)</span></figcaption>${percentileChart('exposure-window', r.exposureWindow)}</figure>
  <figure><figcaption>Actions by phase</figcaption>${phaseChart(r)}</figure>
  <figure><figcaption>Feedback loop <span class="hint">(${esc(plural(r.feedback.feedsAdjusted, 'feed'))} tuned, ${esc(plural(r.exceptions, 'ThreatException'))} in force)</span></figcaption>${feedbackChart(r)}</figure>
</section>
<section id="levels"><h2>Levels</h2>
${r.levels.map(levelArticle).join('\n')}
</section>
${feedTable(r)}
</main>
<footer>forestall report readiness &middot; criteria in docs/readiness.md</footer>
</body>
</html>
`;
}

function summarySection(r: Readiness): string {
  if (r.summary.length === 0) return '';
  const items = r.summary.map((s) => `<li>${esc(s)}</li>`).join('');
  return `<section id="summary" role="alert"><h2>Plainly</h2><ul>${items}</ul></section>`;
}

function levelArticle(l: LevelAssessment): string {
  const evidence = l.evidence.map((e) => `<li>${esc(e)}</li>`).join('');
  const next = l.next ? `<p class="step"><strong>Next:</strong> ${esc(l.next)}</p>` : '';
  return `<article id="level-${l.level}" data-met="${l.met}" class="${l.met ? 'met' : 'unmet'}">
<h3><span class="badge">${l.level}</span> ${esc(l.name)} <span class="status">${metWord(l)}</span></h3>
<p class="means">${esc(l.means)}</p><ul>${evidence}</ul>${next}</article>`;
}

function feedTable(r: Readiness): string {
  if (r.feeds.length === 0) return '';
  const rows = r.feeds
    .map((f) => {
      const state =
        f.fresh === true
          ? 'fresh'
          : f.fresh === false
            ? 'stale'
            : r.source === 'files'
              ? 'read'
              : 'unknown';
      const confidence = f.sourceConfidence ? String(f.sourceConfidence.effective) : '';
      return `<tr><td>${esc(f.name)}</td><td>${esc(f.format ?? '')}</td><td class="num">${f.indicators ?? ''}</td><td>${esc(f.lastSyncAt ?? '')}</td><td class="state ${state}">${state}</td><td class="num">${confidence}</td></tr>`;
    })
    .join('\n');
  return `<section id="feeds"><h2>ThreatFeeds</h2><table><thead><tr><th>name</th><th>format</th><th>indicators</th><th>last sync</th><th>freshness</th><th>confidence</th></tr></thead><tbody>
${rows}
</tbody></table></section>`;
}

// ---- charts -----------------------------------------------------------------------

/** The level as a five-step ladder: steps met are filled, the reached one outlined. */
function ladderChart(r: Readiness): string {
  const step = 64;
  const height = 150;
  const bars = r.levels
    .map((l, i) => {
      const h = 30 + i * 24;
      const x = i * (step + 8);
      const y = height - 20 - h;
      const reached = l.level === r.level;
      const fill = l.met ? COLOURS.met : COLOURS.muted;
      const stroke = reached
        ? ` stroke="${l.met ? COLOURS.ink : COLOURS.unmet}" stroke-width="3"`
        : '';
      return `<g data-bar="${l.level}" data-met="${l.met}"><title>Level ${l.level} ${esc(l.name)}: ${metWord(l)}</title>
<rect x="${x + 2}" y="${y}" width="${step}" height="${h}" rx="4" fill="${fill}"${stroke}/>
<text x="${x + 2 + step / 2}" y="${y + h / 2 + 7}" text-anchor="middle" class="step-num" fill="${l.met ? '#fff' : COLOURS.ink}">${l.level}</text>
<text x="${x + 2 + step / 2}" y="${height - 4}" text-anchor="middle" class="small">${esc(shortName(l.name))}</text></g>`;
    })
    .join('\n');
  const width = 5 * (step + 8);
  return svg('level', width, height, `Readiness level ${r.level} of 5`, bars);
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
const ROW_H = 22;

/** Horizontal bars, one row per item, each row a `data-bar` group; `bound` draws a dashed line at that fraction. */
function barChart(
  id: string,
  title: string,
  bars: readonly Bar[],
  bound?: { at: number; label: string },
): string {
  const width = LABEL_W + BAR_W + VALUE_W;
  if (bars.length === 0) return emptyChart(id, title, 'nothing to show');
  const rows = bars
    .map((b, i) => {
      const y = 6 + i * ROW_H;
      const w = b.fraction > 0 ? Math.max(2, Math.min(1, b.fraction) * BAR_W) : 0;
      const track = b.track
        ? `<rect x="${LABEL_W}" y="${y}" width="${BAR_W}" height="${ROW_H - 6}" rx="3" fill="${COLOURS.track}"/>`
        : '';
      const weight = b.strong ? ' font-weight="700"' : '';
      return `<g data-bar="${esc(b.label)}"><title>${esc(b.label)}: ${esc(b.text)}</title>
<text x="${LABEL_W - 8}" y="${y + 12}" text-anchor="end"${weight}>${esc(b.label)}</text>${track}
<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${ROW_H - 6}" rx="3" fill="${b.colour}"/>
<text x="${LABEL_W + BAR_W + 8}" y="${y + 12}">${esc(b.text)}</text></g>`;
    })
    .join('\n');
  const height = 12 + bars.length * ROW_H + (bound ? 14 : 0);
  const line = bound
    ? `<line x1="${LABEL_W + bound.at * BAR_W}" x2="${LABEL_W + bound.at * BAR_W}" y1="2" y2="${height - 14}" stroke="${COLOURS.unmet}" stroke-dasharray="4 3"/>
<text x="${LABEL_W + bound.at * BAR_W}" y="${height - 2}" text-anchor="middle" class="small" fill="${COLOURS.unmet}">${esc(bound.label)}</text>`
    : '';
  return svg(id, width, height, title, rows + line);
}

function emptyChart(id: string, title: string, message: string): string {
  const width = LABEL_W + BAR_W + VALUE_W;
  return svg(
    id,
    width,
    40,
    title,
    `<text x="${width / 2}" y="25" text-anchor="middle" fill="${COLOURS.faint}">${esc(message)}</text>`,
  );
}

function svg(id: string, width: number, height: number, title: string, body: string): string {
  return `<svg data-chart="${id}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(title)}</title>
${body}
</svg>`;
}

function attackChart(r: Readiness): string {
  const bars = r.attack.tactics.map((t) => ({
    label: t.name,
    fraction: t.techniques > 0 ? t.covered / t.techniques : 0,
    text: `${t.covered}/${t.techniques}`,
    colour: t.early ? COLOURS.early : COLOURS.tactic,
    track: true,
    strong: t.early,
  }));
  if (bars.length === 0)
    return emptyChart('attack', 'ATT&CK coverage by tactic', 'no ATT&CK coverage was computed');
  return barChart('attack', 'ATT&CK coverage by tactic', bars);
}

function percentileChart(id: string, p: Percentiles | undefined, bound?: number): string {
  const title = id.replace(/-/g, ' ');
  if (!p?.count) return emptyChart(id, title, 'not measured');
  const max = Math.max(p.p99, bound ?? 0) * 1.1 || 1;
  const bars = (['p50', 'p90', 'p99'] as const).map((k) => ({
    label: k,
    fraction: p[k] / max,
    text: formatSeconds(p[k]),
    colour: bound !== undefined && k === 'p90' && p.p90 > bound ? COLOURS.unmet : COLOURS.early,
  }));
  const line = bound !== undefined ? { at: bound / max, label: formatSeconds(bound) } : undefined;
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

/** Layers down, modes across: each cell the number of policies, coloured when any; then enforced of all actions. */
function modeGrid(layers: readonly LayerState[]): string {
  const modes = ['Audit', 'Propose', 'Enforce'] as const;
  const cellW = 90;
  const cellH = 30;
  const left = 90;
  const top = 22;
  const width = left + (modes.length + 1) * cellW + 10;
  const height = top + layers.length * cellH + 6;
  const head = [...modes, 'enforced']
    .map(
      (m, i) =>
        `<text x="${left + i * cellW + cellW / 2}" y="14" text-anchor="middle" class="small">${m}</text>`,
    )
    .join('');
  const rows = layers
    .map((l, row) => {
      const y = top + row * cellH;
      const cells = modes
        .map((m, col) => {
          const n = l.policies[m];
          const fill = n > 0 ? COLOURS[m] : COLOURS.track;
          return `<g data-cell="${l.layer}-${m}"><title>${l.layer}, ${m}: ${plural(n, 'policy', 'policies')}</title><rect x="${left + col * cellW + 2}" y="${y + 2}" width="${cellW - 4}" height="${cellH - 4}" rx="4" fill="${fill}"/><text x="${left + col * cellW + cellW / 2}" y="${y + 20}" text-anchor="middle" fill="${n > 0 ? '#fff' : COLOURS.faint}">${n}</text></g>`;
        })
        .join('');
      const enforced = `<text x="${left + modes.length * cellW + cellW / 2}" y="${y + 20}" text-anchor="middle">${l.enforced}/${l.actions}</text>`;
      return `<g data-layer="${l.layer}" data-mode="${l.mode ?? 'none'}"><text x="${left - 8}" y="${y + 20}" text-anchor="end">${l.layer}</text>${cells}${enforced}</g>`;
    })
    .join('\n');
  return svg('modes', width, height, 'Mode per layer', head + rows);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: ${COLOURS.ink}; background: #f6f7f9; }
header { display: flex; flex-wrap: wrap; gap: 32px; align-items: center; padding: 24px 32px; background: #fff; border-bottom: 1px solid ${COLOURS.muted}; }
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
article { background: #fff; border: 1px solid ${COLOURS.muted}; border-left: 4px solid ${COLOURS.muted}; border-radius: 6px; padding: 8px 16px; margin: 8px 0; }
article.met { border-left-color: ${COLOURS.met}; }
article.unmet { border-left-color: ${COLOURS.unmet}; }
article h3 { margin: 4px 0; font-size: 16px; }
.badge { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 4px; background: ${COLOURS.ink}; color: #fff; }
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
