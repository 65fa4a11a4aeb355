/**
 * `npm run lint` (and a counted step of `npm test`): ESLint with typescript-eslint's type-checked
 * rules, as Redux Toolkit and redux-observable lint. Formatting is Prettier's job (npm run format):
 * eslint-config-prettier, last, turns off every rule that would argue with it.
 *
 * Types come from the tsconfig.json nearest each file (`projectService`): the root one covers src/,
 * epics/, __tests__/, demo/ and bench/; scripts/tsconfig.json covers scripts/.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(
    ['**/dist/', 'coverage/', 'reports/', 'docs/api/', '.test-results/', '.tmp/', '.stryker-tmp/', 'demo/screenshots/'],
    'build output and reports',
  ),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    name: 'project/typed',
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The code's habit: `string[]` for a simple element type, `Array<{ ... }>` for the rest.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // `() => {}` is the deliberate no-op (a swallowed promise whose outcome is reported elsewhere,
      // `subscribe({ error: () => {} })`); an empty method or function declaration is still flagged.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
      // Passing on a caught `unknown` as it is stays allowed; rejecting with a literal does not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // '' means "not set" (an empty env var, a class name): `a || b` on strings is meant.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // A leading underscore marks a parameter a signature needs but the body does not; a rest
      // sibling (`const { secret: _, ...rest } = x`) drops a field on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },

  {
    name: 'project/browser',
    files: ['src/**', 'epics/**', 'demo/app/**', '__tests__/e2e/tabs-app/**'],
    languageOptions: { globals: { ...globals.browser } },
  },

  {
    name: 'project/tests',
    files: ['__tests__/**'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      // Non-null assertions (`tabs[0]!`) are not flagged anywhere: no-non-null-assertion is in `strict`,
      // which this config does not use. Stubs of browser and storage APIs have empty methods.
      '@typescript-eslint/no-empty-function': 'off',
      // expect(mock.method).toHaveBeenCalled() passes a method without calling it: that is how jest reads mocks.
      '@typescript-eslint/unbound-method': 'off',
      // jest's asymmetric matchers (expect.any(), expect.objectContaining(), ...) are typed `any`:
      // every `toEqual({ at: expect.any(Number) })` would be an unsafe assignment or argument.
      // Member access, calls and returns of `any` stay checked.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // `async () => value` is the shortest promise-returning stub (a refresh, a storage, a fetchFn).
      '@typescript-eslint/require-await': 'off',
      // A failing refresh or API call is rejected with what users' own code rejects with, a Response
      // or `{ status: 401 }`, which the default isAuthError recognizes: that is what those tests test.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      // Still on (from recommendedTypeChecked): no-floating-promises, no-misused-promises, await-thenable.
    },
  },

  {
    name: 'project/bench-seed-article',
    // A third-party article's axios interceptor, kept as it was written there (see its header): the
    // bench measures that code, so it is not rewritten to this project's standards.
    files: ['bench/clients/seedAxiosQueue.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/prefer-nullish-coalescing': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },

  {
    name: 'project/stack-fixtures',
    // Type fixtures of the stack matrix, written as an app writes them (README's `refresh: async ...`).
    files: ['scripts/stacks/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },

  {
    name: 'project/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    name: 'project/commonjs',
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  prettier,
);
