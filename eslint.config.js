// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The dependency direction of STYLE.md: policies/, connectors/, feeds/ and delivery/ are
// engine and integration code that the CLI reuses offline, so they never import controller/.
const noControllerImports = {
  'no-restricted-imports': ['error', {
    patterns: [{
      group: ['**/controller', '**/controller/**'],
      message: 'policies/, connectors/, feeds/ and delivery/ must not import controller/ (STYLE.md: dependencies point one way).',
    }],
  }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'crds/generated/**', 'charts/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['policies/**/*.ts', 'connectors/**/*.ts', 'feeds/**/*.ts', 'delivery/**/*.ts'], rules: noControllerImports },
);
