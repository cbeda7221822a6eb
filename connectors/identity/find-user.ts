/**
 * How the providers that take a login in the user path (Okta, Microsoft Graph) look a
 * user up: by path, where a 404 means no such user, or through a filtered listing when
 * the login cannot be put in a path. Either way the answer counts only when its login is
 * `login` (without case): an id or a short name can resolve to another user, who is not
 * the one the indicator named.
 */
import type { HttpCall, IdentityHttp } from './types.js';

export interface UserLookup<U, L> {
  /** The filtered listing, for a login that cannot go in the path; undefined otherwise. */
  byFilter: HttpCall | undefined;
  /** The users in the listing's body. */
  listed(body: L | undefined): U[];
  byPath: HttpCall;
  loginOf(user: U): string | null | undefined;
}

export async function findUserByLogin<U extends { id: string }, L>(
  http: IdentityHttp,
  login: string,
  lookup: UserLookup<U, L>,
): Promise<U | undefined> {
  let found: U | undefined;
  if (lookup.byFilter) {
    const answer = await http.send<L | undefined>(lookup.byFilter);
    found = lookup.listed(answer.body).find((u) => sameLogin(lookup.loginOf(u), login));
  } else {
    const answer = await http.send<U | undefined>(lookup.byPath, { accept: [404] });
    if (answer.status === 404) return undefined;
    found = answer.body;
  }
  return found?.id && sameLogin(lookup.loginOf(found), login) ? found : undefined;
}

export function sameLogin(a: string | null | undefined, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
}
