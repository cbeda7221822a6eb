import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { runPlan } from './plan.js';
import { runCli as run, runInProcess } from './test-support.js';

// The planner runs in-process on the TypeScript sources: the same code as
// dist/cli/main.js plan, without a child process per case.
const examples = new URL('../examples', import.meta.url).pathname;
const NOW = '2026-08-22T12:00:00Z';

const plan = (...args: string[]) => runInProcess(runPlan, args);

interface JsonPlan {
  actions: {
    name: string;
    type: string;
    layer: string;
    decision: string;
    indicators: number;
    blastRadius: Record<string, unknown>;
    objects: Record<string, string>[];
    evidence?: JsonEvidence;
  }[];
  policies: {
    name: string;
    matched: number;
    compileErrors: { field: string }[];
    missingFeeds: string[];
    warnings: string[];
  }[];
  feeds: {
    name: string;
    indicators?: number;
    dropped?: Record<string, number>;
    missing?: string;
    error?: string;
  }[];
  cluster: {
    internetFacing: string[];
    vulnerabilityReports: number;
    ignoredReports: { report: string; reason: string }[];
    warnings: string[];
  };
  errors: string[];
}

interface JsonEvidence {
  target: Record<string, string>;
  internetFacing: boolean;
  exposure: { kind: string; via: string }[];
  vulnerabilities: Record<string, unknown>[];
}

/** A forestall.io/v1alpha1 object as YAML: its kind, then its lines (metadata, spec). */
const forestallYaml = (
  kind: 'ThreatFeed' | 'ExposurePolicy' | 'ThreatException',
  ...lines: string[]
) => ['apiVersion: forestall.io/v1alpha1', `kind: ${kind}`, ...lines].join('\n');

const feedYaml = (name: string, annotations: Record<string, string> = {}) =>
  forestallYaml(
    'ThreatFeed',
    `metadata: {name: ${name}, annotations: ${JSON.stringify(annotations)}}`,
    'spec: {format: lines, source: {http: {url: "https://feeds.example.org/x"}}, confidence: {default: 80}}',
  );

const policyYaml = (name: string, feed: string, match: string, extra = '') =>
  forestallYaml(
    'ExposurePolicy',
    `metadata: {name: ${name}}`,
    `spec: {feeds: {names: [${feed}]}, match: ${JSON.stringify(match)}, actions: [{type: EgressDeny}], mode: Audit${extra}}`,
  );

const cluster = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {environment: production}}',
  'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: apps}\nspec: {replicas: 2, template: {metadata: {labels: {app: web}}}}',
  'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.0.0/24}\nstatus: {addresses: [{type: ExternalIP, address: 34.120.5.6}]}',
].join('\n---\n');

/** A temp dir with a feed file, ThreatFeeds, policies and a cluster/ folder. */
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forestall-plan-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

describe('forestall plan on examples/', () => {
  let summary: Awaited<ReturnType<typeof plan>>;
  let json: JsonPlan;

  beforeAll(async () => {
    summary = await plan(examples, '--now', NOW);
    const r = await plan(examples, '--now', NOW, '--json');
    expect(r.code, r.stderr).toBe(0);
    json = JSON.parse(r.stdout) as JsonPlan;
  });

  it('GIVEN the examples and no flags THEN every feed with a plan-file is ingested and the plan exits 0', () => {
    expect(summary.code, summary.stderr).toBe(0);
    expect(summary.stderr).toBe('');
    expect(summary.stdout).toMatch(
      /^Plan of 4 ThreatFeeds and 4 ExposurePolicies under .*examples, at 2026-08-22T12:00:00.000Z\n/,
    );
    expect(summary.stdout).toMatch(
      /Cluster .*examples\/cluster \(found under the PATH; --cluster DIR chooses another\): 7 namespaces, 10 workloads, 19 pods/,
    );
    expect(summary.stdout).toMatch(/ipsum\s+lines\s+120,382 indicators \(ipv4 120,382\)/);
    expect(summary.stdout).toMatch(
      /dropped by guardrails: never-block:tranco10k 1 \(pastebin\.com\)/,
    );
    expect(summary.stdout).toMatch(
      /internal-blocklist\s+lines\s+no content: give --feed internal-blocklist=FILE.*; no policy reads it/,
    );
  });

  it('GIVEN the examples THEN the summary shows audit, auto and approval decisions with their reasons', () => {
    expect(summary.stdout).toMatch(
      /action c2-egress-deny-egressdeny: EgressDeny via network:networkpolicy, 14,215 indicators/,
    );
    expect(summary.stdout).toMatch(/decision\s+audit \(mode Audit/);
    expect(summary.stdout).toMatch(/decision\s+auto \(spec\.autoApprove allowed it/);
    expect(summary.stdout).toMatch(/decision\s+approval \(spec\.autoApprove is false/);
    expect(summary.stdout).toMatch(
      /objects\s+6 NetworkPolicy \(default\/forestall-c2-egress-deny-egressdeny/,
    );
    expect(summary.stdout).not.toMatch(/warning: /);
    expect(summary.stdout).toMatch(/6 actions: 2 auto, 3 approval, 1 audit; 10 objects rendered/);
  });

  it('GIVEN the examples THEN the cluster summary names the internet-facing workloads and the stale report it ignored', () => {
    expect(summary.stdout).toMatch(
      /\n {2}internet-facing: Deployment shop\/checkout, Deployment shop\/frontend, Deployment support\/helpdesk\n/,
    );
    expect(summary.stdout).toMatch(
      /\n {2}VulnerabilityReports: 7, 1 ignored:\n {4}shop\/replicaset-frontend-5d8f7c9b4-nginx: stale: it scanned docker\.io\/library\/nginx:1\.25\.2, but container nginx of Deployment shop\/frontend runs nginx:1\.27\.3\n/,
    );
  });

  it('GIVEN the KEV example THEN the summary says which workloads are isolated, why (CVE, KEV dateAdded, exposure path) and how to fix them', () => {
    const section = summary.stdout.slice(
      summary.stdout.indexOf('Policy kev-isolate-internet-facing'),
    );
    expect(section).toMatch(
      /action kev-isolate-internet-facing-isolate-shop-deployment-checkout: Isolate via network:networkpolicy, 1 CVE/,
    );
    expect(section).toMatch(
      /isolates\s+Deployment shop\/checkout\n\s+exposed by\s+Ingress shop\/storefront \(host shop\.example\.com\) → Service checkout:8080\n/,
    );
    expect(section).toMatch(
      /CVE-2025-24813 {2}Apache Tomcat, in KEV since 2025-04-01: CRITICAL in org\.apache\.tomcat\.embed:tomcat-embed-core 10\.1\.34, container app\n\s+remediation: upgrade org\.apache\.tomcat\.embed:tomcat-embed-core from 10\.1\.34 to 9\.0\.99, 10\.1\.35, 11\.0\.3 in container app/,
    );
    expect(section).toMatch(
      /isolates\s+Deployment support\/helpdesk\n\s+exposed by\s+Gateway infra\/public ← HTTPRoute support\/helpdesk → Service helpdesk:8080\n/,
    );
    expect(section).toMatch(
      /CVE-2023-44487 {2}IETF HTTP\/2, in KEV since 2023-10-10: HIGH in golang\.org\/x\/net v0\.15\.0, container server\n\s+remediation: upgrade golang\.org\/x\/net from v0\.15\.0 to 0\.17\.0/,
    );
    expect(section).toMatch(/expires\s+when patched \(expiry UntilPatched\)/);
    // Vulnerable but internal (staging/checkout, shop/catalog), internet-facing but not in KEV (shop/frontend): not isolated.
    expect(section).not.toMatch(/isolate-staging|catalog|frontend/);
  });

  it('GIVEN the KEV example THEN the plan shows the exposure window if enforced now, from KEV dateAdded', () => {
    // 2025-04-01 (CVE-2025-24813) and 2023-10-10 (CVE-2023-44487) to 2026-08-22T12:00Z.
    const section = summary.stdout.slice(
      summary.stdout.indexOf('Policy kev-isolate-internet-facing'),
    );
    // The StepUpAuth around the isolations inherits the earliest of their publications.
    expect(section).toMatch(
      /exposure window if enforced now: p50 1047d, p90 1047d, p99 1047d over 3 actions/,
    );
    expect(section).toMatch(/published\s+2025-04-01T00:00:00.000Z: exposed 508d if enforced now/);
    const kev = (
      json.policies as unknown as {
        name: string;
        exposureWindow?: { count: number; p50: number };
        actions: {
          name: string;
          publishedAt: string | null;
          exposureWindowSeconds: number | null;
        }[];
      }[]
    ).find((p) => p.name === 'kev-isolate-internet-facing')!;
    expect(kev.exposureWindow).toMatchObject({ count: 3, p50: 1047 * 86400 + 12 * 3600 });
    expect(kev.actions.map((a) => a.publishedAt).sort()).toEqual([
      '2023-10-10T00:00:00.000Z',
      '2023-10-10T00:00:00.000Z',
      '2025-04-01T00:00:00.000Z',
    ]);
    // A lines feed says nothing of when an address was published.
    expect(summary.stdout).toMatch(
      /action c2-egress-deny-critical-egressdeny:.*\n.*\n\s+published\s+unknown: the source gives no first_seen/,
    );
  });

  it('GIVEN --json THEN each action has exactly the documented keys and the counts agree with the feeds', () => {
    for (const a of json.actions) {
      const keys = ['blastRadius', 'decision', 'indicators', 'layer', 'name', 'objects', 'type'];
      // Isolate actions and the KEV example's StepUpAuth (params.around Isolated) carry evidence.
      expect(Object.keys(a).sort()).toEqual(
        a.type === 'Isolate' || a.type === 'StepUpAuth'
          ? [...keys.slice(0, 3), 'evidence', ...keys.slice(3)].sort()
          : keys,
      );
      for (const o of a.objects)
        expect(Object.keys(o).sort()).toEqual(['apiVersion', 'kind', 'name', 'namespace']);
    }
    // Policies in name order, so the output is stable.
    expect(json.actions.map((a) => [a.name, a.type, a.layer, a.decision, a.indicators])).toEqual([
      ['block-malware-domains-dnsblock', 'DNSBlock', 'dns', 'approval', 6],
      ['c2-egress-deny-egressdeny', 'EgressDeny', 'network', 'audit', 14215],
      ['c2-egress-deny-critical-egressdeny', 'EgressDeny', 'network', 'auto', 23],
      [
        'kev-isolate-internet-facing-isolate-shop-deployment-checkout',
        'Isolate',
        'network',
        'approval',
        1,
      ],
      [
        'kev-isolate-internet-facing-isolate-support-deployment-helpdesk',
        'Isolate',
        'network',
        'auto',
        1,
      ],
      ['kev-isolate-internet-facing-stepupauth', 'StepUpAuth', 'identity', 'approval', 3],
    ]);
    const [dns, c2, critical, checkout] = json.actions;
    // kube-system is out of the c2 scope; the DNS block is cluster-wide; an isolation is one workload.
    expect(c2!.blastRadius).toEqual({
      namespaces: 6,
      workloads: 8,
      pods: 14,
      users: 0,
      addresses: 14215,
      production: true,
    });
    expect(dns!.blastRadius).toEqual({
      namespaces: 7,
      workloads: 10,
      pods: 19,
      users: 0,
      addresses: 0,
      production: true,
    });
    expect(checkout!.blastRadius).toEqual({
      namespaces: 1,
      workloads: 1,
      pods: 2,
      users: 0,
      addresses: 0,
      production: true,
    });
    expect(c2!.objects.map((o) => o.namespace)).toEqual([
      'default',
      'infra',
      'monitoring',
      'shop',
      'staging',
      'support',
    ]);
    expect(critical!.objects).toEqual([
      {
        apiVersion: 'policy.networking.k8s.io/v1alpha2',
        kind: 'ClusterNetworkPolicy',
        namespace: '',
        name: 'forestall-c2-egress-deny-critical-egressdeny-0',
      },
    ]);
    expect(json.feeds.find((f) => f.name === 'malware-domains')).toMatchObject({
      indicators: 8,
      dropped: { 'never-block:tranco10k': 1 },
    });
    expect(json.errors).toEqual([]);
  });

  it('GIVEN --json THEN an Isolate action carries its evidence with a remediation per CVE, and the cluster its exposure summary', () => {
    const checkout = json.actions.find((a) => a.name.endsWith('shop-deployment-checkout'))!;
    expect(checkout.evidence).toEqual({
      target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'checkout' },
      internetFacing: true,
      exposure: [
        {
          kind: 'Ingress',
          via: 'Ingress shop/storefront (host shop.example.com) → Service checkout:8080',
        },
      ],
      vulnerabilities: [
        {
          cveID: 'CVE-2025-24813',
          vendor: 'Apache',
          product: 'Tomcat',
          dateAdded: '2025-04-01',
          knownRansomwareCampaignUse: false,
          container: 'app',
          image: 'registry.example.org/shop/checkout:2.4.1',
          package: 'org.apache.tomcat.embed:tomcat-embed-core',
          installedVersion: '10.1.34',
          fixedVersion: '9.0.99, 10.1.35, 11.0.3',
          severity: 'CRITICAL',
          link: 'https://avd.aquasec.com/nvd/cve-2025-24813',
          remediation:
            'upgrade org.apache.tomcat.embed:tomcat-embed-core from 10.1.34 to 9.0.99, 10.1.35, 11.0.3 in container app (image registry.example.org/shop/checkout:2.4.1), then roll out the new image',
        },
      ],
    });
    expect(json.cluster).toMatchObject({
      internetFacing: [
        'Deployment shop/checkout',
        'Deployment shop/frontend',
        'Deployment support/helpdesk',
      ],
      vulnerabilityReports: 7,
      ignoredReports: [
        {
          report: 'shop/replicaset-frontend-5d8f7c9b4-nginx',
          reason: expect.stringMatching(/^stale: /),
        },
      ],
      warnings: [],
    });
  });
});

describe('forestall plan: identity around isolated workloads', () => {
  it('GIVEN the KEV example THEN its StepUpAuth takes the accounts annotated on the two isolated workloads, once each, and names them', async () => {
    const { stdout } = await plan(examples, '--now', NOW);
    const section = stdout.slice(stdout.indexOf('action kev-isolate-internet-facing-stepupauth'));
    expect(section).toMatch(
      /^action kev-isolate-internet-facing-stepupauth: StepUpAuth via identity:keycloak, 3 accounts, highest confidence 100\n/,
    );
    expect(section).toMatch(/decision\s+approval \(spec\.autoApprove is false for this action\)/);
    expect(section).toMatch(
      /values\s+a\.khan@corp\.example, j\.doe@corp\.example, m\.rossi@corp\.example\n/,
    );
    expect(section).toMatch(
      /around\s+Deployment shop\/checkout \(isolated\): j\.doe@corp\.example, m\.rossi@corp\.example\n\s+Deployment support\/helpdesk \(isolated\): a\.khan@corp\.example, j\.doe@corp\.example\n/,
    );
  });

  it('GIVEN --json THEN the StepUpAuth evidence lists the isolated workloads with their Isolate action and accounts', async () => {
    const r = await plan(examples, '--now', NOW, '--json');
    const step = (
      JSON.parse(r.stdout) as { actions: { name: string; evidence?: unknown }[] }
    ).actions.find((a) => a.name === 'kev-isolate-internet-facing-stepupauth')!;
    expect(step.evidence).toEqual({
      isolatedWorkloads: [
        {
          target: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            namespace: 'shop',
            name: 'checkout',
          },
          isolation: 'kev-isolate-internet-facing-isolate-shop-deployment-checkout',
          accounts: ['j.doe@corp.example', 'm.rossi@corp.example'],
        },
        {
          target: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            namespace: 'support',
            name: 'helpdesk',
          },
          isolation: 'kev-isolate-internet-facing-isolate-support-deployment-helpdesk',
          accounts: ['a.khan@corp.example', 'j.doe@corp.example'],
        },
      ],
    });
  });

  it('GIVEN a cluster directory whose isolated workload has a bad entry in forestall.io/accounts THEN the plan warns naming the workload and steps up the valid accounts', async () => {
    const dir = await workspace({
      'kev.txt': 'CVE-2021-44228\n',
      'feed.yaml':
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: cves, annotations: {forestall.io/plan-file: kev.txt}}\nspec: {format: lines, source: {http: {url: "https://x/cves"}}, confidence: {default: 90}}',
      'policy.yaml': forestallYaml(
        'ExposurePolicy',
        'metadata: {name: log4j}',
        'spec:',
        '  feeds: {names: [cves]}',
        '  match: "indicator.type == \'cve\'"',
        '  mode: Audit',
        '  actions:',
        '    - type: Isolate',
        '    - {type: IdentitySuspend, params: {around: Isolated, credentialsSecretRef: scim}}',
      ),
      'cluster/objects.yaml': [
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: apps, annotations: {forestall.io/accounts: "Ops@Corp.example, bad user"}}\nspec: {replicas: 1, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: "registry.example.org/apps/api:1.0.0"}]}}}',
        'apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nmetadata: {name: api, namespace: apps, labels: {trivy-operator.resource.kind: Deployment, trivy-operator.resource.name: api, trivy-operator.resource.namespace: apps, trivy-operator.container.name: api}}\nreport: {registry: {server: registry.example.org}, artifact: {repository: apps/api, tag: 1.0.0}, vulnerabilities: [{vulnerabilityID: CVE-2021-44228, resource: log4j-core, installedVersion: 2.14.1, severity: CRITICAL}]}',
      ].join('\n---\n'),
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /action log4j-identitysuspend: IdentitySuspend via identity:scim, 1 account/,
    );
    expect(r.stdout).toMatch(
      /values\s+ops@corp\.example\n\s+around\s+Deployment apps\/api \(isolated\): ops@corp\.example\n/,
    );
    expect(r.stdout).toMatch(
      /warning: Deployment apps\/api: annotation forestall\.io\/accounts: not an account .*"bad user" contains whitespace .*; the entry is ignored\n/,
    );
  });

  it('GIVEN around: Isolated in a policy without an Isolate template THEN the plan exits 1 naming the file and the field', async () => {
    const dir = await workspace({
      'feed.txt': '45.148.10.240\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'feed.txt' }),
      'policy.yaml':
        'apiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: p}\nspec: {feeds: {names: [ips]}, actions: [{type: StepUpAuth, params: {around: Isolated}}]}',
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /policy\.yaml: ExposurePolicy\/p: spec\.actions\[0\]\.params\.around: Isolated takes the accounts of the workloads this policy isolates, and spec\.actions has no Isolate template/,
    );
    expect(r.stdout).toMatch(/COMPILE ERROR spec\.actions\[0\]\.params\.around: /);
  });
});

describe('forestall plan on edge cases', () => {
  it('GIVEN a CEL typo in spec.match THEN it exits 1 naming the file and spec.match, and still plans the other policy', async () => {
    const dir = await workspace({
      'feed.txt': '45.148.10.240\n',
      'feed.yaml': feedYaml('bad-ips', { 'forestall.io/plan-file': 'feed.txt' }),
      'policies.yaml': [
        policyYaml('typo', 'bad-ips', "indicator.tpye == 'ipv4'"),
        policyYaml('fine', 'bad-ips', "indicator.type == 'ipv4'"),
      ].join('\n---\n'),
      'cluster/objects.yaml': cluster,
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/policies\.yaml: ExposurePolicy\/typo: spec\.match: .*tpye/);
    expect(r.stdout).toMatch(/Policy typo .*\n {2}COMPILE ERROR spec\.match: /);
    expect(r.stdout).toMatch(
      /action fine-egressdeny: EgressDeny via network:networkpolicy, 1 indicator/,
    );
  });

  it('GIVEN a plan-file that does not exist THEN it exits 1 naming the annotation and the file, and the policy sees the feed as missing', async () => {
    const dir = await workspace({
      'feed.yaml': feedYaml('gone', { 'forestall.io/plan-file': 'nowhere.txt' }),
      'policy.yaml': policyYaml('p', 'gone', "indicator.type == 'ipv4'"),
    });
    const r = await plan(dir, '--now', NOW, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ThreatFeed gone: .*feed\.yaml: annotation forestall\.io\/plan-file: cannot read .*nowhere\.txt: no such file/,
    );
    const out = JSON.parse(r.stdout) as JsonPlan;
    expect(out.policies[0]!.missingFeeds).toEqual(['gone']);
    expect(out.actions).toEqual([]);
  });

  it('GIVEN a feed file its parser refuses and a confidence expression that does not compile THEN it exits 1 naming the data file and the YAML file', async () => {
    const dir = await workspace({
      'kev.json': '{"title": "not a catalog"}',
      'ips.txt': '45.148.10.240\n',
      'feeds.yaml': [
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: kev, annotations: {forestall.io/plan-file: kev.json}}\nspec: {format: kev, source: {http: {url: "https://x/kev.json"}}}',
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: ips, annotations: {forestall.io/plan-file: ips.txt}}\nspec: {format: lines, source: {http: {url: "https://x/ips"}}, confidence: {expression: "record.score +"}}',
      ].join('\n---\n'),
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ThreatFeed kev: .*kev\.json: kev: the catalog lacks catalogVersion/);
    expect(r.stderr).toMatch(/ThreatFeed ips: .*feeds\.yaml: spec\.confidence\.expression: /);
    expect(r.stdout).toMatch(/kev\s+kev\s+ERROR /);
  });

  it('GIVEN an action its connector refuses to render (over its size budget) THEN it exits 1 naming the policy and the action', async () => {
    const domains = Array.from(
      { length: 10_000 },
      (_, i) => `host-${String(i).padStart(6, '0')}.malware-domain.test`,
    ).join('\n');
    const dir = await workspace({
      'd.txt': domains,
      'all.yaml': `${feedYaml('doms', { 'forestall.io/plan-file': 'd.txt' })}\n---\n${policyYaml('p', 'doms', '').replace('EgressDeny', 'DNSBlock')}`,
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ExposurePolicy\/p: action p-dnsblock: the CoreDNS ConfigMap would be about \d+ KiB for 10000 domains, over the 900 KiB budget/,
    );
  });

  it('GIVEN a feed without content THEN it is reported as missing for the policies that read it, and that is no error', async () => {
    const dir = await workspace({
      'all.yaml': `${feedYaml('quiet')}\n---\n${policyYaml('p', 'quiet', '')}`,
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/quiet\s+lines\s+no content: .*; missing for p/);
    expect(r.stdout).toMatch(/missing feeds: quiet/);
  });

  it('GIVEN --feed NAME=FILE and a cluster whose node has a public address THEN the flag wins over the annotation and the cluster address is never blocked', async () => {
    const dir = await workspace({
      'annotated.txt': '45.148.10.240\n',
      'override.txt': '# the node below is 34.120.5.6\n34.120.5.6\n193.47.62.69\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'annotated.txt' }),
      'policy.yaml': policyYaml('p', 'ips', "indicator.type == 'ipv4'"),
      'cluster/objects.yaml': cluster,
    });
    const r = await plan(dir, '--now', NOW, '--json', '--feed', `ips=${join(dir, 'override.txt')}`);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonPlan;
    expect(out.feeds[0]).toMatchObject({ name: 'ips', indicators: 1, dropped: { cluster: 1 } });
    expect(out.actions[0]).toMatchObject({
      indicators: 1,
      blastRadius: { namespaces: 1, workloads: 1, pods: 2, addresses: 1, production: true },
    });
  });

  it('GIVEN a csv feed with a type column of accounts and an IdentitySuspend policy THEN the plan shows the accounts, their users, the approval and no objects', async () => {
    const dir = await workspace({
      'phish.csv':
        'indicator,type\nJ.Doe@Corp.example,email\nsvc-backup,username\nalice@example.com,\n45.148.10.240,ip\n',
      'feed.yaml': forestallYaml(
        'ThreatFeed',
        'metadata: {name: phish, annotations: {forestall.io/plan-file: phish.csv}}',
        'spec: {format: csv, parser: {header: true, valueColumn: 0, typeColumn: 1}, source: {http: {url: "https://feeds.example.org/phish.csv"}}, confidence: {default: 90}}',
      ),
      'policy.yaml': forestallYaml(
        'ExposurePolicy',
        'metadata: {name: phished}',
        "spec: {feeds: {names: [phish]}, match: \"indicator.type == 'account'\", actions: [{type: IdentitySuspend, connector: 'identity:okta', params: {url: 'https://corp.okta.com', credentialsSecretRef: okta}}], mode: Enforce, autoApprove: 'action.confidence >= 50'}",
      ),
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code, r.stderr).toBe(0);
    // The row without a type is an email nobody said was an account: rejected, not suspended.
    expect(r.stdout).toMatch(/phish\s+csv\s+3 indicators \(account 2, ipv4 1\)/);
    expect(r.stdout).toMatch(
      /malformed records: 1 \(first: line 4: not an IP, CIDR, domain, URL, hash or CVE: "alice@example.com"/,
    );
    expect(r.stdout).toContain(
      'action phished-identitysuspend: IdentitySuspend via identity:okta, 2 accounts, highest confidence 90',
    );
    expect(r.stdout).toMatch(
      /decision {5}approval \(identity actions need approval unless spec.autoApprove names them/,
    );
    expect(r.stdout).toContain('blast radius 2 users at the identity provider, touches production');
    expect(r.stdout).toContain('values       j.doe@corp.example, svc-backup');
    expect(r.stdout).toContain(
      "objects      none: identity:okta changes the accounts through the provider's API once the action is approved",
    );
    expect(r.stdout).not.toContain('not rendered');
    const json = JSON.parse((await plan(dir, '--now', NOW, '--json')).stdout) as JsonPlan;
    expect(json.actions).toEqual([
      expect.objectContaining({
        name: 'phished-identitysuspend',
        layer: 'identity',
        decision: 'approval',
        indicators: 2,
        objects: [],
        blastRadius: expect.objectContaining({ users: 2 }),
      }),
    ]);
  });

  it('GIVEN a DNSBlock policy that auto-approves everything and a feed of cluster, forge and IdP names THEN none of them is blocked (issue 13: a DNSBlock of cluster.local was auto-approved)', async () => {
    const dir = await workspace({
      'names.txt':
        'cluster.local\nsvc.cluster.local\nkubernetes.default.svc.cluster.local\nco.uk\nexample.org\ngit.example.org\nacme.okta.com\nevil.example\n',
      'feed.yaml': feedYaml('names', { 'forestall.io/plan-file': 'names.txt' }),
      'policy.yaml': forestallYaml(
        'ExposurePolicy',
        'metadata: {name: dns}',
        'spec:',
        '  feeds: {names: [names]}',
        '  actions: [{type: DNSBlock}, {type: StepUpAuth, connector: "identity:okta", params: {url: "https://acme.okta.com", credentialsSecretRef: okta, group: mfa}}]',
        '  mode: Enforce',
        '  autoApprove: "true"',
        '  git: {url: "git@git.example.org:platform/policy.git"}',
      ),
    });
    const r = await plan(dir, '--now', NOW, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonPlan;
    expect(out.feeds[0]).toMatchObject({
      indicators: 1,
      dropped: { cluster: 3, 'public-suffix': 1, infrastructure: 3 },
    });
    expect(out.actions.find((a) => a.type === 'DNSBlock')).toMatchObject({
      decision: 'auto',
      indicators: 1,
    });
  });

  it('GIVEN --never-block THEN the address joins the guardrails, as the controller flag of the same name does', async () => {
    const dir = await workspace({
      'ips.txt': '45.148.10.240\n193.47.62.69\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'ips.txt' }),
    });
    const r = await plan(dir, '--now', NOW, '--json', '--never-block', '193.47.62.69');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as JsonPlan).feeds[0]).toMatchObject({
      indicators: 1,
      dropped: { allowlist: 1 },
    });
  });

  it('GIVEN --out THEN every rendered object is a file that parses, and kustomization.yaml lists exactly those files', async () => {
    const dir = await workspace({
      'feed.txt': '45.148.10.240\n193.47.62.69\n2.57.122.0/24\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'feed.txt' }),
      'policy.yaml': policyYaml('p', 'ips', "indicator.type in ['ipv4', 'cidr']"),
      'cluster/objects.yaml': `${cluster}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}`,
    });
    const out = join(dir, 'rendered');
    const r = await plan(dir, '--now', NOW, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const planned = (JSON.parse(r.stdout) as JsonPlan).actions.flatMap((a) => a.objects);
    expect(planned.map((o) => o.namespace)).toEqual(['apps', 'other']);
    const kustomization = parse(await readFile(join(out, 'kustomization.yaml'), 'utf8')) as {
      kind: string;
      resources: string[];
    };
    expect(kustomization.kind).toBe('Kustomization');
    const files = (await readdir(out)).filter((f) => f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(files);
    const written = [];
    for (const f of files) {
      const docs = parseAllDocuments(await readFile(join(out, f), 'utf8'));
      expect(docs).toHaveLength(1);
      const m = docs[0]!.toJS() as {
        apiVersion: string;
        kind: string;
        metadata: { name: string; namespace?: string };
        spec: { egress: { to: { ipBlock?: { except?: string[] } }[] }[] };
      };
      expect(m.spec.egress[0]!.to[0]!.ipBlock!.except).toEqual([
        '2.57.122.0/24',
        '45.148.10.240/32',
        '193.47.62.69/32',
      ]);
      written.push({
        apiVersion: m.apiVersion,
        kind: m.kind,
        namespace: m.metadata.namespace ?? '',
        name: m.metadata.name,
      });
    }
    expect(written).toEqual(planned);
  });

  it('GIVEN --out twice over the same inputs at different times THEN no file changes; a change to the feed changes the file and its expiry', async () => {
    const dir = await workspace({
      'feed.txt': '45.148.10.240\n193.47.62.69\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'feed.txt' }),
      'policy.yaml': policyYaml('p', 'ips', "indicator.type == 'ipv4'"),
      'cluster/objects.yaml': cluster,
    });
    const out = join(dir, 'rendered');
    const file = join(out, 'networkpolicy.networking.k8s.io_apps_forestall-p-egressdeny.yaml');
    expect((await plan(dir, '--now', NOW, '--out', out)).code).toBe(0);
    const first = await readFile(file, 'utf8');
    expect(first).toContain('forestall.io/expires-at: 2026-08-29T12:00:00.000Z');
    expect((await plan(dir, '--now', '2026-08-23T08:00:00Z', '--out', out)).code).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(first);
    await writeFile(join(dir, 'feed.txt'), '45.148.10.240\n');
    expect((await plan(dir, '--now', '2026-08-23T08:00:00Z', '--out', out)).code).toBe(0);
    const changed = await readFile(file, 'utf8');
    expect(changed).not.toContain('193.47.62.69');
    expect(changed).toContain('forestall.io/expires-at: 2026-08-30T08:00:00.000Z');
  });

  it('GIVEN --decisions THEN --out writes only the actions of those decisions, and a bad list or no --out is bad usage', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'forestall-decisions-')), 'out');
    const r = await plan(examples, '--now', NOW, '--out', out, '--decisions', 'auto');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Wrote 2 files for the auto actions and kustomization.yaml');
    const files = (await readdir(out)).filter((f) => f !== 'kustomization.yaml').sort();
    expect(files).toHaveLength(2);
    expect((await plan(examples, '--out', out, '--decisions', 'auto,maybe')).code).toBe(2);
    expect((await plan(examples, '--decisions', 'auto')).stderr).toContain(
      '--decisions chooses what --out writes: give --out DIR',
    );
  });

  it('GIVEN ThreatExceptions beside the policies THEN the plan leaves their values out and names them per action, and a broad one without broad: true is an error', async () => {
    const exception = (name: string, spec: string) =>
      forestallYaml(
        'ThreatException',
        `metadata: {name: ${name}}`,
        `spec: {reason: fp, owner: secops, ${spec}}`,
      );
    const dir = await workspace({
      'feed.txt': '45.148.10.240\n193.47.62.69\n2.57.122.0/24\n',
      'feed.yaml': feedYaml('ips', { 'forestall.io/plan-file': 'feed.txt' }),
      'policy.yaml': policyYaml('p', 'ips', "indicator.type in ['ipv4', 'cidr']"),
      'exceptions.yaml': [
        exception('cdn', 'cidrs: [2.57.122.9]'),
        exception('all', 'cidrs: ["::ffff:0.0.0.0/96"]'),
      ].join('\n---\n'),
      'cluster/objects.yaml': cluster,
    });
    const r = await plan(dir, '--now', NOW, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'ThreatException/all: spec.cidrs[0]: ::ffff:0.0.0.0/96 is wider than /8 (IPv4)',
    );
    const json = JSON.parse(r.stdout) as {
      policies: { excepted: unknown; actions: { exceptions: unknown }[] }[];
      actions: { indicators: number }[];
    };
    expect(json.actions[0]!.indicators).toBe(2);
    expect(json.policies[0]!.actions[0]!.exceptions).toEqual([{ name: 'cdn', indicators: 1 }]);
    expect(json.policies[0]!.excepted).toEqual({
      indicators: 1,
      exceptions: [{ name: 'cdn', indicators: 1, actions: ['p-egressdeny'] }],
    });
    const text = await plan(dir, '--now', NOW);
    expect(text.stdout).toContain('  excepted 1 indicator by ThreatExceptions: cdn (1)');
    expect(text.stdout).toContain('    excepted     1 indicator by cdn');
  });

  it('GIVEN --cluster with a NodePort Service, VulnerabilityReports and a bad override annotation THEN the plan isolates the exposed workload (the internal one only with exposure Any) and warns about the annotation', async () => {
    const catalog = {
      catalogVersion: '2025.07.14',
      count: 1,
      vulnerabilities: [
        {
          cveID: 'CVE-2021-44228',
          vendorProject: 'Apache',
          product: 'Log4j2',
          vulnerabilityName: 'Apache Log4j2 Remote Code Execution Vulnerability',
          dateAdded: '2021-12-10',
          shortDescription: 'x',
          requiredAction: 'x',
          dueDate: '2021-12-24',
          knownRansomwareCampaignUse: 'Known',
        },
      ],
    };
    const dir = await workspace({
      'kev.json': JSON.stringify(catalog),
      'feed.yaml':
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: kev, annotations: {forestall.io/plan-file: kev.json}}\nspec: {format: kev, source: {http: {url: "https://x/kev.json"}}, confidence: {default: 100}}',
      'policy.yaml': [
        'apiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: kev}\nspec: {feeds: {names: [kev]}, match: "indicator.type == \'cve\' && workload.fixAvailable", scope: {exposure: InternetFacing}, actions: [{type: Isolate}], mode: Audit, expiry: UntilPatched}',
        'apiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: kev-any}\nspec: {feeds: {names: [kev]}, match: "workload.name == \'indexer\'", scope: {exposure: Any}, actions: [{type: Isolate}], mode: Audit, expiry: UntilPatched}',
      ].join('\n---\n'),
      'elsewhere/objects.yaml': [
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: search, namespace: apps}\nspec: {replicas: 2, template: {metadata: {labels: {app: search}}, spec: {containers: [{name: solr, image: "solr:8.11.0"}]}}}',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other, namespace: apps, annotations: {forestall.io/internet-facing: "maybe"}}\nspec: {template: {metadata: {labels: {app: other}}, spec: {containers: [{name: c, image: "busybox"}]}}}',
        'apiVersion: v1\nkind: Service\nmetadata: {name: search, namespace: apps}\nspec: {type: NodePort, selector: {app: search}, ports: [{port: 8983}]}',
        'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: indexer, namespace: apps}\nspec: {template: {metadata: {labels: {app: indexer}}, spec: {containers: [{name: solr, image: "docker.io/library/solr:8.11.0"}]}}}',
        'apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nmetadata: {name: statefulset-indexer-solr, namespace: apps, labels: {trivy-operator.resource.kind: StatefulSet, trivy-operator.resource.name: indexer, trivy-operator.resource.namespace: apps, trivy-operator.container.name: solr}}\n' +
          'report: {registry: {server: index.docker.io}, artifact: {repository: library/solr, tag: 8.11.0}, vulnerabilities: [{vulnerabilityID: CVE-2021-44228, resource: org.apache.logging.log4j:log4j-core, installedVersion: 2.14.1, fixedVersion: 2.15.0, severity: CRITICAL}]}',
        'apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nmetadata: {name: replicaset-search-5f7d8-solr, namespace: apps, labels: {trivy-operator.resource.kind: ReplicaSet, trivy-operator.resource.name: search-5f7d8, trivy-operator.resource.namespace: apps, trivy-operator.container.name: solr}}\n' +
          'report: {registry: {server: index.docker.io}, artifact: {repository: library/solr, tag: 8.11.0}, vulnerabilities: [{vulnerabilityID: CVE-2021-44228, resource: org.apache.logging.log4j:log4j-core, installedVersion: 2.14.1, fixedVersion: 2.15.0, severity: CRITICAL}]}',
      ].join('\n---\n'),
    });
    const r = await plan(dir, '--now', NOW, '--cluster', join(dir, 'elsewhere'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/internet-facing: Deployment apps\/search\n/);
    expect(r.stdout).toMatch(
      /warning: Deployment apps\/other: annotation forestall\.io\/internet-facing is "maybe", not "true" or "false"; it is ignored/,
    );
    expect(r.stdout).toMatch(
      /action kev-isolate-apps-deployment-search: Isolate via network:networkpolicy, 1 CVE/,
    );
    expect(r.stdout).not.toMatch(/action kev-isolate-apps-statefulset-indexer/);
    expect(r.stdout).toMatch(
      /action kev-any-isolate-apps-statefulset-indexer: .*\n(.*\n){4}\s+isolates\s+StatefulSet apps\/indexer\n\s+exposed by\s+nothing: not internet-facing \(scope\.exposure Any\)\n/,
    );
    expect(r.stdout).toMatch(/decision\s+audit/);
    expect(r.stdout).toMatch(/exposed by\s+Service apps\/search \(NodePort\)/);
    expect(r.stdout).toMatch(
      /CVE-2021-44228 {2}Apache Log4j2, in KEV since 2021-12-10, used in ransomware campaigns: CRITICAL in org\.apache\.logging\.log4j:log4j-core 2\.14\.1, container solr\n\s+remediation: upgrade org\.apache\.logging\.log4j:log4j-core from 2\.14\.1 to 2\.15\.0 in container solr \(image solr:8\.11\.0\)/,
    );
  });

  it('GIVEN an invalid ExposurePolicy and a duplicate ThreatFeed THEN it exits 1 naming the files and fields', async () => {
    const dir = await workspace({
      'a.yaml': `${feedYaml('dup')}\n---\napiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: broken}\nspec: {feeds: {names: [dup]}, actions: [], mode: Sometimes}`,
      'b.yaml': feedYaml('dup'),
    });
    const r = await plan(dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a\.yaml: ExposurePolicy\/broken: .*spec\.mode/);
    expect(r.stderr).toMatch(
      /b\.yaml: ThreatFeed\/dup: a ThreatFeed named dup is already defined in .*a\.yaml/,
    );
  });

  it.each([
    [[], /give at least one PATH/],
    [['/nonexistent/forestall'], /\/nonexistent\/forestall: no such file or directory/],
    [['EXAMPLES', '--feed', 'ipsum'], /--feed "ipsum": expected NAME=FILE/],
    [['EXAMPLES', '--feed', 'nosuch=x.txt'], /--feed nosuch=\.\.\.: no ThreatFeed named nosuch/],
    [
      ['EXAMPLES', '--feed', 'ipsum=/nonexistent/ipsum.txt'],
      /--feed ipsum=\/nonexistent\/ipsum\.txt: not a readable file/,
    ],
    [['EXAMPLES', '--now', 'yesterday'], /--now "yesterday": expected an RFC 3339 time/],
    [
      ['EXAMPLES', '--cluster', '/nonexistent/cluster'],
      /--cluster \/nonexistent\/cluster: not a directory/,
    ],
    [
      ['EXAMPLES', '--connector', 'firewall=x:y'],
      /--connector firewall=x:y: unknown layer "firewall"/,
    ],
    [['EXAMPLES', '--colour'], /Unknown option '--colour'/],
  ])('GIVEN the usage error %j THEN it exits 2 and says what is wrong', async (args, message) => {
    const r = await plan(...args.map((a) => (a === 'EXAMPLES' ? examples : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('GIVEN --help THEN it explains --out writes every action whatever its decision', async () => {
    const r = await plan('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /--out DIR\s+write the rendered manifests of every action, whatever its\s+decision/,
    );
  });
});

describe('the forestall command', () => {
  it('GIVEN --help THEN plan is listed, and plan --help prints its usage', async () => {
    expect((await run('--help')).stdout).toMatch(/plan PATH\.\.\.\s+run the policy engine offline/);
    const r = await run('plan', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: forestall plan PATH\.\.\. \[flags\]/);
  });

  it('GIVEN a policy naming a feed no ThreatFeed defines THEN the built command exits 1 naming the policy and the name', async () => {
    const dir = await workspace({
      'all.yaml': `${feedYaml('ips')}\n---\n${policyYaml('p', 'ips', '').replace('names: [ips]', 'names: [ips, ipsun]')}`,
    });
    const r = await run('plan', dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /forestall plan: .*all\.yaml: ExposurePolicy\/p: spec\.feeds\.names\[1\]: no ThreatFeed named "ipsun" in the input/,
    );
    expect(r.stdout).toMatch(/missing feeds: ips, ipsun \(not defined, or no content\)/);
  });

  it('GIVEN a template whose params its connector does not take THEN the built command exits 1 naming the param', async () => {
    const dir = await workspace({
      'all.yaml': `${feedYaml('ips')}\n---\n${policyYaml('p', 'ips', '').replace('{type: EgressDeny}', '{type: EgressDeny, params: {prority: 5}}')}`,
    });
    const r = await run('plan', dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ExposurePolicy\/p: spec\.actions\[0\]\.params\.prority: is not a parameter of this connector/,
    );
  });

  it('GIVEN a KEV catalog whose count is larger than the entries it lists THEN the built command exits 1 naming both numbers and plans no isolation from it', async () => {
    const catalog = JSON.parse(
      await readFile(new URL('../examples/feeds/kev.json', import.meta.url), 'utf8'),
    ) as { count: number; vulnerabilities: unknown[] };
    const listed = catalog.vulnerabilities.length;
    catalog.count = listed + 5;
    const dir = await workspace({
      'kev.json': JSON.stringify(catalog),
      'all.yaml':
        'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: kev, annotations: {forestall.io/plan-file: kev.json}}\n' +
        'spec: {format: kev, source: {http: {url: "https://x.example/kev.json"}}}',
    });
    const r = await run('plan', dir, '--now', NOW);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `says count ${listed + 5} but lists ${listed} vulnerabilities; a catalog that contradicts itself is refused`,
    );
    expect(r.stdout).toMatch(/kev\s+kev\s+ERROR/);
  });

  it('GIVEN a usage error THEN the built command exits 2', async () => {
    const r = await run('plan');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/forestall plan: give at least one PATH/);
  });
});
