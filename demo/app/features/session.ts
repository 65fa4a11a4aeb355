/**
 * Signing in and out. Login stores the tokens with `auth.setTokens`; logout calls `auth.clearTokens`
 * (which cancels a running refresh and fails the requests waiting for it) and then revokes the
 * session on the server. When a refresh fails for good the package dispatches `refreshFailed`, and
 * this slice keeps the message the login page shows.
 */
import { createAction, createSlice, isAnyOf } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, concat, defer, filter, from, ignoreElements, map, of, switchMap, tap } from 'rxjs';
import { auth, control, login, revokeSession, storage } from '../auth';
import { requestFailed } from './requests';
import { clientFailed } from './clients';

export const loginRequested = createAction<{ username: string; password: string }>('session/loginRequested');
export const loginSucceeded = createAction('session/loginSucceeded');
export const loginFailed = createAction<{ message: string }>('session/loginFailed');
export const logoutRequested = createAction<{ reason?: string } | undefined>('session/logoutRequested');

export interface SessionState {
  submitting: boolean;
  /** Why the login form is showing: a failed refresh, a logout. Cleared by the next login. */
  notice: { tone: 'error' | 'info'; title: string; detail?: string; technical?: string; unfinished: number } | null;
  /** The last login attempt's error (wrong password, server down). */
  loginError: string | null;
}

const initialState: SessionState = { submitting: false, notice: null, loginError: null };

export const sessionSlice = createSlice({
  name: 'session',
  initialState,
  reducers: {},
  extraReducers: (builder) =>
    builder
      .addCase(loginRequested, (state) => ({ ...state, submitting: true, loginError: null }))
      .addCase(loginSucceeded, () => initialState)
      .addCase(loginFailed, (state, { payload }) => ({ ...state, submitting: false, loginError: payload.message }))
      .addCase(logoutRequested, (state, { payload }) => ({
        ...state,
        notice: { tone: 'info', title: 'You have signed out.', detail: payload?.reason, unfinished: 0 },
      }))
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
        control('reset-stats').pipe(catchError(() => EMPTY), ignoreElements()),
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

/** Read the refresh token before clearing, so the server can revoke the session it belongs to. */
export const logoutEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(logoutRequested.match),
    switchMap(() => {
      const refreshToken = storage.get()?.refreshToken;
      auth.clearTokens();
      return refreshToken ? revokeSession(refreshToken).pipe(catchError(() => EMPTY), ignoreElements()) : EMPTY;
    }),
  );
