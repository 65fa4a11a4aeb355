import { filter, map, type OperatorFunction } from 'rxjs';
import type { AuthActions, SessionTimes } from '../src';

/** A session began or went on with new tokens (their known expiry and refresh time, if any), or ended (`null`). */
export type SessionEvent = SessionTimes | null;

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
      map((action) => (tokensSet.match(action) || refreshSucceeded.match(action) ? action.payload : null)),
    );
}
