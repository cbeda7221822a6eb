import type { CveFinding } from './types.js';

/**
 * Remediation lines from CVE findings: what a person does to end the isolation for good.
 * Pure, and deterministic for a given input (lines follow the order of the findings).
 *
 * - A finding with a fixed version gives an upgrade line. Findings that share the
 *   container, image, package and both versions share the line, which lists their CVEs:
 *   "Upgrade openssl in container web (nginx:1.25.3) from 3.0.7 to 3.0.13 (fixes
 *   CVE-2023-0286, CVE-2023-0464)". Versions are never compared (Trivy's fixedVersion
 *   may name several branches, "3.0.13, 3.1.5"), so two fixed versions of one package
 *   give two lines.
 * - A finding without one says so, and names the ways out that remain: keep the
 *   workload isolated until a fix is published, or remove the exposure path(s).
 */
export function remediationLines(
  cves: readonly CveFinding[],
  exposure: readonly string[] = [],
): string[] {
  const groups = new Map<string, { finding: CveFinding; ids: string[] }>();
  for (const finding of cves) {
    const fixed = finding.fixedVersion?.trim() ?? '';
    const key = JSON.stringify([
      fixed === '' ? 'unfixed' : 'fixed',
      finding.container ?? '',
      finding.image ?? '',
      finding.package ?? '',
      finding.installedVersion ?? '',
      fixed,
    ]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { finding, ids: [finding.cveID] });
    else if (!group.ids.includes(finding.cveID)) group.ids.push(finding.cveID);
  }
  const lines: string[] = [];
  for (const { finding, ids } of groups.values()) {
    const line = finding.fixedVersion?.trim()
      ? upgradeLine(finding, ids)
      : unfixedLine(finding, ids, exposure);
    if (!lines.includes(line)) lines.push(line);
  }
  return lines;
}

function upgradeLine(finding: CveFinding, ids: readonly string[]): string {
  const from = finding.installedVersion?.trim() ? ` from ${finding.installedVersion.trim()}` : '';
  return `Upgrade ${finding.package?.trim() || 'the affected package'}${where(finding)}${from} to ${finding.fixedVersion!.trim()} (fixes ${ids.join(', ')})`;
}

function unfixedLine(
  finding: CveFinding,
  ids: readonly string[],
  exposure: readonly string[],
): string {
  const what = finding.package?.trim()
    ? `${finding.package.trim()}${finding.installedVersion?.trim() ? ` ${finding.installedVersion.trim()}` : ''}`
    : 'the affected package';
  const paths = exposure.filter((p) => p.trim() !== '');
  const wayOut =
    paths.length === 0
      ? 'keep the workload isolated until one is published'
      : `keep the workload isolated, or remove the exposure ${paths.length === 1 ? 'path' : 'paths'} ${paths.join('; ')}`;
  return `${ids.join(', ')} in ${what}${where(finding)}: no fixed version published yet: ${wayOut}`;
}

/** " in container web (nginx:1.25.3)", or less when the report did not say. */
function where(finding: CveFinding): string {
  const container = finding.container?.trim() ? ` in container ${finding.container.trim()}` : '';
  const image = finding.image?.trim()
    ? container
      ? ` (${finding.image.trim()})`
      : ` in image ${finding.image.trim()}`
    : '';
  return `${container}${image}`;
}
