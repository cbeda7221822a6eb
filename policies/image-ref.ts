/**
 * Container image references, normalised so that a pod spec's `nginx:1.27` and a
 * scanner's `index.docker.io/library/nginx:1.27` compare equal. Used to tell whether a
 * VulnerabilityReport still describes what a container runs.
 *
 * Normalisation follows the Docker reference rules the container runtimes apply:
 * - the first path component is a registry when it contains '.' or ':' or is
 *   `localhost`; otherwise the registry is Docker Hub;
 * - Docker Hub is `docker.io` whichever alias names it (`index.docker.io`,
 *   `registry-1.docker.io`), and its single-component repositories live under
 *   `library/` (`nginx` is `docker.io/library/nginx`);
 * - no tag and no digest means the tag `latest`; a reference pinned by digest alone has
 *   no tag;
 * - registry names are case-insensitive; repositories, tags and digests are compared
 *   as written.
 */

export interface ImageRef {
  registry: string;
  repository: string;
  tag?: string;
  /** algorithm:hex, e.g. sha256:... */
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function normaliseRegistry(registry: string | undefined): string {
  const lower = (registry ?? '').toLowerCase();
  return lower === '' || DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

function build(
  registry: string | undefined,
  repository: string,
  tag: string | undefined,
  digest: string | undefined,
): ImageRef {
  const reg = normaliseRegistry(registry);
  const repo =
    reg === DOCKER_HUB && !repository.includes('/') ? `library/${repository}` : repository;
  const ref: ImageRef = { registry: reg, repository: repo };
  if (tag) ref.tag = tag;
  else if (!digest) ref.tag = 'latest';
  if (digest) ref.digest = digest;
  return ref;
}

/** Parses an image reference as a pod spec writes it: `[registry/]repository[:tag][@digest]`. */
export function parseImageRef(reference: string): ImageRef {
  let rest = reference.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  // A tag follows the last ':' of the last path component; an earlier ':' is a registry port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let registry: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  return build(registry, rest, tag, digest);
}

/** The image a scanner reports as separate parts (Trivy: registry.server, artifact.repository, tag and digest). */
export function imageRefFromParts(parts: {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}): ImageRef {
  return build(parts.registry, parts.repository, parts.tag || undefined, parts.digest || undefined);
}

/**
 * Whether two references name the same image: the same registry and repository, and
 * either the same tag or the same digest. A matching digest counts even when the tags
 * differ (one side may name the image by digest alone); a matching tag counts even when
 * the digests differ, because a multi-platform image has one digest for its index and
 * one per platform, and the pod spec and the scanner may each have written a different
 * one.
 */
export function sameImage(a: ImageRef, b: ImageRef): boolean {
  if (a.registry !== b.registry || a.repository !== b.repository) return false;
  if (a.digest !== undefined && a.digest === b.digest) return true;
  return a.tag !== undefined && a.tag === b.tag;
}

/** `registry/repository:tag`, or `registry/repository@digest` when there is no tag, for messages. */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : `@${ref.digest}`}`;
}
