import { describe, expect, it } from 'vitest';
import { formatIssues, validateObject, withSchemaDefaults } from './validate.js';
import { ANNOTATION_DECISION, personDecision } from './domain.js';
import type { PreemptiveActionSpec } from './generated/types.js';

const feed = (spec: Record<string, unknown>) => ({
  apiVersion: 'forestall.io/v1alpha1',
  kind: 'ThreatFeed',
  metadata: { name: 'ipsum' },
  spec,
});

describe('validateObject', () => {
  it('GIVEN a ThreatFeed with two sources THEN it is rejected by the CRD rule, naming spec.source', () => {
    const r = validateObject(
      feed({
        format: 'lines',
        source: { http: { url: 'https://x/y' }, configMapRef: { name: 'a', key: 'b' } },
      }),
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && formatIssues(r.issues)).toBe(
      'spec.source: exactly one of source.http, source.taxii or source.configMapRef must be set',
    );
  });

  it('GIVEN a minimal valid ThreatFeed THEN schema defaults are filled in', () => {
    const r = validateObject(feed({ format: 'lines', source: { http: { url: 'https://x/y' } } }));
    expect(r.ok).toBe(true);
    expect(r.ok && r.object.spec).toMatchObject({
      refreshInterval: '1h',
      ttl: '168h',
      suspend: false,
      confidence: { default: 50 },
    });
  });

  it('GIVEN a bad enum and a bad duration THEN both fields are named', () => {
    const r = validateObject(
      feed({ format: 'yaml', refreshInterval: 'hourly', source: { http: { url: 'https://x' } } }),
    );
    expect(!r.ok && r.issues.map((i) => i.path).sort()).toEqual([
      'spec.format',
      'spec.refreshInterval',
    ]);
  });

  it.each([
    ['1ms', { http: { url: 'https://x/y' } }, false],
    ['30s', { http: { url: 'https://x/y' } }, false],
    ['1m', { http: { url: 'https://x/y' } }, true],
    ['500ms', { configMapRef: { name: 'a', key: 'b' } }, false],
    ['1s', { configMapRef: { name: 'a', key: 'b' } }, true],
  ])(
    'GIVEN refreshInterval %s on %j THEN the minimum rule passes: %s',
    (refreshInterval, source, ok) => {
      const r = validateObject(feed({ format: 'lines', refreshInterval, source }));
      expect(r.ok).toBe(ok);
      if (!r.ok)
        expect(formatIssues(r.issues)).toBe(
          'spec.refreshInterval: refreshInterval must be at least 1m for http and taxii sources, 1s for configMapRef',
        );
    },
  );

  it('GIVEN json without a path, and taxii with a non-stix format THEN the cross-field rules fire', () => {
    const r = validateObject(
      feed({ format: 'json', source: { taxii: { apiRoot: 'https://t/api/', collection: 'c' } } }),
    );
    expect(!r.ok && r.issues.map((i) => i.message)).toEqual([
      'format json needs parser.path',
      'a taxii source carries STIX objects: format must be stix',
    ]);
  });

  it('GIVEN a PreemptiveAction whose layer contradicts its type THEN it is rejected', () => {
    const r = validateObject({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'PreemptiveAction',
      metadata: { name: 'a' },
      spec: { type: 'DNSBlock', layer: 'network', indicators: { count: 1 } },
    });
    expect(!r.ok && formatIssues(r.issues)).toBe('spec.layer: DNSBlock acts on the dns layer');
  });

  it('GIVEN an unknown kind or apiVersion THEN the error says what was expected', () => {
    expect(validateObject({ apiVersion: 'forestall.io/v1alpha1', kind: 'Feed' })).toMatchObject({
      ok: false,
      issues: [{ path: 'kind' }],
    });
    expect(validateObject({ apiVersion: 'v1', kind: 'ThreatFeed' })).toMatchObject({
      ok: false,
      issues: [{ path: 'apiVersion' }],
    });
  });

  it('GIVEN unknown fields at every depth THEN each is refused by its path, as strict field validation does; action params take any key', () => {
    const r = validateObject({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ExposurePolicy',
      metadata: { name: 'p', lables: { a: 'b' } },
      sepc: {},
      spec: {
        feeds: { names: ['f'], nmaes: ['g'] },
        matchh: "indicator.type == 'ipv4'",
        actions: [
          { type: 'EgressDeny', params: { anything: { goes: 1 } } },
          { type: 'DNSBlock', conector: 'dns:rpz' },
        ],
      },
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.path)).toEqual([
      'sepc',
      'spec.feeds.nmaes',
      'spec.matchh',
      'spec.actions[1].conector',
      'metadata.lables',
    ]);
    expect(!r.ok && r.issues[0]!.message).toMatch(/unknown field/);
  });

  it('GIVEN a valid object with labels, annotations and status THEN no field is unknown', () => {
    const r = validateObject({
      apiVersion: 'forestall.io/v1alpha1',
      kind: 'ThreatFeed',
      metadata: { name: 'f', labels: { any: 'x' }, annotations: { 'a/b': 'c' } },
      spec: { format: 'lines', source: { http: { url: 'https://x.example/y' } } },
      status: { indicatorCount: 3 },
    });
    expect(r.ok ? [] : r.issues).toEqual([]);
  });
});

describe('personDecision', () => {
  const action = (annotation?: string) => ({
    metadata:
      annotation === undefined ? {} : { annotations: { [ANNOTATION_DECISION]: annotation } },
    spec: {
      type: 'EgressDeny',
      layer: 'network',
      indicators: { count: 1, digest: 'abc' },
    } as PreemptiveActionSpec,
  });

  it('GIVEN a well-formed decision about the current indicators THEN it is read, with its fields bounded', () => {
    const d = {
      verb: 'approve',
      digest: 'abc',
      by: 'alice',
      at: '2026-12-07T10:00:00Z',
      reason: 'ok',
    };
    expect(personDecision(action(JSON.stringify(d)))).toEqual(d);
  });

  it('GIVEN no annotation, broken JSON, an unknown verb or another digest THEN there is no decision', () => {
    expect(personDecision(action())).toBeUndefined();
    expect(personDecision(action('{'))).toBeUndefined();
    expect(
      personDecision(action(JSON.stringify({ verb: 'delete', digest: 'abc' }))),
    ).toBeUndefined();
    expect(
      personDecision(action(JSON.stringify({ verb: 'approve', digest: 'old' }))),
    ).toBeUndefined();
  });
});

describe('withSchemaDefaults', () => {
  it('GIVEN an action whose evidence leaves out a defaulted field THEN the copy has the default, as the API server stores it, and the original is untouched', () => {
    const spec = {
      policyRef: { name: 'p' },
      type: 'Isolate',
      layer: 'network',
      connector: 'network:networkpolicy',
      indicators: { count: 1, digest: 'd', values: ['CVE-2024-1'] },
      evidence: { vulnerabilities: [{ cveID: 'CVE-2024-1' }] },
    } as unknown as PreemptiveActionSpec;
    const action = {
      apiVersion: 'forestall.io/v1alpha1' as const,
      kind: 'PreemptiveAction' as const,
      metadata: { name: 'a' },
      spec,
    };
    const defaulted = withSchemaDefaults(action);
    expect(defaulted.spec.evidence?.vulnerabilities?.[0]?.knownRansomwareCampaignUse).toBe(false);
    expect(spec.evidence?.vulnerabilities?.[0]).toEqual({ cveID: 'CVE-2024-1' });
  });
});
