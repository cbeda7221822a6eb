import { describe, expect, it } from 'vitest';
import type { Indicator } from '../feeds/index.js';
import type { BlastRadius } from '../policies/types.js';
import {
  actionActivation,
  CelWorkload,
  EMPTY_WORKLOAD,
  indicatorActivation,
  IndicatorView,
  INDICATOR_FIELDS,
  workloadActivation,
  WORKLOAD_FIELDS,
  type ActionFacts,
  type WorkloadFacts,
} from './activation.js';
import { compileCel, evaluateBool } from './compile.js';
import { indicator, NOW, run } from './test-support.js';

describe('indicatorActivation', () => {
  const full: Required<Indicator> = {
    type: 'cve',
    value: 'CVE-2019-6693',
    confidence: 95,
    sources: ['kev'],
    firstSeen: '2026-08-01T00:00:00Z',
    lastSeen: '2026-08-20T00:00:00Z',
    validUntil: '2026-09-01T00:00:00Z',
    tags: ['kev', 'ransomware'],
    techniques: ['T1190'],
    ref: 'CVE-2019-6693',
    attributes: {
      vendor: 'Fortinet',
      product: 'FortiOS',
      dateAdded: '2021-11-03',
      knownRansomwareCampaignUse: true,
      epss: 0.97,
    },
  };

  it('GIVEN a full Indicator THEN the view has CEL types: int confidence, timestamps, lists and the attributes map', () => {
    const view = indicatorActivation(full);
    expect(view).toBeInstanceOf(IndicatorView);
    expect(view.confidence).toBe(95n);
    expect(view.firstSeen).toEqual(new Date('2026-08-01T00:00:00Z'));
    expect(view.validUntil).toEqual(new Date('2026-09-01T00:00:00Z'));
    expect(view.techniques).toEqual(['T1190']);
    expect(view.attributes).toBe(full.attributes);
  });

  it('GIVEN every Indicator field except ref THEN the CEL type declares it, and sourceConfidence besides', () => {
    const declared = Object.keys(INDICATOR_FIELDS).sort();
    expect(declared).toEqual(
      [...Object.keys(full).filter((k) => k !== 'ref'), 'sourceConfidence'].sort(),
    );
  });

  it('GIVEN a source confidence THEN a thin copy carries it and the cached view keeps 100', () => {
    const i = indicator();
    const lowered = indicatorActivation(i, 40);
    expect(lowered.sourceConfidence).toBe(40n);
    expect(lowered).toBeInstanceOf(IndicatorView);
    expect(lowered.value).toBe(i.value);
    expect(indicatorActivation(i).sourceConfidence).toBe(100n);
    expect(indicatorActivation(i, 100)).toBe(indicatorActivation(i));
  });

  it('GIVEN a sparse Indicator THEN techniques and attributes are empty and the timestamps absent', () => {
    const view = indicatorActivation({
      type: 'ipv4',
      value: '192.0.2.1',
      confidence: 50,
      sources: ['x'],
      tags: [],
    });
    expect(view.techniques).toEqual([]);
    expect(view.attributes).toEqual({});
    expect(view.firstSeen).toBeUndefined();
  });

  it('GIVEN the same Indicator twice THEN the view is built once, and it does not show in the Indicator', () => {
    const i = indicator();
    const copy = structuredClone(i);
    const view = indicatorActivation(i);
    expect(indicatorActivation(i)).toBe(view);
    expect(JSON.stringify(i)).toBe(JSON.stringify(copy));
    expect(Object.keys(i)).toEqual(Object.keys(copy));
    expect(i).toStrictEqual(copy);
    expect({ ...i }).toStrictEqual(copy);
    // A copy is another Indicator: it gets its own view.
    expect(indicatorActivation({ ...i })).not.toBe(view);
  });

  it('GIVEN a frozen Indicator THEN it still gets one view', () => {
    const frozen = Object.freeze(indicator({ value: '192.0.2.99' }));
    const view = indicatorActivation(frozen);
    expect(view.value).toBe('192.0.2.99');
    expect(indicatorActivation(frozen)).toBe(view);
  });

  it('GIVEN a KEV indicator THEN policies can read its attributes', () => {
    const source =
      "indicator.type == 'cve' && indicator.attributes.vendor == 'Fortinet' && indicator.attributes.knownRansomwareCampaignUse == true && indicator.attributes.epss > 0.9 && 'T1190' in indicator.techniques";
    expect(run(source, full)).toBe(true);
    expect(run(source, { ...full, attributes: { ...full.attributes, vendor: 'Cisco' } })).toBe(
      false,
    );
    expect(run("'vendor' in indicator.attributes", { attributes: undefined })).toBe(false);
  });

  it('GIVEN a confidence that is not a whole number THEN it is truncated to an int', () => {
    expect(indicatorActivation(indicator({ confidence: 79.9 })).confidence).toBe(79n);
  });
});

describe('actionActivation', () => {
  const blastRadius = (overrides: Partial<BlastRadius> = {}): BlastRadius => ({
    namespaces: 2,
    workloads: 5,
    pods: 12,
    users: 0,
    addresses: 256,
    production: false,
    ...overrides,
  });
  const action = (overrides: Partial<ActionFacts> = {}): ActionFacts => ({
    type: 'EgressDeny',
    layer: 'network',
    connector: 'network:networkpolicy',
    confidence: 92,
    request: { values: ['192.0.2.0/24', '198.51.100.7'] },
    blastRadius: blastRadius(),
    feeds: ['ipsum', 'spamhaus-drop'],
    policy: 'block-c2',
    ...overrides,
  });
  const approve = (source: string, a: ActionFacts): boolean => {
    const errors: string[] = [];
    const result = evaluateBool(
      compileCel(source, 'spec.autoApprove', 'autoApprove'),
      { action: actionActivation(a), now: NOW },
      (m) => errors.push(m),
    );
    expect(errors).toEqual([]);
    return result;
  };

  it.each([
    [{}, true],
    [{ blastRadius: blastRadius({ addresses: 65536 }) }, false],
    [{ blastRadius: blastRadius({ production: true }) }, false],
  ])('GIVEN the blast radius %j THEN the guard expression decides', (overrides, expected) => {
    expect(
      approve(
        'action.blastRadius.addresses <= 4096 && !action.blastRadius.production',
        action(overrides),
      ),
    ).toBe(expected);
  });

  it('GIVEN every field THEN each is usable with its CEL type', () => {
    const a = action();
    expect(
      approve(
        "action.type == 'EgressDeny' && action.layer == 'network' && action.connector.startsWith('network:')",
        a,
      ),
    ).toBe(true);
    expect(
      approve('action.confidence >= 90 && action.indicators == 2 && !action.production', a),
    ).toBe(true);
    expect(
      approve(
        "action.feeds.all(f, f in ['ipsum', 'spamhaus-drop']) && action.policy == 'block-c2'",
        a,
      ),
    ).toBe(true);
    expect(
      approve(
        'action.blastRadius.namespaces == 2 && action.blastRadius.workloads < 10 && action.blastRadius.pods == 12 && action.blastRadius.users == 0',
        a,
      ),
    ).toBe(true);
    expect(approve('action.indicators == 5', action({ indicators: 5 }))).toBe(true);
    expect(
      approve('action.production', action({ blastRadius: blastRadius({ production: true }) })),
    ).toBe(true);
  });

  it('GIVEN a blast radius beyond int64 THEN it is clamped, not lost', () => {
    expect(
      actionActivation(action({ blastRadius: blastRadius({ addresses: 2 ** 128 }) })).blastRadius
        .addresses,
    ).toBe((1n << 63n) - 1n);
    expect(
      approve(
        'action.blastRadius.addresses > 4096',
        action({ blastRadius: blastRadius({ addresses: 2 ** 128 }) }),
      ),
    ).toBe(true);
  });

  it('GIVEN a misspelt action field THEN it is a compile error, also inside has()', () => {
    expect(() =>
      compileCel('action.blastRadius.adresses < 10', 'spec.autoApprove', 'autoApprove'),
    ).toThrow(/spec\.autoApprove: No such key: adresses/);
    expect(() =>
      compileCel('has(action.blastRadius.adresses)', 'spec.autoApprove', 'autoApprove'),
    ).toThrow(/No such key: adresses/);
  });
});

describe('workloadActivation', () => {
  const kev: Indicator = {
    type: 'cve',
    value: 'CVE-2025-24813',
    confidence: 100,
    sources: ['cisa-kev'],
    tags: ['kev'],
    attributes: {
      vendor: 'Apache',
      product: 'Tomcat',
      dateAdded: '2025-04-01',
      knownRansomwareCampaignUse: false,
    },
  };
  const checkout: WorkloadFacts = {
    kind: 'Deployment',
    namespace: 'shop',
    name: 'checkout',
    labels: { 'app.kubernetes.io/name': 'checkout' },
    podLabels: { 'app.kubernetes.io/name': 'checkout', tier: 'api' },
    internetFacing: true,
    exposure: [
      {
        kind: 'Ingress',
        via: 'Ingress shop/storefront (host shop.example.com) → Service checkout:8080',
      },
    ],
    images: ['registry.example.org/shop/checkout:2.4.1'],
    finding: {
      container: 'app',
      installedVersion: '10.1.34',
      fixedVersion: '10.1.35',
      severity: 'CRITICAL',
    },
  };
  const match = (source: string, workload: WorkloadFacts | CelWorkload = checkout): boolean => {
    const errors: string[] = [];
    const result = evaluateBool(
      compileCel(source, 'spec.match', 'match'),
      {
        indicator: indicatorActivation(kev),
        workload: workload instanceof CelWorkload ? workload : workloadActivation(workload),
        now: NOW,
      },
      (m) => errors.push(m),
    );
    expect(errors).toEqual([]);
    return result;
  };

  it('GIVEN every field THEN each is usable with its CEL type', () => {
    expect(
      match(
        "workload.kind == 'Deployment' && workload.namespace == 'shop' && workload.name == 'checkout'",
      ),
    ).toBe(true);
    expect(
      match(
        "workload.labels['app.kubernetes.io/name'] == 'checkout' && workload.podLabels.tier == 'api' && 'tier' in workload.podLabels",
      ),
    ).toBe(true);
    expect(
      match(
        "workload.internetFacing && workload.exposure.exists(p, p.kind == 'Ingress' && p.via.contains('shop.example.com'))",
      ),
    ).toBe(true);
    expect(match("workload.images.exists(i, i.startsWith('registry.example.org/'))")).toBe(true);
    expect(
      match(
        "workload.container == 'app' && workload.installedVersion == '10.1.34' && workload.fixedVersion == '10.1.35' && workload.fixAvailable && workload.severity in ['CRITICAL', 'HIGH']",
      ),
    ).toBe(true);
    expect(match("indicator.attributes.dateAdded >= '2025-01-01' && workload.internetFacing")).toBe(
      true,
    );
  });

  it('GIVEN a finding without a fixed version THEN fixAvailable is false and fixedVersion empty', () => {
    expect(
      match("!workload.fixAvailable && workload.fixedVersion == ''", {
        ...checkout,
        finding: { container: 'app', installedVersion: '10.1.34', severity: 'CRITICAL' },
      }),
    ).toBe(true);
  });

  it('GIVEN the empty workload THEN every field is set: empty strings, lists and maps, and false', () => {
    expect(
      match(
        "workload.kind == '' && workload.namespace == '' && !workload.internetFacing && workload.exposure.size() == 0 && workload.images.size() == 0 && workload.labels.size() == 0 && !workload.fixAvailable && workload.severity == ''",
        EMPTY_WORKLOAD,
      ),
    ).toBe(true);
  });

  it('GIVEN a plain object as the workload THEN cel-js converts it', () => {
    expect(
      compileCel('workload.internetFacing', 'spec.match', 'match').evaluate({
        indicator: kev,
        workload: checkout,
        now: NOW,
      }),
    ).toBe(true);
  });

  it('GIVEN every field of the type THEN the CEL type declares it', () => {
    expect(Object.keys(WORKLOAD_FIELDS).sort()).toEqual(
      Object.keys(new CelWorkload(checkout)).sort(),
    );
  });

  it.each([
    ['workload.internetFaceing', 'No such key: internetFaceing'],
    ['has(workload.fixedVerison)', 'No such key: fixedVerison'],
    ["workload.exposure.exists(p, p.knd == 'Ingress')", 'No such key: knd'],
    ['workload.exposure.exists(p, has(p.vai))', 'No such key: vai'],
    ['workload.fixAvailable == 1', 'no such overload: bool == int'],
    ["workload.exposure.exists(p, p == 'Ingress')", 'no such overload: ExposurePath == string'],
  ])('GIVEN %j THEN it is a compile error, as for indicator', (source, message) => {
    expect(() => compileCel(source, 'spec.match', 'match')).toThrow(message);
  });
});
