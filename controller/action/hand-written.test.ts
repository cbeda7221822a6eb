import { describe, expect, it } from 'vitest';
import { defaultGuardrailConfig, Guardrails } from '../../feeds/index.js';
import { guardrailRefusal } from './hand-written.js';

const guardrails = new Guardrails(defaultGuardrailConfig({ clusterCidrs: ['10.96.0.0/12'] }));

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
