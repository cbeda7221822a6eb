/**
 * Reviewers as configured or taken from CODEOWNERS: `user`, `@user`, `org/team` or
 * `@org/team`. Forges want user logins and team slugs apart; a team's org is dropped
 * because both GitHub and Gitea only request teams of the repository's own organisation.
 * Duplicates are removed and order is kept, so the request is deterministic.
 */
export function splitReviewers(reviewers: readonly string[]): { users: string[]; teams: string[] } {
  const users = new Set<string>();
  const teams = new Set<string>();
  for (const raw of reviewers) {
    const name = raw.trim().replace(/^@/, '');
    if (name === '') continue;
    const slash = name.indexOf('/');
    if (slash >= 0) {
      const team = name.slice(slash + 1);
      if (team !== '') teams.add(team);
    } else {
      users.add(name);
    }
  }
  return { users: [...users], teams: [...teams] };
}
