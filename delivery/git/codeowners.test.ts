import { describe, expect, it } from 'vitest';
import { ownersOf, parseCodeowners } from './codeowners.js';

const CODEOWNERS = `# Security owns the policy tree; platform the rest.
*                         @platform
/clusters/                @org/platform-leads
/clusters/prod/forestall/ @org/security @alice   # production actions
docs/*                    @docs-team
*.md                      writer@example.com
!clusters/prod/forestall/keep.yaml @nobody
/clusters/staging/
`;

describe('CODEOWNERS', () => {
  const rules = parseCodeowners(CODEOWNERS);

  it.each([
    ['clusters/prod/forestall/block-c2-egressdeny/kustomization.yaml', ['@org/security', '@alice']],
    ['clusters/dev/forestall/x/kustomization.yaml', ['@org/platform-leads']],
    ['README.txt', ['@platform']],
    ['docs/index.txt', ['@docs-team']],
    // docs/* owns the files directly in docs only, as GitHub documents; deeper ones fall back.
    ['docs/guides/deep.txt', ['@platform']],
    // A rule whose owners are only e-mail addresses requests nobody by login.
    ['notes.md', []],
    // A matching rule without owners means no owner, not the previous match.
    ['clusters/staging/a.yaml', []],
  ])('GIVEN %s THEN the last matching rule gives %j', (path, owners) => {
    expect(ownersOf(rules, path)).toEqual(owners);
  });

  it('GIVEN a negated pattern THEN the line is skipped, as GitHub does', () => {
    expect(rules.map((r) => r.pattern)).not.toContain('!clusters/prod/forestall/keep.yaml');
    expect(ownersOf(rules, 'clusters/prod/forestall/keep.yaml')).toEqual([
      '@org/security',
      '@alice',
    ]);
  });

  it('GIVEN an empty file THEN nobody owns anything', () => {
    expect(ownersOf(parseCodeowners(''), 'a/b')).toEqual([]);
  });
});
