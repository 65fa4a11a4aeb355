/**
 * Set up by jest.config.js for the unit project: every console.warn and console.error is captured,
 * and one that no `expectWarning` (./console.ts) accounts for fails the test that printed it. One
 * printed outside any test (beforeAll, afterAll) fails the file's last test hook instead.
 */
import { check, install, uninstall } from './console';

install();

afterEach(() => {
  const problems = check();
  if (problems.length)
    throw new Error(
      `${problems.length} console line(s) this test did not expect (assert them with expectWarning):\n${problems.join('\n')}`,
    );
});

afterAll(() => {
  const problems = check();
  uninstall();
  if (problems.length) throw new Error(`console line(s) printed outside a test:\n${problems.join('\n')}`);
});
