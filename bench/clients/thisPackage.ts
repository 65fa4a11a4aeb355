/**
 * This package as an epic user would set it up: a real store (configureStore + createEpicMiddleware),
 * `auth.epic` in the root epic, and a feature epic that calls the API through `auth.authorized` with
 * rxjs' `fromFetch`. A request is an action in, a success or failure action out.
 */
import { configureStore, createAction, type Middleware, type UnknownAction } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware, type Epic } from 'redux-observable';
import axios from 'axios';
import { Subject, catchError, filter, from, map, mergeMap, of, takeUntil, type ObservableInput } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { createTokenRefresh } from '../../src/index';
import { createFetchPool, createHttpAgent } from '../transport';
import { createPendingRequests, readJson, type BenchClient, type ClientContext, type ClientFactory } from './types';

const fetchRequested = createAction<{ id: number; path: string }>('bench/fetchRequested');
const fetchSucceeded = createAction<{ id: number }>('bench/fetchSucceeded');
const fetchFailed = createAction<{ id: number; error: string }>('bench/fetchFailed');

function createThisPackageClient(transport: 'fetch' | 'axios', { baseUrl, tokens }: ClientContext): BenchClient {
  const pool = createFetchPool();
  // The axios variant: same store and epics, the API call made with axios on the same socket limit.
  const httpAgent = transport === 'axios' ? createHttpAgent() : undefined;
  const instance = axios.create({ baseURL: baseUrl, httpAgent });
  const get = (path: string, token: string): ObservableInput<unknown> =>
    transport === 'fetch'
      ? fromFetch(`${baseUrl}${path}`, { ...pool.init, headers: { authorization: `Bearer ${token}` }, selector: readJson })
      : from(instance.get(path, { headers: { authorization: `Bearer ${token}` } }));
  interface Refreshed {
    accessToken: string;
    refreshToken: string;
  }
  const auth = createTokenRefresh({
    refresh: (refreshToken, { signal }) =>
      transport === 'fetch'
        ? (pool
            .fetch(`${baseUrl}/auth/refresh`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ refreshToken }),
              signal,
            })
            .then(readJson) as Promise<Refreshed>)
        : instance.post<Refreshed>('/auth/refresh', { refreshToken }, { signal }).then((response) => response.data),
  });

  const fetchEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
    action$.pipe(
      filter(fetchRequested.match),
      mergeMap(({ payload: { id, path } }) =>
        auth
          .authorized((token) => get(path, token))
          .pipe(
            map(() => fetchSucceeded({ id })),
            catchError((error: unknown) => of(fetchFailed({ id, error: String(error) }))),
          ),
      ),
    );

  // `store` is assigned below, before any request is sent.
  const requests = createPendingRequests((id, path) => store.dispatch(fetchRequested({ id, path })));
  const settle: Middleware = () => (next) => (action) => {
    if (fetchSucceeded.match(action)) requests.resolve(action.payload.id);
    else if (fetchFailed.match(action)) requests.reject(action.payload.id, new Error(action.payload.error));
    return next(action);
  };

  const stop$ = new Subject<void>();
  const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction>();
  const store = configureStore({
    reducer: { [auth.reducerPath]: auth.reducer },
    middleware: (getDefault) => getDefault().concat(epicMiddleware, settle),
  });
  epicMiddleware.run((action$, state$, deps) => combineEpics(auth.epic, fetchEpic)(action$, state$, deps).pipe(takeUntil(stop$)));
  auth.setTokens(tokens);

  return {
    request: requests.send,
    async dispose() {
      stop$.next();
      auth.clearTokens();
      httpAgent?.destroy();
      await pool.close();
    },
  };
}

export const thisPackage: ClientFactory = {
  name: 'redux-observable-token-refresh',
  setup: 'createTokenRefresh (defaults) + auth.epic in a real store; feature epic: mergeMap(auth.authorized(token => fromFetch(...)))',
  create: (context) => createThisPackageClient('fetch', context),
};

export const thisPackageAxios: ClientFactory = {
  name: 'redux-observable-token-refresh (axios transport)',
  setup:
    'the same store and epics, the API call made with axios inside auth.authorized (compares with the axios-based peers on the same transport)',
  create: (context) => createThisPackageClient('axios', context),
};
