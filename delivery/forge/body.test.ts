import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../connectors/core/types.js';
import type { PlannedAction } from '../../policies/types.js';
import {
  code,
  diffValues,
  MAX_OBJECT_ROWS,
  parseMarker,
  pullRequestBody,
  removalBody,
  text,
  type PullRequestBodyInput,
} from './body.js';

const values = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 1}`);

// A PlannedAction, as the engine produces it: the body must accept one as is.
const planned: PlannedAction = {
  name: 'block-c2-egressdeny-3f2a',
  policy: 'block-c2',
  type: 'EgressDeny',
  layer: 'network',
  connector: 'network:cilium',
  request: {
    name: 'block-c2-egressdeny-3f2a',
    policy: 'block-c2',
    type: 'EgressDeny',
    values,
    scope: { namespaces: ['payments', 'shop'] },
    params: {},
  },
  digest: 'a1b2c3d4e5f6',
  confidence: 87,
  sourceConfidence: 100,
  blastRadius: {
    namespaces: 2,
    workloads: 5,
    pods: 14,
    users: 0,
    addresses: 1536,
    production: true,
  },
  decision: 'approval',
  reason:
    'autoApprove returned false: blastRadius.addresses 1536 > 1024 (threshold spec.autoApprove)',
  feeds: ['ipsum', 'feodo'],
};

const objects: Manifest[] = [
  {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumClusterwideNetworkPolicy',
    metadata: { name: 'forestall-block-c2' },
  },
  {
    apiVersion: 'cilium.io/v2alpha1',
    kind: 'CiliumCIDRGroup',
    metadata: { name: 'forestall-block-c2-0' },
  },
];

const input: PullRequestBodyInput = {
  action: planned,
  values,
  objects,
  expiresAt: '2025-07-01T00:00:00Z',
  path: 'clusters/prod/forestall',
  base: 'main',
};

describe('pullRequestBody', () => {
  it('GIVEN an action needing approval THEN the title names verb, type, policy and count', () => {
    expect(pullRequestBody(input).title).toBe(
      'forestall: enforce EgressDeny for block-c2 (12 indicators)',
    );
    expect(pullRequestBody({ ...input, values: ['198.51.100.7'] }).title).toBe(
      'forestall: enforce EgressDeny for block-c2 (1 indicator)',
    );
    const handWritten = { ...planned, policy: undefined };
    expect(pullRequestBody({ ...input, action: handWritten, verb: 'update' }).title).toBe(
      `forestall: update EgressDeny for action ${planned.name} (12 indicators)`,
    );
  });

  it('GIVEN an action THEN the body carries the marker, the intelligence, the changes, the blast radius, the reason, the expiry and the rollback', () => {
    const { body } = pullRequestBody(input);
    expect(
      body.startsWith(`<!-- forestall:action=${planned.name} digest=${planned.digest} -->\n`),
    ).toBe(true);
    expect(body).toContain('| Feeds | `feodo`, `ipsum` |');
    expect(body).toContain('| Indicators | 12 |');
    expect(body).toContain('| Highest confidence | 87 / 100 |');
    expect(body).toContain('Sample (10 of 12):');
    expect(body).toContain('- `203.0.113.10`');
    expect(body).not.toContain('203.0.113.11');
    expect(body).toContain(
      '| `cilium.io/v2` | CiliumClusterwideNetworkPolicy | (cluster) | `forestall-block-c2` |',
    );
    expect(body).toContain('under `clusters/prod/forestall/` in this branch');
    expect(body).toContain('| 2 | 5 | 14 | 1,536 | **yes** |');
    expect(body).not.toContain('users');
    expect(body).toContain(
      '### Why approval is needed\n\n> autoApprove returned false: blastRadius.addresses 1536 > 1024 (threshold spec.autoApprove)',
    );
    expect(body).toContain('Expires at `2025-07-01T00:00:00Z`');
    expect(body).toContain(`kubectl delete preemptiveaction ${planned.name}`);
    expect(body).toContain('git revert -m 1 <merge commit>` on `main`');
    expect(body).toContain(
      `kubectl patch exposurepolicy block-c2 --type merge -p '{"spec":{"suspend":true}}'`,
    );
  });

  it('GIVEN the same input twice THEN the output is identical (no clock, no locale)', () => {
    expect(pullRequestBody(input)).toEqual(
      pullRequestBody({
        ...input,
        objects: [...objects].reverse(),
        action: { ...planned, feeds: ['feodo', 'ipsum'] },
      }),
    );
  });

  it('GIVEN the previous render THEN it summarises added and removed indicators', () => {
    const previous = ['192.0.2.1', ...values.slice(0, 10)];
    const { body } = pullRequestBody({ ...input, previousValues: previous });
    expect(body).toContain('**2 added**, **1 removed**');
    expect(body).toContain('- added: `203.0.113.11`, `203.0.113.12`');
    expect(body).toContain('- removed: `192.0.2.1`');
    expect(pullRequestBody({ ...input, previousValues: values }).body).toContain(
      'Indicators: unchanged since the previous render.',
    );
  });

  it('GIVEN UntilPatched, no expiry, identity users and an auto-approved record THEN the sections say so', () => {
    expect(pullRequestBody({ ...input, expiresAt: 'UntilPatched' }).body).toContain(
      'Until patched',
    );
    expect(pullRequestBody({ ...input, expiresAt: undefined }).body).toContain('No expiry');
    const withUsers = pullRequestBody({
      ...input,
      action: { ...planned, blastRadius: { ...planned.blastRadius, users: 3, production: false } },
    }).body;
    expect(withUsers).toContain(
      '| namespaces | workloads | pods | users | addresses | production |',
    );
    expect(withUsers).toContain('| 2 | 5 | 14 | 3 | 1,536 | no |');
    const auto = pullRequestBody({ ...input, action: { ...planned, decision: 'auto' } }).body;
    expect(auto).toContain('### Why no approval was needed');
    expect(auto).toContain('already applied');
    expect(auto).not.toContain('Before merging');
  });

  it('GIVEN many objects THEN the table is capped', () => {
    const many = Array.from({ length: MAX_OBJECT_ROWS + 7 }, (_, i) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: `ns-${String(i).padStart(3, '0')}`,
      name: 'forestall-x',
    }));
    const { body } = pullRequestBody({ ...input, objects: many });
    expect(body).toContain(`${MAX_OBJECT_ROWS + 7} objects`);
    expect(body).toContain('| … | 7 more | | |');
    expect(body.split('\n').filter((l) => l.startsWith('| `networking.k8s.io/v1`')).length).toBe(
      MAX_OBJECT_ROWS,
    );
  });

  it('GIVEN hostile text in the reason and values THEN it renders as text: no Markdown link, mention, HTML or heading', () => {
    const { body } = pullRequestBody({
      ...input,
      values: ['evil.example', 'a`b|c'],
      action: {
        ...planned,
        reason: 'ping @security-team <img src=x> [click](https://evil.example)\n# heading',
      },
    });
    expect(body).toContain('- `evil.example`');
    expect(body).toContain('- `` a`b|c ``');
    expect(body).toContain(
      '> ping \\@security-team \\<img src=x> \\[click\\](https://evil.example) \\# heading',
    );
  });
});

describe('removalBody', () => {
  it('GIVEN an expired action THEN it explains the removal and carries the remove marker', () => {
    const { title, body } = removalBody({
      action: planned,
      count: 12,
      objects,
      cause: 'Expired',
      detail: 'it expired at 2025-07-01T00:00:00Z',
      enforcedBy: { number: 42, url: 'https://github.com/acme/p/pull/42' },
      base: 'main',
    });
    expect(title).toBe('forestall: remove EgressDeny for block-c2 (12 indicators)');
    expect(parseMarker(body)).toEqual({
      action: planned.name,
      digest: planned.digest,
      op: 'remove',
    });
    expect(body).toContain('has expired: it expired at 2025-07-01T00:00:00Z.');
    expect(body).toContain('put in place by #42');
    expect(body).toContain('### What is removed');
    expect(body).toContain('`forestall-block-c2-0`');
  });
});

describe('parseMarker', () => {
  it('GIVEN a rendered body THEN the marker reads back; GIVEN a body without one THEN undefined', () => {
    expect(parseMarker(pullRequestBody(input).body)).toEqual({
      action: planned.name,
      digest: planned.digest,
      op: 'apply',
    });
    expect(parseMarker('Fixes a typo')).toBeUndefined();
  });

  it('GIVEN a name with characters a marker cannot hold THEN they are dropped, so the comment cannot be closed early', () => {
    const { body } = pullRequestBody({ ...input, action: { ...planned, name: 'x --> <b>y</b>' } });
    expect(body.split('\n')[0]).toBe(`<!-- forestall:action=x--byb digest=${planned.digest} -->`);
  });
});

describe('helpers', () => {
  it('GIVEN values THEN diffValues sorts added and removed', () => {
    expect(diffValues(['c', 'a', 'b'], ['d', 'b', 'a'])).toEqual({ added: ['d'], removed: ['c'] });
  });
  it('GIVEN backticks THEN the code span fence is longer than any run inside', () => {
    expect(code('plain')).toBe('`plain`');
    expect(code('a|b')).toBe('`a|b`');
    expect(code('a``b')).toBe('``` a``b ```');
    expect(text('*bold* _x_')).toBe('\\*bold\\* \\_x\\_');
  });
});
