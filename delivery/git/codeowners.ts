import ignore from 'ignore';

/**
 * CODEOWNERS: who reviews a path. The file lists `pattern owner...` lines; patterns
 * follow gitignore rules (matched here with the `ignore` library, which implements
 * them), and the last matching line wins. GitHub's two differences from gitignore are
 * kept: there is no `!` negation (such lines are skipped), and `dir/*` owns the files
 * directly in dir, not deeper ones. A matching line without owners means nobody.
 */
export const CODEOWNERS_PATHS = [
  '.github/CODEOWNERS',
  '.gitea/CODEOWNERS',
  'CODEOWNERS',
  'docs/CODEOWNERS',
] as const;

interface Rule {
  pattern: string;
  owners: string[];
  matches: (path: string) => boolean;
}

export function parseCodeowners(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const [pattern, ...owners] = line.split(/\s+/);
    if (!pattern || pattern.startsWith('!')) continue;
    const matcher = ignore().add(pattern);
    // `dir/*`: only the files directly in dir (gitignore would take every level below).
    const shallow =
      pattern.endsWith('/*') && !pattern.includes('**')
        ? pattern.replace(/^\//, '').slice(0, -2)
        : undefined;
    rules.push({
      pattern,
      owners: owners.filter((o) => o.startsWith('@') || o.includes('@') === false),
      matches: (path) => {
        if (!matcher.ignores(path)) return false;
        if (shallow === undefined) return true;
        const rest = path.startsWith(`${shallow}/`)
          ? path.slice(shallow.length + 1)
          : path.slice(path.indexOf(`/${shallow}/`) + shallow.length + 2);
        return !rest.includes('/');
      },
    });
  }
  return rules;
}

/** The owners of a repository-relative path: those of the last rule that matches it. E-mail owners are left out (forges request reviews by login). */
export function ownersOf(rules: readonly Rule[], path: string): string[] {
  const clean = path.replace(/^\/+/, '');
  for (let i = rules.length - 1; i >= 0; i--) {
    if (rules[i]!.matches(clean)) return rules[i]!.owners;
  }
  return [];
}
