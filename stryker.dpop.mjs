/**
 * `npm run mutation:dpop`: the DPoP module (src/dpop/) against its own suites (jest.dpop.config.js).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  jest: { ...base.jest, configFile: 'jest.dpop.config.js' },
  mutate: ['src/dpop/**/*.ts'],
  htmlReporter: { fileName: 'reports/mutation/dpop.html' },
  jsonReporter: { fileName: 'reports/mutation/dpop.json' },
};
