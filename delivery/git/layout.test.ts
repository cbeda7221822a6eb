import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { redact } from '../../lib/redact.js';
import { codeForGitOutput, GitDeliveryError } from './errors.js';
import {
  actionBranchName,
  normalizeRepoPath,
  removalBranchName,
  updateParentKustomization,
} from './layout.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'forestall-layout-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function action(name: string): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'kustomization.yaml'), 'resources: []\n');
}

describe('updateParentKustomization', () => {
  it('GIVEN action directories and a kustomization a person edited THEN it lists every action directory, keeps their entries and fields, and drops removed actions', () => {
    action('a2');
    action('a1');
    writeFileSync(join(dir, 'extra.yaml'), 'kind: ConfigMap\n');
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncommonAnnotations:\n  team: sec\nresources:\n  - gone-action\n  - extra.yaml\n  - github.com/org/base?ref=v1\n',
    );

    expect(updateParentKustomization(dir)).toBe(true);

    expect(parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      commonAnnotations: { team: 'sec' },
      resources: ['a1', 'a2', 'extra.yaml', 'github.com/org/base?ref=v1'],
    });
    expect(updateParentKustomization(dir)).toBe(false);
  });

  it('GIVEN no action and no kustomization THEN no file is created; GIVEN the last action removed THEN the list is kept, empty', () => {
    expect(updateParentKustomization(join(dir, 'absent'))).toBe(false);
    action('a1');
    updateParentKustomization(dir);
    rmSync(join(dir, 'a1'), { recursive: true });
    expect(updateParentKustomization(dir)).toBe(true);
    expect(parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))).toMatchObject({
      resources: [],
    });
  });
});

describe('names and paths', () => {
  it('GIVEN an action name THEN its branches live under prefixes that cannot collide', () => {
    expect(actionBranchName('block-c2-egressdeny')).toBe('forestall/block-c2-egressdeny');
    expect(removalBranchName('block-c2-egressdeny')).toBe('forestall-removal/block-c2-egressdeny');
    expect(() => actionBranchName('Bad_Name')).toThrow(GitDeliveryError);
  });

  it.each([
    ['', '.'],
    ['.', '.'],
    ['deploy/', 'deploy'],
    ['./a//b', 'a/b'],
  ])('GIVEN path %j THEN it normalises to %j', (input, output) => {
    expect(normalizeRepoPath(input)).toBe(output);
  });

  it.each(['/etc', '../x', 'a/../../x', '.git', 'a/.GIT/hooks', '-x'])(
    'GIVEN path %j THEN it is refused',
    (input) => {
      expect(() => normalizeRepoPath(input)).toThrow(/FST_GIT_INVALID_REQUEST|must/);
    },
  );
});

describe('git failures', () => {
  it.each([
    [
      'push',
      ' ! [rejected]        forestall/a1 -> forestall/a1 (stale info)\nerror: failed to push some refs',
      'FST_GIT_PUSH_REJECTED',
    ],
    ['push', ' ! [rejected]        main -> main (non-fast-forward)', 'FST_GIT_PUSH_REJECTED'],
    [
      'push',
      ' ! [remote rejected] forestall/a1 -> forestall/a1 (protected branch hook declined)',
      'FST_GIT_PUSH_DENIED',
    ],
    [
      'fetch',
      "fatal: Authentication failed for 'https://git.example/org/repo.git/'",
      'FST_GIT_AUTH',
    ],
    [
      'fetch',
      'git@git.example: Permission denied (publickey).\nfatal: Could not read from remote repository.',
      'FST_GIT_AUTH',
    ],
    [
      'clone',
      "fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 403",
      'FST_GIT_AUTH',
    ],
    [
      'clone',
      "remote: Repository not found.\nfatal: repository 'https://git.example/r.git/' not found",
      'FST_GIT_NOT_FOUND',
    ],
    [
      'fetch',
      "fatal: unable to access 'https://git.example/r.git/': Could not resolve host: git.example",
      'FST_GIT_NETWORK',
    ],
    [
      'fetch',
      "fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 502",
      'FST_GIT_NETWORK',
    ],
    ['local', 'fatal: Unable to create index.lock: No space left on device', 'FST_GIT_COMMAND'],
  ] as const)('GIVEN %s failing with %j THEN the code is %s', (operation, stderr, code) => {
    expect(codeForGitOutput(operation, stderr)).toBe(code);
  });

  it('GIVEN text with the token, its header and URL credentials THEN none survives redaction', () => {
    const text = redact(
      'Authorization: Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0 https://user:pw@h/x https://tok@h/y raw secret-token-1',
      ['secret-token-1'],
    );
    expect(text).not.toMatch(/eC1hY2Nlc3MtdG9rZW46c2VjcmV0|user:pw|tok@|secret-token-1/);
    expect(
      new GitDeliveryError('FST_GIT_NETWORK', 'failed with secret-token-1', ['secret-token-1'])
        .message,
    ).toBe('failed with [REDACTED]');
  });
});

describe('import boundary', () => {
  it('GIVEN delivery/ importing controller/ THEN lint reports it', async () => {
    const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });
    const [result] = await eslint.lintText(
      "import { Manager } from '../../controller/runtime/index.js';\nexport const m = Manager;\n",
      { filePath: 'delivery/git/repository.ts' },
    );
    expect(result!.messages.map((m) => m.ruleId)).toContain('no-restricted-imports');
  });
});
