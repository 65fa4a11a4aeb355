/**
 * Builds demo/app into demo/dist. The package is imported from its source (`../src/index.ts`, and
 * the adapters' subpaths from `../src/adapters/*.ts`), so the demo always shows the code in this
 * repository, not a published build.
 * Vite 8 transforms TSX itself (automatic JSX runtime from tsconfig), so no React plugin is needed.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./app'),
  base: '/',
  resolve: {
    // Exact matches: a plain string key would also catch the subpaths, as `../src/index.ts/fetch`.
    alias: [
      { find: /^redux-observable-token-refresh$/, replacement: here('../src/index.ts') },
      { find: /^redux-observable-token-refresh\/rtk-query$/, replacement: here('../src/adapters/rtkQuery.ts') },
      { find: /^redux-observable-token-refresh\/fetch$/, replacement: here('../src/adapters/fetch.ts') },
      { find: /^redux-observable-token-refresh\/cookie$/, replacement: here('../src/cookie.ts') },
      { find: /^redux-observable-token-refresh\/dpop$/, replacement: here('../src/dpop/index.ts') },
    ],
  },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    sourcemap: true,
  },
});
