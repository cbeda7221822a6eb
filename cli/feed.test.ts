import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { printable } from './printable.js';

// The built command as a child process: the exit status is the contract (npm test builds dist/ first).
const bin = new URL('../dist/cli/main.js', import.meta.url).pathname;
const run = (...args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args], { maxBuffer: 64 << 20 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

async function feedFile(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'forestall-feed-')), 'feed.txt');
  await writeFile(file, text);
  return file;
}

describe('forestall feed parse: exit status', () => {
  it('GIVEN a feed of which every line is refused, malformed or dropped THEN it exits 1 saying nothing would be enforced', async () => {
    const file = await feedFile('# all bad\n8.8.8.8\n10.0.0.0/8\nnot an address!\n');
    const r = await run('feed', 'parse', file, '--format', 'lines');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /every record was refused \(1 malformed, 2 dropped by guardrails\); nothing would be enforced/,
    );
    expect(r.stdout).toMatch(/0 indicators kept from 3 records/);
  });

  it('GIVEN an empty file, or one of comments only THEN it exits 0 with a warning: an empty feed is no error', async () => {
    for (const text of ['', '# nothing today\n\n']) {
      const r = await run('feed', 'parse', await feedFile(text), '--format', 'lines', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ indicators: 0, records: 0, rejected: 0 });
      expect(r.stderr).toMatch(/warning: .*: no records; an empty feed blocks nothing/);
    }
  });

  it.each([
    [['/nonexistent/feed.txt', '--format', 'lines'], /\/nonexistent\/feed\.txt: no such file/],
    [['FILE', '--format', 'lines', '--colour'], /Unknown option '--colour'/],
    [['FILE'], /--format must be one of/],
    [['FILE', '--format', 'lines', '--json', '--list'], /--json and --list do not go together/],
  ])('GIVEN bad usage %j THEN it exits 2 naming the problem', async (args, message) => {
    const file = await feedFile('192.0.2.1\n');
    const r = await run('feed', 'parse', ...args.map((a) => (a === 'FILE' ? file : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('forestall feed parse: trailing text', () => {
  const FEED =
    '77.90.185.20 junk\n77.90.185.21;evil.example\nevil.example/path extra\n77.90.185.22\t3\n77.90.185.23\t4\tjunk\n45.148.10.240\n';

  it('GIVEN trailing text on lines WHEN parsed without a score column THEN those lines are rejected and the summary counts them by reason', async () => {
    const r = await run('feed', 'parse', await feedFile(FEED), '--format', 'lines');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 indicators kept from 6 records/);
    expect(r.stdout).toMatch(
      /rejected: 5 \(trailing text after column 0 4, not an IP, CIDR, domain, URL, hash or CVE 1\)/,
    );
    expect(r.stdout).toMatch(
      /line 4: trailing text after column 0: "3" .*; if it is a score, set scoreColumn 1/,
    );
  });

  it('GIVEN the same lines WHEN read with --score-column 1, as IPsum is THEN the scored lines are kept and text after the score is rejected', async () => {
    const r = await run(
      'feed',
      'parse',
      await feedFile(FEED),
      '--format',
      'lines',
      '--score-column',
      '1',
      '--json',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      indicators: number;
      rejectedByReason: Record<string, number>;
    };
    expect(out.indicators).toBe(2);
    expect(out.rejectedByReason).toEqual({
      'score in column 1 is not a number': 2,
      'trailing text after column 1': 1,
      'not an IP, CIDR, domain, URL, hash or CVE': 1,
    });
  });
});

describe('forestall feed parse --list', () => {
  it('GIVEN kept, malformed and guardrail-dropped lines THEN stdout has each kept value normalised and stderr each refused input with its reason', async () => {
    const file = await feedFile(
      [
        '# a feed', // line 1
        '77.90.185.20', // 2
        'EVIL.Example', // 3: kept as evil.example
        '8.8.8.8', // 4: never-block
        '77.90.185.20 junk', // 5: trailing text
        '\u001b[31mred\u0007.example', // 6: control characters
        `${'a'.repeat(300)}!`, // 7: long
        '2.57.122.0/24', // 8
      ].join('\n'),
    );
    const r = await run('feed', 'parse', file, '--format', 'lines', '--list');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['2.57.122.0/24', 'evil.example', '77.90.185.20', '']);
    const refused = r.stderr
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(refused.map(([ref]) => ref)).toEqual(['line 4', 'line 5', 'line 6', 'line 7']);
    expect(refused[0]).toEqual(['line 4', '8.8.8.8', 'never-block:public-dns-v4']);
    expect(refused[1]!.slice(0, 2)).toEqual(['line 5', '77.90.185.20 junk']);
    expect(refused[1]![2]).toMatch(/^trailing text after column 0: "junk"/);
    // Untrusted input never reaches the terminal raw, and is cut.
    expect(refused[2]![1]).toBe('\\x1b[31mred\\x07.example');
    expect(
      [...r.stderr].filter((ch) => ch !== '\t' && ch !== '\n' && (ch < ' ' || ch === '\u007f')),
    ).toEqual([]);
    expect(refused[3]![1]).toBe(`${'a'.repeat(200)}…(301 chars)`);
    expect(refused.every((fields) => fields.length === 3)).toBe(true);
  });

  it('GIVEN the real IPsum snapshot with its score column THEN --list writes exactly the kept count to stdout and the dropped ones to stderr', async () => {
    const ipsum = new URL('../../shared/feeds/ipsum/ipsum-2026-08-22.txt', import.meta.url)
      .pathname;
    const r = await run(
      'feed',
      'parse',
      ipsum,
      '--format',
      'lines',
      '--score-column',
      '1',
      '--list',
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(120_382);
    const refused = r.stderr.trimEnd().split('\n');
    expect(refused).toHaveLength(48);
    expect(
      refused.every((line) => /^line \d+\t[\d.]+\tnever-block:public-dns-v4$/.test(line)),
    ).toBe(true);
  });
});

describe('printable', () => {
  it('GIVEN C0, DEL, C1, line separators and bidi overrides THEN each is escaped and the rest kept, up to the cap', () => {
    expect(printable('a\tb\nc\u007f\u0085\u2028\u202e\u2066é')).toBe(
      'a\\x09b\\x0ac\\x7f\\x85\\u{2028}\\u{202e}\\u{2066}é',
    );
    expect(printable('abcdef', 3)).toBe('abc…(6 chars)');
    expect(printable('abc', 3)).toBe('abc');
  });
});
