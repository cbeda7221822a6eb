import { describe, expect, it } from 'vitest';
import { KINDS, validateObject } from '../../crds/index.js';
import type { SchemaNode } from '../../crds/schema/common.js';
import type { ActionEvidence, IsolatedWorkloadEvidence } from '../../policies/index.js';
import { evidenceSpec } from './evidence.js';

/**
 * The API server keeps only the fields a structural schema declares and prunes the
 * rest without an error, so evidence the schema does not name would vanish silently.
 * These tests check every field evidenceSpec writes is declared, and that the bounds
 * hold.
 */
const spec = KINDS.find((k) => k.kind === 'PreemptiveAction')!.spec;

/** Paths of `value` that `node` does not declare (what the API server would prune). */
function undeclared(node: SchemaNode, value: unknown, path: string): string[] {
  if (Array.isArray(value))
    return node.items ? value.flatMap((v, i) => undeclared(node.items!, v, `${path}[${i}]`)) : [];
  if (value === null || typeof value !== 'object' || node['x-kubernetes-preserve-unknown-fields'])
    return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const child = node.properties?.[key];
    return child ? undeclared(child, v, `${path}.${key}`) : [`${path}.${key}`];
  });
}

const workload = (name: string, accounts: string[]): IsolatedWorkloadEvidence => ({
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name },
  isolation: `kev-isolate-shop-deployment-${name}`,
  accounts,
});

const isolate: ActionEvidence = {
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'checkout' },
  internetFacing: true,
  exposure: [{ kind: 'LoadBalancer', via: 'Service shop/checkout (LoadBalancer)' }],
  vulnerabilities: [
    {
      cveID: 'CVE-2025-24813',
      container: 'app',
      image: 'registry.example.org/shop/checkout:2.4.1',
      installedVersion: '10.1.34',
      severity: 'CRITICAL',
    },
  ],
};

function action(evidence: unknown) {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name: 'kev-stepupauth' },
    spec: { type: 'StepUpAuth', layer: 'identity', indicators: { count: 2 }, evidence },
  };
}

describe('evidenceSpec', () => {
  it('GIVEN an identity action with isolated workloads THEN spec.evidence.isolatedWorkloads names them, every field is declared by the schema, and it validates', () => {
    const evidence = evidenceSpec({
      isolatedWorkloads: [workload('checkout', ['alice@corp.example', 'bob'])],
    });
    expect(evidence).toEqual({
      isolatedWorkloads: [workload('checkout', ['alice@corp.example', 'bob'])],
    });
    expect(undeclared(spec, { evidence }, 'spec')).toEqual([]);
    expect(validateObject(action(evidence)).ok).toBe(true);
  });

  it('GIVEN more isolated workloads and accounts than the schema allows THEN both lists are cut to 256', () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      workload(
        `w${i}`,
        Array.from({ length: 300 }, (_, j) => `user${j}`),
      ),
    );
    const evidence = evidenceSpec({ isolatedWorkloads: many })!;
    expect(evidence.isolatedWorkloads).toHaveLength(256);
    expect(evidence.isolatedWorkloads![0]!.accounts).toHaveLength(256);
    expect(validateObject(action(evidence)).ok).toBe(true);
  });

  it("GIVEN an Isolate's evidence THEN it is stored as before, and declared", () => {
    const evidence = evidenceSpec({ evidence: isolate });
    expect(evidence).toEqual({
      vulnerabilities: isolate.vulnerabilities,
      exposure: ['Service shop/checkout (LoadBalancer)'],
    });
    expect(undeclared(spec, { evidence }, 'spec')).toEqual([]);
  });

  it('GIVEN an action with no evidence and no isolated workloads THEN there is no evidence to store', () => {
    expect(evidenceSpec({})).toBeUndefined();
    expect(evidenceSpec({ isolatedWorkloads: [] })).toBeUndefined();
  });

  it('GIVEN a field the schema does not declare THEN the check finds it (it can fail)', () => {
    expect(
      undeclared(
        spec,
        { evidence: { isolatedWorkloads: [{ ...workload('x', []), extra: 1 }] } },
        'spec',
      ),
    ).toEqual(['spec.evidence.isolatedWorkloads[0].extra']);
  });
});
