import { describe, expect, it } from 'vitest';
import { egressRequest, ipsumAddresses } from '../test-support.js';
import { MAX_OBJECT_BYTES, manifestBytes } from '../../core/render.js';
import type { Manifest } from '../../core/types.js';
import { aggregateCidrs } from '../cidrs.js';
import { calicoRenderer as renderer, calicoSelector } from './index.js';

const ipsum = ipsumAddresses();

const request = egressRequest([]);

const sets = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'GlobalNetworkSet');
const policy = (manifests: Manifest[]) => manifests.find((m) => m.kind === 'GlobalNetworkPolicy')!;

describe('network:calico', () => {
  it('GIVEN a small request THEN a labelled network set and a policy in its own tier: Deny to the sets, then Pass', () => {
    const manifests = renderer.render(request());
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'GlobalNetworkSet/forestall-block-ipsum-7f3a-0',
      'GlobalNetworkPolicy/forestall.forestall-block-ipsum-7f3a',
    ]);
    expect(manifests).toMatchSnapshot();
    expect(sets(manifests)[0]!.metadata.labels?.['forestall.io/action']).toBe('block-ipsum-7f3a');
    expect(policy(manifests).spec).toEqual({
      tier: 'forestall',
      order: 100,
      selector: 'all()',
      namespaceSelector: 'all()',
      types: ['Egress'],
      egress: [
        { action: 'Deny', destination: { selector: "forestall.io/action == 'block-ipsum-7f3a'" } },
        { action: 'Pass' },
      ],
    });
  });

  it('GIVEN selectors and params THEN Calico selector expressions, the tier and the order', () => {
    const manifests = renderer.render(
      request({
        scope: {
          namespaces: [],
          workloadSelector: { matchLabels: { app: 'checkout' } },
          namespaceSelector: {
            matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }],
          },
        },
        params: { tier: 'security', order: 5.5 },
      }),
    );
    expect(policy(manifests).metadata.name).toBe('security.forestall-block-ipsum-7f3a');
    expect(policy(manifests).spec).toMatchObject({
      tier: 'security',
      order: 5.5,
      selector: "app == 'checkout'",
      namespaceSelector: "env in {'prod', 'staging'}",
    });
  });

  it('GIVEN every selector operator THEN each has its Calico form, joined with &&', () => {
    expect(
      calicoSelector({
        matchLabels: { 'app.kubernetes.io/name': 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'NotIn', values: ['batch', 'cron'] },
          { key: 'exposed', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'zone', operator: 'In', values: ['a'] },
        ],
      }),
    ).toBe(
      "app.kubernetes.io/name == 'web' && tier not in {'batch', 'cron'} && has(exposed) && !has(legacy) && zone == 'a'",
    );
    expect(calicoSelector(undefined)).toBe('all()');
    expect(calicoSelector({})).toBe('all()');
  });

  it('GIVEN all 120,430 IPsum addresses THEN network sets under the budget holding exactly the minimal cover', () => {
    const manifests = renderer.render(request({ values: ipsum }));
    expect(sets(manifests)).toHaveLength(3);
    expect(sets(manifests).flatMap((s) => (s.spec as { nets: string[] }).nets)).toEqual(
      aggregateCidrs(ipsum).ipv4,
    );
    for (const m of manifests) expect(manifestBytes(m)).toBeLessThanOrEqual(MAX_OBJECT_BYTES);
  });

  it('GIVEN the default tier or a bad tier name THEN validate refuses, saying why', () => {
    expect(renderer.validate(request({ params: { tier: 'default' } }))[0]).toMatch(
      /^params.tier must not be "default": a final Pass there would skip the Kubernetes NetworkPolicies/,
    );
    expect(renderer.validate(request({ params: { tier: 'Has Space', order: -1 } }))).toEqual([
      'params.order must be at least 0, not -1',
      'params.tier is not a valid tier name: "Has Space"',
    ]);
  });

  it('GIVEN a selector value that could break out of the expression THEN validate refuses it', () => {
    expect(
      renderer.validate(
        request({
          scope: { namespaces: [], workloadSelector: { matchLabels: { app: "x' || all() || '" } } },
        }),
      ),
    ).toEqual([
      'scope.workloadSelector.matchLabels["app"] is not a valid label value: "x\' || all() || \'"',
    ]);
  });
});
