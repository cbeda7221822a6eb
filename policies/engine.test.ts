import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import {
  actionName,
  addressCount,
  evaluatePolicy,
  expiresAt,
  isProduction,
  scopeReadKey,
  selectFeeds,
  valuesDigest,
  type EngineOptions,
} from './engine.js';
import { inventoryFromObjects } from './inventory.js';
import { matchesSelector, selectorString } from './selector.js';
import type { ConnectorDirectory, FeedView } from './types.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';

const now = new Date('2026-08-22T12:00:00Z');
const cel = new CelCache();

function ip(value: string, confidence: number, tags: string[] = [], source = 'ipsum'): Indicator {
  return {
    type: value.includes('/') ? 'cidr' : 'ipv4',
    value,
    confidence,
    sources: [source],
    tags,
  };
}

const feeds: FeedView[] = [
  {
    name: 'ipsum',
    labels: { 'forestall.io/kind': 'ip-reputation' },
    indicators: [ip('192.0.2.10', 100, ['c2']), ip('192.0.2.11', 36), ip('198.51.100.0/24', 90)],
  },
  {
    name: 'domains',
    labels: { 'forestall.io/kind': 'dns' },
    indicators: [
      { type: 'domain', value: 'c2.bad.test', confidence: 95, sources: ['domains'], tags: [] },
    ],
  },
  { name: 'other', labels: {}, indicators: [ip('192.0.2.10', 40, ['scanner'], 'other')] },
];

const inventory = inventoryFromObjects([
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', labels: { environment: 'production' } },
  },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { replicas: 3, template: { metadata: { labels: { app: 'web' } } } },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'dev' },
    spec: { replicas: 1, template: { metadata: { labels: { app: 'db' } } } },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system' },
    spec: { template: { metadata: { labels: { app: 'agent' } } } },
    status: { desiredNumberScheduled: 4 },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'owned', namespace: 'dev', ownerReferences: [{ kind: 'ReplicaSet' }] },
  },
]);

function policy(spec: Partial<ExposurePolicySpec>) {
  return {
    name: 'p',
    generation: 1,
    spec: {
      feeds: { names: ['ipsum'] },
      actions: [{ type: 'EgressDeny' }],
      mode: 'Enforce',
      ...spec,
    } as ExposurePolicySpec,
  };
}

describe('inventoryFromObjects', () => {
  it('GIVEN namespaces and workloads THEN namespaces get the metadata.name label, owned Pods are not workloads, and pods are counted', () => {
    expect(inventory.namespaces.map((n) => n.name)).toEqual(['dev', 'kube-system', 'shop']);
    expect(inventory.namespaces[0]!.labels).toEqual({ 'kubernetes.io/metadata.name': 'dev' });
    expect(inventory.workloads.map((w) => `${w.namespace}/${w.kind}/${w.name}:${w.pods}`)).toEqual([
      'dev/StatefulSet/db:1',
      'kube-system/DaemonSet/agent:4',
      'shop/Deployment/web:3',
    ]);
  });

  it('GIVEN workloads with annotations THEN only forestall.io/accounts is kept, as written, on the workload (not the pod template), and others have no accounts field', () => {
    const annotations = {
      'forestall.io/accounts': 'Alice@Corp.example, bob',
      'deployment.kubernetes.io/revision': '7',
      'forestall.io/internet-facing': 'true',
    };
    const inv = inventoryFromObjects([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop', annotations },
        spec: { template: { metadata: { labels: { app: 'web' } } } },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: 'shop' },
        spec: {
          template: {
            metadata: { labels: { app: 'db' }, annotations: { 'forestall.io/accounts': 'carol' } },
          },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: {
          name: 'agent',
          namespace: 'shop',
          annotations: { 'forestall.io/accounts': 'ops' },
        },
        spec: { template: { metadata: { labels: { app: 'agent' } } } },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'debug',
          namespace: 'shop',
          labels: { app: 'debug' },
          annotations: { 'forestall.io/accounts': 'dave' },
        },
      },
    ]);
    const byName = new Map(inv.workloads.map((w) => [w.name, w]));
    expect(byName.get('web')).toEqual({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      labels: {},
      podLabels: { app: 'web' },
      pods: 1,
      accounts: 'Alice@Corp.example, bob',
    });
    expect('accounts' in byName.get('db')!).toBe(false);
    expect(byName.get('agent')!.accounts).toBe('ops');
    expect(byName.get('debug')!.accounts).toBe('dave');
    expect(Object.keys(byName.get('web')!).sort()).toEqual([
      'accounts',
      'kind',
      'labels',
      'name',
      'namespace',
      'podLabels',
      'pods',
    ]);
  });
});

describe('selectors', () => {
  it.each([
    [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [
      { matchExpressions: [{ key: 'a', operator: 'In' as const, values: ['1', '2'] }] },
      { a: '2' },
      true,
    ],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] }, {}, true],
    [
      { matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] },
      { a: '1' },
      false,
    ],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' as const }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' as const }] }, {}, true],
    [undefined, { a: '1' }, true],
  ])('GIVEN %j and labels %j THEN matches is %s', (selector, labels, want) => {
    expect(matchesSelector(selector, labels)).toBe(want);
  });

  it('GIVEN a selector THEN its query string is the label-selector syntax', () => {
    expect(
      selectorString({
        matchLabels: { a: '1' },
        matchExpressions: [
          { key: 'b', operator: 'NotIn', values: ['x', 'y'] },
          { key: 'c', operator: 'Exists' },
        ],
      }),
    ).toBe('a=1,b notin (x,y),c');
  });
});

describe('evaluatePolicy', () => {
  it('GIVEN indicators reviewers rejected THEN they are left out of every action and counted as suppressed, and an all-suppressed template plans nothing', () => {
    const some = evaluatePolicy(
      policy({ match: 'indicator.confidence >= 80', autoApprove: 'true' }),
      feeds,
      inventory,
      { now, cel, connectors, suppressed: new Set(['192.0.2.10']) },
    );
    expect(some.matched).toBe(2);
    expect(some.suppressed).toBe(1);
    expect(some.actions[0]!.request.values).toEqual(['198.51.100.0/24']);
    const all = evaluatePolicy(
      policy({ match: 'indicator.confidence >= 80', autoApprove: 'true' }),
      feeds,
      inventory,
      { now, cel, connectors, suppressed: new Set(['192.0.2.10', '198.51.100.0/24']) },
    );
    expect(all.suppressed).toBe(2);
    expect(all.actions).toEqual([]);
  });

  it('GIVEN a match and a scope THEN the action carries the matched values sorted, a deterministic name, and the blast radius of the scope', () => {
    const e = evaluatePolicy(
      policy({
        match: 'indicator.confidence >= 80',
        scope: {
          namespaceSelector: {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] },
            ],
          },
        },
        autoApprove: 'true',
      }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.compileErrors).toEqual([]);
    expect(e.matched).toBe(2);
    expect(e.actions).toHaveLength(1);
    const a = e.actions[0]!;
    expect(a).toMatchObject({
      name: 'p-egressdeny',
      type: 'EgressDeny',
      layer: 'network',
      connector: 'network:networkpolicy',
      confidence: 100,
      decision: 'auto',
      feeds: ['ipsum'],
    });
    expect(a.request.values).toEqual(['192.0.2.10', '198.51.100.0/24']);
    expect(a.request.scope.namespaces).toEqual(['dev', 'shop']);
    expect(a.blastRadius).toEqual({
      namespaces: 2,
      workloads: 2,
      pods: 4,
      users: 0,
      addresses: 257,
      production: true,
    });
    expect(a.digest).toBe(valuesDigest(['192.0.2.10', '198.51.100.0/24']));
    expect(a.request.expiresAt).toBe('2026-08-29T12:00:00.000Z');
  });

  it('GIVEN feeds by selector THEN an indicator in two feeds is one, with the higher confidence and both sources', () => {
    const e = evaluatePolicy(
      policy({
        feeds: {
          names: ['other'],
          selector: { matchLabels: { 'forestall.io/kind': 'ip-reputation' } },
        },
        match: "indicator.value == '192.0.2.10'",
      }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.matched).toBe(1);
    expect(e.actions[0]).toMatchObject({ confidence: 100, feeds: ['ipsum', 'other'] });
  });

  it.each([
    ['Audit', {}, 'audit', /mode Audit/],
    ['Propose', { autoApprove: 'true' }, 'approval', /mode Propose/],
    ['Enforce', {}, 'approval', /without spec.autoApprove/],
    [
      'Enforce',
      { autoApprove: 'action.blastRadius.addresses <= 10' },
      'approval',
      /autoApprove is false/,
    ],
    [
      'Enforce',
      { autoApprove: 'true', guardrails: { maxAddresses: 100 } },
      'approval',
      /258 addresses exceeds spec.guardrails.maxAddresses 100/,
    ],
    [
      'Enforce',
      { autoApprove: 'true', guardrails: { maxWorkloads: 1 } },
      'approval',
      /3 workloads exceeds spec.guardrails.maxWorkloads 1/,
    ],
    [
      'Enforce',
      { autoApprove: '!action.blastRadius.production' },
      'approval',
      /autoApprove is false/,
    ],
    [
      'Enforce',
      { autoApprove: "action.type == 'EgressDeny' && action.layer == 'network'" },
      'auto',
      /allowed it/,
    ],
  ] as const)('GIVEN mode %s and %j THEN the decision is %s', (mode, extra, decision, reason) => {
    const e = evaluatePolicy(policy({ mode, ...extra }), feeds, inventory, {
      now,
      cel,
      connectors,
    });
    expect(e.actions[0]?.decision).toBe(decision);
    expect(e.actions[0]?.reason).toMatch(reason);
  });

  it('GIVEN a feed with a large change THEN automatic approval is withheld', () => {
    const changed = feeds.map((f) => (f.name === 'ipsum' ? { ...f, changePercent: 45 } : f));
    const e = evaluatePolicy(policy({ autoApprove: 'true' }), changed, inventory, {
      now,
      cel,
      connectors,
    });
    expect(e.actions[0]).toMatchObject({ decision: 'approval' });
    expect(e.actions[0]!.reason).toMatch(
      /changed 45.0% in its last sync, over spec.guardrails.maxFeedChangePercent 30/,
    );
  });

  it('GIVEN a CEL typo THEN the evaluation stops with the field path and plans nothing', () => {
    const e = evaluatePolicy(
      policy({ match: "indicator.type == 'ipv4' &&", autoApprove: 'action.nope(' }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.actions).toEqual([]);
    expect(e.compileErrors.map((c) => c.field)).toEqual(['spec.match', 'spec.autoApprove']);
    expect(e.compileErrors[0]!.message).toMatch(/^spec\.match: /);
  });

  it('GIVEN a named feed that does not exist or never synced THEN it is reported missing', () => {
    expect(
      selectFeeds({ feeds: { names: ['ipsum', 'nope'] }, actions: [{ type: 'EgressDeny' }] }, feeds)
        .missing,
    ).toEqual(['nope']);
    expect(
      selectFeeds({ feeds: { names: ['ipsum'] }, actions: [{ type: 'EgressDeny' }] }, [
        { name: 'ipsum', labels: {}, indicators: undefined },
      ]).missing,
    ).toEqual(['ipsum']);
  });

  it('GIVEN DNSBlock, EgressDeny, Isolate and Notify templates THEN each takes its own indicator types, DNS blocks count the whole cluster, Isolate without vulnerable workloads plans nothing, and Notify is skipped', () => {
    const e = evaluatePolicy(
      policy({
        feeds: { names: ['ipsum', 'domains'] },
        actions: [
          { type: 'EgressDeny' },
          { type: 'DNSBlock', connector: 'dns:rpz' },
          { type: 'Isolate' },
          { type: 'Notify' },
        ],
        scope: { namespaceSelector: { matchLabels: { environment: 'production' } } },
      }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.actions.map((a) => [a.name, a.connector, a.request.values.length])).toEqual([
      ['p-egressdeny', 'network:networkpolicy', 3],
      ['p-dnsblock', 'dns:rpz', 1],
    ]);
    expect(e.actions[1]!.blastRadius).toMatchObject({
      namespaces: 3,
      workloads: 3,
      pods: 8,
      addresses: 0,
    });
    expect(e.warnings).toEqual([
      expect.stringMatching(/spec.actions\[3\]: Notify actions are not produced/),
    ]);
  });

  it('GIVEN an Isolate template naming an unknown connector THEN the evaluation stops, as for the other action types', () => {
    const e = evaluatePolicy(
      policy({ actions: [{ type: 'Isolate', connector: 'network:calcio' }] }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.compileErrors.map((c) => c.field)).toEqual(['spec.actions[0].connector']);
  });

  it('GIVEN a template naming an unknown connector THEN the evaluation stops with an error naming the field and the known ids', () => {
    const e = evaluatePolicy(
      policy({ actions: [{ type: 'EgressDeny', connector: 'network:calcio' }] }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.actions).toEqual([]);
    expect(e.compileErrors).toEqual([
      {
        field: 'spec.actions[0].connector',
        message: expect.stringMatching(
          /^spec.actions\[0\].connector: no connector network:calcio; known: .*network:calico/,
        ),
      },
    ]);
  });

  it('GIVEN a match that fails at run time on some indicators THEN they do not match and a warning counts them', () => {
    const e = evaluatePolicy(
      policy({ match: "indicator.attributes.vendor == 'x'" }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.actions).toEqual([]);
    expect(e.warnings.join()).toMatch(/spec.match failed on 3 indicator/);
  });
});

describe('evaluatePolicy: identity actions', () => {
  const account = (value: string, confidence: number, source = 'phish'): Indicator => ({
    type: 'account',
    value,
    confidence,
    sources: [source],
    tags: [],
  });
  // One feed holding both people and addresses, as a phishing-campaign feed does.
  const identityFeeds: FeedView[] = [
    {
      name: 'phish',
      labels: {},
      indicators: [
        account('bob@example.com', 90),
        account('alice@example.com', 70),
        ip('203.0.113.7', 80, [], 'phish'),
        ip('198.51.100.0/24', 60, [], 'phish'),
      ],
    },
    { name: 'ipsum', labels: {}, indicators: [ip('192.0.2.10', 100, ['c2'])] },
  ];
  const identityPolicy = (spec: Partial<ExposurePolicySpec>) =>
    policy({ feeds: { names: ['phish'] }, actions: [{ type: 'IdentitySuspend' }], ...spec });
  /** identityPolicy(spec) evaluated on the phishing feeds and the shared inventory. */
  const evaluateIdentity = (
    spec: Partial<ExposurePolicySpec>,
    options: Partial<EngineOptions> = {},
  ) =>
    evaluatePolicy(identityPolicy(spec), identityFeeds, inventory, {
      now,
      cel,
      connectors,
      ...options,
    });

  it('GIVEN account and IP indicators and an IdentitySuspend template THEN one action carries exactly the accounts, sorted, through identity:scim, and counts them as users', () => {
    const e = evaluateIdentity({
      match: "indicator.type == 'account' || indicator.type == 'ipv4'",
    });
    expect(e.compileErrors).toEqual([]);
    expect(e.actions).toHaveLength(1);
    const a = e.actions[0]!;
    expect(a).toMatchObject({
      name: 'p-identitysuspend',
      type: 'IdentitySuspend',
      layer: 'identity',
      connector: 'identity:scim',
      confidence: 90,
      feeds: ['phish'],
    });
    expect(a.request.values).toEqual(['alice@example.com', 'bob@example.com']);
    expect(a.digest).toBe(valuesDigest(['alice@example.com', 'bob@example.com']));
    // The provider has no namespaces or pods: none are in the request or the radius, whatever the scope selects.
    expect(a.request.scope).toEqual({ namespaces: [] });
    expect(a.blastRadius).toEqual({
      namespaces: 0,
      workloads: 0,
      pods: 0,
      users: 2,
      addresses: 0,
      production: true,
    });
  });

  it('GIVEN mode Enforce without autoApprove THEN an identity action needs approval', () => {
    const e = evaluateIdentity({});
    expect(e.actions[0]).toMatchObject({
      decision: 'approval',
      reason: expect.stringMatching(/without spec.autoApprove/),
    });
  });

  it('GIVEN an autoApprove that names the action type and allows it THEN the identity action is auto; when it names the type and refuses, approval', () => {
    const allowed = evaluateIdentity({
      autoApprove: "action.type == 'IdentitySuspend' && action.blastRadius.users <= 2",
    });
    expect(allowed.actions[0]).toMatchObject({
      decision: 'auto',
      reason: 'spec.autoApprove allowed it and the guardrails passed',
    });
    const refused = evaluateIdentity({
      autoApprove: "action.type == 'IdentitySuspend' && action.blastRadius.users <= 1",
    });
    expect(refused.actions[0]).toMatchObject({
      decision: 'approval',
      reason: 'spec.autoApprove is false for this action',
    });
    for (const expression of [
      "action.layer == 'identity'",
      "action.connector.startsWith('identity:')",
      'has(action.type) && action.confidence >= 50',
    ]) {
      expect(evaluateIdentity({ autoApprove: expression }).actions[0]?.decision, expression).toBe(
        'auto',
      );
    }
  });

  it('GIVEN an autoApprove that is only a threshold THEN it approves the network action but never the identity one of the same policy', () => {
    const e = evaluateIdentity({
      feeds: { names: ['phish'] },
      actions: [{ type: 'EgressDeny' }, { type: 'IdentitySuspend' }],
      autoApprove: 'action.confidence >= 50',
    });
    expect(e.actions.map((a) => [a.type, a.decision])).toEqual([
      ['EgressDeny', 'auto'],
      ['IdentitySuspend', 'approval'],
    ]);
    expect(e.actions[1]!.reason).toMatch(
      /identity actions need approval unless spec.autoApprove names them, and it reads none of action.type, action.layer, action.connector/,
    );
    // A variable of a comprehension that happens to be called `action` is not the action.
    const shadowed = evaluateIdentity({
      autoApprove: "[{'type': 'IdentitySuspend'}].exists(action, action.type == 'IdentitySuspend')",
    });
    expect(shadowed.actions[0]).toMatchObject({ decision: 'approval' });
  });

  it('GIVEN mode Audit or Propose THEN identity actions are audit or approval, whatever autoApprove says', () => {
    const autoApprove = "action.layer == 'identity'";
    expect(evaluateIdentity({ mode: 'Audit', autoApprove }).actions[0]?.decision).toBe('audit');
    expect(evaluateIdentity({ mode: 'Propose', autoApprove }).actions[0]?.decision).toBe(
      'approval',
    );
  });

  it('GIVEN IdentityBlock, IdentitySuspend and StepUpAuth templates THEN IdentityBlock takes the IPs and counts their addresses, the other two the accounts, and IPs never reach an account action', () => {
    const e = evaluateIdentity({
      actions: [
        { type: 'IdentityBlock', connector: 'identity:okta' },
        { type: 'IdentitySuspend', connector: 'identity:keycloak' },
        { type: 'StepUpAuth', connector: 'identity:entra' },
      ],
    });
    expect(e.actions.map((a) => [a.name, a.connector, a.request.values])).toEqual([
      ['p-identityblock', 'identity:okta', ['198.51.100.0/24', '203.0.113.7']],
      ['p-identitysuspend', 'identity:keycloak', ['alice@example.com', 'bob@example.com']],
      ['p-stepupauth', 'identity:entra', ['alice@example.com', 'bob@example.com']],
    ]);
    expect(e.actions[0]!.blastRadius).toMatchObject({ users: 0, addresses: 257 });
    expect(e.actions[2]!.blastRadius).toMatchObject({ users: 2, addresses: 0 });
    // And the network templates never take accounts.
    const network = evaluateIdentity({ actions: [{ type: 'EgressDeny' }, { type: 'DNSBlock' }] });
    expect(network.actions.map((a) => [a.type, a.request.values])).toEqual([
      ['EgressDeny', ['198.51.100.0/24', '203.0.113.7']],
    ]);
  });

  it('GIVEN a feed with no accounts THEN an IdentitySuspend template plans nothing', () => {
    const e = evaluateIdentity({ feeds: { names: ['ipsum'] } });
    expect(e.compileErrors).toEqual([]);
    expect(e.actions).toEqual([]);
  });

  it('GIVEN an identity template naming an unknown or a network connector THEN the evaluation stops with an error naming the field and the identity connector ids', () => {
    for (const connector of ['identity:okat', 'network:networkpolicy']) {
      const e = evaluateIdentity({
        actions: [{ type: 'EgressDeny' }, { type: 'StepUpAuth', connector }],
      });
      expect(e.actions).toEqual([]);
      expect(e.compileErrors).toEqual([
        {
          field: 'spec.actions[1].connector',
          message: `spec.actions[1].connector: no identity connector ${connector} for StepUpAuth; known: identity:scim, identity:keycloak, identity:okta, identity:entra`,
        },
      ]);
    }
    expect(connectors.ids().filter((id) => connectors.info(id)!.layer === 'identity')).toEqual([
      'identity:scim',
      'identity:keycloak',
      'identity:okta',
      'identity:entra',
    ]);
  });

  it('GIVEN a default identity connector from the options THEN templates without one use it, and an unknown default is an error too', () => {
    const okta = evaluateIdentity({}, { defaultConnectors: { identity: 'identity:okta' } });
    expect(okta.actions[0]?.connector).toBe('identity:okta');
    const typo = evaluateIdentity({}, { defaultConnectors: { identity: 'identity:octa' } });
    expect(typo.compileErrors.map((c) => c.message)).toEqual([
      expect.stringMatching(
        /no identity connector identity:octa for IdentitySuspend; known: identity:scim/,
      ),
    ]);
  });

  it('GIVEN a network template naming an identity connector THEN the error says it acts on identity providers', () => {
    const e = evaluatePolicy(
      policy({ actions: [{ type: 'EgressDeny', connector: 'identity:scim' }] }),
      feeds,
      inventory,
      { now, cel, connectors },
    );
    expect(e.compileErrors).toEqual([
      {
        field: 'spec.actions[0].connector',
        message: expect.stringMatching(
          /^spec.actions\[0\].connector: identity:scim acts on identity providers, not on the network layer of EgressDeny; known: network:networkpolicy/,
        ),
      },
    ]);
  });

  it('GIVEN an injected catalogue THEN the engine knows only its connectors and takes its defaults', () => {
    const only: ConnectorDirectory = {
      info: (id) =>
        id === 'network:acme' ? { layer: 'network', rendersManifests: true } : undefined,
      ids: () => ['network:acme'],
      defaultFor: (layer) => (layer === 'network' ? 'network:acme' : undefined),
    };
    const e = evaluatePolicy(policy({ actions: [{ type: 'EgressDeny' }] }), feeds, inventory, {
      now,
      cel,
      connectors: only,
    });
    expect(e.compileErrors).toEqual([]);
    expect(e.actions.map((a) => a.connector)).toEqual(['network:acme']);
    const shipped = evaluatePolicy(
      policy({ actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }] }),
      feeds,
      inventory,
      { now, cel, connectors: only },
    );
    expect(shipped.compileErrors.map((c) => c.message)).toEqual([
      'spec.actions[0].connector: no connector network:networkpolicy; known: network:acme',
    ]);
  });
});

describe('helpers', () => {
  it('GIVEN addresses and CIDRs THEN overlapping ones count once; IPv6 saturates', () => {
    expect(addressCount(['10.0.0.0/24', '10.0.0.5', '10.0.1.1'])).toBe(257);
    expect(addressCount(['2001:db8::/32'])).toBe(Number.MAX_SAFE_INTEGER);
    expect(addressCount(['2001:db8::1', '2001:db8::/126'])).toBe(5);
  });

  it('GIVEN names THEN they are deterministic, and long ones keep a hash', () => {
    expect(actionName('p', 'DNSBlock', 2, true)).toBe('p-dnsblock-2');
    const long = actionName('x'.repeat(250), 'EgressDeny', 0, false);
    expect(long.length).toBe(200);
    expect(long).toBe(actionName('x'.repeat(250), 'EgressDeny', 0, false));
  });

  it('GIVEN production labels THEN isProduction says so', () => {
    expect(isProduction({ environment: 'Production' })).toBe(true);
    expect(isProduction({ env: 'prod' })).toBe(true);
    expect(isProduction({ 'forestall.io/production': 'true' })).toBe(true);
    expect(isProduction({ environment: 'staging' })).toBe(false);
  });

  it('GIVEN an expiry THEN expiresAt adds it; UntilPatched has none', () => {
    expect(expiresAt({ expiry: '90m' }, now)).toBe('2026-08-22T13:30:00.000Z');
    expect(expiresAt({ expiry: 'UntilPatched' }, now)).toBeUndefined();
  });
});

describe('scopeReadKey', () => {
  const objects = (webTier: string, otherTier: string) =>
    inventoryFromObjects([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev', labels: { team: 'b' } } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { replicas: 2, template: { metadata: { labels: { tier: webTier } } } },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'db', namespace: 'dev' },
        spec: { replicas: 1, template: { metadata: { labels: { tier: otherTier } } } },
      },
    ]);
  const spec = (type: 'EgressDeny' | 'DNSBlock' | 'Isolate'): ExposurePolicySpec => ({
    feeds: { names: ['ipsum'] },
    scope: { namespaceSelector: { matchLabels: { team: 'a' } } },
    actions: [{ type }],
  });

  it('GIVEN an EgressDeny policy THEN its key moves with a workload in its scope and not with one outside it', () => {
    const before = scopeReadKey(spec('EgressDeny'), objects('front', 'data'));
    expect(before).toBeDefined();
    expect(scopeReadKey(spec('EgressDeny'), objects('front', 'cache'))).toBe(before);
    expect(scopeReadKey(spec('EgressDeny'), objects('back', 'data'))).not.toBe(before);
  });

  it('GIVEN an Isolate or a DNSBlock template THEN there is no key: they read more than the scope', () => {
    expect(scopeReadKey(spec('Isolate'), objects('front', 'data'))).toBeUndefined();
    expect(scopeReadKey(spec('DNSBlock'), objects('front', 'data'))).toBeUndefined();
  });
});
