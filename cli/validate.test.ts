import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli as run } from './test-support.js';

const examples = new URL('../examples', import.meta.url).pathname;

const FEED =
  'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: ips}\nspec: {format: lines, source: {http: {url: "https://feeds.example.org/ips.txt"}}}';

/** An ExposurePolicy reading `ips`, with `spec` appended to a valid one. */
const policy = (name: string, extra = '', actions = '[{type: EgressDeny}]') =>
  `apiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: ${name}}\nspec: {feeds: {names: [ips]}, actions: ${actions}${extra}}`;

/** validate on one file holding the ThreatFeed `ips` and the given documents. */
async function validate(...docs: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'forestall-validate-'));
  await writeFile(join(dir, 'objects.yaml'), [FEED, ...docs].join('\n---\n'));
  return run('validate', dir);
}

describe('forestall validate: what the API server refuses', () => {
  it('GIVEN matchh: in a policy spec, and unknown fields deeper down THEN each is refused by its path and it exits 1', async () => {
    const r = await validate(
      policy('typo', ', matchh: "indicator.type == \'ipv4\'"'),
      policy('deep', ', scope: {namespaceSelector: {matchLabel: {a: b}}}'),
      policy('fine', ', match: "indicator.type == \'ipv4\'"'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ExposurePolicy\/typo: spec\.matchh: unknown field/);
    expect(r.stderr).toMatch(
      /ExposurePolicy\/deep: spec\.scope\.namespaceSelector\.matchLabel: unknown field/,
    );
    expect(r.stdout).toMatch(/ExposurePolicy\/fine: valid/);
    expect(r.stdout).toMatch(/2 valid, 2 invalid/);
  });

  it.each([
    [
      'forestall.io/v1alpha2',
      'ThreatFeed',
      /apiVersion: expected forestall\.io\/v1alpha1, got "forestall\.io\/v1alpha2"/,
    ],
    [
      'forestal.io/v1alpha1',
      'ThreatFeed',
      /apiVersion: expected forestall\.io\/v1alpha1, got "forestal\.io\/v1alpha1"/,
    ],
    ['Forestall.io/v1alpha1', 'ExposurePolicy', /apiVersion: expected forestall\.io\/v1alpha1/],
    [
      'forestall.io/v1alpha1',
      'ThreatFed',
      /kind: unknown kind "ThreatFed"; expected one of ThreatFeed, ExposurePolicy, PreemptiveAction/,
    ],
    ['v1', 'ThreatFeed', /apiVersion: expected forestall\.io\/v1alpha1, got "v1"/],
  ])(
    'GIVEN apiVersion %s and kind %s THEN it is an error, never silently skipped',
    async (apiVersion, kind, message) => {
      const r = await validate(
        `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x}\nspec: {}`,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toMatch(/1 valid, 1 invalid/);
    },
  );

  it('GIVEN the examples, cluster inventory of other API groups included THEN those objects are skipped and it exits 0', async () => {
    const r = await run('validate', examples);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/8 valid, 0 invalid/);
    expect(r.stdout).not.toMatch(/Deployment|VulnerabilityReport|Namespace/);
  });
});

describe('forestall validate: what the controller refuses', () => {
  it('GIVEN CEL typos in spec.match, spec.autoApprove and a feed confidence expression THEN each is named by its field path', async () => {
    const r = await validate(
      policy('match', ', match: "indicator.type == \'ipv4\' &&"'),
      policy('approve', ', mode: Enforce, autoApprove: "action.confidense >= 90"'),
      'apiVersion: forestall.io/v1alpha1\nkind: ThreatFeed\nmetadata: {name: scored}\n' +
        'spec: {format: lines, source: {http: {url: "https://feeds.example.org/s.txt"}}, confidence: {expression: "int(record.score) *"}}',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ExposurePolicy\/match: spec\.match: /);
    expect(r.stderr).toMatch(/ExposurePolicy\/approve: spec\.autoApprove: .*confidense/);
    expect(r.stderr).toMatch(/ThreatFeed\/scored: spec\.confidence\.expression: /);
    expect(r.stdout).toMatch(/1 valid, 3 invalid/);
  });

  it('GIVEN an unknown connector, a connector that does not enforce the type, and unknown or invalid params THEN each is named', async () => {
    const r = await validate(
      policy('conn', '', "[{type: EgressDeny, connector: 'network:iptables'}]"),
      policy('layer', '', "[{type: EgressDeny, connector: 'dns:rpz'}]"),
      policy('typo', '', '[{type: DNSBlock, params: {namespce: kube-system}}]'),
      policy(
        'value',
        '',
        "[{type: IdentitySuspend, connector: 'identity:okta', params: {url: 'https://corp.okta.com', credentialsSecretRef: okta, maxUsers: 0}}]",
      ),
      policy('missing', '', "[{type: IdentitySuspend, connector: 'identity:keycloak'}]"),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ExposurePolicy\/conn: spec\.actions\[0\]\.connector: no connector network:iptables; known: /,
    );
    expect(r.stderr).toMatch(
      /ExposurePolicy\/layer: spec\.actions\[0\]\.connector: dns:rpz does not enforce EgressDeny/,
    );
    expect(r.stderr).toMatch(
      /ExposurePolicy\/typo: spec\.actions\[0\]\.params\.namespce: is not a parameter of this connector \(known: .*namespace/,
    );
    expect(r.stderr).toMatch(
      /ExposurePolicy\/value: spec\.actions\[0\]\.params\.maxUsers: must be at least 1, not 0/,
    );
    expect(r.stderr).toMatch(
      /ExposurePolicy\/missing: spec\.actions\[0\]\.params\.credentialsSecretRef: is required/,
    );
    expect(r.stdout).toMatch(/1 valid, 5 invalid/);
  });

  it('GIVEN a policy naming a feed no ThreatFeed in the input defines THEN the name and its index are the error', async () => {
    const r = await validate(
      'apiVersion: forestall.io/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: p}\nspec: {feeds: {names: [ips, ipsun]}, actions: [{type: EgressDeny}]}',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ExposurePolicy\/p: spec\.feeds\.names\[1\]: no ThreatFeed named "ipsun" in the input/,
    );
  });

  it('GIVEN a hand-written PreemptiveAction with an unknown connector or a param it does not take THEN each is named', async () => {
    const action = (name: string, extra: string) =>
      `apiVersion: forestall.io/v1alpha1\nkind: PreemptiveAction\nmetadata: {name: ${name}}\nspec: {type: EgressDeny, layer: network, indicators: {count: 1}${extra}}`;
    const r = await validate(
      action('conn', ", connector: 'network:pf'"),
      action('param', ', params: {prority: 5}'),
      action('ok', ''),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PreemptiveAction\/conn: spec\.connector: no connector network:pf/);
    expect(r.stderr).toMatch(
      /PreemptiveAction\/param: spec\.params\.prority: is not a parameter of this connector/,
    );
    expect(r.stdout).toMatch(/PreemptiveAction\/ok: valid/);
  });
});

describe('forestall validate: usage', () => {
  it.each([
    [[], /give at least one PATH/],
    [['--strict', 'examples'], /Unknown option '--strict'/],
    [['/nonexistent/forestall'], /\/nonexistent\/forestall: no such file or directory/],
  ])('GIVEN %j THEN it exits 2 naming the problem', async (args, message) => {
    const r = await run('validate', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
