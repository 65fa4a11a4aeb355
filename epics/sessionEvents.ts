import { filter, map, type OperatorFunction } from 'rxjs';
import type { AuthActions } from '../src';

/** A session began or went on with new tokens (`expiresAt` their known expiry, if any), or ended (`null`). */
export type SessionEvent = { expiresAt: number | null } | null;

/**
 * @internal The session's life as the liveness epics see it, from the package's actions: a login
 * (`tokensSet`) or a refresh (`refreshSucceeded`) is a session with new tokens; a `loggedOut` or a
 * `refreshFailed` ends it. Every other action is dropped. One definition, so the scheduled refresh
 * and the heartbeat start and stop on exactly the same actions.
 */
export function sessionEvents({
  tokensSet,
  refreshSucceeded,
  loggedOut,
  refreshFailed,
}: AuthActions): OperatorFunction<unknown, SessionEvent> {
  return (action$) =>
    action$.pipe(
      filter(
        (action) => tokensSet.match(action) || refreshSucceeded.match(action) || loggedOut.match(action) || refreshFailed.match(action),
      ),
      map((action) => (tokensSet.match(action) || refreshSucceeded.match(action) ? { expiresAt: action.payload.expiresAt } : null)),
    );
}
