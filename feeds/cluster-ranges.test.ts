import { describe, expect, it } from 'vitest';
import { clusterRangesOf } from './cluster-ranges.js';

describe('clusterRangesOf: one rule set for forestall plan and the controller', () => {
  it('GIVEN Services, Nodes, a ServiceCIDR and the kubernetes EndpointSlice THEN it returns their addresses and ranges, without headless Services', () => {
    expect(
      clusterRangesOf([
        {
          kind: 'Service',
          spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'] },
        },
        { kind: 'Service', spec: { clusterIP: 'None' } },
        { kind: 'Service', spec: { clusterIP: '10.96.1.1' } },
        {
          kind: 'Node',
          spec: { podCIDR: '10.244.0.0/24' },
          status: {
            addresses: [
              { type: 'InternalIP', address: '10.0.0.5' },
              { type: 'Hostname', address: 'n1' },
            ],
          },
        },
        { kind: 'ServiceCIDR', spec: { cidrs: ['10.96.0.0/16'] } },
        {
          kind: 'EndpointSlice',
          metadata: { labels: { 'kubernetes.io/service-name': 'kubernetes' } },
          endpoints: [{ addresses: ['172.18.0.2'] }],
        },
        {
          kind: 'EndpointSlice',
          metadata: { labels: { 'kubernetes.io/service-name': 'web' } },
          endpoints: [{ addresses: ['10.244.0.9'] }],
        },
        null,
      ]),
    ).toEqual([
      '10.0.0.5',
      '10.244.0.0/24',
      '10.96.0.0/16',
      '10.96.0.10',
      '10.96.1.1',
      '172.18.0.2',
      'fd00:10:96::a',
    ]);
  });
});
