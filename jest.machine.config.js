/**
 * `npm run mutation:machine`: the session machine's own test (the table of every state and event,
 * and the property over the same events) against StrykerJS's mutants of src/session/machine.ts. A
 * pure function, so its test alone must kill its mutants; a few minutes.
 */
import base from './jest.mutation.config.js';

export default { ...base, testMatch: ['**/__tests__/session/machine.test.ts'], testPathIgnorePatterns: ['/node_modules/'] };
