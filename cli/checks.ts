/**
 * What the controller would refuse in objects the API server accepts, checked offline
 * with the controller's own code, so that `forestall validate` and `plan` fail where a
 * cluster would show Ready=False:
 * - ThreatFeed: a confidence expression that does not compile (feeds/ingest's
 *   compileConfidence, the ThreatFeed reconciler's);
 * - ExposurePolicy: the compile errors the policy reconciler puts in status (CEL in
 *   spec.match and spec.autoApprove, unknown connectors, params.around), from
 *   policies/evaluatePolicy itself; each template's params against its connector's
 *   parameter list (connectors/checkParams, what the action reconciler runs before
 *   enforcing); and feed names that no ThreatFeed in the input defines;
 * - PreemptiveAction: its connector, action type and params, as the action reconciler
 *   checks them.
 *
 * Limits: the params are checked statically, as a connector's validate() does before it
 * sees values; checks that need the values (sizes, the identity connectors' maxUsers)
 * happen when an action exists, and `plan` reports those per action.
 */
import { GROUP } from '../crds/schema/index.js';
import {
  KINDS,
  type ExposurePolicySpec,
  type PreemptiveActionSpec,
  type ThreatExceptionSpec,
  type ThreatFeedSpec,
  type ValidationIssue,
  type ActionType,
  type Layer,
} from '../crds/index.js';
import { compileConfidence } from '../feeds/index.js';
import {
  AROUND_PARAM,
  compileException,
  evaluatePolicy,
  inventoryFromObjects,
  LAYER_OF,
} from '../policies/index.js';
import { defaultConnectorCatalog, type ConnectorInfo } from '../connectors/index.js';
import { checkParams } from '../connectors/core/params.js';
import { CelCache } from '../cel/index.js';

/** The connectors validate checks against: the ones the controller ships. */
const catalog = defaultConnectorCatalog;

/** Edit distance, for telling a typo of a Forestall group or kind from another API's object. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(
        Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)),
      );
    prev = row;
  }
  return prev[b.length]!;
}

const KIND_NAMES = KINDS.map((k) => k.kind.toLowerCase());

/**
 * Whether an object is, or was meant to be, a Forestall object: its group is
 * forestall.io or a near miss (forestal.io, Forestall.io), or its kind is a Forestall kind
 * or a near miss (ThreatFed). Such objects are validated, so a typo is an error, never a
 * silent skip. Objects of other groups with other kinds (a Deployment, a Trivy
 * VulnerabilityReport) are not Forestall's to judge.
 */
export function meantForForestall(
  o: unknown,
): o is { apiVersion?: unknown; kind?: unknown; metadata?: { name?: string } } {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const { apiVersion, kind } = o as { apiVersion?: unknown; kind?: unknown };
  const version = typeof apiVersion === 'string' ? apiVersion.toLowerCase() : '';
  const group = version.includes('/') ? version.slice(0, version.lastIndexOf('/')) : '';
  if (group.includes('forestall') || (group !== '' && distance(group, GROUP) <= 2)) return true;
  const k = typeof kind === 'string' ? kind.toLowerCase() : '';
  return k !== '' && KIND_NAMES.some((name) => distance(k, name) <= 2);
}

/** ThreatFeed: the confidence expression compiles as the reconciler compiles it. */
export function feedProblems(spec: ThreatFeedSpec): ValidationIssue[] {
  try {
    compileConfidence(spec.confidence?.expression);
    return [];
  } catch (e) {
    return [
      {
        path: 'spec.confidence.expression',
        message: (e as Error).message.replace(/^spec\.confidence\.expression: /, ''),
      },
    ];
  }
}

/** Problems of one action's connector, type and params, with `at` before each field ("spec.actions[0]."). */
function connectorProblems(
  at: string,
  id: string,
  type: ActionType,
  params: Record<string, unknown>,
): ValidationIssue[] {
  const info: ConnectorInfo | undefined = catalog.info(id);
  if (!info) return [];
  if (!info.types.includes(type)) {
    return [
      {
        path: `${at}connector`,
        message: `${id} does not enforce ${type} (it enforces ${info.types.join(', ')})`,
      },
    ];
  }
  return checkParams(params, info.params, type).map((problem) => {
    const field = /^params\.[A-Za-z0-9_-]+/.exec(problem)?.[0];
    return {
      path: `${at}${field ?? 'params'}`,
      message: problem.startsWith(`${field} `) ? problem.slice(field!.length + 1) : problem,
    };
  });
}

/**
 * ExposurePolicy: the compile errors the reconciler would report (from evaluatePolicy on
 * no feeds and no cluster: compiling does not depend on them), then each template's
 * connector params. `defaults` are --connector's layer defaults.
 */
export function policyProblems(
  name: string,
  spec: ExposurePolicySpec,
  defaults: Partial<Record<Layer, string>> = {},
): ValidationIssue[] {
  const evaluation = evaluatePolicy({ name, generation: 1, spec }, [], inventoryFromObjects([]), {
    now: new Date(0),
    cel: new CelCache(),
    connectors: catalog,
    defaultConnectors: defaults,
  });
  const issues: ValidationIssue[] = evaluation.compileErrors.map((c) => ({
    path: c.field,
    message: c.message.startsWith(`${c.field}: `) ? c.message.slice(c.field.length + 2) : c.message,
  }));
  return [...issues, ...templateProblems(spec, defaults)];
}

/** Each template's params against its connector's list (an unknown connector is a compile error already). */
export function templateProblems(
  spec: ExposurePolicySpec,
  defaults: Partial<Record<Layer, string>> = {},
): ValidationIssue[] {
  return spec.actions.flatMap((template, i) => {
    const layer = LAYER_OF[template.type];
    // An identity template that names no connector is not checked against the default
    // (identity:scim), as before the one default table: its required url and credentials
    // would fail policies that `plan` accepts today. The controller does refuse such an
    // action when it enforces it; whether validate should say so first is an open question.
    const fallback = layer === 'identity' ? undefined : catalog.defaultFor(layer);
    const id = template.connector ?? defaults[layer] ?? fallback;
    if (id === undefined || template.type === 'Notify') return [];
    // `around` is the engine's param and never reaches the connector (policies/around.ts).
    const { [AROUND_PARAM]: _around, ...params } = (template.params ?? {}) as Record<
      string,
      unknown
    >;
    return connectorProblems(`spec.actions[${i}].`, id, template.type, params);
  });
}

/** spec.feeds.names that no ThreatFeed in `defined` has. */
export function undefinedFeeds(
  spec: ExposurePolicySpec,
  defined: ReadonlySet<string>,
): ValidationIssue[] {
  return (spec.feeds.names ?? []).flatMap((name, i) =>
    defined.has(name)
      ? []
      : [
          {
            path: `spec.feeds.names[${i}]`,
            message: `no ThreatFeed named ${JSON.stringify(name)} in the input; give its YAML too`,
          },
        ],
  );
}

/** PreemptiveAction: its connector exists, enforces its type and takes its params. */
/** The controller's own checks of a ThreatException: ranges it cannot read, breadth without spec.broad. */
export function exceptionProblems(name: string, spec: ThreatExceptionSpec): ValidationIssue[] {
  return compileException(name, spec).problems.map((message) => ({
    path: message.slice(0, Math.max(0, message.indexOf(':'))) || 'spec',
    message,
  }));
}

export function actionProblems(spec: PreemptiveActionSpec): ValidationIssue[] {
  if (spec.type === 'Notify') return [];
  const id = spec.connector ?? catalog.defaultFor(spec.layer);
  if (id === undefined)
    return [
      {
        path: 'spec.connector',
        message: `the ${spec.layer} layer has no default connector; name one of ${catalog.ids().join(', ')}`,
      },
    ];
  if (!catalog.info(id))
    return [
      {
        path: 'spec.connector',
        message: `no connector ${id}; known: ${catalog.ids().join(', ')}`,
      },
    ];
  return connectorProblems('spec.', id, spec.type, (spec.params ?? {}) as Record<string, unknown>);
}
