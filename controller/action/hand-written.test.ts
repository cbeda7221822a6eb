import { describe, expect, it } from 'vitest';
import type { PreemptiveAction } from '../../crds/index.js';
import { defaultGuardrailConfig, Guardrails } from '../../feeds/index.js';
import { guardrailRefusal as refusal, madeByPolicy } from './hand-written.js';
import { livePolicy, ownedByPolicy } from './test-support.js';

const guardrails = new Guardrails(defaultGuardrailConfig({ clusterCidrs: ['10.96.0.0/12'] }));
const egress = { type: 'EgressDeny', layer: 'network' } as const;
const guardrailRefusal = (values: string[], g: typeof guardrails) => refusal(egress, values, g);

describe('guardrailRefusal (hand-written actions)', () => {
  it('GIVEN the metadata address among public ones THEN it is refused, naming the indicator and the guardrail reason', () => {
    const message = guardrailRefusal(
      ['185.220.101.1', '169.254.169.254', '91.92.240.0/24'],
      guardrails,
    );
    expect(message).toMatch(
      /^spec\.indicators: 1 of 3 indicators are refused by the guardrails that policy actions pass: 169\.254\.169\.254 \(\S+\); nothing is applied$/,
    );
    expect(message).toContain(
      `169.254.169.254 (${guardrails.check({ type: 'ipv4', value: '169.254.169.254' })})`,
    );
  });

  it('GIVEN a cluster Service address, loopback and an over-broad range THEN each is named', () => {
    const message = guardrailRefusal(['10.96.0.10', '127.0.0.1', '4.0.0.0/6'], guardrails)!;
    expect(message).toContain('3 of 3');
    expect(message).toContain('10.96.0.10 (cluster)');
    expect(message).toContain('4.0.0.0/6 (too-broad)');
  });

  it('GIVEN many refused values THEN five are named and the rest counted', () => {
    const message = guardrailRefusal(
      Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`),
      guardrails,
    )!;
    expect(message).toContain('127.0.0.5 (');
    expect(message).not.toContain('127.0.0.6 (');
    expect(message).toContain('and 3 more');
  });

  it('GIVEN only values the guardrails allow, or cannot read THEN there is no refusal', () => {
    expect(
      guardrailRefusal(['185.220.101.1', 'evil.example', 'not an indicator ###'], guardrails),
    ).toBeUndefined();
  });
});

describe('guardrailRefusal: identity actions', () => {
  const block = { type: 'IdentityBlock', layer: 'identity' } as const;

  it.each([
    ['10.0.0.0/8', /10\.0\.0\.0\/8 \(\S+\)/],
    ['169.254.169.254', /169\.254\.169\.254 \(\S+\)/],
    ['::ffff:169.254.169.254', /169\.254\.169\.254 \(\S+\)/],
  ])(
    'GIVEN an IdentityBlock of %s THEN its sign-in zone is refused like an EgressDeny, naming spec.indicators',
    (value, named) => {
      const message = refusal(block, ['185.220.101.1', value], guardrails);
      expect(message).toMatch(/^spec\.indicators: 1 of 2 indicators are refused by the guardrails/);
      expect(message).toMatch(named);
      expect(message).toMatch(/; nothing is applied$/);
    },
  );

  it('GIVEN an IdentityBlock of public addresses THEN there is no refusal', () => {
    expect(refusal(block, ['185.220.101.1', '91.92.240.0/24'], guardrails)).toBeUndefined();
  });

  it('GIVEN account actions THEN their values are accounts, never judged as IPs or domains', () => {
    // Each value would be refused if it were read as an IP or a domain.
    const accounts = ['10.96.0.10', 'svc.cluster.local', 'alice@corp.example'];
    for (const type of ['IdentitySuspend', 'StepUpAuth'] as const)
      expect(refusal({ type, layer: 'identity' }, accounts, guardrails)).toBeUndefined();
    expect(refusal(egress, accounts.slice(0, 2), guardrails)).toContain('2 of 2');
  });

  it('GIVEN a policyRef the policy does not confirm THEN the refusal says why the action was judged', () => {
    const forged = { ...egress, policyRef: { name: 'no-such-policy' } };
    expect(refusal(forged, ['169.254.169.254'], guardrails)).toMatch(
      /; nothing is applied \(spec\.policyRef: ExposurePolicy no-such-policy did not make this action, so it is judged as written by hand\)$/,
    );
  });
});

describe('madeByPolicy', () => {
  const lookup = (name: string) => (name === 'deny' ? livePolicy : undefined);
  /** An action naming `policyRef`, with the ownerReferences given. */
  const action = (policyRef: string | undefined, owners: object[] = []) =>
    ({
      metadata: { name: 'a', ownerReferences: owners },
      spec: { ...(policyRef ? { policyRef: { name: policyRef } } : {}) },
    }) as unknown as PreemptiveAction;
  const owner = ownedByPolicy;

  it('GIVEN the controller ownerReference of the live policy it names THEN the policy made it', () => {
    expect(madeByPolicy(action('deny', [owner()]), lookup)).toBe(true);
  });

  it.each([
    ['no policyRef', action(undefined, [owner()])],
    ['a policyRef to a policy that does not exist', action('no-such-policy')],
    ['a policyRef to a live policy, no owner', action('deny')],
    [
      'an owner of another UID (a deleted policy of the same name)',
      action('deny', [owner({ uid: 'uid-old' })]),
    ],
    ['an owner that is not the controller', action('deny', [owner({ controller: false })])],
    ['an owner of another kind', action('deny', [owner({ kind: 'ThreatFeed' })])],
    ['an owner of another group', action('deny', [owner({ apiVersion: 'evil.example/v1' })])],
    ['an owner naming another policy', action('deny', [owner({ name: 'other' })])],
  ])('GIVEN %s THEN no policy made it', (_, a) => {
    expect(madeByPolicy(a, lookup)).toBe(false);
  });

  it('GIVEN no way to read policies THEN no policy is confirmed', () => {
    expect(madeByPolicy(action('deny', [owner()]), undefined)).toBe(false);
  });
});
