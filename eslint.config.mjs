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

  // TEMPORARY: being changed on main; lint them after the merge (and delete this block).
  globalIgnores(
    [
      'src/coordinator.ts',
      'src/adapters/AuthClient.ts',
      'src/adapters/fetch.ts',
      'src/adapters/axios.ts',
      'src/adapters/rtkQuery.ts',
      'src/tabs.ts',
      'src/storage/localStorage.ts',
      'src/storage/types.ts',
      '__tests__/review15.test.ts',
    ],
    'TEMPORARY: being changed on main',
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
      // A test states what it knows to be there; a wrong guess fails the test, which is the point.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // expect(mock.method).toHaveBeenCalled() passes a method without calling it: that is how jest reads mocks.
      '@typescript-eslint/unbound-method': 'off',
      // Still on (from recommendedTypeChecked): no-floating-promises, no-misused-promises, await-thenable.
    },
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
