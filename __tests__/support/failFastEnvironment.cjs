/**
 * The Node test environment, except that once a test of a file has failed, the file's remaining
 * tests are skipped. For `npm run mutation` only: a mutant that breaks the refresh makes every
 * real-server test of a file wait for its timeout; one failure is enough to kill the mutant.
 */
const { TestEnvironment } = require('jest-environment-node');

class FailFastEnvironment extends TestEnvironment {
  failed = false;

  async handleTestEvent(event, state) {
    if (event.name === 'hook_failure' || event.name === 'test_fn_failure') this.failed = true;
    else if (this.failed && event.name === 'test_start') event.test.mode = 'skip';
    if (super.handleTestEvent) await super.handleTestEvent(event, state);
  }
}

module.exports = FailFastEnvironment;
