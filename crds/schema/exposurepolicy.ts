import {
  enumStr,
  readyColumns,
  ageColumn,
  bool,
  conditions,
  countMap,
  duration,
  int,
  labelSelector,
  list,
  obj,
  observedGeneration,
  secretKeyRef,
  str,
  time,
  type KindDefinition,
} from './common.js';

export const POLICY_MODES = ['Audit', 'Propose', 'Enforce'] as const;
export const ACTION_TYPES = [
  'EgressDeny',
  'DNSBlock',
  'Isolate',
  'IdentityBlock',
  'IdentitySuspend',
  'StepUpAuth',
  'Notify',
] as const;
const CEL_LIMIT = 4096;

const action = obj(
  'One response template.',
  {
    type: enumStr(
      'What to do: EgressDeny (IPs and CIDRs), DNSBlock (domains), Isolate (vulnerable workloads), IdentityBlock (IPs and CIDRs, as a blocked zone at the identity provider), IdentitySuspend (account indicators: suspend the users), StepUpAuth (account indicators: require MFA), Notify.',
      ACTION_TYPES,
    ),
    connector: str(
      'Connector id (layer:name) that enforces the action, for example network:cilium. Defaults to the cluster default for the layer.',
      { maxLength: 128, pattern: '^[a-z]+:[a-z0-9-]+$' },
    ),
    params: {
      type: 'object',
      description:
        "Connector parameters, validated against the connector's schema when the policy is evaluated. One is the engine's and is not passed on: `around: Isolated` on IdentitySuspend or StepUpAuth adds the accounts named by the forestall.io/accounts annotation of every workload this policy's Isolate template isolates.",
      'x-kubernetes-preserve-unknown-fields': true,
    },
  },
  { required: ['type'] },
);

const spec = obj(
  'Which intelligence to act on, where, and how much to automate.',
  {
    feeds: obj(
      'The ThreatFeeds this policy reads: names, a label selector, or both.',
      {
        names: list('ThreatFeed names.', str('A ThreatFeed name.', { maxLength: 253 }), 64),
        selector: labelSelector('ThreatFeeds whose labels match.'),
      },
      {
        'x-kubernetes-validations': [
          {
            rule: 'has(self.names) || has(self.selector)',
            message: 'feeds needs names or a selector',
          },
        ],
      },
    ),
    match: str(
      "A CEL expression over `indicator` that must be true for the indicator to be acted on, for example `indicator.type == 'ipv4' && indicator.confidence >= 80`. Empty matches every indicator.",
      { maxLength: CEL_LIMIT },
    ),
    scope: obj(
      'Where actions apply.',
      {
        namespaceSelector: labelSelector(
          'Namespaces whose labels match. Empty selects every namespace.',
        ),
        workloadSelector: labelSelector(
          'Workloads (pod template labels) that match. Empty selects every workload.',
        ),
        exposure: enumStr(
          'InternetFacing limits Isolate actions to workloads reachable from outside the cluster.',
          ['InternetFacing', 'Any'],
          'Any',
        ),
      },
      { default: {} },
    ),
    actions: list('The responses to produce for matched indicators.', action, 16, { minItems: 1 }),
    mode: enumStr(
      'Audit computes and reports only; Propose makes every action a pull request; Enforce applies what autoApprove allows and proposes the rest.',
      POLICY_MODES,
      'Audit',
    ),
    autoApprove: str(
      "A CEL expression over `action` (type, layer, confidence, blastRadius, production) that allows an action to be applied without review in Enforce mode. Empty approves nothing automatically. Identity actions (IdentityBlock, IdentitySuspend, StepUpAuth) are approved only by an expression that reads action.type, action.layer or action.connector, for example `action.type == 'StepUpAuth' && action.confidence >= 90`.",
      { maxLength: CEL_LIMIT },
    ),
    expiry: str(
      'How long an action lasts: a Go duration such as "72h", or UntilPatched to lift it when the workload no longer has the vulnerability.',
      {
        maxLength: 64,
        pattern: '^(UntilPatched|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$',
        default: '168h',
      },
    ),
    guardrails: obj(
      'Limits that send an action to review instead of applying it.',
      {
        maxAddresses: int('Largest number of addresses one action may block without review.', {
          minimum: 0,
          default: 65536,
        }),
        maxWorkloads: int('Largest number of workloads one action may touch without review.', {
          minimum: 0,
          default: 10,
        }),
        maxFeedChangePercent: int(
          'A sync that changes more than this share of a feed holds its actions for review.',
          { minimum: 0, maximum: 100, default: 30 },
        ),
        minSourceConfidence: int(
          "An action built from a feed whose effective source confidence (the feed's status.sourceConfidence, lowered by rejections, exceptions and lifts) is below this is held for review.",
          { minimum: 0, maximum: 100, default: 50 },
        ),
      },
      { default: {} },
    ),
    git: obj(
      'Where pull requests go.',
      {
        url: str('Repository URL (https or ssh).', { maxLength: 2048 }),
        branch: str('Base branch.', { maxLength: 255, default: 'main' }),
        path: str('Directory in the repository that receives the rendered manifests.', {
          maxLength: 1024,
          default: 'forestall',
        }),
        credentialsSecretRef: secretKeyRef('A Secret with `token` (https) or `ssh-privatekey`.'),
        forge: obj(
          'The forge that hosts pull requests.',
          {
            type: { type: 'string', description: 'Forge API flavour.', enum: ['GitHub', 'Gitea'] },
            apiUrl: str('Forge API base URL, for GitHub Enterprise or Gitea.', { maxLength: 2048 }),
          },
          { required: ['type'] },
        ),
        reviewers: list(
          "Reviewers requested on every pull request: user logins, or org/team for teams. The owners that the repository's CODEOWNERS gives the action's directory are requested as well.",
          str('A login or org/team.', { maxLength: 256 }),
          32,
        ),
        recordAutoApproved: bool(
          'Also commit automatically approved actions straight to the base branch (and their removal at expiry or lift), so Git stays the audit trail. A GitOps tool syncing that path applies the same objects Forestall applied.',
          false,
        ),
        directRemoval: bool(
          'At expiry or lift, commit the removal of a Git-delivered action straight to the base branch instead of opening a removal pull request (removing a block needs no review in some teams).',
          false,
        ),
        suppressRejectedFor: duration(
          'How long indicators of a pull request closed without merging stay out of this policy\'s actions (review feedback), "0s" re-proposes on the next change.',
          '168h',
        ),
      },
      { required: ['url'] },
    ),
    notify: list(
      'Where to announce actions, besides Kubernetes Events.',
      obj(
        'A notification target.',
        {
          type: enumStr('Target kind.', ['Slack', 'Webhook', 'CloudEvents']),
          urlSecretRef: secretKeyRef(
            'A Secret key holding the target URL (webhook URLs are credentials).',
          ),
        },
        { required: ['type', 'urlSecretRef'] },
      ),
      8,
    ),
    suspend: bool(
      'Stop producing new actions. Actions already enforced stay in place until they expire.',
      false,
    ),
  },
  { required: ['feeds', 'actions'] },
);

const status = obj('The outcome of the last evaluation.', {
  observedGeneration,
  conditions: {
    ...conditions,
    description:
      'Ready: the expressions compiled and the policy was evaluated. Reasons include CompileError (a CEL expression), InvalidSpec (for example an unknown connector), FeedsNotReady and Suspended; in each, the actions already in place are left as they are. InputsServed (policies with an Isolate template): whether the optional inputs are served (Gateway API, Trivy Operator VulnerabilityReports) and, when not, what their absence means.',
  },
  compileErrors: list(
    'CEL compile errors and other spec errors (an unknown connector), each with the field path it belongs to.',
    obj(
      'One compile error.',
      {
        field: str('Field path, for example spec.match.', { maxLength: 256 }),
        message: str('What is wrong.', { maxLength: 4096 }),
      },
      { required: ['field', 'message'] },
    ),
    16,
  ),
  matchedIndicators: int('Indicators that matched at the last evaluation.', { minimum: 0 }),
  suppressedIndicators: int(
    'Matched indicators left out because reviewers rejected them recently (spec.git.suppressRejectedFor).',
    { minimum: 0 },
  ),
  exceptedIndicators: int(
    'Matched indicators left out because ThreatExceptions name them; each affected action lists the exceptions in spec.exceptions.',
    { minimum: 0 },
  ),
  actions: countMap('PreemptiveActions owned by this policy, by phase.'),
  lowConfidenceFeeds: list(
    'Selected feeds whose effective source confidence is below spec.guardrails.minSourceConfidence, so their actions go to review, and the feedback that caused it.',
    obj(
      'One feed below the threshold.',
      {
        feed: str('The ThreatFeed.', { maxLength: 253 }),
        effective: int('Its effective confidence now.', { minimum: 0, maximum: 100 }),
        minimum: int('The policy threshold.', { minimum: 0, maximum: 100 }),
        feedback: str('The feedback behind it: counts and the last event.', { maxLength: 1024 }),
      },
      { required: ['feed', 'effective', 'minimum'] },
    ),
    32,
  ),
  exposureWindow: obj(
    "Seconds from the intelligence being published (spec.publishedAt) to enforcement, over this policy's enforced actions (status.exposureWindowSeconds).",
    {
      count: int('Actions measured.', { minimum: 0 }),
      p50Seconds: { type: 'number', description: 'Median.', minimum: 0 },
      p90Seconds: { type: 'number', description: '90th percentile.', minimum: 0 },
      p99Seconds: { type: 'number', description: '99th percentile.', minimum: 0 },
    },
  ),
  lastEvaluationTime: time(
    'When an evaluation last changed this status (an evaluation that finds nothing new writes nothing).',
  ),
  planned: list(
    'The actions the last evaluation planned, with the decision for each (in Audit mode nothing else records them).',
    obj(
      'One planned action.',
      {
        name: str('PreemptiveAction name.', { maxLength: 253 }),
        type: str('Action type.', { maxLength: 64 }),
        connector: str('Connector id.', { maxLength: 128 }),
        indicators: int('Indicators the action covers.', { minimum: 0 }),
        decision: enumStr(
          'auto: applied without review; approval: needs review; audit: reported only.',
          ['auto', 'approval', 'audit'],
        ),
        reason: str('Why, naming the threshold or rule.', { maxLength: 1024 }),
      },
      { required: ['name', 'type', 'decision'] },
    ),
    64,
  ),
});

export const exposurePolicy: KindDefinition = {
  kind: 'ExposurePolicy',
  plural: 'exposurepolicies',
  singular: 'exposurepolicy',
  shortNames: ['xpol'],
  description:
    'ExposurePolicy says what to do about which intelligence: which feeds, which indicators (a CEL match), which workloads, which responses, and how much may happen without human review.',
  spec,
  status,
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
    { name: 'Matched', type: 'integer', jsonPath: '.status.matchedIndicators' },
    ...readyColumns,
    ageColumn,
  ],
};
