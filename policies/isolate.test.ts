import { createReadStream } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExposurePolicySpec } from '../crds/index.js';
import { defaultGuardrailConfig, Guardrails, ingest, type Indicator } from '../feeds/index.js';
import { CelCache } from '../cel/index.js';
import { evaluatePolicy, type EngineOptions } from './engine.js';
import { inventoryFromObjects } from './inventory.js';
import { isolateActionName, remediation } from './isolate.js';
import {
  deployment,
  ingress,
  LOG4SHELL,
  namespace,
  RAPID_RESET_NET,
  RAPID_RESET_STDLIB,
  service,
  TOMCAT,
  TOMCAT_NOT_KEV,
  vulnerabilityReport,
  type ReportVulnerability,
} from './test-support.js';
import type { FeedView, Inventory } from './types.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';

/**
 * Isolate planning on the real KEV catalog of 2025-07-14 (examples/feeds/kev.json, the
 * same file as shared/feeds/kev/kev-2025-07-14.json) and VulnerabilityReports that use
 * its CVE ids: CVE-2025-24813 (Apache Tomcat, added 2025-04-01), CVE-2023-44487 (HTTP/2
 * Rapid Reset, added 2023-10-10), CVE-2021-44228 (Log4Shell, ransomware use known).
 * CVE-2025-31650 (Tomcat) is not in KEV.
 */
const NOW = new Date('2025-07-14T12:00:00Z');
const cel = new CelCache();
let kev: Indicator[];

beforeAll(async () => {
  const file = new URL('../examples/feeds/kev.json', import.meta.url).pathname;
  kev = (
    await ingest(createReadStream(file), {
      feed: 'cisa-kev',
      format: 'kev',
      confidence: { default: 100 },
      now: NOW,
      guardrails: new Guardrails(defaultGuardrailConfig()),
    })
  ).indicators;
});

const checkoutImage = { repository: 'shop/checkout', tag: '2.4.1' };

/**
 * shop/checkout (Ingress) and support/helpdesk (LoadBalancer) are vulnerable and
 * internet-facing; staging/checkout (internal load balancer) and shop/catalog
 * (ClusterIP) are vulnerable only; shop/frontend is internet-facing only.
 */
function cluster(
  over: {
    checkoutReport?: ReportVulnerability[];
    checkoutImage?: string;
    helpdeskAnnotations?: Record<string, string>;
  } = {},
): unknown[] {
  return [
    namespace('shop', { environment: 'production' }),
    namespace('support'),
    namespace('staging'),
    deployment('shop', 'checkout', {
      labels: { app: 'checkout', tier: 'api' },
      images: { app: over.checkoutImage ?? 'registry.example.org/shop/checkout:2.4.1' },
    }),
    service('shop', 'checkout', { selector: { app: 'checkout' } }),
    ingress('shop', 'storefront', [{ host: 'shop.example.com', service: 'checkout', port: 8080 }]),
    vulnerabilityReport(
      'shop',
      'ReplicaSet',
      'checkout-7c9f8d6b5d',
      'app',
      checkoutImage,
      over.checkoutReport ?? [TOMCAT, TOMCAT_NOT_KEV],
    ),
    deployment('shop', 'catalog', {
      images: { catalog: 'registry.example.org/shop/catalog:4.2.0' },
    }),
    service('shop', 'catalog'),
    vulnerabilityReport(
      'shop',
      'ReplicaSet',
      'catalog-84d5f6c7b9',
      'catalog',
      { repository: 'shop/catalog', tag: '4.2.0' },
      [LOG4SHELL],
    ),
    deployment('shop', 'frontend', { images: { nginx: 'nginx:1.27.3' } }),
    service('shop', 'frontend', { type: 'LoadBalancer' }),
    deployment('support', 'helpdesk', {
      replicas: 3,
      images: { server: 'registry.example.org/support/helpdesk:1.8.0' },
      ...(over.helpdeskAnnotations ? { annotations: over.helpdeskAnnotations } : {}),
    }),
    service('support', 'helpdesk', { type: 'LoadBalancer' }),
    vulnerabilityReport(
      'support',
      'ReplicaSet',
      'helpdesk-59c8b7d6f4',
      'server',
      { repository: 'support/helpdesk', tag: '1.8.0' },
      [RAPID_RESET_NET, RAPID_RESET_STDLIB],
    ),
    deployment('staging', 'checkout', {
      labels: { app: 'checkout', tier: 'api' },
      replicas: 1,
      images: { app: 'registry.example.org/shop/checkout:2.4.1' },
    }),
    service('staging', 'checkout', {
      type: 'LoadBalancer',
      selector: { app: 'checkout' },
      annotations: { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal' },
    }),
    vulnerabilityReport('staging', 'ReplicaSet', 'checkout-6b7f9d8c5', 'app', checkoutImage, [
      TOMCAT,
    ]),
  ];
}

function kevFeed(indicators: Indicator[] = kev): FeedView {
  return { name: 'cisa-kev', labels: { 'forestall.io/kind': 'vulnerability' }, indicators };
}

function policy(spec: Partial<ExposurePolicySpec> = {}) {
  return {
    name: 'kev',
    generation: 1,
    spec: {
      feeds: { names: ['cisa-kev'] },
      match: "indicator.type == 'cve' && 'kev' in indicator.tags",
      scope: { exposure: 'InternetFacing' },
      actions: [
        { type: 'Isolate', params: { allowSameNamespace: true, allowNamespaces: ['monitoring'] } },
      ],
      mode: 'Enforce',
      autoApprove: 'true',
      expiry: 'UntilPatched',
      ...spec,
    } as ExposurePolicySpec,
  };
}

function evaluate(
  spec: Partial<ExposurePolicySpec> = {},
  inventory: Inventory = inventoryFromObjects(cluster()),
  feeds: FeedView[] = [kevFeed()],
  opts: Partial<EngineOptions> = {},
) {
  return evaluatePolicy(policy(spec), feeds, inventory, { now: NOW, cel, connectors, ...opts });
}

describe('Isolate planning', () => {
  it('GIVEN exposure InternetFacing THEN exactly the vulnerable AND internet-facing workloads get an action, one each, with the workload as target and selector', () => {
    const e = evaluate();
    expect(e.compileErrors).toEqual([]);
    expect(e.warnings).toEqual([]);
    expect(e.actions.map((a) => [a.name, a.request.values])).toEqual([
      ['kev-isolate-shop-deployment-checkout', ['CVE-2025-24813']],
      ['kev-isolate-support-deployment-helpdesk', ['CVE-2023-44487']],
    ]);
    const [checkout] = e.actions;
    expect(checkout).toMatchObject({
      type: 'Isolate',
      layer: 'network',
      connector: 'network:networkpolicy',
      policy: 'kev',
      confidence: 100,
      feeds: ['cisa-kev'],
      blastRadius: {
        namespaces: 1,
        workloads: 1,
        pods: 2,
        users: 0,
        addresses: 0,
        production: true,
      },
      workloadSelector: { matchLabels: { app: 'checkout', tier: 'api' } },
      decision: 'auto',
    });
    expect(checkout!.request).toEqual({
      name: 'kev-isolate-shop-deployment-checkout',
      policy: 'kev',
      type: 'Isolate',
      values: ['CVE-2025-24813'],
      targets: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'checkout' }],
      scope: {
        namespaces: ['shop'],
        workloadSelector: { matchLabels: { app: 'checkout', tier: 'api' } },
      },
      params: { allowSameNamespace: true, allowNamespaces: ['monitoring'] },
    });
  });

  it('GIVEN exposure Any THEN the vulnerable workloads that are not internet-facing are isolated too', () => {
    expect(evaluate({ scope: { exposure: 'Any' } }).actions.map((a) => a.name)).toEqual([
      'kev-isolate-shop-deployment-catalog',
      'kev-isolate-shop-deployment-checkout',
      'kev-isolate-staging-deployment-checkout',
      'kev-isolate-support-deployment-helpdesk',
    ]);
    expect(evaluate({ scope: {} }).actions).toHaveLength(4);
  });

  it('GIVEN an isolated workload THEN the evidence has the KEV facts, every finding of the CVE, the exposure path, and a remediation', () => {
    const helpdesk = evaluate().actions.find((a) => a.name.endsWith('helpdesk'))!;
    // Both findings share the KEV facts of the CVE and the container they are in.
    const rapidResetInHelpdesk = {
      cveID: 'CVE-2023-44487',
      vendor: 'IETF',
      product: 'HTTP/2',
      dateAdded: '2023-10-10',
      knownRansomwareCampaignUse: false,
      container: 'server',
      image: 'registry.example.org/support/helpdesk:1.8.0',
    };
    expect(helpdesk.evidence).toEqual({
      target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'support', name: 'helpdesk' },
      internetFacing: true,
      exposure: [{ kind: 'LoadBalancer', via: 'Service support/helpdesk (LoadBalancer)' }],
      vulnerabilities: [
        {
          ...rapidResetInHelpdesk,
          package: 'golang.org/x/net',
          installedVersion: 'v0.15.0',
          fixedVersion: '0.17.0',
          severity: 'HIGH',
          link: 'https://avd.aquasec.com/nvd/cve-2023-44487',
        },
        {
          ...rapidResetInHelpdesk,
          package: 'stdlib',
          installedVersion: 'v1.21.1',
          fixedVersion: '1.20.10, 1.21.3',
          severity: 'HIGH',
        },
      ],
    });
    expect(remediation(helpdesk.evidence!.vulnerabilities[0]!)).toBe(
      'upgrade golang.org/x/net from v0.15.0 to 0.17.0 in container server (image registry.example.org/support/helpdesk:1.8.0), then roll out the new image',
    );
    expect(
      remediation({ ...helpdesk.evidence!.vulnerabilities[0]!, fixedVersion: undefined }),
    ).toMatch(/^no fixed version of golang.org\/x\/net v0.15.0 is published yet/);
    const checkout = evaluate().actions[0]!;
    expect(checkout.evidence!.exposure).toEqual([
      {
        kind: 'Ingress',
        via: 'Ingress shop/storefront (host shop.example.com) → Service checkout:8080',
      },
    ]);
  });

  it('GIVEN an EPSS score merged into the KEV indicator THEN the evidence carries it', () => {
    const epss: Indicator = {
      type: 'cve',
      value: 'CVE-2023-44487',
      confidence: 50,
      sources: ['epss'],
      tags: [],
      attributes: { epss: 0.94, percentile: 0.99 },
    };
    const e = evaluate(
      {
        feeds: { names: ['cisa-kev', 'epss'] },
        match:
          "indicator.type == 'cve' && 'kev' in indicator.tags && indicator.attributes.epss > 0.9",
      },
      undefined,
      [kevFeed(), { name: 'epss', labels: {}, indicators: [epss] }],
    );
    expect(e.actions.map((a) => a.name)).toEqual(['kev-isolate-support-deployment-helpdesk']);
    expect(e.actions[0]!.evidence!.vulnerabilities[0]).toMatchObject({
      cveID: 'CVE-2023-44487',
      epss: 0.94,
    });
    expect(e.actions[0]!.feeds).toEqual(['cisa-kev', 'epss']);
  });

  it('GIVEN spec.match over the workload THEN each CVE × finding pair decides, the count includes pair-only matches, and the empty workload raises no warnings', () => {
    const e = evaluate({
      match:
        "indicator.type == 'cve' && workload.podLabels.tier == 'api' && workload.fixAvailable && workload.severity == 'CRITICAL'",
    });
    expect(e.warnings).toEqual([]);
    expect(e.matched).toBe(1);
    expect(e.actions.map((a) => a.name)).toEqual(['kev-isolate-shop-deployment-checkout']);
    const byContainer = evaluate({
      match: "workload.container == 'server' && workload.installedVersion.startsWith('v0.')",
    });
    expect(
      byContainer.actions.map((a) => a.evidence!.vulnerabilities.map((v) => v.package)),
    ).toEqual([['golang.org/x/net']]);
  });

  it('GIVEN a runtime error on some pairs THEN those pairs do not match and one warning counts them', () => {
    const e = evaluate({ match: "indicator.type == 'cve' && workload.podLabels.team == 'x'" });
    expect(e.actions).toEqual([]);
    expect(e.warnings).toEqual([
      expect.stringMatching(
        /^spec\.match failed on 3 CVE × workload pair\(s\), which count as not matching: spec\.match: No such key: team/,
      ),
    ]);
  });

  it('GIVEN a CVE reviewers rejected THEN its workloads are left out and it counts as suppressed', () => {
    const e = evaluate({}, undefined, undefined, { suppressed: new Set(['CVE-2025-24813']) });
    expect(e.actions.map((a) => a.name)).toEqual(['kev-isolate-support-deployment-helpdesk']);
    expect(e.suppressed).toBe(1);
    // Also when the CVE matches only together with a workload.
    const pairOnly = evaluate(
      { match: "indicator.type == 'cve' && workload.internetFacing" },
      undefined,
      undefined,
      { suppressed: new Set(['CVE-2025-24813']) },
    );
    expect([pairOnly.matched, pairOnly.suppressed]).toEqual([2, 1]);
    expect(pairOnly.actions.map((a) => a.name)).toEqual([
      'kev-isolate-support-deployment-helpdesk',
    ]);
  });

  it('GIVEN mode and autoApprove THEN each action is decided alone: production goes to review, Audit only reports', () => {
    const enforce = evaluate({
      autoApprove:
        "action.type == 'Isolate' && action.blastRadius.workloads == 1 && !action.blastRadius.production",
    });
    expect(enforce.actions.map((a) => [a.name, a.decision])).toEqual([
      ['kev-isolate-shop-deployment-checkout', 'approval'],
      ['kev-isolate-support-deployment-helpdesk', 'auto'],
    ]);
    expect(evaluate({ mode: 'Audit' }).actions.map((a) => a.decision)).toEqual(['audit', 'audit']);
  });

  it('GIVEN expiry 72h instead of UntilPatched THEN the request expires', () => {
    expect(evaluate({ expiry: '72h' }).actions[0]!.request.expiresAt).toBe(
      '2025-07-17T12:00:00.000Z',
    );
    expect(evaluate().actions[0]!.request).not.toHaveProperty('expiresAt');
  });
});

describe('Isolate planning over time', () => {
  it('GIVEN the catalog before CVE-2025-24813 was added THEN checkout is not isolated; once it is listed THEN it is', () => {
    const before = kev.filter((i) => i.value !== 'CVE-2025-24813');
    expect(evaluate({}, undefined, [kevFeed(before)]).actions.map((a) => a.name)).toEqual([
      'kev-isolate-support-deployment-helpdesk',
    ]);
    expect(evaluate().actions.map((a) => a.name)).toContain('kev-isolate-shop-deployment-checkout');
  });

  it('GIVEN the report updated to the fixed version THEN checkout has no action any more, which lifts its isolation', () => {
    const patched = inventoryFromObjects(cluster({ checkoutReport: [TOMCAT_NOT_KEV] }));
    expect(evaluate({}, patched).actions.map((a) => a.name)).toEqual([
      'kev-isolate-support-deployment-helpdesk',
    ]);
  });

  it('GIVEN a patched image rolled out before the rescan THEN the old report is stale and checkout has no action', () => {
    const rolled = inventoryFromObjects(
      cluster({ checkoutImage: 'registry.example.org/shop/checkout:2.4.2' }),
    );
    expect(evaluate({}, rolled).actions.map((a) => a.name)).toEqual([
      'kev-isolate-support-deployment-helpdesk',
    ]);
    expect(rolled.exposure!.ignoredReports.map((r) => r.report)).toEqual([
      'shop/replicaset-checkout-7c9f8d6b5d-app',
    ]);
  });

  it('GIVEN the workload stops being internet-facing (annotation "false") THEN it has no action under InternetFacing', () => {
    const hidden = inventoryFromObjects(
      cluster({ helpdeskAnnotations: { 'forestall.io/internet-facing': 'false' } }),
    );
    expect(evaluate({}, hidden).actions.map((a) => a.name)).toEqual([
      'kev-isolate-shop-deployment-checkout',
    ]);
  });

  it('GIVEN the same objects in another order THEN the plan is the same', () => {
    const forward = evaluate();
    const backward = evaluate({}, inventoryFromObjects(cluster().reverse()));
    expect(backward.actions).toEqual(forward.actions);
  });
});

describe('Isolate names and edge cases', () => {
  it('GIVEN two workloads whose names join into the same text THEN each action gets a distinct name ending in a hash', () => {
    const objects = [
      deployment('x', 'statefulset-y', {
        images: { app: 'registry.example.org/shop/checkout:2.4.1' },
      }),
      deployment('x-deployment', 'y', {
        kind: 'StatefulSet',
        images: { app: 'registry.example.org/shop/checkout:2.4.1' },
      }),
      vulnerabilityReport('x', 'ReplicaSet', 'statefulset-y-5d8f', 'app', checkoutImage, [TOMCAT]),
      vulnerabilityReport('x-deployment', 'StatefulSet', 'y', 'app', checkoutImage, [TOMCAT]),
    ];
    expect(
      isolateActionName('kev', { kind: 'Deployment', namespace: 'x', name: 'statefulset-y' }),
    ).toBe(isolateActionName('kev', { kind: 'StatefulSet', namespace: 'x-deployment', name: 'y' }));
    const names = evaluate(
      { scope: { exposure: 'Any' } },
      inventoryFromObjects(objects),
    ).actions.map((a) => a.name);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    for (const name of names)
      expect(name).toMatch(/^kev-isolate-x-deployment-statefulset-y-[0-9a-f]{10}$/);
  });

  it('GIVEN very long names THEN the action name stays within 200 characters, a valid DNS subdomain, the same each time', () => {
    const workload = {
      kind: 'Deployment',
      namespace: 'n'.repeat(63),
      name: `${'a'.repeat(120)}.${'b'.repeat(120)}`,
    };
    const name = isolateActionName('p'.repeat(100), workload);
    expect(name.length).toBeLessThanOrEqual(200);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(isolateActionName('p'.repeat(100), workload)).toBe(name);
    expect(
      isolateActionName('p', { kind: 'DaemonSet', namespace: 'kube-system', name: 'agent' }, 1),
    ).toBe('p-isolate-1-kube-system-daemonset-agent');
  });

  it('GIVEN two Isolate templates THEN their actions are told apart by the template index', () => {
    const e = evaluate({
      actions: [{ type: 'Isolate' }, { type: 'Isolate', connector: 'network:cilium' }],
    });
    expect(e.actions.map((a) => [a.name, a.connector])).toEqual([
      ['kev-isolate-0-shop-deployment-checkout', 'network:networkpolicy'],
      ['kev-isolate-0-support-deployment-helpdesk', 'network:networkpolicy'],
      ['kev-isolate-1-shop-deployment-checkout', 'network:cilium'],
      ['kev-isolate-1-support-deployment-helpdesk', 'network:cilium'],
    ]);
  });

  it('GIVEN a workload whose pods have no labels THEN it is not isolated, since its selector would take the whole namespace', () => {
    const objects = [
      deployment('shop', 'bare', {
        labels: {},
        images: { app: 'registry.example.org/shop/checkout:2.4.1' },
      }),
      vulnerabilityReport('shop', 'ReplicaSet', 'bare-1', 'app', checkoutImage, [TOMCAT]),
    ];
    const e = evaluate({ scope: { exposure: 'Any' } }, inventoryFromObjects(objects));
    expect(e.actions).toEqual([]);
    expect(e.warnings).toEqual([
      'Deployment shop/bare has no pod labels to select its pods by, so it is not isolated',
    ]);
  });

  it('GIVEN an inventory without exposure data THEN nothing is isolated and a warning says why', () => {
    const { exposure: _exposure, ...bare } = inventoryFromObjects(cluster());
    const e = evaluate({}, bare);
    expect(e.actions).toEqual([]);
    expect(e.warnings).toEqual([
      expect.stringMatching(/^Isolate needs the workloads' exposure and VulnerabilityReports/),
    ]);
  });

  it('GIVEN a workload selector in the scope THEN only the workloads it selects are isolated', () => {
    expect(
      evaluate({
        scope: { exposure: 'InternetFacing', workloadSelector: { matchLabels: { tier: 'api' } } },
      }).actions.map((a) => a.name),
    ).toEqual(['kev-isolate-shop-deployment-checkout']);
  });
});
