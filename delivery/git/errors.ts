/**
 * The codes of Git delivery's errors (docs/errors.md, "Git errors"); the error type is
 * the kernel's (lib/errors.ts).
 *
 * Contract: a message names the operation and what git said, and never carries the
 * token, the Authorization header built from it, or credentials in a URL. Redaction
 * happens here, when the error is built, with the secrets of the repository that raised
 * it, so no caller has to remember it before logging or writing a condition.
 */

import { ForestallError, type ErrorCodeTable } from '../../lib/errors.js';

export const GIT_ERROR_CODES = {
  FST_GIT_AUTH: {
    class: 'terminal',
    summary:
      'The Git server refused the credentials (HTTP 401/403, a rejected ssh key, or an unknown or changed ssh host key).',
  },
  FST_GIT_NOT_FOUND: {
    class: 'terminal',
    summary:
      'The repository does not exist, or the credentials cannot see it (forges answer 404 for both).',
  },
  FST_GIT_BASE_NOT_FOUND: {
    class: 'terminal',
    summary: 'The configured base branch does not exist in the repository.',
  },
  FST_GIT_NETWORK: {
    class: 'transient',
    summary:
      'The Git server could not be reached or dropped the connection: name resolution, refused or reset connections, timeouts, HTTP 5xx.',
  },
  FST_GIT_PUSH_REJECTED: {
    class: 'transient',
    summary:
      'The push lost a race: the branch moved on the server since it was fetched (non-fast-forward or stale lease). Retried from a fresh fetch.',
  },
  FST_GIT_PUSH_DENIED: {
    class: 'terminal',
    summary:
      'The server refused the push itself: a protected branch, a server-side hook, or a token without write access.',
  },
  FST_GIT_INVALID_REQUEST: {
    class: 'terminal',
    summary:
      'The repository settings are unusable: a URL with credentials in it or an unsupported transport, a path outside the repository, or an invalid branch or action name.',
  },
  FST_GIT_COMMAND: {
    class: 'transient',
    summary:
      'A git command failed for another reason (a damaged work directory, a full disk); retried, and the work directory is recloned if it is not a usable clone.',
  },
} as const satisfies ErrorCodeTable;

export type GitErrorCode = keyof typeof GIT_ERROR_CODES;

export class GitDeliveryError extends ForestallError<GitErrorCode> {
  /**
   * @param secrets literal values to remove from the message (the token and the header
   *   built from it), on top of the generic credential patterns.
   */
  constructor(code: GitErrorCode, message: string, secrets: readonly string[] = []) {
    super(code, message, { secrets, errorClass: GIT_ERROR_CODES[code].class });
    this.name = 'GitDeliveryError';
  }
}

export function isGitDeliveryError(err: unknown): err is GitDeliveryError {
  return err instanceof GitDeliveryError;
}

/**
 * The code for a failed git command, from what git wrote on stderr. git has no
 * machine-readable failure reasons, so this matches the messages of git 2.x and OpenSSH
 * (in English: the repository runs git with LC_ALL=C). Order matters: an HTTP 401 is
 * also "unable to access", and a rejected push also says "failed to push".
 */
export function codeForGitOutput(
  operation: 'fetch' | 'clone' | 'push' | 'local',
  stderr: string,
): GitErrorCode {
  const text = stderr.toLowerCase();
  if (operation === 'push') {
    if (
      /\[remote rejected\]|pre-receive hook declined|protected branch|permission to .* denied/.test(
        text,
      )
    )
      return 'FST_GIT_PUSH_DENIED';
    if (
      /\[rejected\]|stale info|non-fast-forward|fetch first|failed to update ref|cannot lock ref/.test(
        text,
      )
    )
      return 'FST_GIT_PUSH_REJECTED';
  }
  if (
    /authentication failed|could not read (username|password)|terminal prompts disabled|returned error: 40[13]|http basic: access denied|permission denied \(publickey|host key verification failed|remote host identification has changed|invalid username or password|write access to repository not granted/.test(
      text,
    )
  ) {
    return 'FST_GIT_AUTH';
  }
  if (
    /repository .* not found|returned error: 404|does not appear to be a git repository|not found/.test(
      text,
    ) &&
    operation !== 'local'
  )
    return 'FST_GIT_NOT_FOUND';
  if (
    /could not resolve host|could not resolve hostname|connection refused|connection timed out|timed out|failed to connect|connection reset|network is unreachable|no route to host|early eof|remote end hung up|rpc failed|returned error: 5\d\d|unable to access|ssh: connect to host|broken pipe|block timeout|could not read from remote repository/.test(
      text,
    )
  ) {
    return 'FST_GIT_NETWORK';
  }
  return 'FST_GIT_COMMAND';
}
