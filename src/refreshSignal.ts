/**
 * The abort signals of refresh calls in flight. `auth.epic` marks the signal it hands to your
 * `refresh` function; the fetch and axios adapters let a request carrying a marked signal through
 * untouched. That is how the refresh call is never queued behind itself, whichever client makes
 * it: if it went through `authorized`, it would wait for the refresh it is performing.
 * A WeakSet, so a finished refresh's signal is collected with its controller.
 */
const refreshSignals = new WeakSet<AbortSignal>();

export function markRefreshSignal(signal: AbortSignal): void {
  refreshSignals.add(signal);
}

/** True for the signal `auth.epic` passed to a refresh call. */
export function isRefreshSignal(signal: unknown): boolean {
  return typeof signal === 'object' && signal !== null && refreshSignals.has(signal as AbortSignal);
}
