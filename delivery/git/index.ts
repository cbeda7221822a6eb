/**
 * Git delivery: the repository side of proposing actions as pull requests. A pure
 * library (no controller/ imports); the controller and the forge clients build on it.
 */
export {
  GitRepository,
  type BranchResult,
  type GitAuth,
  type GitRepositoryOptions,
  type PreparedBranch,
  type RemovalRequest,
  type WriteActionRequest,
} from './repository.js';
export {
  GIT_ERROR_CODES,
  GitDeliveryError,
  isGitDeliveryError,
  type GitErrorCode,
} from './errors.js';
export {
  actionBranchName,
  removalBranchName,
  normalizeRepoPath,
  updateParentKustomization,
} from './layout.js';
export {
  commitBody,
  commitSubject,
  summarizeAction,
  type ActionSummary,
  type CommitVerb,
} from './message.js';
export { CODEOWNERS_PATHS, ownersOf, parseCodeowners } from './codeowners.js';
export { DEBIAN_SYSTEM_CA_FILE, writeGitCaBundle } from './ca-bundle.js';
