/**
 * Builds demo/app into demo/dist. The package is imported from its source (`../src/index.ts`), so
 * the demo always shows the code in this repository, not a published build.
 * Vite 8 transforms TSX itself (automatic JSX runtime from tsconfig), so no React plugin is needed.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./app'),
  base: '/',
  resolve: {
    alias: { 'redux-observable-token-refresh': here('../src/index.ts') },
  },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    sourcemap: true,
  },
});
