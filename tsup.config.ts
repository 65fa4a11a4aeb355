import { defineConfig } from 'tsup';

/**
 * One entry per layer a user opts into: the core, and each adapter on its own subpath so that an
 * app that only uses epics never bundles the fetch or axios code. Splitting keeps the error classes
 * in one shared chunk, so `instanceof` holds across entries in CJS as in ESM.
 */
export const entries = {
  index: 'src/index.ts',
  'rtk-query': 'src/adapters/rtkQuery.ts',
  fetch: 'src/adapters/fetch.ts',
  axios: 'src/adapters/axios.ts',
  oauth2: 'src/adapters/oauth2.ts',
  epics: 'epics/index.ts',
  cookie: 'src/cookie.ts',
  dpop: 'src/dpop/index.ts',
} as const;

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  dts: true,
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: 'es2020',
  external: ['rxjs', 'redux', 'redux-observable', '@reduxjs/toolkit', 'axios'],
});
