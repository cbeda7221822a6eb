import { describe, expect, it } from 'vitest';
import type { ReadinessFacts } from '../facts.js';
import { assessReadiness, formatSeconds, type Readiness } from './score.js';
import * as fixtures from './test-support.js';

const metFlags = (r: Readiness) => r.levels.map((l) => l.met);
const level = (r: Readiness, n: number) => r.levels[n - 1]!;

describe('assessReadiness: one fixture per level', () => {
  it.each([
    ['level1', 1, [true, false, false, false, false]],
    ['level2', 2, [true, true, false, false, false]],
    ['level3', 3, [true, true, true, false, false]],
    ['level4', 4, [true, true, true, true, false]],
    ['level5', 5, [true, true, true, true, true]],
  ] as const)('GIVEN the %s cluster THEN it is at level %i', (fixture, expected, met) => {
    const r = assessReadiness(fixtures[fixture]());
    expect(r.level).toBe(expected);
    expect(metFlags(r)).toEqual(met);
    // Each level met has no step left; each unmet one says what to configure next.
    for (const l of r.levels) expect(l.next === undefined).toBe(l.met);
    expect(r.next).toBe(r.levels.find((l) => !l.met)?.next);
  });

  it('GIVEN level 1 THEN the next step names the Audit policy to move to Propose', () => {
    const r = assessReadiness(fixtures.level1());
    expect(r.next).toMatch(/^Set spec\.mode: Propose on ExposurePolicy c2-egress, with spec\.git/);
    expect(level(r, 1).evidence).toEqual([
      '1 ThreatFeed, 1 fresh: ipsum (120382 indicators)',
      '1 ExposurePolicy: 1 Audit',
    ]);
  });

  it('GIVEN level 2 THEN the next step is Enforce with a narrow autoApprove on the proposing policy', () => {
    const r = assessReadiness(fixtures.level2());
    expect(r.next).toBe(
      'Set spec.mode: Enforce on ExposurePolicy c2-egress with a narrow spec.autoApprove, for example "action.confidence >= 90 && !action.blastRadius.production".',
    );
    expect(level(r, 2).evidence).toContain('2 actions reached review or enforcement (2 Proposed)');
  });

  it('GIVEN level 3 THEN level 4 lists every unmet criterion with a step, the layers first', () => {
    const l4 = level(assessReadiness(fixtures.level3()), 4);
    expect(l4.evidence).toEqual([
      '1 usable ThreatFeed (level 4 wants 2 or more sources)',
      'enforced on 1 of 4 layers: network Enforce (1 of 2 actions enforced); dns not covered; identity not covered; workload not covered',
      'time to enforce p50 4.2 s, p90 4.2 s, p99 4.2 s over 1 action (level 4 wants p90 at most 15 min)',
      'the exposure window is unmeasured',
      'early ATT&CK tactics: Reconnaissance 0/44, Resource Development 0/47, Initial Access 0/22',
    ]);
    expect(l4.steps).toHaveLength(4);
    expect(l4.steps[1]).toBe(
      'Add an ExposurePolicy in Enforce for the dns layer, with a DNSBlock action over a domain feed.',
    );
    expect(l4.steps[3]).toMatch(
      /^Cover an early tactic \(Reconnaissance, Resource Development, Initial Access\)/,
    );
  });

  it('GIVEN level 4 THEN Isolate counts as the workload layer and the identity layer in Propose is named', () => {
    const r = assessReadiness(fixtures.level4());
    expect(r.layers.map((l) => [l.layer, l.mode, l.enforced, l.actions])).toEqual([
      ['network', 'Enforce', 2, 2],
      ['dns', 'Enforce', 1, 1],
      ['identity', 'Propose', 0, 1],
      ['workload', 'Enforce', 1, 2],
    ]);
    expect(level(r, 4).evidence[1]).toMatch(/^enforced on 3 of 4 layers/);
    expect(r.next).toMatch(/^Decide proposals with forestall approve and forestall reject/);
  });

  it('GIVEN level 5 THEN the evidence names the tuned feed and its confidence', () => {
    const r = assessReadiness(fixtures.level5());
    expect(r.next).toBeUndefined();
    expect(level(r, 5).evidence).toEqual([
      'observed on the cluster kind-forestall (https://127.0.0.1:6443)',
      'feedback: 3 rejected, 2 excepted, 1 lifted, 7 expired cleanly',
      '1 feed has its confidence tuned by feedback: ipsum at 82',
    ]);
    expect(r.summary).toEqual([]);
  });
});

describe('assessReadiness: the level is the highest with every lower level met', () => {
  it('GIVEN an active feedback loop but everything in Propose THEN level 5 criteria are met and the level is 2', () => {
    const facts: ReadinessFacts = {
      ...fixtures.level2(),
      feedback: { rejected: 4, excepted: 0, lifted: 0, expiredClean: 0, feedsAdjusted: 1 },
    };
    const r = assessReadiness(facts);
    expect(metFlags(r)).toEqual([true, true, false, false, true]);
    expect(r.level).toBe(2);
    expect(r.name).toBe('Manual enforcement');
  });

  it('GIVEN time to enforce p90 over 15 minutes THEN level 4 is not met and says why', () => {
    const facts: ReadinessFacts = {
      ...fixtures.level4(),
      timeToEnforce: { count: 20, p50: 600, p90: 3_600, p99: 7_200 },
    };
    const r = assessReadiness(facts);
    expect(r.level).toBe(3);
    expect(level(r, 4).evidence[2]).toBe(
      'time to enforce p50 10 min, p90 60 min, p99 2 h over 20 actions (level 4 wants p90 at most 15 min)',
    );
    expect(r.next).toMatch(/^Cut the wait for review: widen spec\.autoApprove/);
  });
});

describe('assessReadiness: bad input is said plainly', () => {
  it('GIVEN a cluster with nothing configured THEN level 1 is the floor, unmet, and the summary says so', () => {
    const r = assessReadiness(fixtures.emptyCluster());
    expect(r.level).toBe(1);
    expect(level(r, 1).met).toBe(false);
    expect(r.summary).toEqual(['no ThreatFeed is configured', 'no ExposurePolicy is configured']);
    expect(level(r, 1).evidence).toEqual([
      'no ThreatFeed is configured',
      'no ExposurePolicy is configured',
    ]);
    expect(r.next).toMatch(/^Add a ThreatFeed/);
  });

  it('GIVEN only a stale feed THEN level 1 is unmet and the step names the feed', () => {
    const facts = fixtures.level1();
    facts.feeds = [{ ...facts.feeds[0]!, fresh: false }];
    const r = assessReadiness(facts);
    expect(level(r, 1).met).toBe(false);
    expect(level(r, 1).evidence[0]).toBe(
      '1 ThreatFeed, 0 fresh; 1 stale: ipsum (last synced 2026-12-07T11:40:00Z)',
    );
    expect(r.next).toMatch(/^Fix ThreatFeed ipsum:/);
    expect(r.summary[0]).toMatch(/^no ThreatFeed is fresh: 1 is configured/);
  });

  it('GIVEN a feed whose freshness is unknown in a cluster THEN it counts as never synced', () => {
    const facts = fixtures.level1();
    facts.feeds = [{ name: 'new-feed' }];
    expect(level(assessReadiness(facts), 1).evidence[0]).toBe(
      '1 ThreatFeed, 0 fresh; 1 stale: new-feed (never synced)',
    );
  });

  it("GIVEN the Enforce policy's actions all waiting for review THEN level 3 is unmet and the step names them", () => {
    const facts = fixtures.level3();
    facts.actions = facts.actions.map((a) => ({ ...a, phase: 'Proposed' }));
    const r = assessReadiness(facts);
    expect(r.level).toBe(2);
    expect(r.next).toBe(
      '2 actions wait for review (c2-egress-a1, c2-egress-a2): widen spec.autoApprove on c2-egress so low-risk ones apply at once, or forestall approve c2-egress-a1.',
    );
  });

  it('GIVEN every action expired THEN the summary says so and level 3 is not met', () => {
    const r = assessReadiness(fixtures.allExpired());
    expect(r.summary).toEqual(['every action has expired: nothing is enforced now']);
    expect(r.level).toBe(2);
    expect(level(r, 3).evidence[1]).toBe('every action has expired: none is enforced now');
    expect(r.next).toMatch(/^Every action has expired: check that the feeds still carry/);
  });

  it('GIVEN actions that all ended in different ways THEN the summary counts them', () => {
    const facts = fixtures.level3();
    facts.actions = [
      { ...facts.actions[0]!, phase: 'Lifted' },
      { ...facts.actions[1]!, phase: 'Rejected' },
    ];
    expect(assessReadiness(facts).summary).toEqual([
      'every action has ended (1 Lifted, 1 Rejected): nothing is enforced now',
    ]);
  });

  it('GIVEN actions none of which is enforced THEN the summary says no action is enforced', () => {
    expect(assessReadiness(fixtures.level2()).summary).toEqual(['no action is enforced']);
  });

  it('GIVEN policies that planned nothing THEN the summary says no action was planned', () => {
    expect(assessReadiness(fixtures.level1()).summary).toEqual(['no action was planned']);
  });
});

describe('assessReadiness: a plan of files', () => {
  it('GIVEN files THEN feeds of unknown freshness count, and what needs a cluster is unmet and said', () => {
    const r = assessReadiness(fixtures.offlinePlan());
    expect(r.level).toBe(3);
    expect(metFlags(r)).toEqual([true, true, true, false, false]);
    expect(level(r, 1).evidence[0]).toMatch(/^3 ThreatFeeds, 3 read: ipsum/);
    expect(level(r, 4).evidence[2]).toBe('time to enforce is observed only on a cluster');
    expect(level(r, 4).next).toBe(
      'Run forestall report readiness --kubeconfig FILE against the cluster to measure time to enforce.',
    );
    expect(level(r, 5).evidence[0]).toBe(
      'read from files: outcomes and feedback are observed only on a cluster',
    );
    expect(r.summary).toEqual([
      'read from files: phases are what forestall plan would do; freshness, time to enforce and feedback are observed only on a cluster',
    ]);
  });
});

describe('formatSeconds', () => {
  it.each([
    [0.35, '350 ms'],
    [4.24, '4.2 s'],
    [119, '119 s'],
    [210, '3.5 min'],
    [7_200, '2 h'],
    [129_600, '36 h'],
    [259_200, '3 d'],
    [Number.NaN, 'unknown'],
  ])('GIVEN %d seconds THEN %s', (s, text) => {
    expect(formatSeconds(s)).toBe(text);
  });
});
