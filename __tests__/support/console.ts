/**
 * Quiet tests (issue 16 #5): `console.warn` and `console.error` are captured in every unit test
 * (installed by jest.config.js through __tests__/support/consoleGuard.ts). A warning a test
 * provokes on purpose is asserted with `expectWarning(/no Web Locks/)`; any other fails the test
 * that printed it, with its text and where it came from, so a real warning stands out instead of
 * hiding among expected ones.
 */

export interface Printed {
  method: 'warn' | 'error';
  text: string;
  /** Where it was printed from: the first frames outside this file. */
  at: string;
}

const printed: Printed[] = [];
let expected: Array<{ pattern: RegExp | string; method: Printed['method']; seen: number }> = [];
let installed = false;
const originals = { warn: console.warn, error: console.error };

/**
 * Printed by Redux Toolkit's development middleware when the machine is busy (a shared CI runner),
 * not by anything a test does: never a finding, and never worth printing.
 */
const NOISE =
  /^(SerializableStateInvariantMiddleware|ImmutableStateInvariantMiddleware) took \d+ms, which is more than the warning threshold/;

const textOf = (args: unknown[]) =>
  args.map((arg) => (arg instanceof Error ? `${arg.name}: ${arg.message}` : typeof arg === 'string' ? arg : String(arg))).join(' ');
const matches = (pattern: RegExp | string, text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));

/**
 * This test prints a warning matching `pattern` (a substring or a RegExp), at least once: it is
 * kept off the console, and the test fails if it never comes. Call it before or after the code
 * that warns; the check runs after the test.
 *
 * @example
 * expectWarning(/no Web Locks/);
 * localStorageStorage('app/tokens', { storage, locks: null });
 */
export function expectWarning(pattern: RegExp | string, method: Printed['method'] = 'warn'): void {
  if (!installed)
    throw new Error('expectWarning: the console guard is not installed; add __tests__/support/consoleGuard.ts to setupFilesAfterEnv.');
  expected.push({ pattern, method, seen: 0 });
}

/** `expectWarning` for `console.error`. */
export const expectConsoleError = (pattern: RegExp | string): void => expectWarning(pattern, 'error');

/** @internal What was printed since the last check, for tests of this guard. */
export const printedSoFar = (): readonly Printed[] => printed;

/** @internal Replaces console.warn and console.error with recorders; done once per test file. */
export function install(): void {
  installed = true;
  for (const method of ['warn', 'error'] as const) {
    console[method] = (...args: unknown[]) => {
      const at = (new Error().stack ?? '')
        .split('\n')
        .slice(2, 5)
        .map((line) => line.trim())
        .join(' < ');
      const text = textOf(args);
      if (!NOISE.test(text)) printed.push({ method, text, at });
    };
  }
}

/** @internal Restores the console (at the end of the file). */
export function uninstall(): void {
  console.warn = originals.warn;
  console.error = originals.error;
  installed = false;
}

/**
 * @internal What went wrong since the last check: printed lines no `expectWarning` accounts for,
 * and expected warnings that never came. Empties both lists.
 */
export function check(): string[] {
  const problems: string[] = [];
  for (const line of printed.splice(0)) {
    const owner = expected.filter((e) => e.method === line.method && matches(e.pattern, line.text));
    for (const e of owner) e.seen++;
    if (owner.length === 0) problems.push(`unexpected console.${line.method}: ${line.text}\n    at ${line.at}`);
  }
  for (const e of expected) if (e.seen === 0) problems.push(`expected a console.${e.method} matching ${String(e.pattern)}, and none came`);
  expected = [];
  return problems;
}
