/**
 * The Isolate join: CVE indicators × the workloads in scope that currently run a
 * vulnerable package, through spec.match with both `indicator` and `workload`. The
 * engine turns each workload with a matching pair into one Isolate action.
 *
 * The join is driven by the inventory's CVE index (ExposureInventory.byVulnerability),
 * not by the catalog: a feed's indicators are scanned once for CVE ids some workload
 * has (a map lookup each), and spec.match runs only on the pairs that exist, once per
 * finding, which the index hands over directly. The whole KEV catalog against a cluster costs one pass over the catalog plus
 * the evaluations of the real pairs.
 */
import { createHash } from 'node:crypto';
import { indicatorKey, mergeIndicator, type Indicator } from '../feeds/index.js';
import { anyLowered, feedsByName, indicatorSourceConfidence } from './provenance.js';
import {
  evaluateBool,
  indicatorActivation,
  workloadActivation,
  type CelProgram,
} from '../cel/index.js';
import { compareText } from './object-fields.js';
import type {
  ActionEvidence,
  CveEvidence,
  ExposureInventory,
  FeedView,
  VulnerabilityFinding,
  WorkloadExposure,
  WorkloadView,
} from './types.js';
import { workloadApiVersion, workloadKey } from './workloads.js';

/** One CVE indicator and one finding of it in the workload, for which spec.match held. */
export interface IsolationHit {
  indicator: Indicator;
  finding: VulnerabilityFinding;
}

/** A workload with at least one matching pair. */
export interface IsolationCandidate {
  workload: WorkloadView;
  exposure: WorkloadExposure;
  hits: IsolationHit[];
}

export interface IsolationMatch {
  /** The CVE indicators that matched with at least one workload, by indicatorKey(). */
  indicators: Map<string, Indicator>;
  /** Sorted by workload key. */
  candidates: IsolationCandidate[];
}

const MAX_NAME = 200;

/** A name of at most 200 characters: longer ones (or salted ones) end in a hash of the whole, cut where a DNS-1123 subdomain may end. */
function boundedName(name: string, salt?: string): string {
  if (salt === undefined && name.length <= MAX_NAME) return name;
  const hash = createHash('sha256')
    .update(salt === undefined ? name : `${name}\u0000${salt}`)
    .digest('hex')
    .slice(0, 10);
  const head = name.slice(0, MAX_NAME - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}`;
}

/**
 * The Isolate action's name for a workload:
 * `<policy>-isolate[-<template index>]-<namespace>-<kind>-<name>`, with the template
 * index only when the policy has several Isolate templates. A name over 200 characters
 * is cut and ends in a hash of the whole. `salt` (the workload key) tells apart two
 * workloads whose names come out the same, which the hyphens allow: namespace `x` with
 * Deployment `statefulset-y`, and namespace `x-deployment` with StatefulSet `y`.
 */
export function isolateActionName(
  policy: string,
  workload: { kind: string; namespace: string; name: string },
  templateIndex?: number,
  salt?: string,
): string {
  const template = templateIndex === undefined ? '' : `-${templateIndex}`;
  return boundedName(
    `${policy}-isolate${template}-${workload.namespace}-${workload.kind.toLowerCase()}-${workload.name}`,
    salt,
  );
}

/**
 * The pairs for which spec.match holds, grouped by workload. `workloads` are the ones
 * the policy's scope (and exposure filter) leaves; a finding of a workload not in it is
 * never evaluated. Runtime errors count as not matching and are reported once each in
 * `warnings`, with how many pairs they hit.
 */
export function matchVulnerableWorkloads(
  feeds: readonly FeedView[],
  match: CelProgram | undefined,
  workloads: readonly WorkloadView[],
  inventory: ExposureInventory,
  now: Date,
  warnings: string[],
): IsolationMatch {
  const inScope = new Map(workloads.map((w) => [workloadKey(w), w]));
  // The CVE indicators some workload has, merged across feeds (a KEV entry and an EPSS score become one indicator).
  const cves = new Map<string, Indicator>();
  for (const feed of feeds) {
    for (const indicator of feed.indicators ?? []) {
      if (indicator.type !== 'cve' || !inventory.byVulnerability.has(indicator.value)) continue;
      const seen = cves.get(indicator.value);
      cves.set(indicator.value, seen ? mergeIndicator(seen, indicator) : indicator);
    }
  }
  const byName = anyLowered(feeds) ? feedsByName(feeds) : undefined;
  const indicators = new Map<string, Indicator>();
  const candidates = new Map<string, IsolationCandidate>();
  const errors = new Map<string, number>();
  const onError = (message: string) => errors.set(message, (errors.get(message) ?? 0) + 1);
  for (const id of [...cves.keys()].sort(compareText)) {
    const indicator = cves.get(id)!;
    for (const [key, findings] of inventory.byVulnerability.get(id) ?? []) {
      const workload = inScope.get(key);
      const exposure = inventory.workloads.get(key);
      if (!workload || !exposure) continue;
      for (const finding of findings) {
        if (match) {
          const pair = {
            indicator: indicatorActivation(
              indicator,
              byName && indicatorSourceConfidence(indicator.sources, byName),
            ),
            workload: workloadActivation({
              kind: workload.kind,
              namespace: workload.namespace,
              name: workload.name,
              labels: workload.labels,
              podLabels: workload.podLabels,
              internetFacing: exposure.internetFacing,
              exposure: exposure.exposure,
              images: exposure.images.map((c) => c.image),
              finding,
            }),
            now,
          };
          if (!evaluateBool(match, pair, onError)) continue;
        }
        indicators.set(indicatorKey(indicator), indicator);
        const candidate = candidates.get(key) ?? { workload, exposure, hits: [] };
        candidate.hits.push({ indicator, finding });
        candidates.set(key, candidate);
      }
    }
  }
  for (const [message, count] of errors)
    warnings.push(
      `spec.match failed on ${count} CVE × workload pair(s), which count as not matching: ${message}`,
    );
  return {
    indicators,
    candidates: [...candidates].sort(([a], [b]) => compareText(a, b)).map(([, c]) => c),
  };
}

function cveEvidence({ indicator, finding }: IsolationHit): CveEvidence {
  const a = indicator.attributes ?? {};
  const string = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const evidence: CveEvidence = {
    cveID: indicator.value,
    vendor: string(a.vendor),
    product: string(a.product),
    dateAdded: string(a.dateAdded),
    knownRansomwareCampaignUse:
      typeof a.knownRansomwareCampaignUse === 'boolean' ? a.knownRansomwareCampaignUse : undefined,
    epss: typeof a.epss === 'number' ? a.epss : undefined,
    container: finding.container,
    image: finding.image,
    package: finding.package,
    installedVersion: finding.installedVersion,
    fixedVersion: finding.fixedVersion,
    severity: finding.severity,
    link: finding.link,
  };
  // No undefined members: the evidence is copied into API objects and compared as JSON.
  for (const key of Object.keys(evidence) as (keyof CveEvidence)[])
    if (evidence[key] === undefined) delete evidence[key];
  return evidence;
}

/** Why the candidate's workload is isolated: the target, how it is reachable, and each CVE finding with its KEV facts. */
export function isolationEvidence(candidate: IsolationCandidate): ActionEvidence {
  const { workload, exposure } = candidate;
  const vulnerabilities = candidate.hits
    .map(cveEvidence)
    .sort(
      (a, b) =>
        compareText(a.cveID, b.cveID) ||
        compareText(a.container, b.container) ||
        compareText(a.package ?? '', b.package ?? '') ||
        compareText(a.installedVersion, b.installedVersion),
    );
  return {
    target: {
      apiVersion: workloadApiVersion(workload.kind),
      kind: workload.kind,
      namespace: workload.namespace,
      name: workload.name,
    },
    internetFacing: exposure.internetFacing,
    exposure: exposure.exposure.map((p) => ({ ...p })),
    vulnerabilities,
  };
}

/**
 * The way out of the isolation for one CVE finding, in one sentence: what to upgrade,
 * from which version to which, in which container; or that no fix is published yet.
 * Shared by the CLI and the notifications, so both say the same.
 */
export function remediation(
  e: Pick<CveEvidence, 'container' | 'image' | 'package' | 'installedVersion' | 'fixedVersion'>,
): string {
  const component = e.package ?? 'the vulnerable package';
  if (e.fixedVersion)
    return `upgrade ${component} from ${e.installedVersion} to ${e.fixedVersion} in container ${e.container} (image ${e.image}), then roll out the new image`;
  return `no fixed version of ${component} ${e.installedVersion} is published yet (container ${e.container}, image ${e.image}): remove or replace the component, or keep the workload isolated`;
}
