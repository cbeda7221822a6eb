import { describe, expect, it } from 'vitest';
import { remediationLines } from './remediation.js';

describe('remediationLines', () => {
  it('GIVEN a finding with a fixed version THEN it is an upgrade line naming package, container, image and versions', () => {
    expect(
      remediationLines([
        {
          cveID: 'CVE-2023-0286',
          package: 'openssl',
          container: 'web',
          image: 'nginx:1.25.3',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.13',
        },
      ]),
    ).toEqual([
      'Upgrade openssl in container web (nginx:1.25.3) from 3.0.7 to 3.0.13 (fixes CVE-2023-0286)',
    ]);
  });

  it('GIVEN several CVEs fixed by the same upgrade THEN they share one line; another fixed version gets its own', () => {
    expect(
      remediationLines([
        {
          cveID: 'CVE-1',
          package: 'openssl',
          container: 'web',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.13',
        },
        {
          cveID: 'CVE-2',
          package: 'openssl',
          container: 'web',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.13',
        },
        {
          cveID: 'CVE-1',
          package: 'openssl',
          container: 'web',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.13',
        },
        {
          cveID: 'CVE-3',
          package: 'openssl',
          container: 'web',
          installedVersion: '3.0.7',
          fixedVersion: '3.0.14',
        },
      ]),
    ).toEqual([
      'Upgrade openssl in container web from 3.0.7 to 3.0.13 (fixes CVE-1, CVE-2)',
      'Upgrade openssl in container web from 3.0.7 to 3.0.14 (fixes CVE-3)',
    ]);
  });

  it('GIVEN no fixed version and one exposure path THEN it says so: keep isolated, or remove that path', () => {
    expect(
      remediationLines(
        [
          {
            cveID: 'CVE-2024-3094',
            package: 'xz-utils',
            installedVersion: '5.6.0',
            container: 'api',
            image: 'api:2',
            fixedVersion: '',
          },
        ],
        ['Ingress shop/web → Service web:80'],
      ),
    ).toEqual([
      'CVE-2024-3094 in xz-utils 5.6.0 in container api (api:2): no fixed version published yet: keep the workload isolated, or remove the exposure path Ingress shop/web → Service web:80',
    ]);
  });

  it('GIVEN no fixed version and several exposure paths THEN all paths are named', () => {
    expect(
      remediationLines(
        [{ cveID: 'CVE-9', package: 'glibc' }],
        ['LoadBalancer Service shop/web:443', 'HTTPRoute shop/web via Gateway infra/public'],
      ),
    ).toEqual([
      'CVE-9 in glibc: no fixed version published yet: keep the workload isolated, or remove the exposure paths LoadBalancer Service shop/web:443; HTTPRoute shop/web via Gateway infra/public',
    ]);
  });

  it('GIVEN no fixed version and no exposure path known THEN the only way out is to wait for a fix', () => {
    expect(remediationLines([{ cveID: 'CVE-9' }])).toEqual([
      'CVE-9 in the affected package: no fixed version published yet: keep the workload isolated until one is published',
    ]);
  });

  it('GIVEN a report without container, package or installed version THEN the line leaves out what it does not know', () => {
    expect(
      remediationLines([{ cveID: 'CVE-7', image: 'busybox:1.36', fixedVersion: '1.36.1' }]),
    ).toEqual(['Upgrade the affected package in image busybox:1.36 to 1.36.1 (fixes CVE-7)']);
  });

  it('GIVEN no findings THEN there are no lines', () => {
    expect(remediationLines([], ['Ingress a → Service b:80'])).toEqual([]);
  });
});
