import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parse as parseYaml, stringify } from 'yaml';
import {
  ANNOTATION_DECISION,
  API_VERSION,
  parseDuration,
  TERMINAL_PHASES,
  type PersonDecision,
  type PreemptiveAction,
  type ThreatException,
  type ThreatExceptionSpec,
  validateObject,
  formatIssues,
} from '../crds/index.js';
import { ApiError, KubeClient } from '../controller/runtime/client.js';
import { messageOf } from '../controller/runtime/errors.js';
import { parseCidrOrIp } from '../lib/net.js';
import { compileException } from '../policies/index.js';
import { badUsage, parseCommandLine, UsageError, type ArgValues, type Writer } from './usage.js';

/**
 * The operator's commands against the live cluster: approve, reject and lift an action,
 * except an indicator, and (cli/status.ts) status. Each acts with the caller's own
 * kubeconfig credentials (no controller identity is borrowed), so the API server's RBAC
 * decides and its audit log records who did it. Installed as `kubectl-forestall` too,
 * so `kubectl forestall approve …` works when it is on PATH.
 */

/** Field manager of the CLI's writes, so they are told apart from the controller's. */
export const CLI_FIELD_MANAGER = 'forestall-cli';

const CONNECTION_FLAGS = `  --kubeconfig FILE         the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME            the kubeconfig context (default: its current context)`;

export const DECISION_USAGE = {
  approve: `Usage: forestall approve ACTION [--reason TEXT] [flags]

Approves a PreemptiveAction that waits in Proposed, for its current indicators: the
controller then enforces it. Actions delivered through Git are approved by merging
their pull request instead. Writes the forestall.io/decision annotation with your own
credentials (RBAC: patch on preemptiveactions.forestall.io).
`,
  reject: `Usage: forestall reject ACTION --reason TEXT [flags]

Rejects a PreemptiveAction before it is enforced: it turns Rejected, and its policy
leaves its indicators out for spec.git.suppressRejectedFor (default 168h), as after a
pull request closed unmerged. An enforced action is lifted, not rejected.
`,
  lift: `Usage: forestall lift ACTION [--reason TEXT] [flags]

Lifts a PreemptiveAction now: what it applied is removed and it turns Lifted. It stays
lifted until its policy plans other indicators for it. To keep a false positive out of
every policy, add a ThreatException (forestall except).
`,
};

export const EXCEPT_USAGE = `Usage: forestall except VALUE... --for DURATION --reason TEXT [flags]

Creates a ThreatException: every policy leaves the values out of its actions, and an
enforced action left with none is lifted within seconds. Addresses and CIDRs become
spec.cidrs (a feed CIDR that contains one is left out whole), domains spec.domains
(with every name under them), anything else spec.values.

Flags:
  --for DURATION            how long it lasts, e.g. 24h (required unless --no-expiry)
  --no-expiry               it lasts until deleted
  --reason TEXT             why: the false positive, the ticket (required)
  --owner TEXT              who answers for it (default: you, as the API server knows you)
  --feed NAME               only what this ThreatFeed says (repeatable)
  --policy NAME             only this ExposurePolicy honours it (repeatable)
  --namespace NAME          only actions inside this namespace (repeatable)
  --broad                   allow a range wider than /8 (IPv4) or /32 (IPv6), * or a TLD
  --name NAME               the object's name (default: derived from the values)
  --out DIR                 do not create it: write it into DIR as a kustomization
                            resource, to commit and review in Git like any proposal
  -o, --output yaml         do not create it: print it
${CONNECTION_FLAGS}
`;

const connectionOptions = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A KubeClient with the caller's kubeconfig, as kubectl would load it. */
export function connect(values: ArgValues): KubeClient {
  const kc = new KubeConfig();
  if (typeof values.kubeconfig === 'string') kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  if (typeof values.context === 'string') kc.setCurrentContext(values.context);
  return new KubeClient(kc, undefined, CLI_FIELD_MANAGER);
}

/** The API server's own message for a refused call (Status.message, redacted) and its reason, else the error's. */
export function apiMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const api = err instanceof ApiError ? err : cause instanceof ApiError ? cause : undefined;
  if (!api) return (err as Error).message;
  let reason: string | undefined;
  try {
    reason = (JSON.parse(api.body) as { reason?: string }).reason;
  } catch {
    // not JSON: no reason to add
  }
  return `${messageOf(api)}${reason ? ` (${reason})` : ''}`;
}

/** Who the API server says the caller is (SelfSubjectReview), or the kubeconfig's user name. */
export async function whoAmI(client: KubeClient): Promise<string> {
  try {
    const review = await client.call<{ status?: { userInfo?: { username?: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    const name = review.status?.userInfo?.username;
    if (name) return name;
  } catch {
    // an older API server, or the review is not allowed: the kubeconfig's name will do
  }
  return client.kc.getCurrentUser()?.name ?? 'unknown';
}

async function getAction(client: KubeClient, name: string): Promise<PreemptiveAction> {
  const path = await client.path(API_VERSION, 'PreemptiveAction', undefined, name);
  return client.call<PreemptiveAction>('GET', path);
}

/** Why `verb` does not apply to the action as it is, or undefined when it does. */
function refusal(verb: PersonDecision['verb'], action: PreemptiveAction): string | undefined {
  const phase = action.status?.phase ?? 'Pending';
  const pr = action.status?.pullRequest?.url;
  if (TERMINAL_PHASES.has(phase)) return `it is ${phase}: nothing is left to ${verb}`;
  if (action.spec.indicators.count === 0) return 'it has no indicators left';
  if (verb === 'approve') {
    if (action.spec.delivery === 'Git')
      return `it is delivered through Git: approve it by merging its pull request${pr ? ` ${pr}` : ''}`;
    if (phase === 'Enforced' && action.spec.approval?.required === false)
      return 'it is enforced already and needed no approval';
  }
  if (verb === 'reject' && action.spec.delivery === 'Git')
    return `it is delivered through Git: reject it by closing its pull request${pr ? ` ${pr}` : ''} unmerged`;
  if (verb === 'reject' && phase === 'Enforced')
    return 'it is enforced: lift it (forestall lift) to remove what it applied';
  return undefined;
}

/** forestall approve | reject | lift ACTION. */
export async function runDecision(
  verb: PersonDecision['verb'],
  argv: string[],
  out: Writer,
  err: Writer,
): Promise<number> {
  const usage = `${DECISION_USAGE[verb]}
Flags:
  --reason TEXT             why (recorded in the annotation and the action's conditions)
${CONNECTION_FLAGS}
`;
  let values: ArgValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(argv, {
      ...connectionOptions,
      reason: { type: 'string' },
    }));
    if (values.help) {
      out.write(usage);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('name exactly one ACTION');
    if (verb === 'reject' && !values.reason) throw new UsageError('--reason is required');
  } catch (e) {
    return badUsage(e, err, `forestall ${verb}`, `\n${usage}`);
  }
  const name = positionals[0]!;
  try {
    const client = connect(values);
    const action = await getAction(client, name);
    const why = refusal(verb, action);
    if (why) {
      err.write(`forestall ${verb}: preemptiveaction/${name}: ${why}\n`);
      return 1;
    }
    const decision: PersonDecision = {
      verb,
      digest: action.spec.indicators.digest ?? '',
      by: await whoAmI(client),
      at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(typeof values.reason === 'string' ? { reason: values.reason } : {}),
    };
    // The resourceVersion makes the patch fail if the action changed since it was read:
    // a decision is about the indicators the person saw.
    await client.call(
      'PATCH',
      await client.path(API_VERSION, 'PreemptiveAction', undefined, name),
      {
        body: {
          metadata: {
            resourceVersion: action.metadata?.resourceVersion,
            annotations: { [ANNOTATION_DECISION]: JSON.stringify(decision) },
          },
        },
        contentType: 'application/merge-patch+json',
        query: { fieldManager: CLI_FIELD_MANAGER },
      },
    );
    const done = { approve: 'approved', reject: 'rejected', lift: 'lifted' }[verb];
    out.write(
      `preemptiveaction/${name} ${done} by ${decision.by} (${action.spec.indicators.count} indicators, digest ${decision.digest.slice(0, 12)}); the controller ${verb === 'approve' ? 'enforces' : verb === 'lift' ? 'removes' : 'settles'} it\n`,
    );
    return 0;
  } catch (e) {
    err.write(`forestall ${verb}: ${apiMessage(e)}\n`);
    return 1;
  }
}

/** Which list of a ThreatException a command-line value goes in. */
export function exceptionFields(
  values: readonly string[],
): Pick<ThreatExceptionSpec, 'values' | 'cidrs' | 'domains'> {
  const cidrs: string[] = [];
  const domains: string[] = [];
  const exact: string[] = [];
  for (const v of values) {
    if (parseCidrOrIp(v) !== undefined) cidrs.push(v);
    // A name with a dot is a domain (CVE ids, hashes and accounts have none, or an @).
    else if (v === '*' || /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)+\.?$/i.test(v)) domains.push(v);
    else exact.push(v);
  }
  return {
    ...(exact.length ? { values: exact } : {}),
    ...(cidrs.length ? { cidrs } : {}),
    ...(domains.length ? { domains } : {}),
  };
}

/** A DNS-1123 name for the values: readable when short, always unique to them. */
export function exceptionName(values: readonly string[]): string {
  const hash = createHash('sha256').update(values.join('\n')).digest('hex').slice(0, 8);
  const slug = values[0]!
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `except-${slug ? `${slug}-` : ''}${hash}`;
}

/** forestall except VALUE... */
export async function runExcept(argv: string[], out: Writer, err: Writer): Promise<number> {
  let values: ArgValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(argv, {
      ...connectionOptions,
      for: { type: 'string' },
      'no-expiry': { type: 'boolean' },
      reason: { type: 'string' },
      owner: { type: 'string' },
      feed: { type: 'string', multiple: true },
      policy: { type: 'string', multiple: true },
      namespace: { type: 'string', multiple: true },
      broad: { type: 'boolean' },
      name: { type: 'string' },
      out: { type: 'string' },
      output: { type: 'string', short: 'o' },
    }));
    if (values.help) {
      out.write(EXCEPT_USAGE);
      return 0;
    }
    if (!positionals.length) throw new UsageError('name at least one VALUE');
    if (!values.reason) throw new UsageError('--reason is required');
    if (!values.for && !values['no-expiry'])
      throw new UsageError('--for DURATION is required (or --no-expiry)');
    if (values.for && values['no-expiry'])
      throw new UsageError('--for and --no-expiry exclude each other');
    if (values.output !== undefined && values.output !== 'yaml')
      throw new UsageError('--output takes only yaml');
    if (values.for) {
      try {
        if (parseDuration(values.for as string) <= 0) throw new Error('not positive');
      } catch {
        throw new UsageError(`--for ${String(values.for)}: not a duration such as 24h or 90m`);
      }
    }
  } catch (e) {
    return badUsage(e, err, 'forestall except', `\n${EXCEPT_USAGE}`);
  }
  const offline = values.out !== undefined || values.output === 'yaml';
  try {
    const client = offline && !values.owner ? undefined : connect(values);
    const owner = (values.owner as string | undefined) ?? (client ? await whoAmI(client) : '');
    if (!owner) throw new UsageError('--owner is required with --out or --output');
    const spec: ThreatExceptionSpec = {
      ...exceptionFields(positionals),
      ...(Array.isArray(values.feed) ? { feeds: values.feed } : {}),
      ...(Array.isArray(values.policy) ? { policies: values.policy } : {}),
      ...(Array.isArray(values.namespace) ? { namespaces: values.namespace } : {}),
      reason: values.reason as string,
      owner,
      ...(values.for
        ? {
            expiresAt: new Date(Date.now() + parseDuration(values.for as string))
              .toISOString()
              .replace(/\.\d+Z$/, 'Z'),
          }
        : {}),
      ...(values.broad ? { broad: true } : {}),
    };
    const name = (values.name as string | undefined) ?? exceptionName(positionals);
    const object: ThreatException = {
      apiVersion: API_VERSION,
      kind: 'ThreatException',
      metadata: { name },
      spec,
    };
    // What the API server and the controller would refuse, refused here first with the field.
    const checked = validateObject(structuredClone(object));
    const problems = checked.ok ? compileException(name, spec).problems : [];
    if (!checked.ok || problems.length) {
      err.write(
        `forestall except: ${checked.ok ? problems.join('; ') : formatIssues(checked.issues)}\n`,
      );
      return 1;
    }
    if (values.output === 'yaml') {
      out.write(stringify(object));
      return 0;
    }
    if (typeof values.out === 'string') {
      const file = await writeToKustomization(values.out, object);
      out.write(`wrote ${file}; commit it and open a pull request for review\n`);
      return 0;
    }
    const created = await client!.create<ThreatException & KubernetesObject>(object);
    out.write(
      `threatexception/${created.metadata?.name} created by ${owner}${spec.expiresAt ? `, until ${spec.expiresAt}` : ''}: policies leave ${positionals.join(', ')} out of their actions\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof UsageError) return badUsage(e, err, 'forestall except', `\n${EXCEPT_USAGE}`);
    err.write(`forestall except: ${apiMessage(e)}\n`);
    return 1;
  }
}

/** Writes the object as DIR/<name>.yaml and lists it in DIR/kustomization.yaml (created if absent). */
async function writeToKustomization(dir: string, object: ThreatException): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = `threatexception-${object.metadata!.name}.yaml`;
  await writeFile(join(dir, file), stringify(object));
  const kustomization = join(dir, 'kustomization.yaml');
  const existing = await readFile(kustomization, 'utf8').catch(() => undefined);
  const doc = (existing ? parseYaml(existing) : undefined) as
    { resources?: string[]; [k: string]: unknown } | undefined;
  const next = doc ?? { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' };
  const resources = new Set([...(next.resources ?? []), file]);
  next.resources = [...resources].sort();
  await writeFile(kustomization, stringify(next));
  return join(dir, file);
}
