/**
 * Signing in and out. Login stores the tokens with `auth.setTokens`; logout calls `auth.clearTokens`
 * (which cancels a running refresh and fails the requests waiting for it) and then revokes the
 * session on the server. When a refresh fails for good the package dispatches `refreshFailed`, and
 * this slice keeps the message the login page shows.
 */
import { createAction, createSlice, isAnyOf } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, concat, defer, filter, ignoreElements, map, of, switchMap, tap } from 'rxjs';
import { auth, control, login, restoreSession, revokeSession, storage, tokenInfo } from '../auth';
import { mode, type SessionMode } from '../mode';
import { requestFailed } from './requests';
import { clientFailed } from './clients';

export { loginRequested } from './signIn';
import { loginRequested } from './signIn';
export const loginSucceeded = createAction('session/loginSucceeded');
export const loginFailed = createAction<{ message: string }>('session/loginFailed');
export const logoutRequested = createAction<{ reason?: string } | undefined>('session/logoutRequested');

export interface SessionState {
  submitting: boolean;
  /** Why the login form is showing: a failed refresh, a logout. Cleared by the next login. */
  notice: { tone: 'error' | 'info'; title: string; detail?: string; technical?: string; unfinished: number } | null;
  /** The last login attempt's error (wrong password, server down). */
  loginError: string | null;
  /** This tab had a session (a restore that finds none is no sign-out). */
  hadSession: boolean;
}

const initialState: SessionState = { submitting: false, notice: null, loginError: null, hadSession: false };
/** A session found in storage at page load counts as one. */
const loadState: SessionState = { ...initialState, hadSession: auth.getAccessToken() !== undefined };

export const sessionSlice = createSlice({
  name: 'session',
  initialState: loadState,
  reducers: {},
  extraReducers: (builder) =>
    builder
      .addCase(loginRequested, (state) => ({ ...state, submitting: true, loginError: null }))
      .addCase(loginSucceeded, () => ({ ...initialState, hadSession: true }))
      .addCase(auth.actions.tokensSet, (state) => ({ ...state, hadSession: true }))
      .addCase(auth.actions.refreshSucceeded, (state) => ({ ...state, hadSession: true }))
      .addCase(loginFailed, (state, { payload }) => ({ ...state, submitting: false, loginError: payload.message }))
      .addCase(logoutRequested, (state, { payload }) => ({
        ...state,
        notice: { tone: 'info', title: 'You have signed out.', detail: payload?.reason, unfinished: 0 },
      }))
      // Logged out elsewhere (another tab, or the session ended): the login page says so.
      .addCase(auth.actions.loggedOut, (state) =>
        state.notice || !state.hadSession
          ? { ...state, hadSession: false }
          : { ...state, hadSession: false, notice: { tone: 'info', title: 'You were signed out in another tab.', unfinished: 0 } },
      )
      .addCase(auth.actions.refreshFailed, (state, { payload }) => ({
        ...state,
        notice: {
          tone: 'error',
          title: 'Your session has expired. Please sign in again.',
          detail:
            payload.error.code === 'REFRESH_TIMEOUT'
              ? 'The server took too long to renew it.'
              : 'The server would not renew it: your sign-in is no longer valid.',
          technical: `${payload.error.name}: ${payload.error.message}`,
          unfinished: 0,
        },
      }))
      // The requests that were waiting for the refresh fail right after it, whichever client made
      // them (epics, RTK Query, fetch): say how many.
      .addMatcher(isAnyOf(requestFailed, clientFailed), (state) => {
        if (state.notice) state.notice.unfinished++;
      }),
});

/**
 * A sign-in starts a new story in the activity panel: its log and counters start afresh (the
 * activity slice clears them on `loginRequested`), and so do the server's counters.
 */
export const loginEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(loginRequested.match),
    switchMap(({ payload }) =>
      concat(
        control('reset-stats').pipe(
          catchError(() => EMPTY),
          ignoreElements(),
        ),
        defer(() => login(payload.username, payload.password)),
      ).pipe(
        tap((tokens) => auth.setTokens(tokens)),
        map(() => loginSucceeded()),
        catchError((error: Error & { status?: number }) =>
          of(loginFailed({ message: error.status === 401 ? 'Wrong username or password.' : `Could not sign in: ${error.message}` })),
        ),
      ),
    ),
  );

/**
 * Read the refresh token before clearing, so the server can revoke the session it belongs to; in
 * cookie mode there is none to read: the browser sends the cookie, and the server clears it.
 */
export const logoutEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(logoutRequested.match),
    switchMap(() => {
      const refreshToken = mode === 'cookie' ? undefined : storage.get()?.refreshToken;
      auth.clearTokens();
      return mode === 'cookie' || refreshToken
        ? revokeSession(refreshToken).pipe(
            catchError(() => EMPTY),
            ignoreElements(),
          )
        : EMPTY;
    }),
  );

/** The page load: what was restored, and how. */
export const pageLoaded = createAction<{ mode: SessionMode; gen: number | null }>('session/pageLoaded');
export const restoreFinished = createAction<{ mode: SessionMode; restored: boolean; gen: number | null; error?: string }>(
  'session/restoreFinished',
);

/**
 * At page load: say so in the activity panel, and in cookie mode ask the server for a session with
 * the refresh cookie (`auth.restore()`), which shows as status `restoring` until it settles.
 */
export const restoreEpic: Epic<UnknownAction, UnknownAction> = () =>
  concat(
    defer(() => of(pageLoaded({ mode, gen: tokenInfo(auth.getAccessToken())?.gen ?? null }))),
    mode === 'cookie'
      ? defer(() => restoreSession()).pipe(
          map((restored) => restoreFinished({ mode, restored, gen: tokenInfo(auth.getAccessToken())?.gen ?? null })),
          catchError((error: Error) => of(restoreFinished({ mode, restored: false, gen: null, error: error?.name ?? String(error) }))),
        )
      : EMPTY,
  );
