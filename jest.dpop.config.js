/**
 * `npm run mutation:dpop`: the DPoP module's suites (__tests__/dpop/, against scripted servers on
 * 127.0.0.1) against StrykerJS's mutants of src/dpop/. Left out: clients.test.ts, which runs
 * oidc-provider in child processes and waits for real token expiry (seconds per mutant).
 */
import base from './jest.mutation.config.js';

export default {
  ...base,
  testMatch: ['**/__tests__/dpop/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', 'clients\\.test\\.ts$'],
};
