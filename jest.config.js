/**
 * Two projects: the unit and integration suites (fast, in-process, 127.0.0.1 only), and the
 * browser suite (demo end-to-end in Debian's Chromium). Both run under `npm test`.
 * jose ships ESM only, so it is the one dependency ts-jest transforms.
 */
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]sx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  moduleNameMapper: {
    '^redux-observable-token-refresh$': '<rootDir>/src/index.ts',
    '^redux-observable-token-refresh/cookie$': '<rootDir>/src/cookie.ts',
  },
  // StrykerJS's sandboxes (`npm run mutation`) hold a copy of the project: never run or resolve those.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp/'],
};

export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: ['/e2e/', '/.stryker-tmp/'],
      // console.warn/error fail the test that prints them unless it expects them (expectWarning).
      setupFilesAfterEnv: ['<rootDir>/__tests__/support/consoleGuard.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'],
      // 60 s per test: `testTimeout` is a global option, so the project sets it in a setup file.
      setupFilesAfterEnv: ['<rootDir>/__tests__/e2e/support/timeout.ts'],
    },
  ],
};
