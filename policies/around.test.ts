import { describe, expect, it } from 'vitest';
import type { ExposurePolicySpec } from '../crds/index.js';
import type { Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import { evaluatePolicy, type EngineOptions } from './engine.js';
import { inventoryFromObjects } from './inventory.js';
import {
  deployment,
  namespace,
  RAPID_RESET_NET,
  service,
  TOMCAT,
  vulnerabilityReport,
  type ReportVulnerability,
} from './test-support.js';
import type { FeedView } from './types.js';
import { workloadAccounts } from './workloads.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';

/**
 * Identity templates with `params.around: Isolated`: the accounts annotated on the
 * workloads the same policy isolates (forestall.io/accounts) become the values of its
 * IdentitySuspend and StepUpAuth actions, for as long as the isolation is planned.
 */
const NOW = new Date('2025-07-14T12:00:00Z');
const cel = new CelCache();

const cve = (value: string, confidence = 100): Indicator => ({
  type: 'cve',
  value,
  confidence,
  sources: ['cisa-kev'],
  tags: ['kev'],
});
const account = (value: string, confidence = 80): Indicator => ({
  type: 'account',
  value,
  confidence,
  sources: ['phish'],
  tags: [],
});

const kev: FeedView = {
  name: 'cisa-kev',
  labels: {},
  indicators: [cve('CVE-2025-24813'), cve('CVE-2023-44487', 90)],
};
const phish: FeedView = {
  name: 'phish',
  labels: {},
  indicators: [account('mallory@corp.example', 70), account('j.doe@corp.example', 95)],
};

type Annotations = Record<string, string>;

/**
 * shop/checkout (production) and support/helpdesk: vulnerable and internet-facing (a
 * LoadBalancer each); shop/catalog: vulnerable, internal; shop/frontend:
 * internet-facing, not vulnerable. Every one names accounts unless told otherwise.
 */
function cluster(
  over: {
    checkout?: Annotations;
    helpdesk?: Annotations;
    catalog?: Annotations;
    frontend?: Annotations;
    checkoutReport?: ReportVulnerability[];
    helpdeskPodLabels?: Record<string, string>;
  } = {},
): unknown[] {
  const annotations = (a: Annotations | undefined, fallback: string) =>
    a ?? { 'forestall.io/accounts': fallback };
  return [
    namespace('shop', { environment: 'production' }),
    namespace('support'),
    deployment('shop', 'checkout', {
      images: { app: 'registry.example.org/shop/checkout:2.4.1' },
      annotations: annotations(over.checkout, 'J.Doe@Corp.example, checkout-oncall@corp.example'),
    }),
    service('shop', 'checkout', { type: 'LoadBalancer' }),
    vulnerabilityReport(
      'shop',
      'Deployment',
      'checkout',
      'app',
      { repository: 'shop/checkout', tag: '2.4.1' },
      over.checkoutReport ?? [TOMCAT],
    ),
    deployment('support', 'helpdesk', {
      images: { server: 'registry.example.org/support/helpdesk:1.8.0' },
      // Without pod labels no Service selects it: the override makes it internet-facing.
      ...(over.helpdeskPodLabels
        ? {
            labels: over.helpdeskPodLabels,
            annotations: {
              ...annotations(over.helpdesk, 'helpdesk-admin@corp.example,j.doe@corp.example'),
              'forestall.io/internet-facing': 'true',
            },
          }
        : {
            annotations: annotations(
              over.helpdesk,
              'helpdesk-admin@corp.example,j.doe@corp.example',
            ),
          }),
    }),
    service('support', 'helpdesk', { type: 'LoadBalancer' }),
    vulnerabilityReport(
      'support',
      'Deployment',
      'helpdesk',
      'server',
      { repository: 'support/helpdesk', tag: '1.8.0' },
      [RAPID_RESET_NET],
    ),
    deployment('shop', 'catalog', {
      images: { catalog: 'registry.example.org/shop/catalog:4.2.0' },
      annotations: annotations(over.catalog, 'catalog-team@corp.example'),
    }),
    service('shop', 'catalog'),
    vulnerabilityReport(
      'shop',
      'Deployment',
      'catalog',
      'catalog',
      { repository: 'shop/catalog', tag: '4.2.0' },
      [TOMCAT],
    ),
    deployment('shop', 'frontend', {
      images: { nginx: 'nginx:1.27.3' },
      annotations: annotations(over.frontend, 'web-team@corp.example'),
    }),
    service('shop', 'frontend', { type: 'LoadBalancer' }),
  ];
}

const ISOLATE = { type: 'Isolate' as const, params: { allowSameNamespace: true } };
const STEP_UP = {
  type: 'StepUpAuth' as const,
  connector: 'identity:keycloak',
  params: {
    around: 'Isolated',
    url: 'https://sso.example.org',
    realm: 'corp',
    credentialsSecretRef: 'keycloak',
    group: 'mfa-required',
  },
};

function evaluate(
  spec: Partial<ExposurePolicySpec> = {},
  objects: unknown[] = cluster(),
  feeds: FeedView[] = [kev],
  opts: Partial<EngineOptions> = {},
) {
  return evaluatePolicy(
    {
      name: 'kev',
      generation: 1,
      spec: {
        feeds: { names: feeds.map((f) => f.name) },
        match: "indicator.type == 'cve' && 'kev' in indicator.tags",
        scope: { exposure: 'InternetFacing' },
        actions: [ISOLATE, STEP_UP],
        mode: 'Enforce',
        autoApprove: "action.type == 'Isolate'",
        expiry: 'UntilPatched',
        ...spec,
      } as ExposurePolicySpec,
    },
    feeds,
    inventoryFromObjects(objects),
    { now: NOW, cel, connectors, ...opts },
  );
}

const identity = (e: ReturnType<typeof evaluate>) =>
  e.actions.filter((a) => a.layer === 'identity');

describe('params.around: Isolated', () => {
  it('GIVEN two isolated workloads naming accounts THEN one StepUpAuth carries their union, canonical, deduplicated and sorted, without the around param', () => {
    const e = evaluate();
    expect(e.compileErrors).toEqual([]);
    expect(e.warnings).toEqual([]);
    expect(e.actions.map((a) => [a.name, a.type])).toEqual([
      ['kev-isolate-shop-deployment-checkout', 'Isolate'],
      ['kev-isolate-support-deployment-helpdesk', 'Isolate'],
      ['kev-stepupauth', 'StepUpAuth'],
    ]);
    const [step] = identity(e);
    expect(step!.request.values).toEqual([
      'checkout-oncall@corp.example',
      'helpdesk-admin@corp.example',
      'j.doe@corp.example',
    ]);
    expect(step!.request.params).toEqual({
      url: 'https://sso.example.org',
      realm: 'corp',
      credentialsSecretRef: 'keycloak',
      group: 'mfa-required',
    });
    expect(step!.request.scope).toEqual({ namespaces: [] });
    expect(step!.request.targets).toBeUndefined();
    expect(step).toMatchObject({
      connector: 'identity:keycloak',
      layer: 'identity',
      confidence: 100,
      feeds: ['cisa-kev'],
      blastRadius: { users: 3, namespaces: 0, workloads: 0, production: true },
    });
  });

  it('GIVEN isolated workloads THEN the evidence names each one with the Isolate action and the accounts it contributed', () => {
    expect(identity(evaluate())[0]!.isolatedWorkloads).toEqual([
      {
        target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'checkout' },
        isolation: 'kev-isolate-shop-deployment-checkout',
        accounts: ['checkout-oncall@corp.example', 'j.doe@corp.example'],
      },
      {
        target: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          namespace: 'support',
          name: 'helpdesk',
        },
        isolation: 'kev-isolate-support-deployment-helpdesk',
        accounts: ['helpdesk-admin@corp.example', 'j.doe@corp.example'],
      },
    ]);
  });

  it('GIVEN annotated workloads that are not isolated (internal, or not vulnerable) THEN their accounts are not taken; with scope.exposure Any the internal one is', () => {
    const values = (e: ReturnType<typeof evaluate>) => identity(e)[0]!.request.values;
    expect(values(evaluate())).not.toContain('catalog-team@corp.example');
    expect(values(evaluate())).not.toContain('web-team@corp.example');
    expect(values(evaluate({ scope: { exposure: 'Any' } }))).toContain('catalog-team@corp.example');
  });

  it('GIVEN the isolation of a production workload needs approval and the other is automatic THEN both workloads count, and the identity action has its own decision', () => {
    const e = evaluate({
      autoApprove: "action.type == 'Isolate' && !action.blastRadius.production",
    });
    expect(e.actions.map((a) => [a.name, a.decision])).toEqual([
      ['kev-isolate-shop-deployment-checkout', 'approval'],
      ['kev-isolate-support-deployment-helpdesk', 'auto'],
      ['kev-stepupauth', 'approval'],
    ]);
    expect(identity(e)[0]!.isolatedWorkloads!.map((w) => w.target.name)).toEqual([
      'checkout',
      'helpdesk',
    ]);
    expect(identity(e)[0]!.reason).toBe('spec.autoApprove is false for this action');
    // An expression that names StepUpAuth approves it, as for any identity action.
    const named = evaluate({
      autoApprove:
        "action.type == 'Isolate' || (action.type == 'StepUpAuth' && action.blastRadius.users <= 3)",
    });
    expect(identity(named)[0]!.decision).toBe('auto');
    // In Audit mode everything is audit, and still computed.
    expect(identity(evaluate({ mode: 'Audit' }))[0]).toMatchObject({
      decision: 'audit',
      request: { values: expect.arrayContaining(['j.doe@corp.example']) },
    });
  });

  it('GIVEN account indicators that spec.match selects THEN they join the annotated accounts, once each, and the feeds and confidence of both count', () => {
    const e = evaluate(
      {
        match:
          "indicator.type == 'account' || (indicator.type == 'cve' && 'kev' in indicator.tags)",
      },
      cluster(),
      [kev, phish],
    );
    expect(e.warnings).toEqual([]);
    const [step] = identity(e);
    expect(step!.request.values).toEqual([
      'checkout-oncall@corp.example',
      'helpdesk-admin@corp.example',
      'j.doe@corp.example',
      'mallory@corp.example',
    ]);
    expect(step!.blastRadius.users).toBe(4);
    expect(step!.feeds).toEqual(['cisa-kev', 'phish']);
    expect(step!.confidence).toBe(100);
  });

  it('GIVEN an annotation with entries that are not accounts THEN each is warned about naming the workload and left out, the rest are kept, and empty entries are skipped', () => {
    const e = evaluate(
      {},
      cluster({
        checkout: {
          'forestall.io/accounts': 'alice@corp.example, bob smith, "eve",, DOMAIN\\carol, ',
        },
      }),
    );
    expect(e.warnings).toEqual([
      expect.stringMatching(
        /^Deployment shop\/checkout: annotation forestall\.io\/accounts: not an account .*"bob smith" contains whitespace.*; the entry is ignored$/,
      ),
      expect.stringMatching(
        /^Deployment shop\/checkout: annotation forestall\.io\/accounts: not an account .*contains a quote.*; the entry is ignored$/,
      ),
      expect.stringMatching(
        /^Deployment shop\/checkout: annotation forestall\.io\/accounts: not an account .*contains a backslash.*; the entry is ignored$/,
      ),
    ]);
    expect(identity(e)[0]!.isolatedWorkloads![0]).toMatchObject({
      target: { name: 'checkout' },
      accounts: ['alice@corp.example'],
    });
    // A workload whose annotation names no valid account is not in the evidence, and its isolation stands.
    const none = evaluate({}, cluster({ checkout: { 'forestall.io/accounts': 'bob smith' } }));
    expect(none.actions.map((a) => a.name)).toContain('kev-isolate-shop-deployment-checkout');
    expect(identity(none)[0]!.isolatedWorkloads!.map((w) => w.target.name)).toEqual(['helpdesk']);
    expect(none.warnings).toHaveLength(1);
  });

  it('GIVEN an annotation with a bad entry on a workload that is not isolated THEN the policy does not warn about it', () => {
    expect(
      evaluate({}, cluster({ catalog: { 'forestall.io/accounts': 'bob smith' } })).warnings,
    ).toEqual([]);
  });

  it('GIVEN the CVEs are patched THEN nothing is isolated and the identity template plans nothing, so its action lifts; feed accounts alone keep it with no evidence', () => {
    const patched = cluster({ checkoutReport: [] }).filter(
      (o) => !(o as { metadata: { name: string } }).metadata.name.includes('helpdesk'),
    );
    const e = evaluate({}, patched);
    expect(e.actions).toEqual([]);
    const withFeed = evaluate(
      { match: "indicator.type == 'account' || indicator.type == 'cve'" },
      patched,
      [kev, phish],
    );
    expect(withFeed.actions.map((a) => [a.type, a.request.values])).toEqual([
      ['StepUpAuth', ['j.doe@corp.example', 'mallory@corp.example']],
    ]);
    expect(withFeed.actions[0]!.isolatedWorkloads).toBeUndefined();
    expect(withFeed.actions[0]!.feeds).toEqual(['phish']);
  });

  it('GIVEN isolated workloads without the annotation THEN the identity template plans nothing', () => {
    const e = evaluate({}, cluster({ checkout: {}, helpdesk: {} }));
    expect(e.actions.map((a) => a.type)).toEqual(['Isolate', 'Isolate']);
    expect(e.warnings).toEqual([]);
  });

  it('GIVEN the identity template before the Isolate template, and an IdentitySuspend beside a StepUpAuth THEN each takes the same accounts, in template order', () => {
    const e = evaluate({
      actions: [
        { type: 'IdentitySuspend', params: { around: 'Isolated', credentialsSecretRef: 'scim' } },
        ISOLATE,
        STEP_UP,
      ],
    });
    expect(e.actions.map((a) => [a.name, a.request.values.length])).toEqual([
      ['kev-identitysuspend', 3],
      ['kev-isolate-shop-deployment-checkout', 1],
      ['kev-isolate-support-deployment-helpdesk', 1],
      ['kev-stepupauth', 3],
    ]);
    expect(e.actions[0]!.request.params).toEqual({ credentialsSecretRef: 'scim' });
    expect(e.actions[0]!.connector).toBe('identity:scim');
  });

  it('GIVEN an identity template without around THEN it ignores the isolated workloads, as before', () => {
    const e = evaluate({
      actions: [
        ISOLATE,
        { type: 'StepUpAuth', params: { credentialsSecretRef: 'scim', group: 'mfa' } },
      ],
    });
    expect(identity(e)).toEqual([]);
  });

  it("GIVEN two Isolate templates THEN a workload counts once, with the first template's action as its isolation", () => {
    const e = evaluate({
      actions: [ISOLATE, { type: 'Isolate', connector: 'network:cilium' }, STEP_UP],
    });
    expect(identity(e)[0]!.isolatedWorkloads!.map((w) => w.isolation)).toEqual([
      'kev-isolate-0-shop-deployment-checkout',
      'kev-isolate-0-support-deployment-helpdesk',
    ]);
    expect(identity(e)[0]!.request.values).toHaveLength(3);
  });

  it('GIVEN a workload without pod labels THEN it is not isolated, so its accounts are not taken', () => {
    const e = evaluate({}, cluster({ helpdeskPodLabels: {} }));
    expect(e.warnings).toEqual([
      expect.stringMatching(/^Deployment support\/helpdesk has no pod labels/),
    ]);
    expect(identity(e)[0]!.request.values).toEqual([
      'checkout-oncall@corp.example',
      'j.doe@corp.example',
    ]);
  });

  it('GIVEN accounts reviewers rejected THEN they are left out; GIVEN a rejected CVE THEN its workload is not isolated and names no one', () => {
    expect(
      identity(evaluate({}, cluster(), [kev], { suppressed: new Set(['j.doe@corp.example']) }))[0]!
        .request.values,
    ).toEqual(['checkout-oncall@corp.example', 'helpdesk-admin@corp.example']);
    const cveRejected = evaluate({}, cluster(), [kev], { suppressed: new Set(['CVE-2023-44487']) });
    expect(identity(cveRejected)[0]!.isolatedWorkloads!.map((w) => w.target.name)).toEqual([
      'checkout',
    ]);
    expect(identity(cveRejected)[0]!.confidence).toBe(100);
  });

  it('GIVEN an inventory without exposure data THEN nothing is isolated and only matched account indicators remain', () => {
    const e = evaluatePolicy(
      {
        name: 'kev',
        generation: 1,
        spec: {
          feeds: { names: ['phish'] },
          match: "indicator.type == 'account'",
          actions: [ISOLATE, STEP_UP],
          mode: 'Enforce',
        } as ExposurePolicySpec,
      },
      [phish],
      { ...inventoryFromObjects(cluster()), exposure: undefined },
      { now: NOW, cel, connectors },
    );
    expect(e.actions.map((a) => [a.type, a.request.values])).toEqual([
      ['StepUpAuth', ['j.doe@corp.example', 'mallory@corp.example']],
    ]);
  });
});

describe('params.around compile errors', () => {
  it('GIVEN around: Isolated in a policy without an Isolate template THEN a compile error names the field, and nothing is planned', () => {
    const e = evaluate({ actions: [{ type: 'EgressDeny' }, STEP_UP] });
    expect(e.compileErrors).toEqual([
      {
        field: 'spec.actions[1].params.around',
        message:
          'spec.actions[1].params.around: Isolated takes the accounts of the workloads this policy isolates, and spec.actions has no Isolate template',
      },
    ]);
    expect(e.actions).toEqual([]);
  });

  it.each([
    [
      { type: 'EgressDeny', params: { around: 'Isolated' } },
      /only IdentitySuspend and StepUpAuth templates take it .*, not EgressDeny/,
    ],
    [
      {
        type: 'IdentityBlock',
        connector: 'identity:okta',
        params: { around: 'Isolated', zone: 'z' },
      },
      /not IdentityBlock/,
    ],
    [{ type: 'StepUpAuth', params: { around: 'isolated' } }, /"isolated" is not one of Isolated/],
    [
      { type: 'IdentitySuspend', params: { around: ['Isolated'] } },
      /\["Isolated"\] is not one of Isolated/,
    ],
  ])(
    'GIVEN %j beside an Isolate template THEN it is a compile error on params.around',
    (template, message) => {
      const e = evaluate({ actions: [ISOLATE, template as ExposurePolicySpec['actions'][number]] });
      expect(e.compileErrors.map((c) => c.field)).toEqual(['spec.actions[1].params.around']);
      expect(e.compileErrors[0]!.message).toMatch(message);
    },
  );
});

describe('workloadAccounts', () => {
  it.each([
    [undefined, [], 0],
    ['', [], 0],
    [' Alice@Corp.Example ,bob, alice@corp.example,', ['alice@corp.example', 'bob'], 0],
    ['j.doe@corp[.]example', ['j.doe@corp.example'], 0],
    ['ok, not ok', ['ok'], 1],
    [`${'a'.repeat(257)}, b`, ['b'], 1],
  ])('GIVEN %j THEN accounts %j with %d problem(s)', (annotation, accounts, problems) => {
    const r = workloadAccounts({ ...(annotation === undefined ? {} : { accounts: annotation }) });
    expect(r.accounts).toEqual(accounts);
    expect(r.problems).toHaveLength(problems);
  });
});
