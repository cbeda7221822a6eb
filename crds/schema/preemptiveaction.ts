import {
  enumStr,
  ageColumn,
  bool,
  conditions,
  int,
  labelSelector,
  list,
  obj,
  objectRef,
  observedGeneration,
  str,
  time,
  type KindDefinition,
} from './common.js';
import { ACTION_TYPES } from './exposurepolicy.js';

export const ACTION_PHASES = [
  'Pending',
  'Proposed',
  'Enforced',
  'Expired',
  'Lifted',
  'Rejected',
  'Failed',
] as const;
/**
 * The phases an action's lifecycle ends in. The policy controller leaves such an action
 * alone (a new episode starts only with new intelligence), and the action controller
 * schedules no expiry for it. The one list both read.
 */
export const TERMINAL_PHASES: ReadonlySet<(typeof ACTION_PHASES)[number]> = new Set([
  'Expired',
  'Lifted',
  'Rejected',
  'Failed',
]);
/**
 * The terminal phases an action ends in by design (expiry, lift, rejection), as against
 * Failed: an ended action's episode is closed (it gets liftedAt), and a new episode
 * after it starts the detection clock again.
 */
export const ENDED_PHASES: ReadonlySet<(typeof ACTION_PHASES)[number]> = new Set(
  [...TERMINAL_PHASES].filter((phase) => phase !== 'Failed'),
);
export const LAYERS = ['network', 'dns', 'identity', 'notify'] as const;

const blastRadius = obj(
  'What the action touches. autoApprove expressions and guardrails read it.',
  {
    namespaces: int('Namespaces affected.', { minimum: 0, default: 0 }),
    workloads: int('Workloads affected.', { minimum: 0, default: 0 }),
    pods: int('Pods affected.', { minimum: 0, default: 0 }),
    users: int('Identity-provider users affected.', { minimum: 0, default: 0 }),
    addresses: int('IP addresses covered (a /24 counts 256).', { minimum: 0, default: 0 }),
    production: bool('Whether a production namespace or workload (by label) is touched.', false),
  },
  { default: {} },
);

const spec = obj(
  'One concrete response.',
  {
    policyRef: obj(
      'The ExposurePolicy that produced this action. Empty for hand-written actions.',
      {
        name: str('Name of the ExposurePolicy.', { maxLength: 253 }),
      },
      { required: ['name'] },
    ),
    type: { type: 'string', description: 'What the action does.', enum: [...ACTION_TYPES] },
    layer: { type: 'string', description: 'Where it is enforced.', enum: [...LAYERS] },
    connector: str('Connector id (layer:name) that enforces it.', {
      maxLength: 128,
      pattern: '^[a-z]+:[a-z0-9-]+$',
    }),
    indicators: obj(
      'The indicators the action acts on.',
      {
        digest: str('sha256 of the sorted indicator values.', { maxLength: 128 }),
        count: int('How many indicators.', { minimum: 0 }),
        values: list(
          'The values themselves, when few (at most 256); larger sets are in configMapRef.',
          str('An indicator value.', { maxLength: 2048 }),
          256,
        ),
        configMapRef: obj(
          'A ConfigMap holding the full set when it is large.',
          {
            name: str('Name of the ConfigMap.', { maxLength: 253 }),
            namespace: str('Namespace of the ConfigMap.', { maxLength: 63 }),
          },
          { required: ['name', 'namespace'] },
        ),
      },
      { required: ['count'] },
    ),
    targets: list(
      'The objects the action changes or protects.',
      objectRef('A target object.'),
      256,
    ),
    scope: obj(
      'Where the action applies, copied from the policy scope when the action was planned.',
      {
        namespaces: list(
          'The namespaces in scope when the action was planned; namespaced connectors (NetworkPolicy) write one object into each.',
          str('A namespace name.', { maxLength: 63 }),
          1024,
        ),
        namespaceSelector: labelSelector(
          'The namespace selector; cluster-wide connectors (ClusterNetworkPolicy, Cilium, Calico) select with it.',
        ),
        workloadSelector: labelSelector('The pod selector within those namespaces.'),
      },
    ),
    params: {
      type: 'object',
      description: "Connector parameters from the policy's action template.",
      'x-kubernetes-preserve-unknown-fields': true,
    },
    confidence: int('The highest confidence among the indicators, 0-100.', {
      minimum: 0,
      maximum: 100,
    }),
    blastRadius,
    expiresAt: time('When the action is lifted. Empty for UntilPatched or permanent actions.'),
    feeds: list(
      'The ThreatFeeds its indicators came from: feedback on the action (a rejection, a lift, an exception, a clean expiry) moves their source confidence.',
      str('A ThreatFeed name.', { maxLength: 253 }),
      64,
    ),
    publishedAt: time(
      "When the intelligence behind the action was published: the earliest of its indicators' first_seen or valid_from, KEV dateAdded, or the feed change that brought it when the source gives none. The exposure window runs from here.",
    ),
    approval: obj(
      'Whether a human must approve before it is enforced.',
      {
        required: bool('Approval is needed.', true),
        reason: str('Why approval is or is not needed, naming the threshold.', { maxLength: 1024 }),
      },
      { default: {} },
    ),
    exceptions: list(
      'The ThreatExceptions that left indicators out of this action when its policy last planned it, and how many each. The action status shows them as the Excepted condition.',
      obj(
        'One exception and what it left out.',
        {
          name: str('The ThreatException.', { maxLength: 253 }),
          indicators: int('Indicators it left out of this action.', { minimum: 0 }),
        },
        { required: ['name', 'indicators'] },
      ),
      64,
    ),
    delivery: enumStr(
      'Direct applies through connectors; Git opens a pull request.',
      ['Direct', 'Git'],
      'Direct',
    ),
    evidence: obj(
      'Why the action exists, for reviewers and notifications: for an Isolate, the vulnerabilities found and the paths that expose the workload; for an identity action with params.around Isolated, the isolated workloads whose accounts it carries.',
      {
        vulnerabilities: list(
          'The CVEs behind the action, each as found on the workload.',
          obj(
            'One vulnerability finding.',
            {
              cveID: str('CVE id.', { maxLength: 64 }),
              vendor: str('Vendor (KEV).', { maxLength: 256 }),
              product: str('Product (KEV).', { maxLength: 256 }),
              dateAdded: str('When CISA added it to KEV (YYYY-MM-DD).', { maxLength: 32 }),
              knownRansomwareCampaignUse: bool('Used in ransomware campaigns (KEV).', false),
              epss: {
                type: 'number',
                description: 'EPSS probability, 0-1, when a feed gives it.',
                minimum: 0,
                maximum: 1,
              },
              severity: str('Severity in the vulnerability report.', { maxLength: 32 }),
              container: str('Container that runs the vulnerable package.', { maxLength: 253 }),
              image: str('The image scanned.', { maxLength: 1024 }),
              package: str('The vulnerable package.', { maxLength: 512 }),
              installedVersion: str('Installed version.', { maxLength: 256 }),
              fixedVersion: str('First fixed version; empty when none is published.', {
                maxLength: 256,
              }),
              link: str('Advisory link from the report.', { maxLength: 2048 }),
            },
            { required: ['cveID'] },
          ),
          256,
        ),
        exposure: list(
          'How the workload is reachable from outside the cluster.',
          str('One exposure path, for example "Ingress shop/web → Service web:80".', {
            maxLength: 1024,
          }),
          64,
        ),
        isolatedWorkloads: list(
          'IdentitySuspend and StepUpAuth with params.around Isolated: the workloads the policy isolates whose forestall.io/accounts annotation named accounts the action carries.',
          obj(
            'One isolated workload.',
            {
              target: objectRef('The workload.'),
              isolation: str('The PreemptiveAction that isolates it.', { maxLength: 253 }),
              accounts: list(
                'The accounts it names that the action carries.',
                str('An account.', { maxLength: 256 }),
                256,
              ),
            },
            { required: ['target'] },
          ),
          256,
        ),
      },
    ),
  },
  {
    required: ['type', 'layer', 'indicators'],
    'x-kubernetes-validations': [
      {
        rule: "!(self.type in ['EgressDeny', 'Isolate']) || self.layer == 'network'",
        message: 'EgressDeny and Isolate act on the network layer',
        fieldPath: '.layer',
      },
      {
        rule: "self.type != 'DNSBlock' || self.layer == 'dns'",
        message: 'DNSBlock acts on the dns layer',
        fieldPath: '.layer',
      },
      {
        rule: "!(self.type in ['IdentityBlock', 'IdentitySuspend', 'StepUpAuth']) || self.layer == 'identity'",
        message: 'identity actions act on the identity layer',
        fieldPath: '.layer',
      },
    ],
  },
);

function pullRequestRef(description: string) {
  return obj(description, {
    url: str('Web URL of the pull request.', { maxLength: 2048 }),
    number: int('Pull request number.', { minimum: 0 }),
    state: enumStr('State on the forge.', ['Open', 'Merged', 'Closed']),
  });
}

const status = obj('Where the action is in its lifecycle.', {
  observedGeneration,
  phase: enumStr(
    'Pending, Proposed (pull request open), Enforced, then Expired, Lifted, Rejected or Failed.',
    ACTION_PHASES,
  ),
  conditions: {
    ...conditions,
    description:
      'Ready: the action is in the state its phase describes. Approved: a person or autoApprove allowed it. Excepted: ThreatExceptions left indicators out of it (spec.exceptions).',
  },
  detectedAt: time('When the intelligence behind the action appeared.'),
  enforcedAt: time('When enforcement was observed in the cluster.'),
  timeToEnforceSeconds: {
    type: 'number',
    description: 'Seconds from detectedAt to enforcedAt.',
    minimum: 0,
  },
  exposureWindowSeconds: {
    type: 'number',
    description: 'Seconds from spec.publishedAt to enforcedAt: how long the cluster was exposed.',
    minimum: 0,
  },
  liftedAt: time('When the action ended: expired, lifted or rejected.'),
  pullRequest: pullRequestRef('The pull request carrying the action, for Git delivery.'),
  removalPullRequest: pullRequestRef(
    'The pull request removing a Git-delivered action at expiry or lift; the action stays Enforced until it is merged and its objects are gone.',
  ),
  rejection: obj(
    "The review that rejected the action: its indicators stay out of the policy's actions until `until`.",
    {
      at: time('When the pull request was found closed.'),
      until: time('End of the suppression.'),
      indicators: int('Indicators suppressed.', { minimum: 0 }),
      digest: str(
        'spec.indicators.digest of the rejected set: only a spec with other indicators starts a new proposal.',
        { maxLength: 128 },
      ),
    },
  ),
  notified: list(
    'Notifications already sent (action/detectedAt/event), so a re-reconcile does not send them again; the last 16.',
    str('A notification id.', { maxLength: 600 }),
    16,
  ),
  recordedCommit: str(
    'With spec.git.recordAutoApproved: the commit on the base branch that records what the action applied (or its removal).',
    { maxLength: 64 },
  ),
  appliedObjects: list('Objects applied for this action.', objectRef('An applied object.'), 1024),
  connectorResults: list(
    'The latest result of each connector.',
    obj(
      'One connector result.',
      {
        connector: str('Connector id.', { maxLength: 128 }),
        result: enumStr('Outcome.', ['Applied', 'Unchanged', 'Removed', 'DryRun', 'Error']),
        message: str('Details.', { maxLength: 4096 }),
        time: time('When the result was recorded.'),
      },
      { required: ['connector', 'result'] },
    ),
    32,
  ),
});

export const preemptiveAction: KindDefinition = {
  kind: 'PreemptiveAction',
  plural: 'preemptiveactions',
  singular: 'preemptiveaction',
  shortNames: ['pa'],
  description:
    'PreemptiveAction is one concrete response to threat intelligence: an egress deny, a DNS block, an isolation or an identity change. Policies create them; people may write them by hand. Its status follows it from Pending through Proposed to Enforced, and on to Expired, Lifted, Rejected or Failed.',
  spec,
  status,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type' },
    { name: 'Layer', type: 'string', jsonPath: '.spec.layer' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Indicators', type: 'integer', jsonPath: '.spec.indicators.count' },
    { name: 'Policy', type: 'string', jsonPath: '.spec.policyRef.name', priority: 1 },
    // A string, not a date: kubectl prints a future date as "<invalid>" (it only
    // renders ages), and every action that has not expired has one.
    { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt' },
    ageColumn,
  ],
};
