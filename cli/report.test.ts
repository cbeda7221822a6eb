import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTION_PHASES } from '../crds/index.js';
import { ATTACK, techniquesFor, type NavigatorLayer } from '../report/attack/index.js';
import type { CoverageAction } from '../report/facts.js';
import { countedPhases, runReport } from './report.js';
import { runInProcess } from './test-support.js';

const EXAMPLES = new URL('../examples', import.meta.url).pathname;
const NOW = ['--now', '2026-08-22T12:00:00Z'];

const report = (...args: string[]) => runInProcess(runReport, args);

const layerOf = (text: string) => JSON.parse(text) as NavigatorLayer;
const technique = (layer: NavigatorLayer, id: string) =>
  layer.techniques.find((t) => t.techniqueID === id);

describe('forestall report attack, offline on examples/', () => {
  it('GIVEN the examples THEN the layer scores what the plan enforces (decision auto) and names those actions and their feeds', async () => {
    const r = await report('attack', EXAMPLES, ...NOW);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'forestall report attack: 75 techniques covered by 2 enforced actions (of 6)\n',
    );
    const layer = layerOf(r.stdout);
    expect(layer.versions).toEqual({ attack: '18', navigator: '5.2.0', layer: '4.5' });
    for (const t of layer.techniques)
      expect(ATTACK.techniques[t.techniqueID], t.techniqueID).toBeDefined();

    // T1071.001 Web Protocols: M1037, which c2-egress-deny-critical's EgressDeny (auto) implements.
    expect(technique(layer, 'T1071.001')!.comment).toBe(
      'Mitigated by 1 action: c2-egress-deny-critical/c2-egress-deny-critical-egressdeny (EgressDeny, Enforced; M1037 Filter Network Traffic). Feeds: ipsum.',
    );
    // T1190: M1037 (that EgressDeny) and M1030 (the helpdesk isolation, auto).
    const t1190 = technique(layer, 'T1190')!;
    expect(t1190.score).toBe(2);
    expect(t1190.comment).toContain(
      'kev-isolate-internet-facing/kev-isolate-internet-facing-isolate-support-deployment-helpdesk (Isolate, Enforced; M1030 Network Segmentation)',
    );
    expect(t1190.comment).toContain('Feeds: cisa-kev, ipsum.');
    // The DNS block needs approval and the Audit policy's EgressDeny is only reported.
    expect(technique(layer, 'T1566')).toBeUndefined();
    expect(r.stdout).not.toContain('c2-egress-deny/c2-egress-deny-egressdeny');
    expect(r.stdout).not.toContain('isolate-shop-deployment-checkout');
  });

  it('GIVEN --planned and --out FILE THEN the actions awaiting approval count too, and the layer goes to FILE', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'forestall-report-')), 'layer.json');
    const r = await report('attack', EXAMPLES, '--planned', '--out', out, ...NOW);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('covered by 5 enforced or planned actions (of 6); layer written to');
    const layer = layerOf(await readFile(out, 'utf8'));
    // T1566 Phishing: M1021, through the DNS block awaiting approval.
    expect(technique(layer, 'T1566')!.comment).toBe(
      'Mitigated by 1 action: block-malware-domains/block-malware-domains-dnsblock (DNSBlock, Proposed; M1021 Restrict Web-Based Content). Feeds: malware-domains.',
    );
    // Every technique StepUpAuth's M1032 mitigates is there, naming the step-up action.
    for (const id of techniquesFor('StepUpAuth'))
      expect(technique(layer, id)!.comment).toContain(
        'kev-isolate-internet-facing-stepupauth (StepUpAuth, Proposed; M1032',
      );
    expect(layer.metadata).toContainEqual({
      name: 'counted',
      value: 'enforced or planned actions: 5 of 6',
    });
  });

  it('GIVEN a directory with no feeds and no policies THEN the layer is valid and empty, and both it and standard error say why', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'forestall-report-'));
    const r = await report('attack', empty);
    expect(r.code).toBe(0);
    const layer = layerOf(r.stdout);
    expect(layer.techniques).toEqual([]);
    expect(layer.description).toContain(
      'No ThreatFeeds were found, so no policy has indicators to act on. Nothing is enforced: there are no actions.',
    );
    expect(r.stderr).toContain('0 techniques covered by 0 enforced actions (of 0)\n');
    expect(r.stderr).toContain('No ThreatFeeds were found');
  });

  it.each([
    [[], 'forestall report: name a report'],
    [['nonsense'], 'forestall report: unknown report "nonsense"'],
    [['readiness'], 'forestall report readiness: give at least one PATH'],
    [['attack'], 'give at least one PATH'],
    [['attack', EXAMPLES, '--json'], '--json is a plan flag'],
    [['attack', EXAMPLES, '--out', EXAMPLES], 'is a directory; give a FILE'],
    [['attack', EXAMPLES, '--bogus'], "Unknown option '--bogus'"],
    [['attack', EXAMPLES, '--kubeconfig', '/nonexistent'], 'give no PATH'],
    [['attack', '--kubeconfig', '/nonexistent'], '/nonexistent: no such file or directory'],
  ])('GIVEN report %j THEN it is bad usage: exit 2 and why', async (args, says) => {
    const r = await report(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(says);
  });
});

describe('countedPhases', () => {
  const phases = [...ACTION_PHASES, 'Audit'];
  const counts = (planned: boolean) =>
    phases.filter((phase) => countedPhases(planned)({ phase } as CoverageAction));

  it('GIVEN no --planned THEN only Enforced counts', () => {
    expect(counts(false)).toEqual(['Enforced']);
  });

  it('GIVEN --planned THEN the phases on the way to enforcement count, never a terminal one or Audit', () => {
    expect(counts(true)).toEqual(['Pending', 'Proposed', 'Enforced']);
  });
});

describe('forestall report readiness, offline on examples/', () => {
  it('GIVEN the examples THEN the text names the level, its evidence and the next step', async () => {
    const r = await report('readiness', EXAMPLES, ...NOW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Forestall readiness: level 3 of 5, Policy-based integration\n/);
    // block-malware-domains enforces the dns layer, but its DNSBlock waits for review.
    expect(r.stdout).toContain(
      "Next step: Get the dns layer's action enforced: approve it (forestall approve, or merge the pull request), or let its Enforce policy's spec.autoApprove allow it.",
    );
    // KEV dateAdded 2023-10-10 to 2026-08-22T12:00Z: the exposure window if enforced now.
    expect(r.stdout).toMatch(/Exposure window: p50 1047\.5 d/);
    expect(r.stdout).toMatch(/Initial Access 4\/22/);
  });

  it('GIVEN --json and --html THEN .level is a number and the page is written, self-contained', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forestall-readiness-'));
    const page = join(dir, 'readiness.html');
    const r = await report('readiness', EXAMPLES, ...NOW, '--json', '--html', page);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as {
      level: number;
      source: string;
      levels: { level: number; met: boolean }[];
    };
    expect(json.level).toBe(3);
    expect(json.source).toBe('files');
    expect(json.levels.map((l) => l.met)).toEqual([true, true, true, false, false]);
    expect(r.stderr).toBe(`forestall report readiness: level 3; page written to ${page}\n`);
    const html = await readFile(page, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('GIVEN a directory with no Forestall objects THEN it says so plainly at level 1, not met', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'forestall-readiness-empty-'));
    const r = await report('readiness', empty, ...NOW, '--json');
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as {
      level: number;
      summary: string[];
      levels: { met: boolean }[];
    };
    expect(json.level).toBe(1);
    expect(json.levels[0]!.met).toBe(false);
    expect(json.summary).toContain('no ThreatFeed is configured');
  });

  it('GIVEN bad usage THEN it exits 2 and names the flag', async () => {
    const r = await report('readiness', EXAMPLES, '--out', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out is a plan flag');
    const both = await report('readiness', EXAMPLES, '--kubeconfig', '/nonexistent');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give no PATH');
  });
});
