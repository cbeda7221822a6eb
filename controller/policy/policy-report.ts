import type { KubernetesObject } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { ExposurePolicy } from '../../crds/index.js';
import type { Evaluation } from '../../policies/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeClient } from '../runtime/client.js';
import { ForestallError } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { labelValue } from '../../connectors/index.js';
import { LABEL_MANAGED_BY, LABEL_POLICY, MANAGED_BY } from '../../crds/index.js';

/**
 * Reports every evaluation as a wgpolicyk8s.io/v1alpha2 ClusterPolicyReport (policies
 * are cluster-scoped), so the tools that read Kyverno's and Trivy's reports (Policy
 * Reporter, dashboards) show what Forestall does, and in Audit mode what it would do.
 * One report per policy, named forestall-<policy>; one result per planned action.
 *
 * The PolicyReport CRD is optional: where the cluster does not serve it, reporting is
 * skipped (checked again every few minutes) and everything else goes on.
 */
export const POLICY_REPORT_API = 'wgpolicyk8s.io/v1alpha2';
const RECHECK_MS = 300_000;

interface ClusterPolicyReport extends KubernetesObject {
  summary?: Record<string, number>;
  results?: Record<string, unknown>[];
}

export function reportName(policy: string): string {
  return `forestall-${policy}`.slice(0, 253);
}

export class PolicyReporter {
  private unavailableUntil = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async report(policy: ExposurePolicy, evaluation: Evaluation, now: Date): Promise<void> {
    if (this.clock.now() < this.unavailableUntil) return;
    const name = reportName(policy.metadata.name!);
    const results = evaluation.actions.map((a) => ({
      source: 'forestall',
      policy: policy.metadata.name!,
      rule: a.name,
      // warn: the action is planned or in force; the intelligence says these destinations are hostile.
      result: 'warn',
      severity: a.confidence >= 80 ? 'high' : a.confidence >= 50 ? 'medium' : 'low',
      category: a.layer,
      message: `${a.type} of ${a.request.values.length} indicators through ${a.connector}: ${a.decision === 'audit' ? 'audit only, nothing applied' : a.decision === 'auto' ? 'applied automatically' : 'awaiting approval'} (${a.reason})`,
      properties: {
        decision: a.decision,
        indicators: String(a.request.values.length),
        digest: a.digest,
        addresses: String(a.blastRadius.addresses),
        workloads: String(a.blastRadius.workloads),
        production: String(a.blastRadius.production),
      },
      resources: a.request.scope.namespaces
        .slice(0, 100)
        .map((ns) => ({ apiVersion: 'v1', kind: 'Namespace', name: ns })),
      timestamp: { seconds: Math.floor(now.getTime() / 1000), nanos: 0 },
    }));
    const summary = {
      pass: 0,
      fail: 0,
      warn: results.length,
      error: evaluation.compileErrors.length,
      skip: 0,
    };
    try {
      const existing = await this.client.get<ClusterPolicyReport>(
        POLICY_REPORT_API,
        'ClusterPolicyReport',
        name,
      );
      const comparable = (r: Record<string, unknown>[] | undefined) =>
        (r ?? []).map(({ timestamp: _t, ...rest }) => rest);
      if (
        existing &&
        isDeepStrictEqual(existing.summary, summary) &&
        isDeepStrictEqual(comparable(existing.results), comparable(results))
      )
        return;
      await this.client.apply<ClusterPolicyReport>({
        apiVersion: POLICY_REPORT_API,
        kind: 'ClusterPolicyReport',
        metadata: {
          name,
          labels: {
            [LABEL_MANAGED_BY]: MANAGED_BY,
            [LABEL_POLICY]: labelValue(policy.metadata.name!),
          },
          ownerReferences: [
            {
              apiVersion: policy.apiVersion ?? 'forestall.io/v1alpha1',
              kind: 'ExposurePolicy',
              name: policy.metadata.name!,
              uid: policy.metadata.uid!,
            },
          ],
        },
        summary,
        results,
      });
    } catch (err) {
      if (err instanceof ForestallError && err.code === 'FST_KUBE_NOT_FOUND') {
        this.unavailableUntil = this.clock.now() + RECHECK_MS;
        this.log.info(
          'The cluster does not serve wgpolicyk8s.io/v1alpha2 ClusterPolicyReport; PolicyReports are skipped',
        );
        return;
      }
      throw err;
    }
  }

  async remove(policy: string): Promise<void> {
    if (this.clock.now() < this.unavailableUntil) return;
    try {
      await this.client.delete({
        apiVersion: POLICY_REPORT_API,
        kind: 'ClusterPolicyReport',
        metadata: { name: reportName(policy) },
      });
    } catch (err) {
      if (!(err instanceof ForestallError && err.code === 'FST_KUBE_NOT_FOUND')) throw err;
    }
  }
}
