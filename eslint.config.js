// Lint rules: typescript-eslint's recommended set with type information, kept strict on promises
// because a floating promise in a daemon is a lost error.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'charts/', 'coverage/', 'bench/results/', '**/build/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  // A file per concept, short functions (issue 16): no file over 400 lines, no function over 100.
  {
    rules: {
      'max-lines': ['error', 400],
      'max-lines-per-function': ['error', 100],
    },
  },
  // A test file's describe() callback is a list of tests, not a function to read at once; its tests are
  // short. The file limit still holds for tests.
  {
    files: ['test/**/*.ts', 'test/**/*.js'],
    rules: { 'max-lines-per-function': 'off' },
  },
);
