import { HttpSender, type HttpOptions } from './http.js';
import type { CveFinding, Notification, Notifier, SendOptions } from './types.js';

/**
 * Slack incoming webhooks: a POST of {text, blocks} as JSON to the webhook URL.
 *
 * `text` is the fallback Slack shows in notifications and where blocks cannot be shown;
 * `blocks` holds a header, a section with the summary and fields, one or more sections
 * each for targets, the CVEs (why), exposure paths, remediation and links, and a context
 * line with the delivery id.
 *
 * Slack's limits are kept, so a long CVE list never makes Slack answer 400
 * invalid_blocks: at most 50 blocks, 3000 characters per section text, 10 fields of at
 * most 2000 characters, 150 characters of header. Slack also refuses messages whose
 * blocks add up to somewhat more than 13,000 characters (msg_blocks_too_long; the
 * threshold is not documented), so the whole is kept under 12,000. What does not fit is
 * cut, remediation last, and a line says how much was left out.
 *
 * Escaping follows Slack's formatting rules: in mrkdwn text (and the top-level text)
 * `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`, so no value from a feed or a
 * report can form a link or a mention (<!channel>). plain_text (the header) is not
 * parsed for those, so it is not escaped.
 */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  /** Our own bound for the fallback text; Slack truncates at 40,000. */
  text: 3000,
  /** Sum of block text; below the undocumented msg_blocks_too_long threshold. */
  totalText: 12_000,
} as const;

/**
 * Longest value rendered on one line, before escaping. Escaping at most quintuples it
 * (`&` → `&amp;`), so an escaped line stays under the 3000 characters of a section.
 */
const MAX_LINE = 500;
/** Characters kept for the "not shown" note: its words and an escaped action name. */
const NOTE_RESERVE = 600;
/** Lines per list before "…and N more". */
const LIST_CAPS = { targets: 20, why: 25, exposure: 10, remediation: 20 } as const;

export interface SlackText {
  type: 'mrkdwn' | 'plain_text';
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text?: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] };

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

export class SlackNotifier implements Notifier {
  readonly type = 'Slack' as const;
  readonly target: string;
  private readonly http: HttpSender;

  /** Throws FST_NOTIFY_INVALID_URL or FST_NOTIFY_INVALID_CONFIG (see HttpSender). */
  constructor(url: string, options: HttpOptions = {}) {
    this.http = new HttpSender('Slack', url, options);
    this.target = this.http.target;
  }

  async send(notification: Notification, options: SendOptions = {}): Promise<void> {
    await this.http.post({
      body: JSON.stringify(slackMessage(notification)),
      headers: { 'content-type': 'application/json' },
      what: `post ${notification.event} of action ${notification.action.name}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/** Slack's escaping for mrkdwn text: only these three characters, `&` first. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The message for a notification, within SLACK_LIMITS. Pure. */
export function slackMessage(n: Notification): SlackMessage {
  const header: SlackBlock = {
    type: 'header',
    text: {
      type: 'plain_text',
      text: cut(`${n.event}: ${n.action.type} ${n.action.name}`, SLACK_LIMITS.headerText),
      emoji: false,
    },
  };
  const fields = [
    field('Event', n.event),
    field('Action', n.action.name),
    field('Type', `${n.action.type} (${n.action.layer})`),
    ...(n.cluster ? [field('Cluster', n.cluster)] : []),
    ...(n.action.policy ? [field('Policy', n.action.policy)] : []),
    ...(n.action.connector ? [field('Connector', n.action.connector)] : []),
    field('Time', n.time),
  ].slice(0, SLACK_LIMITS.fields);
  const main: SlackBlock = {
    type: 'section',
    text: mrkdwn(escapeMrkdwn(cut(n.summary || `${n.event} ${n.action.name}`, MAX_LINE))),
    fields,
  };
  const context: SlackBlock = {
    type: 'context',
    elements: [mrkdwn(`Forestall · delivery ${escapeMrkdwn(cut(n.id, 200))}`)],
  };

  const groups: Group[] = [
    {
      key: 'targets',
      title: 'Targets',
      lines: capped(
        n.targets.map(
          (t) =>
            `• ${escapeMrkdwn(cut(`${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`, MAX_LINE))}`,
        ),
        LIST_CAPS.targets,
      ),
    },
    { key: 'why', title: 'Why', lines: whyLines(n) },
    {
      key: 'exposure',
      title: 'Exposure',
      lines: capped(
        (n.why.exposure ?? []).map((p) => `• ${escapeMrkdwn(cut(p, MAX_LINE))}`),
        LIST_CAPS.exposure,
      ),
    },
    {
      key: 'remediation',
      title: 'Remediation',
      lines: capped(
        n.remediation.map((r, i) => `${i + 1}. ${escapeMrkdwn(cut(r, MAX_LINE))}`),
        LIST_CAPS.remediation,
      ),
    },
    { key: 'links', title: 'Links', lines: linkLines(n) },
  ];
  const fixedBlocks = 3;
  const fixedChars = textLength([header, main, context]);
  // One block, and its characters, are kept for the "not shown" note.
  const kept = fit(
    groups,
    SLACK_LIMITS.blocks - fixedBlocks - 1,
    SLACK_LIMITS.totalText - fixedChars - NOTE_RESERVE,
  );
  const sections: SlackBlock[] = [];
  let omitted = 0;
  for (const group of groups) {
    const lines = kept.get(group.key) ?? [];
    omitted += group.lines.length - lines.length;
    sections.push(...toSections(group.title, lines));
  }
  if (omitted > 0) {
    sections.push({
      type: 'section',
      text: mrkdwn(
        `_${omitted} more ${omitted === 1 ? 'line' : 'lines'} not shown (Slack message limits); see PreemptiveAction ${escapeMrkdwn(cut(n.action.name, 100))}_`,
      ),
    });
  }
  return {
    text: escapeMrkdwn(cut(`${n.event}: ${n.summary || n.action.name}`, MAX_LINE)),
    blocks: [header, main, ...sections, context],
  };
}

interface Group {
  key: string;
  title: string;
  /** Escaped mrkdwn, one list item each. */
  lines: string[];
}

function whyLines(n: Notification): string[] {
  const lines: string[] = [];
  if (n.why.reason) lines.push(escapeMrkdwn(cut(n.why.reason, MAX_LINE)));
  lines.push(...capped((n.why.cves ?? []).map(cveLine), LIST_CAPS.why));
  return lines;
}

/** "• *CVE-2024-3094* · CRITICAL · KEV since 2024-03-29 · known ransomware use · xz-utils 5.6.0, fixed in 5.6.1 · container web (img)" */
function cveLine(c: CveFinding): string {
  // Each part is bounded so the escaped line stays under MAX_LINE·5 as well.
  const parts = [`*${escapeMrkdwn(cut(c.cveID, 40))}*`];
  if (c.severity) parts.push(escapeMrkdwn(cut(c.severity, 16)));
  if (c.dateAdded) parts.push(`KEV since ${escapeMrkdwn(cut(c.dateAdded, 16))}`);
  if (c.knownRansomwareCampaignUse?.toLowerCase() === 'known') parts.push('known ransomware use');
  const product = [c.vendor, c.product].filter(Boolean).join(' ');
  if (product) parts.push(escapeMrkdwn(cut(product, 80)));
  const pkg = [c.package, c.installedVersion].filter(Boolean).join(' ');
  const fix = c.fixedVersion?.trim() ? `fixed in ${c.fixedVersion.trim()}` : 'no fixed version yet';
  parts.push(escapeMrkdwn(cut(pkg ? `${pkg}, ${fix}` : fix, 120)));
  if (c.container || c.image)
    parts.push(
      escapeMrkdwn(
        cut(
          [c.container ? `container ${c.container}` : '', c.image ? `(${c.image})` : '']
            .filter(Boolean)
            .join(' '),
          200,
        ),
      ),
    );
  return `• ${parts.join(' · ')}`;
}

function linkLines(n: Notification): string[] {
  // One a line: each is bounded by MAX_LINE, two together might not fit a section.
  const links: string[] = [];
  if (n.links?.pullRequest) links.push(link(n.links.pullRequest, 'Pull request'));
  if (n.links?.action) links.push(link(n.links.action, 'PreemptiveAction'));
  return links;
}

/** <url|label> for http(s) URLs; anything else is shown as text, never as a link. */
function link(url: string, label: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${label}: ${escapeMrkdwn(cut(url, MAX_LINE))}`;
  }
  if (
    (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') ||
    parsed.href.length > MAX_LINE
  )
    return `${label}: ${escapeMrkdwn(cut(url, MAX_LINE))}`;
  // `|` would end the URL part of the link.
  return `<${escapeMrkdwn(parsed.href.replace(/\|/g, '%7C'))}|${label}>`;
}

function capped(lines: string[], cap: number): string[] {
  return lines.length <= cap
    ? lines
    : [...lines.slice(0, cap), `_…and ${lines.length - cap} more_`];
}

/**
 * Which lines of each group fit the block and character budgets. Groups are filled in
 * priority order (remediation first: it is what the reader acts on), and within a group
 * from the top; display order is the groups' own.
 */
function fit(groups: readonly Group[], maxBlocks: number, maxChars: number): Map<string, string[]> {
  const priority = ['remediation', 'targets', 'why', 'exposure', 'links'];
  const kept = new Map<string, string[]>(groups.map((g) => [g.key, []]));
  const cost = () => {
    let blocks = 0;
    let chars = 0;
    for (const group of groups) {
      const sections = toSections(group.title, kept.get(group.key)!);
      blocks += sections.length;
      chars += textLength(sections);
    }
    return { blocks, chars };
  };
  for (const key of priority) {
    const group = groups.find((g) => g.key === key);
    if (!group) continue;
    const lines = kept.get(key)!;
    for (const line of group.lines) {
      lines.push(line);
      const { blocks, chars } = cost();
      if (blocks > maxBlocks || chars > maxChars) {
        lines.pop();
        break;
      }
    }
  }
  return kept;
}

/** A titled list as sections of at most SLACK_LIMITS.sectionText characters each. */
function toSections(title: string, lines: readonly string[]): SlackBlock[] {
  if (lines.length === 0) return [];
  const sections: SlackBlock[] = [];
  let text = `*${title}*`;
  for (const line of lines) {
    if (text.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      sections.push({ type: 'section', text: mrkdwn(text) });
      text = line;
    } else {
      text = `${text}\n${line}`;
    }
  }
  sections.push({ type: 'section', text: mrkdwn(text) });
  return sections;
}

function textLength(blocks: readonly SlackBlock[]): number {
  let total = 0;
  for (const block of blocks) {
    if (block.type === 'context') total += block.elements.reduce((n, e) => n + e.text.length, 0);
    else {
      total += block.text?.text.length ?? 0;
      if (block.type === 'section')
        total += (block.fields ?? []).reduce((n, f) => n + f.text.length, 0);
    }
  }
  return total;
}

function field(label: string, value: string): SlackText {
  return mrkdwn(`*${label}*\n${escapeMrkdwn(cut(value, 150))}`);
}

function mrkdwn(text: string): SlackText {
  return { type: 'mrkdwn', text };
}

/**
 * At most `max` UTF-16 units (what String.length and, conservatively, Slack count), with
 * an ellipsis when cut; a surrogate pair is never split.
 */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let head = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${head}…`;
}
