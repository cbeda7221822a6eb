/**
 * Forge clients (GitHub, Gitea/Forgejo) and the pull-request text, the public surface of
 * delivery/forge/. A pure library: it never imports controller/; the controller reads the
 * token from the Secret named in spec.git.credentialsSecretRef and passes it in.
 */
import { GiteaForge, type GiteaForgeOptions } from './gitea.js';
import { GitHubForge, type GitHubForgeOptions } from './github.js';
import { defaultApiUrl, normaliseApiUrl, parseRepoUrl } from './repo-url.js';
import type { Forge, ForgeLogger, ForgeType } from './types.js';

export * from './types.js';
export {
  FORGE_ERROR_CODES,
  ForgeError,
  classifyHttp,
  retryAfterFromHeaders,
  type ForgeErrorCode,
} from './errors.js';
export { GitHubForge, type GitHubForgeOptions } from './github.js';
export { GiteaForge, type GiteaForgeOptions } from './gitea.js';
export { parseRepoUrl, defaultApiUrl } from './repo-url.js';
export { splitReviewers } from './reviewers.js';
export {
  pullRequestBody,
  removalBody,
  pullRequestTitle,
  parseMarker,
  diffValues,
  type BodyAction,
  type PullRequestBodyInput,
  type RemovalBodyInput,
  type RenderedPullRequest,
} from './body.js';

/** spec.git of an ExposurePolicy, the fields a forge needs. */
export interface ForgeSpec {
  url: string;
  forge?: { type?: ForgeType; apiUrl?: string };
}

export interface CreateForgeOptions {
  token: string;
  logger?: ForgeLogger;
  fetch?: typeof globalThis.fetch;
  /** Extra client options (timeouts, retries), for tests and tuning. */
  github?: Partial<Omit<GitHubForgeOptions, 'repo' | 'token' | 'baseUrl'>>;
  gitea?: Partial<Omit<GiteaForgeOptions, 'repo' | 'token' | 'apiUrl'>>;
}

/**
 * The repository, forge type and API URL of spec.git: where the forge token is sent
 * (the controller checks that the token's Secret admits it before creating the client).
 */
export function forgeEndpoint(spec: ForgeSpec): {
  repo: ReturnType<typeof parseRepoUrl>;
  type: ForgeType;
  apiUrl: string;
} {
  const repo = parseRepoUrl(spec.url);
  const type: ForgeType = spec.forge?.type ?? (repo.host === 'github.com' ? 'GitHub' : 'Gitea');
  return { repo, type, apiUrl: normaliseApiUrl(spec.forge?.apiUrl ?? defaultApiUrl(type, repo)) };
}

/**
 * The client for spec.git. The forge type defaults to GitHub for github.com and Gitea
 * otherwise; the API URL defaults as defaultApiUrl() says. Throws FST_FORGE_INVALID_CONFIG
 * for a URL that names no owner/repo.
 */
export function createForge(spec: ForgeSpec, options: CreateForgeOptions): Forge {
  const { repo, type, apiUrl } = forgeEndpoint(spec);
  const common = {
    repo,
    token: options.token,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  return type === 'GitHub'
    ? new GitHubForge({ ...options.github, ...common, baseUrl: apiUrl })
    : new GiteaForge({ ...options.gitea, ...common, apiUrl });
}
