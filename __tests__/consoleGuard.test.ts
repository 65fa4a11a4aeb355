/**
 * Issue 16 #5: the console guard itself. A warning nobody expects is reported against the test
 * that printed it; an expected one is kept off the console; an expected one that never comes is
 * reported too. `check()` is what the guard's afterEach runs.
 */
import { check, expectConsoleError, expectWarning } from './support/console';

afterEach(() => void check()); // these tests inspect the guard's findings themselves

test('an unexpected console.warn is reported with its text and where it came from', () => {
  console.warn('[redux-observable-token-refresh] something new');
  const problems = check();
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(
    /^unexpected console\.warn: \[redux-observable-token-refresh\] something new\n {4}at .*consoleGuard\.test\.ts/,
  );
});

test('an unexpected console.error is reported too', () => {
  console.error(new Error('boom'));
  expect(check()).toEqual([expect.stringMatching(/^unexpected console\.error: Error: boom/)]);
});

test('an expected warning passes, as often as it comes, and only for the method asked for', () => {
  expectWarning(/no Web Locks/);
  console.warn('localStorageStorage: no Web Locks (…)');
  console.warn('localStorageStorage: no Web Locks (…)');
  console.error('localStorageStorage: no Web Locks (…)');
  expect(check()).toEqual([expect.stringMatching(/^unexpected console\.error: localStorageStorage: no Web Locks/)]);
});

test('an expected warning that never comes is reported', () => {
  expectWarning('no Web Locks');
  expectConsoleError(/crash/);
  expect(check()).toEqual([
    'expected a console.warn matching no Web Locks, and none came',
    'expected a console.error matching /crash/, and none came',
  ]);
});

test('expectations end with their test', () => {
  expectWarning(/once/);
  console.warn('once');
  expect(check()).toEqual([]);
  console.warn('once');
  expect(check()).toEqual([expect.stringMatching(/^unexpected console\.warn: once/)]);
});
