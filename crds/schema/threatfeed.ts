import {
  secretRef,
  enumStr,
  list,
  readyColumns,
  ageColumn,
  bool,
  conditions,
  countMap,
  duration,
  int,
  obj,
  observedGeneration,
  secretKeyRef,
  str,
  time,
  type KindDefinition,
} from './common.js';

/**
 * The shortest refresh interval, by source. A remote source (http, taxii) is someone
 * else's server and a sync may parse up to the byte cap in the ingestion worker, so at
 * most one fetch a minute per feed: what public feeds ask for (IPsum updates daily,
 * KEV a few times a week) with room to spare, and low enough that `1ms` cannot turn
 * the controller into a load generator or keep its worker busy. A configMapRef is read
 * from the API server the controller already watches, and an unchanged ConfigMap
 * (same resourceVersion) is neither refetched nor parsed, so one second is enough.
 * The CRD refuses shorter values; the controller raises older stored ones to these.
 */
export const MIN_REFRESH_INTERVAL = Object.freeze({ remote: '1m', configMap: '1s' });

/** The formats a ThreatFeed can parse. */
export const FEED_FORMATS = ['lines', 'csv', 'json', 'stix', 'kev', 'epss', 'misp'] as const;

const http = obj(
  'Fetch the feed over HTTP(S).',
  {
    url: str(
      'The feed URL. Link-local, cloud-metadata, loopback and cluster-internal targets (and redirects to them) are refused unless the controller allows them.',
      { maxLength: 2048, pattern: '^https?://' },
    ),
    headersSecretRef: secretRef(
      'A Secret whose keys become request headers (for example Authorization). Values are never logged.',
    ),
    tls: obj('TLS settings. Verification is always on.', {
      caSecretRef: secretKeyRef(
        'A Secret key holding extra PEM CA certificates to trust (key defaults to ca.crt).',
      ),
      serverName: str('Server name to verify instead of the URL host.', { maxLength: 253 }),
    }),
  },
  { required: ['url'] },
);

const taxii = obj(
  'Fetch objects from a TAXII 2.1 collection.',
  {
    apiRoot: str('The TAXII 2.1 API root URL, for example https://taxii.example.org/api1/.', {
      maxLength: 2048,
      pattern: '^https?://',
    }),
    collection: str('The collection id.', { maxLength: 256 }),
    authSecretRef: secretRef(
      'A Secret with either `username` and `password` (basic auth) or `token` (bearer).',
    ),
    addedAfter: time(
      'Only objects added after this time are fetched on the first sync; later syncs page incrementally from the last seen `added_after`.',
    ),
    pageSize: int('Objects requested per page.', { minimum: 1, maximum: 10000, default: 1000 }),
  },
  { required: ['apiRoot', 'collection'] },
);

const configMapRef = obj(
  'Read the feed from a ConfigMap, for air-gapped clusters.',
  {
    name: str('Name of the ConfigMap.', { maxLength: 253 }),
    namespace: str("Namespace of the ConfigMap. Defaults to the controller's namespace.", {
      maxLength: 63,
    }),
    key: str('Key holding the feed content (data or binaryData).', { maxLength: 253 }),
  },
  { required: ['name', 'key'] },
);

const spec = obj(
  'What to fetch, how to parse it, and how much to trust it.',
  {
    source: obj(
      'Where the feed comes from. Exactly one of http, taxii or configMapRef.',
      {
        http,
        taxii,
        configMapRef,
      },
      {
        'x-kubernetes-validations': [
          {
            rule: '[has(self.http), has(self.taxii), has(self.configMapRef)].filter(x, x).size() == 1',
            message: 'exactly one of source.http, source.taxii or source.configMapRef must be set',
          },
        ],
      },
    ),
    format: enumStr(
      'How the content is parsed: lines (one IP, CIDR, domain or URL per line, optional score column, as IPsum), csv, json, stix (STIX 2.1), kev (CISA KEV catalog), epss (FIRST EPSS CSV) or misp (MISP feed).',
      FEED_FORMATS,
    ),
    parser: obj('Options for the lines, csv and json formats.', {
      delimiter: str(
        'Column delimiter for csv and for the lines score column. Defaults to "," for csv and any whitespace for lines.',
        { maxLength: 4 },
      ),
      commentPrefix: str('Lines starting with this prefix are skipped.', {
        maxLength: 8,
        default: '#',
      }),
      valueColumn: int('Zero-based column holding the indicator value.', {
        minimum: 0,
        maximum: 255,
        default: 0,
      }),
      scoreColumn: int(
        'Zero-based column holding a numeric score, exposed to the confidence expression as record.score.',
        { minimum: 0, maximum: 255 },
      ),
      typeColumn: int('Zero-based column holding the indicator type (csv).', {
        minimum: 0,
        maximum: 255,
      }),
      header: bool('The first non-comment line is a header row (csv).', false),
      path: str(
        'For json: a JSONPath expression selecting the records, for example $.data[*].ip.',
        { maxLength: 512 },
      ),
    }),
    refreshInterval: duration(
      `How often the feed is fetched: at least ${MIN_REFRESH_INTERVAL.remote} for http and taxii sources, ${MIN_REFRESH_INTERVAL.configMap} for configMapRef.`,
      '1h',
    ),
    confidence: obj(
      'How much each indicator is trusted, 0-100.',
      {
        default: int('Confidence given to every indicator that the expression does not score.', {
          minimum: 0,
          maximum: 100,
          default: 50,
        }),
        expression: str(
          'A CEL expression over `record` (the raw parsed record) returning an int 0-100, for example `int(record.score) * 10`.',
          { maxLength: 4096 },
        ),
      },
      { default: {} },
    ),
    ttl: duration(
      'How long an indicator lives when the feed gives no expiry (valid_until).',
      '168h',
    ),
    suspend: bool('Stop fetching. Indicators already known are kept and stay enforced.', false),
    maxChangePercent: int(
      'A sync that adds and removes more than this share of the previous indicator set sets the LargeChange condition, so that enforcement built on it goes to review instead of being applied automatically.',
      { minimum: 0, maximum: 100, default: 50 },
    ),
  },
  {
    required: ['source', 'format'],
    'x-kubernetes-validations': [
      {
        rule: "self.format != 'json' || (has(self.parser) && has(self.parser.path))",
        message: 'format json needs parser.path',
        fieldPath: '.parser',
      },
      {
        rule: "!has(self.source.taxii) || self.format == 'stix'",
        message: 'a taxii source carries STIX objects: format must be stix',
        fieldPath: '.format',
      },
      {
        rule: `!has(self.refreshInterval) || duration(self.refreshInterval) >= duration(has(self.source.configMapRef) ? '${MIN_REFRESH_INTERVAL.configMap}' : '${MIN_REFRESH_INTERVAL.remote}')`,
        message: `refreshInterval must be at least ${MIN_REFRESH_INTERVAL.remote} for http and taxii sources, ${MIN_REFRESH_INTERVAL.configMap} for configMapRef`,
        fieldPath: '.refreshInterval',
      },
    ],
  },
);

const feedbackKinds = ['rejected', 'excepted', 'lifted', 'expiredClean'];
const sourceConfidence = obj(
  "The feedback loop's view of this source (docs/readiness.md): rejections in review, ThreatExceptions and lifts by people lower it, enforced actions that expire with no exception raise it back; the adjustment halves every 30 days. Policies read it as indicator.sourceConfidence and action.sourceConfidence, and hold actions for review below spec.guardrails.minSourceConfidence.",
  {
    effective: int('Effective confidence at updatedAt, 10-100 (100 + adjustment).', {
      minimum: 0,
      maximum: 100,
    }),
    adjustment: {
      type: 'number',
      description: 'The signed sum of the decayed feedback at updatedAt, -90 to 0.',
      minimum: -100,
      maximum: 0,
    },
    updatedAt: time('When the last feedback was applied.'),
    counts: obj('Feedback received, by kind.', {
      rejected: int('Actions rejected in review.', { minimum: 0 }),
      excepted: int('ThreatExceptions raised against its indicators.', { minimum: 0 }),
      lifted: int('Actions people lifted (false positives).', { minimum: 0 }),
      expiredClean: int('Enforced actions that ran out their expiry with no exception.', {
        minimum: 0,
      }),
    }),
    events: list(
      'The newest feedback (the last 20), oldest first.',
      obj(
        'One piece of feedback.',
        {
          kind: enumStr('What happened.', feedbackKinds),
          at: time('When.'),
          action: str('The PreemptiveAction.', { maxLength: 253 }),
          policy: str('Its ExposurePolicy.', { maxLength: 253 }),
          exception: str('The ThreatException, for excepted.', { maxLength: 253 }),
          key: str('Identifies the event, so a retry records it once.', { maxLength: 600 }),
          delta: { type: 'number', description: 'What it added to the adjustment.' },
        },
        { required: ['kind', 'at', 'action', 'key', 'delta'] },
      ),
      20,
    ),
  },
);

const status = obj('What the controller last observed and did.', {
  observedGeneration,
  conditions: {
    ...conditions,
    description:
      'Ready: the feed has a usable snapshot. Degraded: the last sync failed and the last-known-good snapshot is in use. Stale: the snapshot is older than allowed. LargeChange: the last change exceeded spec.maxChangePercent.',
  },
  lastSyncTime: time('When the feed was last fetched successfully.'),
  lastChangeTime: time('When the indicator set last changed.'),
  indicatorCount: int('Indicators kept after parsing, deduplication and guardrails.', {
    minimum: 0,
  }),
  counts: countMap('Indicators kept, by type (ipv4, ipv6, cidr, domain, url, cve, hash, account).'),
  added: int('Indicators added by the last sync.', { minimum: 0 }),
  removed: int('Indicators removed by the last sync.', { minimum: 0 }),
  dropped: countMap('Indicators dropped by guardrails in the last sync, by reason.'),
  rejected: int('Malformed records skipped in the last sync.', { minimum: 0 }),
  digest: str('sha256 digest of the sorted indicator set.', { maxLength: 128 }),
  lastError: str('The last fetch or parse error, if any.', { maxLength: 4096 }),
  sourceConfidence: sourceConfidence,
});

export const threatFeed: KindDefinition = {
  kind: 'ThreatFeed',
  plural: 'threatfeeds',
  singular: 'threatfeed',
  shortNames: ['tf'],
  description:
    'ThreatFeed is one source of threat intelligence: a blocklist, a STIX/TAXII collection, the CISA KEV catalog, an EPSS file or a MISP feed. The controller fetches it, normalises and deduplicates its indicators, applies guardrails and keeps a last-known-good snapshot.',
  spec,
  status,
  printerColumns: [
    { name: 'Format', type: 'string', jsonPath: '.spec.format' },
    { name: 'Indicators', type: 'integer', jsonPath: '.status.indicatorCount' },
    ...readyColumns,
    { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime' },
    ageColumn,
  ],
};
