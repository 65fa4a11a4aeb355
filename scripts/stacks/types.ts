/**
 * Type check on each stack of the matrix (scripts/stacks.ts), next to the README quick start, with
 * `skipLibCheck: false`: every entry's `.d.ts` (axios aside, an optional peer the stacks do not
 * install; rtk-query in types-rtk-query.ts), and what apps do with the package's types on redux 4 and 5, redux-observable 2 and 3,
 * RTK 1.9 and 2. Written once for all of them: `Action` is the action type both redux versions have.
 */
import { combineReducers, configureStore, createSlice, isAnyOf } from '@reduxjs/toolkit';
import type { Action } from 'redux';
import { combineEpics, createEpicMiddleware, type Epic } from 'redux-observable';
import { filter, map } from 'rxjs';
import { createTokenRefresh, TokenRefreshError, type AuthStatus } from 'redux-observable-token-refresh';
import { createHeartbeatEpic, createScheduledRefreshEpic } from 'redux-observable-token-refresh/epics';
import { authFetch } from 'redux-observable-token-refresh/fetch';
import { oauth2RefreshGrant } from 'redux-observable-token-refresh/oauth2';

export const auth = createTokenRefresh({ refresh: async (refreshToken) => ({ accessToken: `for-${refreshToken}` }) });

// The package's action creators in RTK's builder and matchers, payloads typed.
const session = createSlice({
  name: 'session',
  initialState: { expired: false, code: '' },
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(auth.actions.refreshFailed, (state, action) => {
        state.expired = true;
        state.code = action.payload.error.code ?? '';
      })
      .addCase(auth.actions.loggedOut, (state) => {
        state.expired = false;
      });
  },
});
export const sessionEnded = isAnyOf(auth.actions.refreshFailed, auth.actions.loggedOut);

const rootReducer = combineReducers({ [auth.reducerPath]: auth.reducer, session: session.reducer });
type RootState = ReturnType<typeof rootReducer>;

// A typed epic with its state, next to auth.epic in combineEpics and a typed epic middleware.
const expiredEpic: Epic<Action, Action, RootState> = (action$, state$) =>
  action$.pipe(
    filter(auth.actions.refreshFailed.match),
    map((action) => ({ type: `login/${action.payload.error.code}/${state$.value.session.code}` })),
  );
const epicMiddleware = createEpicMiddleware<Action, Action, RootState>();
export const store = configureStore({
  reducer: rootReducer,
  middleware: (getDefault) => getDefault().concat(epicMiddleware),
});
epicMiddleware.run(
  combineEpics(
    auth.epic,
    expiredEpic,
    createScheduledRefreshEpic(auth),
    createHeartbeatEpic(auth, { intervalMs: 60_000, check: () => fetch('/api/heartbeat') }),
  ),
);

export const status: AuthStatus = auth.selectState(store.getState()).status;
export const sameStatus: AuthStatus = store.getState().tokenRefresh.status;
export const apiFetch: (input: string) => Promise<Response> = authFetch(auth, { allowedOrigins: ['https://api.example.com'] });
export const grant = oauth2RefreshGrant;
export const isRefreshError = (error: unknown): boolean => error instanceof TokenRefreshError;

// What must not compile.
// @ts-expect-error refreshRequested needs its reason
auth.actions.refreshRequested({});
// @ts-expect-error the state has no token
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- a type error on purpose (the line above): its type is the error.
export const noToken = store.getState().tokenRefresh.accessToken;
