/**
 * The steps every forge takes around opening a pull request, whatever its API: an open
 * that the forge refuses as "already exists" finds the pull request an earlier attempt
 * opened, and asking for reviews is best-effort (a failure is a warning on the pull
 * request, never a failed delivery).
 */
import { ForgeError } from './errors.js';
import { splitReviewers } from './reviewers.js';
import { messageOf, type PullRequest } from './types.js';

/** The pull request `create` opened, or the open one `findExisting` finds after a refusal as a duplicate. */
export async function createOrFindExisting(
  create: () => Promise<PullRequest>,
  findExisting: () => Promise<PullRequest | undefined>,
): Promise<{ pr: PullRequest; created: boolean }> {
  try {
    return { pr: await create(), created: true };
  } catch (err) {
    if (err instanceof ForgeError && err.alreadyExists === true) {
      const existing = await findExisting();
      if (existing) return { pr: existing, created: false };
    }
    throw err;
  }
}

/** Requests the reviewers (users and teams apart), if any; a failure goes to `warnings`. */
export async function requestReviewers(
  reviewers: readonly string[] | undefined,
  request: (users: string[], teams: string[]) => Promise<unknown>,
  warnings: string[],
): Promise<void> {
  const { users, teams } = splitReviewers(reviewers ?? []);
  if (users.length === 0 && teams.length === 0) return;
  await request(users, teams).catch((err: unknown) =>
    warnings.push(`reviewers not requested: ${messageOf(err)}`),
  );
}
