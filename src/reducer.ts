import type { Reducer, UnknownAction } from './reduxTypes';
import type { AuthActions } from './actions';
import type { SerializedAuthError } from './errors';

export type AuthStatus = 'authenticated' | 'refreshing' | 'unauthenticated';

/** What the store knows of the session: never a token. */
export interface TokenRefreshState {
  status: AuthStatus;
  /** Epoch ms when the access token expires, if known. */
  expiresAt: number | null;
  /** Why the last refresh failed, until the next login. */
  lastError: SerializedAuthError | null;
}

export function createAuthReducer(
  actions: AuthActions,
  initialState: () => TokenRefreshState,
): Reducer<TokenRefreshState, UnknownAction, TokenRefreshState | undefined> {
  const { tokensSet, refreshRequested, refreshSucceeded, refreshFailed, loggedOut } = actions;
  return (state = initialState(), action) => {
    if (tokensSet.match(action)) return { status: 'authenticated', expiresAt: action.payload.expiresAt, lastError: null };
    if (refreshRequested.match(action)) return { ...state, status: 'refreshing' };
    if (refreshSucceeded.match(action)) return { status: 'authenticated', expiresAt: action.payload.expiresAt, lastError: null };
    if (refreshFailed.match(action)) return { status: 'unauthenticated', expiresAt: null, lastError: action.payload.error };
    if (loggedOut.match(action)) return { status: 'unauthenticated', expiresAt: null, lastError: null };
    return state;
  };
}
