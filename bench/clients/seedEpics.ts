/**
 * The redux-observable pattern of seed article 000 ("How to get a new access token using Redux
 * observables and the refresh token API"), as written there: the API call in `defer()` reading the
 * token from the state, `catchError((error, source) => ...)` that on a 401 merges a listener for
 * REFRESH_TOKEN_SUCCESS (`takeUntil` REFRESH_TOKEN_FAILURE, `take(1)`, `mergeMap(() => source)`) with
 * `of(refreshToken())`, and a refresh epic flattening REFRESH_TOKEN with `mergeMap` (the article) or
 * `exhaustMap` (the usual fix for its refresh storm). Node has no XMLHttpRequest, so `ajax` is
 * replaced by fetch behind the same contract: emit the body, or error with `{ status }`.
 */
import { setMaxListeners } from 'node:events';
import { configureStore, type Middleware, type Reducer, type UnknownAction } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware, ofType, type Epic } from 'redux-observable';
import { Subject, catchError, defer, exhaustMap, from, map, merge, mergeMap, of, take, takeUntil } from 'rxjs';
import { createFetchPool } from '../transport';
import { createPendingRequests, readJson, type BenchClient, type ClientContext, type ClientFactory } from './types';

const FETCH_DATA = 'FETCH_DATA';
const FETCH_DATA_SUCCESS = 'FETCH_DATA_SUCCESS';
const FETCH_DATA_FAILURE = 'FETCH_DATA_FAILURE';
const REFRESH_TOKEN = 'REFRESH_TOKEN';
const REFRESH_TOKEN_SUCCESS = 'REFRESH_TOKEN_SUCCESS';
const REFRESH_TOKEN_FAILURE = 'REFRESH_TOKEN_FAILURE';

interface AuthState {
  accessToken: string;
  refreshToken: string;
}
interface State {
  auth: AuthState;
}
type Action = UnknownAction & { id?: number; path?: string; payload?: AuthState };

function createSeedEpicClient(flatten: 'mergeMap' | 'exhaustMap', { baseUrl, tokens }: ClientContext): BenchClient {
  const pool = createFetchPool();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one signal shared by every request, to cancel them all at dispose
  const getData = (path: string, token: string) =>
    pool.fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal }).then(readJson);
  const refreshCall = (refreshToken: string) =>
    pool
      .fetch(`${baseUrl}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
        signal: abort.signal,
      })
      .then(readJson) as Promise<AuthState>;

  const auth: Reducer<AuthState, Action> = (state = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }, action) =>
    action.type === REFRESH_TOKEN_SUCCESS
      ? { accessToken: action.payload!.accessToken, refreshToken: action.payload!.refreshToken }
      : state;

  const fetchDataEpic: Epic<Action, Action, State> = (action$, state$) =>
    action$.pipe(
      ofType<Action, string, Action>(FETCH_DATA),
      mergeMap((action) =>
        defer(() => getData(action.path!, state$.value.auth.accessToken)).pipe(
          map(() => ({ type: FETCH_DATA_SUCCESS, id: action.id })),
          catchError((error: { status?: number }, source) =>
            error.status === 401
              ? merge(
                  action$.pipe(
                    ofType(REFRESH_TOKEN_SUCCESS),
                    takeUntil(action$.pipe(ofType(REFRESH_TOKEN_FAILURE))),
                    take(1),
                    mergeMap(() => source),
                  ),
                  of({ type: REFRESH_TOKEN }),
                )
              : of({ type: FETCH_DATA_FAILURE, id: action.id }),
          ),
        ),
      ),
    );

  const refreshCycle = () =>
    from(refreshCall(latestRefreshToken())).pipe(
      map((payload): Action => ({ type: REFRESH_TOKEN_SUCCESS, payload })),
      catchError(() => of({ type: REFRESH_TOKEN_FAILURE })),
    );
  const refreshTokenEpic: Epic<Action, Action, State> = (action$) =>
    action$.pipe(ofType(REFRESH_TOKEN), flatten === 'mergeMap' ? mergeMap(refreshCycle) : exhaustMap(refreshCycle));

  // `store` is assigned below, before any request is sent.
  const requests = createPendingRequests((id, path) => store.dispatch({ type: FETCH_DATA, id, path }));
  const settle: Middleware = () => (next) => (action) => {
    const { type, id } = action as Action;
    if (type === FETCH_DATA_SUCCESS) requests.resolve(id!);
    else if (type === FETCH_DATA_FAILURE) requests.reject(id!, new Error('request failed'));
    return next(action);
  };

  const stop$ = new Subject<void>();
  const epicMiddleware = createEpicMiddleware<Action, Action, State>();
  const store = configureStore({
    reducer: { auth },
    middleware: (getDefault) => getDefault().concat(epicMiddleware, settle),
  });
  const latestRefreshToken = () => store.getState().auth.refreshToken;
  epicMiddleware.run((action$, state$, deps) =>
    combineEpics(fetchDataEpic, refreshTokenEpic)(action$, state$, deps).pipe(takeUntil(stop$)),
  );

  return {
    request: requests.send,
    async dispose() {
      stop$.next();
      abort.abort();
      await pool.close();
    },
  };
}

export const seedEpicMergeMap: ClientFactory = {
  name: 'seed-000 epic (mergeMap)',
  setup:
    'seed article 000 as written: defer + catchError(401) + take(1) of REFRESH_TOKEN_SUCCESS + takeUntil(FAILURE); refresh epic with mergeMap',
  create: (context) => createSeedEpicClient('mergeMap', context),
};

export const seedEpicExhaustMap: ClientFactory = {
  name: 'seed-000 epic (exhaustMap)',
  setup: 'the same, refresh epic with exhaustMap (one refresh at a time; REFRESH_TOKEN during a refresh is dropped)',
  create: (context) => createSeedEpicClient('exhaustMap', context),
};
