import type { Reducer, UnknownAction } from './reduxTypes';
import type { SessionEnd } from './actions';
import type { SerializedAuthError } from './errors';

/**
 * `restoring`: reading a stored session or asking the cookie for one at start; requests wait.
 * `unavailable`: the token could not be refreshed now (offline); the session is kept.
 */
export type AuthStatus = 'restoring' | 'authenticated' | 'refreshing' | 'unavailable' | 'unauthenticated';

/** What the store knows of the session: never a token. */
export interface TokenRefreshState {
  status: AuthStatus;
  /** Epoch ms when the access token expires, if known. */
  expiresAt: number | null;
  /** Epoch ms from which a request refreshes first (see `SessionTimes`), if known. */
  refreshAt: number | null;
  /** Why the last refresh failed or could not be done, until the next session or refresh. */
  lastError: SerializedAuthError | null;
  /** Why the last session ended, in this tab or another; `null` while signed in and before any session. */
  ended: SessionEnd | null;
}

/**
 * The reducer is a projection of the coordinator: on each of the package's actions it shows the
 * state the coordinator is in, not what the action says, so an action dispatched by hand (or
 * replayed) can never make the store claim a session that is not there. The one exception is a
 * `loggedOut` you dispatch while `auth.epic` runs: the epic performs it in the same dispatch, right
 * after the reducers, so the store shows it at once.
 */
export function createAuthReducer(
  prefix: string,
  project: (action: UnknownAction) => TokenRefreshState,
): Reducer<TokenRefreshState, UnknownAction, TokenRefreshState | undefined> {
  // The state this reducer last returned: any other (a preloaded or rehydrated state, a second
  // store) is projected again at the next action, whatever it is.
  let last: TokenRefreshState | undefined;
  return (state, action) => {
    if (state && state === last && !(typeof action.type === 'string' && action.type.startsWith(prefix))) return state;
    const next = project(action);
    // The same state object while nothing changed, so selectors and React do not re-render.
    return (last = state && (Object.keys(next) as Array<keyof TokenRefreshState>).every((key) => state[key] === next[key]) ? state : next);
  };
}
