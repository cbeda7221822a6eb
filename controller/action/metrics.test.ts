import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { PreemptiveAction, PreemptiveActionStatus } from '../../crds/index.js';
import { ActionMetrics, countActions } from './metrics.js';

function action(name: string, type: string, status?: PreemptiveActionStatus): PreemptiveAction {
  return {
    apiVersion: 'forestall.io/v1alpha1',
    kind: 'PreemptiveAction',
    metadata: { name, creationTimestamp: '2026-11-23T08:00:00Z' },
    spec: { type, layer: 'network', indicators: { count: 1 } },
    ...(status ? { status } : {}),
  } as unknown as PreemptiveAction;
}

const ready = (status: 'True' | 'False', reason: string) => [
  { type: 'Ready', status, reason, message: reason, lastTransitionTime: '' },
];
const notReady = (reason: string) => ready('False', reason);

/** The gauge's samples as "labels=value" lines, sorted, so a test reads like /metrics. */
async function samples(metrics: ActionMetrics, field: keyof ActionMetrics): Promise<string[]> {
  const { values } = await metrics[field].get();
  return values
    .map(
      (v) =>
        `${Object.entries(v.labels)
          .map(([k, l]) => `${k}=${String(l)}`)
          .join(',')} ${v.value}`,
    )
    .sort();
}

describe('countActions(): the gauges that describe every action at once', () => {
  it('GIVEN actions in several phases THEN they are counted by type and phase, an action without status as Pending', async () => {
    const metrics = new ActionMetrics(new Registry());
    countActions(metrics, [
      action('a', 'BlockEgress', { phase: 'Enforced' }),
      action('b', 'BlockEgress', { phase: 'Enforced' }),
      action('c', 'DNSBlock'),
    ]);

    expect(await samples(metrics, 'actionPhases')).toEqual([
      'type=BlockEgress,phase=Enforced 2',
      'type=DNSBlock,phase=Pending 1',
    ]);
  });

  it('GIVEN actions whose Ready is False THEN they are counted by type and reason, and a Ready action is not', async () => {
    const metrics = new ActionMetrics(new Registry());
    countActions(metrics, [
      action('a', 'BlockEgress', { phase: 'Enforced', conditions: notReady('ApplyFailed') }),
      action('b', 'BlockEgress', { phase: 'Failed', conditions: notReady('ApplyFailed') }),
      action('c', 'DNSBlock', { phase: 'Proposed', conditions: notReady('DeliveryFailed') }),
      action('d', 'DNSBlock', { phase: 'Enforced', conditions: ready('True', 'Enforced') }),
    ]);

    expect(await samples(metrics, 'actionsNotReady')).toEqual([
      'type=BlockEgress,reason=ApplyFailed 2',
      'type=DNSBlock,reason=DeliveryFailed 1',
    ]);
  });

  it('GIVEN Proposed actions THEN the oldest start of an episode per type is exported, falling back to creation', async () => {
    const metrics = new ActionMetrics(new Registry());
    countActions(metrics, [
      action('a', 'BlockEgress', { phase: 'Proposed', detectedAt: '2026-11-23T10:00:00Z' }),
      action('b', 'BlockEgress', { phase: 'Proposed', detectedAt: '2026-11-23T09:00:00Z' }),
      action('c', 'BlockEgress', { phase: 'Enforced', detectedAt: '2026-11-23T07:00:00Z' }),
      action('d', 'DNSBlock', { phase: 'Proposed' }),
    ]);

    expect(await samples(metrics, 'oldestProposed')).toEqual([
      `type=BlockEgress ${Date.parse('2026-11-23T09:00:00Z') / 1000}`,
      `type=DNSBlock ${Date.parse('2026-11-23T08:00:00Z') / 1000}`,
    ]);
  });

  it('GIVEN an action leaves Proposed and another is deleted WHEN recounted THEN no series is left behind', async () => {
    const metrics = new ActionMetrics(new Registry());
    countActions(metrics, [
      action('a', 'BlockEgress', { phase: 'Proposed', conditions: notReady('DeliveryFailed') }),
      action('b', 'DNSBlock', { phase: 'Enforced' }),
    ]);

    countActions(metrics, [action('a', 'BlockEgress', { phase: 'Enforced' })]);

    expect(await samples(metrics, 'actionPhases')).toEqual(['type=BlockEgress,phase=Enforced 1']);
    expect(await samples(metrics, 'actionsNotReady')).toEqual([]);
    expect(await samples(metrics, 'oldestProposed')).toEqual([]);
  });
});
