import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { validateObject, type ExposurePolicy } from '../crds/index.js';
import { defaultGuardrailConfig, Guardrails, ingest, type Indicator } from '../feeds/index.js';
import { evaluatePolicy, inventoryFromObjects, type FeedView } from './index.js';
import { CelCache, evaluateBool, indicatorActivation } from '../cel/index.js';
import { defaultConnectorCatalog as connectors } from '../connectors/index.js';

/**
 * The policy library (policies/library/*.yaml): every policy is valid against its CRD,
 * its CEL compiles in the engine's environment, and it picks exactly the fixture
 * indicators that say `expect: match` (policies/library/fixtures/<policy>/*.yaml).
 */
const libraryDir = new URL('./library', import.meta.url).pathname;
const fixturesDir = join(libraryDir, 'fixtures');
const NOW = new Date('2026-08-22T12:00:00Z');

interface Fixture extends Partial<Indicator> {
  type: Indicator['type'];
  value: string;
  confidence: number;
  expect: 'match' | 'no-match';
  why?: string;
}

const policyFiles = readdirSync(libraryDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function loadPolicy(file: string): ExposurePolicy {
  const result = validateObject(parse(readFileSync(join(libraryDir, file), 'utf8')));
  if (!result.ok) throw new Error(`${file}: ${JSON.stringify(result.issues)}`);
  return result.object as ExposurePolicy;
}

function loadFixtures(policy: string): Fixture[] {
  const dir = join(fixturesDir, policy);
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .flatMap((f) => parse(readFileSync(join(dir, f), 'utf8')) as Fixture[]);
}

/** A feed the policy selects: its first name, or the labels its selector asks for. */
function feedFor(policy: ExposurePolicy, indicators: Indicator[]): FeedView {
  const name = policy.spec.feeds.names?.[0] ?? 'fixture-feed';
  const labels = Object.fromEntries(
    Object.entries(policy.spec.feeds.selector?.matchLabels ?? {}).filter(
      (e): e is [string, string] => e[1] !== undefined,
    ),
  );
  return { name, labels, indicators: indicators.map((i) => ({ ...i, sources: [name] })) };
}

function toIndicator({ expect: _e, why: _w, ...f }: Fixture): Indicator {
  return { sources: [], tags: [], ...f };
}

describe('policy library', () => {
  it('GIVEN the library THEN it has the promised policies, each with fixtures', () => {
    expect(policyFiles).toEqual(
      expect.arrayContaining([
        'c2-egress-deny-ipsum.yaml',
        'malware-domains-dns-block.yaml',
        'kev-ransomware-isolate.yaml',
      ]),
    );
    const names = policyFiles.map((f) => f.replace(/\.yaml$/, '')).sort();
    expect(readdirSync(fixturesDir).sort()).toEqual(names);
  });

  describe.each(policyFiles)('%s', (file) => {
    const policy = loadPolicy(file);
    const name = policy.metadata!.name!;
    const cel = new CelCache();

    it('GIVEN the YAML THEN it is valid against the CRD and named after its file', () => {
      expect(`${name}.yaml`).toBe(file);
      expect(policy.kind).toBe('ExposurePolicy');
    });

    it('GIVEN its action templates THEN every connector they name exists', () => {
      for (const t of policy.spec.actions)
        if (t.connector) expect(connectors.info(t.connector)?.rendersManifests).toBe(true);
    });

    it('GIVEN its expressions THEN they compile in the engine CEL environment', () => {
      expect(policy.spec.match, 'a library policy must say what it matches').toBeTruthy();
      expect(() => cel.compile(policy.spec.match!, 'spec.match', 'match')).not.toThrow();
      if (policy.spec.autoApprove)
        expect(() =>
          cel.compile(policy.spec.autoApprove!, 'spec.autoApprove', 'autoApprove'),
        ).not.toThrow();
    });

    const fixtures = loadFixtures(name);
    it('GIVEN its fixtures THEN they hold both cases', () => {
      expect(fixtures.filter((f) => f.expect === 'match').length).toBeGreaterThan(0);
      expect(fixtures.filter((f) => f.expect === 'no-match').length).toBeGreaterThan(0);
      for (const f of fixtures) expect(['match', 'no-match']).toContain(f.expect);
    });

    it.each(fixtures.map((f) => [`${f.type} ${f.value}`, f] as const))(
      'GIVEN the indicator %s THEN spec.match agrees with the fixture',
      (_label, fixture) => {
        const match = cel.compile(policy.spec.match!, 'spec.match', 'match');
        const errors: string[] = [];
        const matched = evaluateBool(
          match,
          { indicator: indicatorActivation(toIndicator(fixture)), now: NOW },
          (m) => errors.push(m),
        );
        expect(errors).toEqual([]);
        expect(matched ? 'match' : 'no-match', fixture.why).toBe(fixture.expect);
      },
    );

    it('GIVEN all fixtures as one feed WHEN the engine evaluates the policy THEN it matches exactly the expected ones, without compile errors', () => {
      const feed = feedFor(policy, fixtures.map(toIndicator));
      const evaluation = evaluatePolicy(
        { name, generation: 1, spec: policy.spec },
        [feed],
        inventoryFromObjects([]),
        { now: NOW, cel, connectors },
      );
      expect(evaluation.compileErrors).toEqual([]);
      expect(evaluation.missingFeeds).toEqual([]);
      expect(evaluation.matched).toBe(fixtures.filter((f) => f.expect === 'match').length);
    });
  });
});

describe('c2-egress-deny-ipsum on the real IPsum list', () => {
  it('GIVEN examples/feeds/ipsum.txt THEN it blocks every address on 3 or more lists except the public resolvers the guardrails refuse', async () => {
    const file = new URL('../examples/feeds/ipsum.txt', import.meta.url).pathname;
    // Independently of the parsers and the CEL: the raw lines with a count of 3 or more...
    const onThreeLists = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s+/))
      .filter(([, count]) => Number(count) >= 3)
      .map(([ip]) => ip!);
    // ...minus the public DNS resolvers of MISP's warninglist, checked address by address.
    const resolvers = new Set(
      (
        JSON.parse(
          readFileSync(
            new URL('../feeds/warninglists/public-dns-v4.json', import.meta.url),
            'utf8',
          ),
        ) as { list: string[] }
      ).list
        .filter((c) => c.endsWith('/32') || !c.includes('/'))
        .map((c) => c.replace(/\/32$/, '')),
    );
    const expected = onThreeLists.filter((ip) => !resolvers.has(ip));
    expect(onThreeLists.length).toBe(14217);
    expect(expected.length).toBe(14215);

    const feedSpec = (
      parse(
        readFileSync(new URL('../examples/threatfeeds/ipsum.yaml', import.meta.url), 'utf8'),
      ) as {
        spec: {
          parser: { scoreColumn: number };
          confidence: { default: number; expression: string };
        };
      }
    ).spec;
    const ingested = await ingest(createReadStream(file), {
      feed: 'ipsum',
      format: 'lines',
      parser: feedSpec.parser,
      confidence: feedSpec.confidence,
      ttlMs: 72 * 3_600_000,
      now: NOW,
      guardrails: new Guardrails(defaultGuardrailConfig()),
    });
    const policy = loadPolicy('c2-egress-deny-ipsum.yaml');
    const inventory = inventoryFromObjects([
      { kind: 'Namespace', metadata: { name: 'shop' } },
      { kind: 'Namespace', metadata: { name: 'kube-system' } },
    ]);
    const evaluation = evaluatePolicy(
      { name: 'c2-egress-deny-ipsum', generation: 1, spec: policy.spec },
      [{ name: 'ipsum', labels: {}, indicators: ingested.indicators }],
      inventory,
      { now: NOW, cel: new CelCache(), connectors },
    );

    expect(evaluation.compileErrors).toEqual([]);
    expect(evaluation.matched).toBe(expected.length);
    const [action] = evaluation.actions;
    expect(action?.request.values).toEqual([...expected].sort());
    expect(action?.request.scope.namespaces).toEqual(['shop']);
    expect(action?.decision).toBe('audit');
  });
});

describe('kev-ransomware-isolate on the real KEV catalog', () => {
  it('GIVEN examples/feeds/kev.json THEN it matches exactly the CVEs whose knownRansomwareCampaignUse is Known', async () => {
    const file = new URL('../examples/feeds/kev.json', import.meta.url).pathname;
    const catalog = JSON.parse(readFileSync(file, 'utf8')) as {
      vulnerabilities: { cveID: string; knownRansomwareCampaignUse: string }[];
    };
    const expected = catalog.vulnerabilities
      .filter((v) => v.knownRansomwareCampaignUse === 'Known')
      .map((v) => v.cveID);
    expect(expected.length).toBe(288);

    const ingested = await ingest(createReadStream(file), {
      feed: 'cisa-kev',
      format: 'kev',
      now: NOW,
      guardrails: new Guardrails(defaultGuardrailConfig()),
    });
    const policy = loadPolicy('kev-ransomware-isolate.yaml');
    const cel = new CelCache();
    const match = cel.compile(policy.spec.match!, 'spec.match', 'match');
    const matched = ingested.indicators
      .filter((i) => evaluateBool(match, { indicator: indicatorActivation(i), now: NOW }))
      .map((i) => i.value);
    expect(matched.sort()).toEqual([...expected].sort());
    const evaluation = evaluatePolicy(
      { name: 'kev-ransomware-isolate', generation: 1, spec: policy.spec },
      [
        {
          name: 'cisa-kev',
          labels: { 'forestall.io/kind': 'vulnerability' },
          indicators: ingested.indicators,
        },
      ],
      inventoryFromObjects([]),
      { now: NOW, cel, connectors },
    );
    expect(evaluation.matched).toBe(288);
  });
});

describe('kev-ransomware-isolate on the example cluster', () => {
  it('GIVEN examples/cluster THEN only shop/catalog runs ransomware CVEs (Log4Shell), and being internal it is isolated only when the scope takes any exposure', async () => {
    const clusterDir = new URL('../examples/cluster/', import.meta.url).pathname;
    const objects = readdirSync(clusterDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(clusterDir, f), 'utf8')).map(
          (d) => d.toJS() as unknown,
        ),
      );
    const inventory = inventoryFromObjects(objects);
    const ingested = await ingest(
      createReadStream(new URL('../examples/feeds/kev.json', import.meta.url).pathname),
      {
        feed: 'cisa-kev',
        format: 'kev',
        now: NOW,
        guardrails: new Guardrails(defaultGuardrailConfig()),
      },
    );
    const feed: FeedView = {
      name: 'cisa-kev',
      labels: { 'forestall.io/kind': 'vulnerability' },
      indicators: ingested.indicators,
    };
    const policy = loadPolicy('kev-ransomware-isolate.yaml');
    const cel = new CelCache();

    const internetFacing = evaluatePolicy(
      { name: 'kev-ransomware-isolate', generation: 1, spec: policy.spec },
      [feed],
      inventory,
      { now: NOW, cel, connectors },
    );
    expect(internetFacing.compileErrors).toEqual([]);
    expect(internetFacing.actions).toEqual([]);

    const anyExposure = evaluatePolicy(
      {
        name: 'kev-ransomware-isolate',
        generation: 1,
        spec: { ...policy.spec, scope: { exposure: 'Any' } },
      },
      [feed],
      inventory,
      { now: NOW, cel, connectors },
    );
    expect(anyExposure.actions.map((a) => [a.name, a.request.values, a.decision])).toEqual([
      [
        'kev-ransomware-isolate-isolate-shop-deployment-catalog',
        ['CVE-2021-44228', 'CVE-2021-45046'],
        'approval',
      ],
    ]);
    expect(anyExposure.actions[0]!.evidence).toMatchObject({ internetFacing: false, exposure: [] });
  });
});
