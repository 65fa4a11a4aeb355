/**
 * @internal Callers guard it inline with `try { if (process.env.NODE_ENV !== 'production') devWarn(…) } catch {}`:
 * bundlers replace the condition and drop the message from production builds (a helper function
 * would keep it), and where `process` does not exist (an ES module without a bundler) the
 * ReferenceError is caught. `typeof process` would not do: Vite and webpack 5 define
 * `process.env.NODE_ENV` but no `process`, so no warning would ever show in their development builds.
 */
export function devWarn(message: string): void {
  console.warn(`[redux-observable-token-refresh] ${message}`);
}
