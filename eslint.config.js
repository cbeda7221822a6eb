// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrictImports = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

// The dependency direction of STYLE.md: policies/, connectors/, feeds/, delivery/, notify/,
// cel/ and report/ are engine and integration code that the CLI reuses offline, so they never
// import controller/.
const controllerPattern = {
  group: ['**/controller', '**/controller/**'],
  message:
    'policies/, connectors/, feeds/, delivery/, notify/ and cel/ must not import controller/ (STYLE.md: dependencies point one way).',
};
const noControllerImports = restrictImports(controllerPattern);
// notify/'s code imports no test code either; its tests may (the receiver harness).
const notifyCodeRule = restrictImports(controllerPattern, {
  group: ['**/test', '**/test/**'],
  message: "notify/'s code must not import test/; test helpers go in test/harness.",
});

// lib/ is the shared kernel (STYLE.md 10): a leaf that imports nothing of ours, so every
// folder can use it and no security check exists twice.
const libLeafRule = (folders) =>
  restrictImports({
    group: folders.flatMap((folder) => [`**/${folder}`, `**/${folder}/**`]),
    message:
      'lib/ is a leaf: it imports only node: modules, packages and other lib/ files (STYLE.md 10).',
  });
const ourFolders = [
  'cel',
  'cli',
  'controller',
  'crds',
  'feeds',
  'policies',
  'connectors',
  'delivery',
  'notify',
  'report',
  'bench',
];
const libIsALeaf = libLeafRule([...ourFolders, 'test']);
// lib's own tests may use the shared test harness (a seeded PRNG, servers); lib's code may not.
const libTestsUseTheHarness = libLeafRule(ourFolders);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'crds/generated/**', 'charts/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: [
      'policies/**/*.ts',
      'connectors/**/*.ts',
      'feeds/**/*.ts',
      'delivery/**/*.ts',
      'notify/**/*.ts',
      'cel/**/*.ts',
      'report/**/*.ts',
    ],
    rules: noControllerImports,
  },
  { files: ['notify/**/*.ts'], ignores: ['notify/**/*.test.ts'], rules: notifyCodeRule },
  { files: ['lib/**/*.ts'], rules: libIsALeaf },
  { files: ['lib/**/*.test.ts'], rules: libTestsUseTheHarness },
);
