import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { ExposurePolicy, PreemptiveAction, ThreatException } from '../../crds/index.js';
import { KubeClient } from '../../controller/runtime/client.js';
import { actAsServiceAccount, chartRbac } from '../harness/chart-rbac.js';
import { ControlPlane } from '../harness/control-plane.js';
import { envtestBinary, REPO_ROOT } from '../harness/envtest-assets.js';
import { eventually } from '../harness/eventually.js';
import { installLoopbackFence, type LoopbackFence } from '../harness/feed-server.js';
import { startManager } from '../harness/in-process-manager.js';
import { configMapFeed } from '../harness/threat-feeds.js';
import { condition, configMap, exposurePolicy, namespace } from '../harness/objects.js';
import { stopFenced } from '../harness/stop-in-order.js';

// The operator commands (approve, reject, lift, except, status) as a user runs them:
// the built CLI as its own process, with a kubeconfig of its own. Alice is a
// ServiceAccount bound to the chart's exception-reviewer ClusterRole; Bob has no
// binding. The real controllers act on what the commands write. kubectl runs the
// CLI as its `forestall` plugin.
const NS = 'forestall-system';
const CLI = join(REPO_ROOT, 'dist/cli/main.js');
const FEED = ['45.95.169.10', '45.95.169.20', '185.220.101.4'];

let cp: ControlPlane;
let kc: KubeConfig;
let client: KubeClient;
let fence: LoopbackFence;
let mgr: Awaited<ReturnType<typeof startManager>>;
let dir: string;
let alice: string;
let bob: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `forestall ARGS` (or another executable) and returns its exit code and output. */
async function run(args: string[], file = process.execPath, env = process.env): Promise<Run> {
  const argv = file === process.execPath ? [CLI, ...args] : args;
  try {
    const { stdout, stderr } = await promisify(execFile)(file, argv, { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

const asAlice = (...args: string[]) => run([...args, '--kubeconfig', alice]);
const getAction = (name: string) =>
  client.get<PreemptiveAction>('forestall.io/v1alpha1', 'PreemptiveAction', name);
const inPhase = (name: string, phase: string) =>
  eventually(`${name} ${phase}`, async () => {
    const a = await getAction(name);
    return a?.status?.phase === phase && a;
  });
const networkPolicies = async (action: string) =>
  (
    await client.list('networking.k8s.io/v1', 'NetworkPolicy', {
      labelSelector: `forestall.io/action=${action}`,
    })
  ).items.length;

function writeKubeconfig(name: string, config: KubeConfig): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, config.exportConfig(), { mode: 0o600 });
  return file;
}

const policySpec = (mode: string) => ({
  feeds: { names: ['blocklist'] },
  scope: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } } },
  actions: [{ type: 'EgressDeny', connector: 'network:networkpolicy' }],
  mode,
  autoApprove: 'true',
  expiry: '24h',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forestall-cli-'));
  fence = installLoopbackFence();
  cp = await ControlPlane.start();
  kc = cp.kubeConfig();
  client = new KubeClient(kc);
  for (const ns of [NS, 'team-a']) await client.apply(namespace(ns)).catch(() => undefined);
  // Alice: the chart's exception-reviewer role, bound to her ServiceAccount.
  const rbac = await chartRbac(NS);
  const reviewer = rbac.find(
    (o) =>
      o.kind === 'ClusterRole' &&
      (o.metadata as { name: string }).name === 'forestall-exception-reviewer',
  );
  expect(reviewer, 'the chart renders the exception-reviewer ClusterRole').toBeDefined();
  const sa = (name: string) => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: NS },
  });
  alice = writeKubeconfig(
    'alice',
    await actAsServiceAccount(cp, NS, [
      sa('alice'),
      reviewer!,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'alice-reviews' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'forestall-exception-reviewer',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: NS }],
      },
    ]),
  );
  bob = writeKubeconfig('bob', await actAsServiceAccount(cp, NS, [sa('bob')]));
  await client.apply(configMap(NS, 'blocklist', { 'list.txt': FEED.join('\n') }));
  await client.apply(
    configMapFeed('blocklist', NS, 'list.txt', {
      refreshInterval: '1h',
      confidence: { default: 90 },
    }),
  );
  mgr = await startManager(kc, { namespace: NS, resyncPeriodMs: 1000 });
  await client.apply(exposurePolicy('review', policySpec('Propose')));
  await client.apply(exposurePolicy('second', policySpec('Propose')));
  await client.apply(exposurePolicy('auto', policySpec('Enforce')));
  await inPhase('review-egressdeny', 'Proposed');
  await inPhase('second-egressdeny', 'Proposed');
  await inPhase('auto-egressdeny', 'Enforced');
}, 120_000);

afterAll(async () => {
  await stopFenced(fence, mgr, cp);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('forestall operator commands', () => {
  it('GIVEN --help THEN approve, reject, lift, except and status are top-level commands', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const command of [
      'status',
      'approve ACTION',
      'reject ACTION',
      'lift ACTION',
      'except VALUE...',
    ])
      expect(help.stdout).toContain(`\n  ${command}`);
  });

  it('GIVEN an action that does not exist, or a user without RBAC THEN the command exits 1 with the API server reason', async () => {
    const missing = await asAlice('approve', 'no-such-action');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'forestall approve: preemptiveactions.forestall.io "no-such-action" not found (NotFound)\n',
    );
    const forbidden = await run(['approve', 'review-egressdeny', '--kubeconfig', bob]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain(
      'User "system:serviceaccount:forestall-system:bob" cannot get resource "preemptiveactions" in API group "forestall.io" at the cluster scope (Forbidden)',
    );
    const noExcept = await run([
      'except',
      '1.2.3.4',
      '--for',
      '1h',
      '--reason',
      'x',
      '--kubeconfig',
      bob,
    ]);
    expect(noExcept.code).toBe(1);
    expect(noExcept.stderr).toContain('cannot create resource "threatexceptions"');
    const usage = await asAlice('reject', 'review-egressdeny');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--reason is required');
  });

  it('GIVEN alice approves a Proposed action THEN the controller enforces it and its Approved condition names her', async () => {
    const approved = await asAlice('approve', 'review-egressdeny', '--reason', 'INC-42 confirmed');
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(
      /^preemptiveaction\/review-egressdeny approved by system:serviceaccount:forestall-system:alice \(3 indicators, digest [0-9a-f]{12}\)/,
    );
    const action = await inPhase('review-egressdeny', 'Enforced');
    expect(condition(action, 'Approved')).toMatchObject({
      status: 'True',
      reason: 'ApprovedByPerson',
    });
    expect(condition(action, 'Approved')?.message).toMatch(
      /^approved by system:serviceaccount:forestall-system:alice \(INC-42 confirmed\) at /,
    );
    expect(await networkPolicies('review-egressdeny')).toBe(1);
    const again = await asAlice('reject', 'review-egressdeny', '--reason', 'too late');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('it is enforced: lift it (forestall lift)');
  });

  it('GIVEN alice rejects a Proposed action THEN it turns Rejected and its policy leaves the indicators out', async () => {
    const rejected = await asAlice('reject', 'second-egressdeny', '--reason', 'our CDN');
    expect(rejected.code).toBe(0);
    const action = await inPhase('second-egressdeny', 'Rejected');
    expect(condition(action, 'Ready')?.message).toMatch(
      /^rejected by system:serviceaccount:forestall-system:alice \(our CDN\); nothing is applied; its 3 indicators stay out of policy second until /,
    );
    await eventually('policy second suppresses the rejected indicators', async () => {
      const p = await client.get<ExposurePolicy>(
        'forestall.io/v1alpha1',
        'ExposurePolicy',
        'second',
      );
      return p?.status?.suppressedIndicators === 3;
    });
    expect(await networkPolicies('second-egressdeny')).toBe(0);
  });

  it('GIVEN alice lifts an enforced action THEN its objects go, and it stays Lifted while its policy keeps planning the same indicators', async () => {
    expect(await networkPolicies('auto-egressdeny')).toBe(1);
    const lifted = await asAlice('lift', 'auto-egressdeny', '--reason', 'false positive');
    expect(lifted.code).toBe(0);
    const action = await inPhase('auto-egressdeny', 'Lifted');
    expect(condition(action, 'Ready')?.message).toMatch(
      /^lifted by system:serviceaccount:forestall-system:alice \(false positive\): everything the action applied is removed/,
    );
    await eventually(
      'its NetworkPolicy removed',
      async () => (await networkPolicies('auto-egressdeny')) === 0,
    );
    // Several policy resyncs (every second) later, nothing has brought it back.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await getAction('auto-egressdeny'))?.status?.phase).toBe('Lifted');
    expect(await networkPolicies('auto-egressdeny')).toBe(0);
  });

  it('GIVEN alice excepts an address THEN a ThreatException with her as owner and the expiry exists, and the enforced action drops the address', async () => {
    const before = Date.now();
    const made = await asAlice(
      'except',
      '45.95.169.10',
      '--for',
      '24h',
      '--reason',
      'our monitoring probe',
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const name = made.stdout.match(/^threatexception\/(\S+) created/)![1]!;
    const exception = await client.get<ThreatException>(
      'forestall.io/v1alpha1',
      'ThreatException',
      name,
    );
    expect(exception?.spec).toMatchObject({
      cidrs: ['45.95.169.10'],
      reason: 'our monitoring probe',
      owner: 'system:serviceaccount:forestall-system:alice',
    });
    const expires = Date.parse(exception!.spec.expiresAt!);
    expect(expires - before).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(expires - before).toBeLessThan(24 * 3600_000 + 60_000);
    const action = await eventually('review-egressdeny excepted', async () => {
      const a = await getAction('review-egressdeny');
      return a?.spec.indicators.count === 2 && a;
    });
    expect(action.spec.exceptions).toEqual([{ name, indicators: 1 }]);
    const wide = await asAlice('except', '0.0.0.0/0', '--for', '1h', '--reason', 'x');
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain('needs broad: true');
  });

  it('GIVEN except --out DIR THEN nothing is created and DIR is a kustomization kubectl builds, for review in Git', async () => {
    const out = join(dir, 'gitops', 'exceptions');
    const written = await run([
      'except',
      'cdn.example.com',
      '*.assets.example.org',
      '--for',
      '72h',
      '--reason',
      'CDN',
      '--owner',
      'secops',
      '--out',
      out,
    ]);
    expect(written.code).toBe(0);
    const built = await run(['kustomize', out], envtestBinary(inject('envtestAssets'), 'kubectl'));
    expect(built.code).toBe(0);
    expect(built.stdout).toContain('kind: ThreatException');
    expect(built.stdout).toContain('- cdn.example.com');
    expect(readFileSync(join(out, 'kustomization.yaml'), 'utf8')).toMatch(
      /resources:\n {2}- threatexception-except-cdn-example-com-[0-9a-f]{8}\.yaml/,
    );
    const listed = await client.list('forestall.io/v1alpha1', 'ThreatException');
    expect(listed.items.map((e) => (e as KubernetesObject).metadata?.name)).not.toContain(
      expect.stringMatching(/^except-cdn/),
    );
  });

  it('GIVEN plan --kubeconfig THEN the same engine plans from the live feeds, snapshots, policies, exceptions and inventory, and agrees with the controller', async () => {
    const admin = cp.writeKubeconfig(join(dir, 'admin.kubeconfig'));
    const r = await run(['plan', '--kubeconfig', admin, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      feeds: { name: string; indicators: number; file: string }[];
      policies: {
        name: string;
        actions: { name: string; digest: string; exceptions: unknown[] }[];
      }[];
    };
    expect(json.feeds).toMatchObject([{ name: 'blocklist', indicators: 3 }]);
    expect(json.feeds[0]!.file).toMatch(/^snapshot forestall-system\/forestall-feed-blocklist of /);
    const planned = json.policies.find((p) => p.name === 'auto')!.actions[0]!;
    const live = await getAction('auto-egressdeny');
    expect(planned.name).toBe('auto-egressdeny');
    expect(planned.digest).toBe(live!.spec.indicators.digest);
    expect(planned.exceptions).toEqual(live!.spec.exceptions);
    const text = await run(['plan', '--kubeconfig', admin]);
    expect(text.stdout).toMatch(
      /blocklist +lines +3 indicators \(ipv4 3\) from snapshot forestall-system\/forestall-feed-blocklist/,
    );
    expect(text.stdout).toContain('absent: Gateway (gateway.networking.k8s.io/v1) not served');
    const denied = await run(['plan', '--kubeconfig', bob]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('cannot list resource "threatfeeds"');
    const mixed = await run(['plan', 'examples', '--kubeconfig', admin]);
    expect(mixed.code).toBe(2);
  });

  it('GIVEN status THEN it shows the feed, the policies, actions by phase, and no Proposed action left', async () => {
    const status = await asAlice('status');
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /Feeds \(1\)\nNAME +READY +INDICATORS +LAST SYNC +STATE\nblocklist +True +3 +\d+s ago +Fresh/,
    );
    expect(status.stdout).toMatch(/review +Propose +True +Evaluated +3 +1\n/);
    expect(status.stdout).toMatch(/auto +Enforce +True +Evaluated +3 +1\n/);
    // auto-egressdeny was lifted for its three indicators; the exception above left it
    // two others, new intelligence for it, so it is enforced again (a lift holds for the
    // set it was made on).
    expect(status.stdout).toContain(
      'Actions: Pending 0, Proposed 0, Enforced 2, Expired 0, Lifted 0, Rejected 1, Failed 0',
    );
    expect(status.stdout).toContain('Oldest Proposed: none waits for approval');
    expect(status.stdout).toContain(
      'Exceptions: 1 active, 0 expired, 0 invalid; next to expire: except-45-95-169-10-',
    );
    const json = JSON.parse((await asAlice('status', '--json')).stdout) as {
      actions: Record<string, number>;
    };
    expect(json.actions.Enforced).toBe(2);
  });

  it('GIVEN the CLI on PATH as kubectl-forestall THEN `kubectl forestall status` runs it as a plugin, and its help says kubectl forestall', async () => {
    const bin = join(dir, 'bin');
    rmSync(bin, { recursive: true, force: true });
    await promisify(execFile)('mkdir', ['-p', bin]);
    symlinkSync(CLI, join(bin, 'kubectl-forestall'));
    chmodSync(CLI, 0o755);
    const env = {
      ...process.env,
      PATH: `${bin}:${join(process.execPath, '..')}:${process.env.PATH ?? ''}`,
    };
    const kubectl = envtestBinary(inject('envtestAssets'), 'kubectl');
    const plugin = await run(['forestall', 'status', '--kubeconfig', alice], kubectl, env);
    expect(plugin.stderr).toBe('');
    expect(plugin.code).toBe(0);
    expect(plugin.stdout).toContain('Feeds (1)');
    const help = await run(['forestall', '--help'], kubectl, env);
    expect(help.stdout).toContain('Usage: kubectl forestall <command> [flags]');
  });
});
