/**
 * This package's RTK Query adapter (src/adapters/rtkQuery.ts, written alongside the bench): the same
 * createApi + configureStore as the RTK Query peer, with `authBaseQuery(auth, { fetchBaseQuery, baseUrl, fetchFn })`
 * in place of the mutex recipe, and `auth.epic` running in the store's epic middleware.
 */
import { configureStore, type UnknownAction } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { createEpicMiddleware } from 'redux-observable';
import { Subject, takeUntil } from 'rxjs';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { createTokenRefresh } from '../../src/index';
import { createFetchPool } from '../transport';
import { readJson, type BenchClient, type ClientContext, type ClientFactory } from './types';

function createClient({ baseUrl, tokens }: ClientContext): BenchClient {
  const pool = createFetchPool();
  const auth = createTokenRefresh({
    refresh: (refreshToken, { signal }) =>
      pool
        .fetch(`${baseUrl}/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken }),
          signal,
        })
        .then(readJson) as Promise<{ accessToken: string; refreshToken: string }>,
  });
  const api = createApi({
    baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl, fetchFn: pool.fetch }),
    endpoints: (build) => ({
      get: build.query<unknown, string>({ query: (path) => path }),
    }),
  });
  const stop$ = new Subject<void>();
  const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction>();
  const store = configureStore({
    reducer: { [auth.reducerPath]: auth.reducer, [api.reducerPath]: api.reducer },
    middleware: (getDefault) => getDefault().concat(epicMiddleware, api.middleware),
  });
  epicMiddleware.run((action$, state$, deps) => auth.epic(action$, state$, deps).pipe(takeUntil(stop$)));
  auth.setTokens(tokens);

  return {
    request: (path) => store.dispatch(api.endpoints.get.initiate(path, { subscribe: false })).unwrap(),
    async dispose() {
      stop$.next();
      auth.clearTokens();
      store.dispatch(api.util.resetApiState());
      await pool.close();
    },
  };
}

export const thisPackageRtkQuery: ClientFactory = {
  name: 'redux-observable-token-refresh (RTK Query adapter)',
  setup: 'createApi with authBaseQuery(auth, { fetchBaseQuery, baseUrl, fetchFn }) from src/adapters/rtkQuery.ts; auth.epic in the store',
  create: createClient,
};
