/**
 * The fast suites StrykerJS runs for every mutant (`npm run mutation`): the in-process unit,
 * property and virtual-time suites.
 * Left out: the browser end-to-end suite, the bench smoke test, the demo server's own tests, the
 * fault proxy's own tests, the DPoP test servers' smoke test, the packing and stack tests, and most
 * suites against the real server.
 */
import { fileURLToPath } from 'node:url';
import base from './jest.config.js';

const unit = base.projects.find((project) => project.displayName === 'unit');

export default {
  ...unit,
  displayName: undefined,
  // An unhandled RxJS error or a virtual-time livelock fails the test instead of crashing or freezing the worker.
  setupFilesAfterEnv: [...unit.setupFilesAfterEnv, '<rootDir>/__tests__/support/failOnUnhandledErrors.ts'],
  // A broken refresh leaves a test waiting on a real socket: fail it well before Stryker's own timeout.
  testTimeout: 3_000,
  // ...and the rest of its file is skipped once one test failed.
  // An absolute path: StrykerJS resolves the environment itself, without <rootDir>.
  testEnvironment: fileURLToPath(new URL('./__tests__/support/failFastEnvironment.cjs', import.meta.url)),
  testPathIgnorePatterns: [
    '/node_modules/',
    '/e2e/',
    'bench-smoke\\.test\\.ts$',
    'demo-server\\.test\\.ts$',
    'faultProxy\\.test\\.ts$',
    // Against the real server: seconds per mutant each, and what they check of the core the
    // virtual-time suites check too (crossTab stays: it is quick and the only check of tab sync).
    '/adapters/',
    'integration\\.test\\.ts$',
    'faults\\.test\\.ts$',
    // The DPoP test servers' own smoke test (child processes: oidc-provider and a resource server).
    'dpopServers\\.test\\.ts$',
    // Builds and packing (they bundle the sources with esbuild, outside Stryker's instrumentation;
    // prodMessages also reads the sources' text, which the instrumentation rewrites).
    'noProcess\\.test\\.ts$',
    'prodMessages\\.test\\.ts$',
    '(stack|pack|packing|package|publish|size)[^/]*\\.test\\.ts$',
  ],
};
