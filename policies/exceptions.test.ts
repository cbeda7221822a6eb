import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec, ThreatExceptionSpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';
import { evaluatePolicy } from './engine.js';
import { compileException, type CompiledException } from './exceptions.js';
import { inventoryFromObjects } from './inventory.js';
import { deployment, namespace } from './test-support.js';
import type { FeedView } from './types.js';

const now = new Date('2026-12-07T12:00:00Z');
const cel = new CelCache();

function indicator(value: string, source = 'ipsum'): Indicator {
  const type = value.includes('/')
    ? 'cidr'
    : /^[0-9.]+$/.test(value)
      ? 'ipv4'
      : value.includes(':')
        ? 'ipv6'
        : 'domain';
  return { type, value, confidence: 90, sources: [source], tags: [] };
}

const feeds: FeedView[] = [
  {
    name: 'ipsum',
    labels: {},
    indicators: ['192.0.2.10', '192.0.2.11', '198.51.100.0/24', '2001:db8::7'].map((v) =>
      indicator(v),
    ),
  },
  {
    name: 'other',
    labels: {},
    indicators: [indicator('192.0.2.11', 'other')],
  },
  {
    name: 'domains',
    labels: {},
    indicators: ['c2.bad.test', 'cdn.bad.test', 'bad.test', 'evil.example'].map((v) =>
      indicator(v, 'domains'),
    ),
  },
];

const inventory = inventoryFromObjects([
  namespace('shop'),
  namespace('dev'),
  deployment('shop', 'web', { labels: { app: 'web' } }),
  deployment('dev', 'db', { labels: { app: 'db' } }),
]);

function policy(spec: Partial<ExposurePolicySpec> = {}, name = 'p') {
  return {
    name,
    generation: 1,
    spec: {
      feeds: { names: ['ipsum', 'other', 'domains'] },
      actions: [{ type: 'EgressDeny' }, { type: 'DNSBlock' }],
      mode: 'Enforce',
      autoApprove: 'true',
      ...spec,
    } as ExposurePolicySpec,
  };
}

function exception(name: string, spec: Partial<ThreatExceptionSpec>): CompiledException {
  const verdict = compileException(name, { reason: 'false positive', owner: 'secops', ...spec });
  expect(verdict.problems).toEqual([]);
  return verdict.exception!;
}

function plan(exceptions: CompiledException[], spec: Partial<ExposurePolicySpec> = {}, at = now) {
  return evaluatePolicy(policy(spec), feeds, inventory, { now: at, cel, connectors, exceptions });
}

const valuesOf = (e: ReturnType<typeof plan>, type: string) =>
  e.actions.find((a) => a.type === type)?.request.values;

describe('compileException', () => {
  it('GIVEN a range wider than /8, ::ffff:0.0.0.0/96, * or a top-level domain without broad THEN it is refused with the field, and with broad: true it is kept and flagged', () => {
    const wide = {
      reason: 'r',
      owner: 'o',
      cidrs: ['0.0.0.0/0', '::ffff:0.0.0.0/96', '10.0.0.0/8'],
      domains: ['*', 'com'],
    };
    const refused = compileException('wide', wide);
    expect(refused.exception).toBeUndefined();
    expect(refused.broad).toEqual([
      'spec.cidrs[0]: 0.0.0.0/0 is wider than /8 (IPv4)',
      'spec.cidrs[1]: ::ffff:0.0.0.0/96 is wider than /8 (IPv4)',
      'spec.domains[0]: * is every domain',
      'spec.domains[1]: com is a whole top-level domain',
    ]);
    expect(refused.problems.join()).toContain('set spec.broad to true');
    const allowed = compileException('wide', { ...wide, broad: true });
    expect(allowed.problems).toEqual([]);
    expect(allowed.exception!.broad).toBe(true);
  });

  it('GIVEN an unreadable range or nothing named THEN problems name the field', () => {
    expect(
      compileException('x', { reason: 'r', owner: 'o', cidrs: ['10.0.0.300/24'] }).problems,
    ).toEqual(['spec.cidrs[0]: "10.0.0.300/24" is not an address or CIDR']);
    expect(compileException('x', { reason: 'r', owner: 'o' }).problems).toEqual([
      'spec: name at least one of values, cidrs or domains',
    ]);
  });
});

describe('evaluatePolicy with ThreatExceptions', () => {
  it('GIVEN no exception THEN every indicator is planned (the reference for the cases below)', () => {
    const e = plan([]);
    expect(valuesOf(e, 'EgressDeny')).toEqual([
      '192.0.2.10',
      '192.0.2.11',
      '198.51.100.0/24',
      '2001:db8::7',
    ]);
    expect(valuesOf(e, 'DNSBlock')).toEqual([
      'bad.test',
      'c2.bad.test',
      'cdn.bad.test',
      'evil.example',
    ]);
    expect(e.excepted).toBeUndefined();
  });

  it('GIVEN exact values, an address inside a feed CIDR, an IPv4-mapped address and a domain THEN each leaves out what it names, the feed CIDR whole, and subdomains too', () => {
    const e = plan([
      exception('fp-values', { values: ['192.0.2.10'] }),
      exception('fp-range', { cidrs: ['198.51.100.7', '::ffff:192.0.2.11'] }),
      exception('fp-domain', { domains: ['*.bad.test'] }),
    ]);
    expect(valuesOf(e, 'EgressDeny')).toEqual(['2001:db8::7']);
    expect(valuesOf(e, 'DNSBlock')).toEqual(['evil.example']);
    const egress = e.actions.find((a) => a.type === 'EgressDeny')!;
    expect(egress.exceptions).toEqual([
      { name: 'fp-range', indicators: 2 },
      { name: 'fp-values', indicators: 1 },
    ]);
    expect(e.excepted).toEqual({
      indicators: 6,
      exceptions: [
        { name: 'fp-domain', indicators: 3, actions: ['p-dnsblock'] },
        { name: 'fp-range', indicators: 2, actions: ['p-egressdeny'] },
        { name: 'fp-values', indicators: 1, actions: ['p-egressdeny'] },
      ],
    });
    expect(e.exceptedAway).toEqual([]);
  });

  it('GIVEN an exception narrowed to one feed THEN an indicator another feed also lists stays', () => {
    const e = plan([exception('ipsum-only', { cidrs: ['192.0.2.0/24'], feeds: ['ipsum'] })]);
    expect(valuesOf(e, 'EgressDeny')).toEqual(['192.0.2.11', '198.51.100.0/24', '2001:db8::7']);
  });

  it('GIVEN an exception for another policy, or one that expired THEN nothing is left out', () => {
    const other = exception('elsewhere', { values: ['192.0.2.10'], policies: ['q'] });
    const expired = exception('old', { values: ['192.0.2.10'], expiresAt: '2026-12-07T11:59:59Z' });
    expect(valuesOf(plan([other, expired]), 'EgressDeny')).toContain('192.0.2.10');
    const later = exception('later', { values: ['192.0.2.10'], expiresAt: '2026-12-07T12:00:01Z' });
    expect(valuesOf(plan([later]), 'EgressDeny')).not.toContain('192.0.2.10');
  });

  it('GIVEN an exception narrowed to a namespace THEN it leaves values out of an egress deny scoped inside it, not of one that reaches further, and never of a DNS block', () => {
    const narrow = exception('shop-only', {
      values: ['192.0.2.10', 'evil.example'],
      namespaces: ['shop'],
    });
    const inside = plan([narrow], {
      scope: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } },
    });
    expect(valuesOf(inside, 'EgressDeny')).not.toContain('192.0.2.10');
    expect(valuesOf(inside, 'DNSBlock')).toContain('evil.example');
    const wider = plan([narrow]);
    expect(valuesOf(wider, 'EgressDeny')).toContain('192.0.2.10');
    const selected = exception('web-only', {
      values: ['192.0.2.10'],
      workloadSelector: { matchLabels: { app: 'web' } },
    });
    expect(valuesOf(plan([selected]), 'EgressDeny')).toContain('192.0.2.10');
    expect(
      valuesOf(
        plan([selected], { scope: { workloadSelector: { matchLabels: { app: 'web' } } } }),
        'EgressDeny',
      ),
    ).not.toContain('192.0.2.10');
  });

  it('GIVEN exceptions that leave an action with nothing THEN no action is planned and it is reported as excepted away', () => {
    const e = plan([exception('all-domains', { domains: ['*'], broad: true })]);
    expect(e.actions.map((a) => a.type)).toEqual(['EgressDeny']);
    expect(e.exceptedAway).toEqual([
      { action: 'p-dnsblock', exceptions: [{ name: 'all-domains', indicators: 4 }] },
    ]);
  });
});
