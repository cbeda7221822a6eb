/**
 * Shared by the unit tests of this folder (not exported from index.ts): Kubernetes
 * objects as plain JSON, shaped as the API server returns them, with only the fields
 * the inventory reads.
 */

type Labels = Record<string, string>;

export function namespace(name: string, labels: Labels = {}) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function deployment(
  ns: string,
  name: string,
  opts: {
    labels?: Labels;
    image?: string;
    images?: Record<string, string>;
    initImages?: Record<string, string>;
    annotations?: Labels;
    replicas?: number;
    kind?: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  } = {},
) {
  const podLabels = opts.labels ?? { app: name };
  const containers = Object.entries(
    opts.images ?? { [name]: opts.image ?? `registry.example.org/${ns}/${name}:1.0.0` },
  ).map(([n, image]) => ({ name: n, image }));
  const initContainers = Object.entries(opts.initImages ?? {}).map(([n, image]) => ({
    name: n,
    image,
  }));
  return {
    apiVersion: 'apps/v1',
    kind: opts.kind ?? 'Deployment',
    metadata: {
      name,
      namespace: ns,
      labels: { app: name },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: podLabels },
      template: {
        metadata: { labels: podLabels },
        spec: { containers, ...(initContainers.length ? { initContainers } : {}) },
      },
    },
  };
}

export function pod(
  ns: string,
  name: string,
  opts: { labels?: Labels; image?: string; owner?: { kind: string; name: string } } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      labels: opts.labels ?? { app: name },
      ...(opts.owner
        ? {
            ownerReferences: [{ apiVersion: 'apps/v1', ...opts.owner, uid: 'u', controller: true }],
          }
        : {}),
    },
    spec: {
      containers: [{ name, image: opts.image ?? `registry.example.org/${ns}/${name}:1.0.0` }],
    },
  };
}

export function replicaSet(ns: string, name: string, deploymentName?: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: ns,
      ...(deploymentName
        ? {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                name: deploymentName,
                uid: 'u',
                controller: true,
              },
            ],
          }
        : {}),
    },
  };
}

export function service(
  ns: string,
  name: string,
  opts: { type?: string; selector?: Labels; annotations?: Labels; externalIPs?: string[] } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: ns,
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      type: opts.type ?? 'ClusterIP',
      selector: opts.selector ?? { app: name },
      ports: [{ port: 80 }],
      ...(opts.externalIPs ? { externalIPs: opts.externalIPs } : {}),
    },
  };
}

export function ingress(
  ns: string,
  name: string,
  backends: { host?: string; service: string; port?: number | string }[],
  defaultBackend?: { service: string; port?: number },
) {
  const port = (p: number | string | undefined) =>
    p === undefined ? {} : { port: typeof p === 'number' ? { number: p } : { name: p } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: ns },
    spec: {
      ...(defaultBackend
        ? {
            defaultBackend: {
              service: { name: defaultBackend.service, ...port(defaultBackend.port) },
            },
          }
        : {}),
      rules: backends.map((b) => ({
        ...(b.host ? { host: b.host } : {}),
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: b.service, ...port(b.port) } },
            },
          ],
        },
      })),
    },
  };
}

export function gateway(
  ns: string,
  name: string,
  allowedRoutes?: Record<string, unknown>,
  listenerName = 'https',
) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: ns },
    spec: {
      gatewayClassName: 'envoy',
      listeners: [
        {
          name: listenerName,
          protocol: 'HTTPS',
          port: 443,
          ...(allowedRoutes ? { allowedRoutes } : {}),
        },
      ],
    },
  };
}

export function httpRoute(
  ns: string,
  name: string,
  parentRefs: Record<string, unknown>[],
  backendRefs: Record<string, unknown>[],
  kind = 'HTTPRoute',
) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind,
    metadata: { name, namespace: ns },
    spec: { parentRefs, rules: [{ backendRefs }] },
  };
}

export interface ReportVulnerability {
  vulnerabilityID: string;
  resource?: string;
  installedVersion?: string;
  fixedVersion?: string;
  severity?: string;
  title?: string;
  primaryLink?: string;
}

/*
 * Findings of real CVEs as Trivy reports them: CVE-2025-24813 (Tomcat) and CVE-2023-44487
 * (HTTP/2 Rapid Reset, in golang.org/x/net and in the Go stdlib) and CVE-2021-44228
 * (Log4Shell) are in the KEV catalog of 2025-07-14; CVE-2025-31650 (Tomcat) is not.
 */
export const TOMCAT: ReportVulnerability = {
  vulnerabilityID: 'CVE-2025-24813',
  resource: 'org.apache.tomcat.embed:tomcat-embed-core',
  installedVersion: '10.1.34',
  fixedVersion: '9.0.99, 10.1.35, 11.0.3',
  severity: 'CRITICAL',
};
export const TOMCAT_NOT_KEV: ReportVulnerability = {
  vulnerabilityID: 'CVE-2025-31650',
  resource: 'org.apache.tomcat.embed:tomcat-embed-core',
  installedVersion: '10.1.34',
  fixedVersion: '10.1.40',
  severity: 'HIGH',
};
export const RAPID_RESET_NET: ReportVulnerability = {
  vulnerabilityID: 'CVE-2023-44487',
  resource: 'golang.org/x/net',
  installedVersion: 'v0.15.0',
  fixedVersion: '0.17.0',
  severity: 'HIGH',
  primaryLink: 'https://avd.aquasec.com/nvd/cve-2023-44487',
};
export const RAPID_RESET_STDLIB: ReportVulnerability = {
  vulnerabilityID: 'CVE-2023-44487',
  resource: 'stdlib',
  installedVersion: 'v1.21.1',
  fixedVersion: '1.20.10, 1.21.3',
  severity: 'HIGH',
};
export const LOG4SHELL: ReportVulnerability = {
  vulnerabilityID: 'CVE-2021-44228',
  resource: 'org.apache.logging.log4j:log4j-core',
  installedVersion: '2.14.1',
  fixedVersion: '2.15.0',
  severity: 'CRITICAL',
};

/** A Trivy Operator VulnerabilityReport of `container` of the object `kind`/`name` in `ns`. */
export function vulnerabilityReport(
  ns: string,
  kind: string,
  name: string,
  container: string,
  image: { server?: string; repository: string; tag?: string; digest?: string },
  vulnerabilities: ReportVulnerability[],
) {
  return {
    apiVersion: 'aquasecurity.github.io/v1alpha1',
    kind: 'VulnerabilityReport',
    metadata: {
      name: `${kind.toLowerCase()}-${name}-${container}`,
      namespace: ns,
      labels: {
        'trivy-operator.resource.kind': kind,
        'trivy-operator.resource.name': name,
        'trivy-operator.resource.namespace': ns,
        'trivy-operator.container.name': container,
      },
    },
    report: {
      registry: { server: image.server ?? 'registry.example.org' },
      artifact: {
        repository: image.repository,
        ...(image.tag !== undefined ? { tag: image.tag } : {}),
        ...(image.digest ? { digest: image.digest } : {}),
      },
      vulnerabilities: vulnerabilities.map((v) => ({
        installedVersion: '1.0.0',
        severity: 'HIGH',
        resource: 'libexample',
        fixedVersion: '',
        ...v,
      })),
    },
  };
}
