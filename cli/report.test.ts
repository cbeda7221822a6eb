import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTION_PHASES } from '../crds/index.js';
import { ATTACK, techniquesFor, type NavigatorLayer } from '../report/attack/index.js';
import type { CoverageAction } from '../report/facts.js';
import { countedPhases, runReport } from './report.js';

const EXAMPLES = new URL('../examples', import.meta.url).pathname;
const NOW = ['--now', '2026-08-22T12:00:00Z'];

async function report(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runReport(
    args,
    { write: (s: string) => (stdout += s) },
    { write: (s: string) => (stderr += s) },
  );
  return { code, stdout, stderr };
}

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
    [['readiness'], 'forestall report: unknown report "readiness"'],
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
