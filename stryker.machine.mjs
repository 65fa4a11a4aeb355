/**
 * `npm run mutation:machine`: the session machine against its own test only (jest.machine.config.js).
 * `npm run mutation` runs every mutated file against the fast suites.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  jest: { ...base.jest, configFile: 'jest.machine.config.js' },
  mutate: ['src/session/machine.ts'],
  htmlReporter: { fileName: 'reports/mutation/machine.html' },
  jsonReporter: { fileName: 'reports/mutation/machine.json' },
};
