/**
 * `npm run mutation`: StrykerJS over the core (where a refresh is decided: the session machine and its
 * shell; where a request gets its token; what a token is; the refresh runner) and the opt-in modules
 * (storage, tab sync, cookie sessions),
 * with the fast suites of jest.mutation.config.js. Not part of `npm test`: it takes many minutes.
 * The HTML and JSON reports land in reports/mutation/.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
// Read by the suites (contract.test.ts, properties.test.ts) to scale their biggest loops down per mutant.
process.env.MUTATION_TESTING = '1';

export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: false },
  mutate: [
    'src/session/**/*.ts',
    'src/coordinator.ts',
    'src/authorized.ts',
    'src/tokens.ts',
    'src/refresh/refreshEpic.ts',
    'src/storage/**/*.ts',
    'src/tabs/**/*.ts',
    'src/cookie.ts',
  ],
  // Each mutant runs only the tests that cover it.
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // Livelocks and hangs fail fast inside the tests (jest.mutation.config.js); this is the last resort.
  timeoutMS: 6_000,
  timeoutFactor: 1.5,
  ignoreStatic: true,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The build is not needed by the suites it runs, and a build running meanwhile must not break the copy.
  ignorePatterns: ['/dist', '/demo/dist', '/.test-results', '/reports'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 85, low: 70, break: null },
};
