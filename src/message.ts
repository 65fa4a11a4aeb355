/**
 * Issue 17.3: production builds carry an error's code and a pointer to the errors table instead of
 * the full text, as Redux Toolkit's `formatProdErrorMessage` does.
 *
 * Every message the package builds is `msg(code, () => process.env.NODE_ENV !== 'production' && text)`,
 * written out like that at each site: a bundler replaces the condition, the arrow becomes `() => false`
 * and the text is gone from a production build (a helper that took the text itself would keep it).
 * Where `process` does not exist (an ES module loaded without a bundler) the arrow throws a
 * ReferenceError, caught here: such a page gets the short form, as it skips the development checks.
 */

/** @internal The codes of the TypeErrors this package throws for a misuse, next to the error classes' `code`s. */
export type MisuseCode = 'INVALID_OPTION' | 'INVALID_ARGUMENT' | 'INVALID_TOKENS';

/**
 * @internal The message for `code`: the development text that `dev` returns, or in production (and
 * without `process`) `[redux-observable-token-refresh] CODE (detail): see docs/errors.md#code`.
 * `detail` is kept in both: a short, fixed name (the option, the field) that says which one. The
 * pointer is the package's own docs/errors.md (in node_modules and on GitHub), one heading per code
 * (`#refresh_failed`); a full https URL would cost 28 B min+gzip more.
 */
export function msg(code: string, dev: () => string | false, detail?: string): string {
  let text: string | false = false;
  try {
    text = dev();
  } catch {
    // no `process`: the short form
  }
  return text || `[redux-observable-token-refresh] ${code}${detail ? ` (${detail})` : ''}: see docs/errors.md#${code.toLowerCase()}`;
}

/** @internal A misuse: a `TypeError`, as before, with `code` and the message of `msg`. */
export function typeError(code: MisuseCode, dev: () => string | false, detail?: string): TypeError & { code: MisuseCode } {
  return Object.assign(new TypeError(msg(code, dev, detail)), { code });
}
