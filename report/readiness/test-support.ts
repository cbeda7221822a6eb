import type { CoverageAction, ReadinessFacts, TacticCoverage } from '../facts.js';

/**
 * ReadinessFacts fixtures for the readiness tests (unit and browser): one cluster per
 * level, built up step by step so that each level adds only what its criteria ask.
 */

const NOW = '2026-12-07T12:00:00Z';

/** The ATT&CK tactics in the matrix's order, with made-up technique counts and coverage. */
export function tactics(covered: Record<string, number> = {}): TacticCoverage[] {
  const rows: [string, string, string, number][] = [
    ['TA0043', 'reconnaissance', 'Reconnaissance', 44],
    ['TA0042', 'resource-development', 'Resource Development', 47],
    ['TA0001', 'initial-access', 'Initial Access', 22],
    ['TA0002', 'execution', 'Execution', 40],
    ['TA0003', 'persistence', 'Persistence', 130],
    ['TA0004', 'privilege-escalation', 'Privilege Escalation', 110],
    ['TA0005', 'defense-evasion', 'Defense Evasion', 210],
    ['TA0006', 'credential-access', 'Credential Access', 65],
    ['TA0007', 'discovery', 'Discovery', 49],
    ['TA0008', 'lateral-movement', 'Lateral Movement', 22],
    ['TA0009', 'collection', 'Collection', 37],
    ['TA0011', 'command-and-control', 'Command and Control', 45],
    ['TA0010', 'exfiltration', 'Exfiltration', 19],
    ['TA0040', 'impact', 'Impact', 45],
  ];
  return rows.map(([id, shortname, name, techniques]) => ({
    id,
    shortname,
    name,
    techniques,
    covered: covered[shortname] ?? 0,
  }));
}

const action = (
  name: string,
  policy: string,
  type: CoverageAction['type'],
  phase: string,
  feeds = ['ipsum'],
): CoverageAction => ({
  name,
  policy,
  type,
  layer:
    type === 'DNSBlock'
      ? 'dns'
      : type.startsWith('Identity') || type === 'StepUpAuth'
        ? 'identity'
        : type === 'Notify'
          ? 'notify'
          : 'network',
  feeds,
  phase,
});

const noFeedback = { rejected: 0, excepted: 0, lifted: 0, expiredClean: 0, feedsAdjusted: 0 };

/** A cluster with nothing configured. */
export function emptyCluster(): ReadinessFacts {
  return {
    source: 'cluster',
    target: 'kind-forestall (https://127.0.0.1:6443)',
    generatedAt: NOW,
    feeds: [],
    policies: [],
    actions: [],
    exceptions: 0,
    attack: { tactics: tactics(), techniquesCovered: 0 },
    feedback: { ...noFeedback },
  };
}

const ipsum = {
  name: 'ipsum',
  format: 'lines',
  indicators: 120_382,
  lastSyncAt: '2026-12-07T11:40:00Z',
  refreshIntervalSeconds: 3600,
  fresh: true,
};

/** Level 1: a fresh feed and a policy in Audit. */
export function level1(): ReadinessFacts {
  return {
    ...emptyCluster(),
    feeds: [ipsum],
    policies: [{ name: 'c2-egress', mode: 'Audit', layers: ['network'] }],
  };
}

/** Level 2: the policy proposes; two actions wait for review. */
export function level2(): ReadinessFacts {
  return {
    ...level1(),
    policies: [{ name: 'c2-egress', mode: 'Propose', layers: ['network'] }],
    actions: [
      action('c2-egress-a1', 'c2-egress', 'EgressDeny', 'Proposed'),
      action('c2-egress-a2', 'c2-egress', 'EgressDeny', 'Proposed'),
    ],
  };
}

/** Level 3: the policy enforces one use case, on the network layer. */
export function level3(): ReadinessFacts {
  return {
    ...level1(),
    policies: [{ name: 'c2-egress', mode: 'Enforce', layers: ['network'] }],
    actions: [
      action('c2-egress-a1', 'c2-egress', 'EgressDeny', 'Enforced'),
      action('c2-egress-a2', 'c2-egress', 'EgressDeny', 'Proposed'),
    ],
    timeToEnforce: { count: 1, p50: 4.2, p90: 4.2, p99: 4.2 },
    attack: {
      tactics: tactics({ 'command-and-control': 3, exfiltration: 1 }),
      techniquesCovered: 4,
    },
  };
}

/** Level 4: three feeds, network, DNS and workload enforced fast, initial access covered. */
export function level4(): ReadinessFacts {
  return {
    ...level3(),
    feeds: [
      ipsum,
      { ...ipsum, name: 'malware-domains', indicators: 8_211, format: 'csv' },
      {
        ...ipsum,
        name: 'cisa-kev',
        format: 'kev',
        indicators: 1_402,
        refreshIntervalSeconds: 86_400,
      },
    ],
    policies: [
      { name: 'c2-egress', mode: 'Enforce', layers: ['network'] },
      { name: 'malware-dns', mode: 'Enforce', layers: ['dns'] },
      { name: 'kev-isolate', mode: 'Enforce', layers: ['network'] },
      { name: 'phished-accounts', mode: 'Propose', layers: ['identity'] },
    ],
    actions: [
      action('c2-egress-a1', 'c2-egress', 'EgressDeny', 'Enforced'),
      action('c2-egress-a2', 'c2-egress', 'EgressDeny', 'Enforced'),
      action('malware-dns-a1', 'malware-dns', 'DNSBlock', 'Enforced', ['malware-domains']),
      action('kev-isolate-shop', 'kev-isolate', 'Isolate', 'Enforced', ['cisa-kev']),
      action('kev-isolate-blog', 'kev-isolate', 'Isolate', 'Expired', ['cisa-kev']),
      action('phished-a1', 'phished-accounts', 'IdentitySuspend', 'Proposed', ['ipsum']),
    ],
    timeToEnforce: { count: 4, p50: 3.1, p90: 48, p99: 95 },
    exposureWindow: { count: 4, p50: 1_800, p90: 7_200, p99: 21_600 },
    attack: {
      tactics: tactics({
        'resource-development': 4,
        'initial-access': 3,
        'command-and-control': 9,
        exfiltration: 2,
        impact: 1,
      }),
      techniquesCovered: 19,
    },
  };
}

/** Level 5: as level 4, and reviewer decisions and expiries tune the sources. */
export function level5(): ReadinessFacts {
  const base = level4();
  return {
    ...base,
    feeds: base.feeds.map((f) =>
      f.name === 'ipsum'
        ? {
            ...f,
            sourceConfidence: {
              effective: 82,
              adjustment: -18,
              rejected: 3,
              excepted: 2,
              lifted: 1,
              expiredClean: 0,
            },
          }
        : f,
    ),
    exceptions: 2,
    feedback: { rejected: 3, excepted: 2, lifted: 1, expiredClean: 7, feedsAdjusted: 1 },
  };
}

/** Every action has run out. */
export function allExpired(): ReadinessFacts {
  const base = level3();
  return {
    ...base,
    actions: base.actions.map((a) => ({ ...a, phase: 'Expired' })),
  };
}

/** A plan of local files: nothing observed; auto actions show as Enforced. */
export function offlinePlan(): ReadinessFacts {
  const base = level4();
  return {
    ...base,
    source: 'files',
    target: 'examples/',
    feeds: base.feeds.map(({ name, format, indicators }) => ({ name, format, indicators })),
    timeToEnforce: undefined,
    exposureWindow: { count: 4, p50: 86_400, p90: 172_800, p99: 259_200 },
    feedback: { ...noFeedback },
  };
}
