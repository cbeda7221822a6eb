import {
  ageColumn,
  bool,
  conditions,
  enumStr,
  int,
  labelSelector,
  list,
  obj,
  observedGeneration,
  readyColumns,
  str,
  time,
  type KindDefinition,
} from './common.js';

export const EXCEPTION_PHASES = ['Active', 'Expired', 'Invalid'] as const;

/**
 * What counts as broad: a range wider than an IPv4 /8 or an IPv6 /32, every domain
 * (`*`), or a whole top-level domain. Such an exception needs `broad: true`. The same
 * numbers are checked by the controller (policies/exceptions.ts), which also judges
 * ranges the pattern cannot see (for example `::ffff:0.0.0.0/96`).
 */
export const BROAD_LIMITS = { ipv4Prefix: 8, ipv6Prefix: 32 } as const;

const name = (what: string) => str(`A ${what} name.`, { maxLength: 253 });

const spec = obj(
  'What is excepted, from what, why, by whom and until when. Every ExposurePolicy leaves the excepted indicators out of its actions.',
  {
    values: list(
      'Exact indicator values: addresses, accounts, CVE ids, hashes, URLs. An address is also judged as a range (see cidrs).',
      str('An indicator value.', { maxLength: 2048, minLength: 1 }),
      256,
    ),
    cidrs: list(
      'Address ranges: an indicator address or CIDR that overlaps one of them is excepted (a feed CIDR that contains an excepted address is left out whole).',
      str('An IPv4 or IPv6 CIDR, or one address.', {
        maxLength: 64,
        pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$',
      }),
      256,
    ),
    domains: list(
      'Domains: the domain and every name under it are excepted. `*` excepts every domain and needs broad.',
      str('A domain name, `*.example.com` (the same as example.com), or `*`.', {
        maxLength: 253,
        pattern:
          '^(\\*|(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\\.?)$',
      }),
      256,
    ),
    feeds: list(
      'Only what these ThreatFeeds say is excepted: an indicator that another feed also lists stays. Empty: every feed.',
      name('ThreatFeed'),
      64,
    ),
    policies: list(
      'Only these ExposurePolicies honour it. Empty: every policy.',
      name('ExposurePolicy'),
      64,
    ),
    namespaces: list(
      'Only actions that touch nothing outside these namespaces are excepted: an isolation of a workload in one of them, or an egress deny whose scope lies wholly in them. DNS blocks act cluster-wide and identity actions have no namespace, so an exception with namespaces never excepts them. Empty: everywhere.',
      str('A namespace name.', { maxLength: 63 }),
      256,
    ),
    workloadSelector: labelSelector(
      "Only actions whose workloads all match (by pod template labels) are excepted: an isolation of a matching workload, or an egress deny whose scope's workloads all match. Absent: every workload.",
    ),
    reason: str('Why the indicators are excepted: the false positive, the ticket.', {
      minLength: 1,
      maxLength: 1024,
    }),
    owner: str('Who answers for the exception: a person, a team or a ticket queue.', {
      minLength: 1,
      maxLength: 256,
    }),
    expiresAt: time('When the exception ends. Absent: it lasts until deleted.'),
    broad: bool(
      'Set to true to allow an exception wider than an IPv4 /8 or IPv6 /32, every domain (`*`) or a whole top-level domain. Its status flags it.',
      false,
    ),
  },
  {
    required: ['reason', 'owner'],
    'x-kubernetes-validations': [
      {
        rule: '(has(self.values) && size(self.values) > 0) || (has(self.cidrs) && size(self.cidrs) > 0) || (has(self.domains) && size(self.domains) > 0)',
        message: 'name at least one of values, cidrs or domains',
      },
      {
        rule: `self.broad || !has(self.cidrs) || self.cidrs.all(c, c.contains(':') ? !c.matches('/([0-9]|[12][0-9]|3[01])$') : !c.matches('/[0-7]$'))`,
        message: `a range wider than IPv4 /${BROAD_LIMITS.ipv4Prefix} or IPv6 /${BROAD_LIMITS.ipv6Prefix} needs broad: true`,
        fieldPath: '.cidrs',
      },
      {
        rule: "self.broad || !has(self.domains) || self.domains.all(d, d != '*' && !d.matches('^(\\\\*\\\\.)?[^.]+\\\\.?$'))",
        message: 'every domain (*) or a whole top-level domain needs broad: true',
        fieldPath: '.domains',
      },
    ],
  },
);

const status = obj('What the controller last observed.', {
  observedGeneration,
  phase: enumStr(
    'Active: policies honour it. Expired: its expiresAt has passed and it is ignored. Invalid: a value cannot be read; nothing of it is honoured.',
    EXCEPTION_PHASES,
  ),
  conditions: {
    ...conditions,
    description:
      'Ready: the exception is honoured (Active). Broad: it covers a broad range or every domain (spec.broad).',
  },
  exceptedActions: int('Actions that currently leave out indicators because of it.', {
    minimum: 0,
  }),
  chargedFeeds: list(
    'The ThreatFeeds whose source confidence this exception has lowered (once each): the feeds of the actions it left indicators out of.',
    str('A ThreatFeed name.', { maxLength: 253 }),
    256,
  ),
  actions: list(
    'The actions it currently leaves indicators out of (at most 64).',
    obj(
      'One excepted action.',
      {
        name: str('The PreemptiveAction.', { maxLength: 253 }),
        indicators: int('Indicators left out of it.', { minimum: 0 }),
        lifted: bool(
          'Every indicator of the action was excepted, so the action was lifted.',
          false,
        ),
      },
      { required: ['name'] },
    ),
    64,
  ),
});

export const threatException: KindDefinition = {
  kind: 'ThreatException',
  plural: 'threatexceptions',
  singular: 'threatexception',
  shortNames: ['tex'],
  description:
    'ThreatException names indicators (values, address ranges, domains) that no policy may act on: a false positive, an accepted risk. It can be narrowed to feeds, policies, namespaces or workloads, says why and who owns it, and expires. Policies leave the excepted indicators out of their actions, and an enforced action that is left with none is lifted.',
  spec,
  status,
  printerColumns: [
    { name: 'Owner', type: 'string', jsonPath: '.spec.owner' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Actions', type: 'integer', jsonPath: '.status.exceptedActions' },
    // A string, as on PreemptiveAction: kubectl prints a future date as "<invalid>".
    { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt' },
    { name: 'Broad', type: 'boolean', jsonPath: '.spec.broad', priority: 1 },
    { name: 'Reason', type: 'string', jsonPath: '.spec.reason', priority: 1 },
    ...readyColumns.slice(0, 1),
    ageColumn,
  ],
};
