/**
 * This package the way an axios app uses it, beside the axios-based peers on equal terms: the
 * requests go straight through an axios instance with `attachAxios` (request and response
 * interceptors on the coordinator), not through a Redux action each. `auth.epic` still runs in a
 * real store, since it is what performs the refresh.
 */
import { configureStore, type UnknownAction } from '@reduxjs/toolkit';
import { createEpicMiddleware } from 'redux-observable';
import axios from 'axios';
import { Subject, takeUntil } from 'rxjs';
import { createTokenRefresh } from '../../src/index';
import { attachAxios } from '../../src/adapters/axios';
import { createHttpAgent } from '../transport';
import type { BenchClient, ClientContext, ClientFactory } from './types';

function createAttachAxiosClient({ baseUrl, tokens }: ClientContext): BenchClient {
  const httpAgent = createHttpAgent();
  const instance = axios.create({ baseURL: baseUrl, httpAgent });
  const auth = createTokenRefresh({
    // The same instance: the refresh passes its `signal` on, so the interceptors let it through.
    refresh: (refreshToken, { signal }) =>
      instance.post<{ accessToken: string; refreshToken: string }>('/auth/refresh', { refreshToken }, { signal }).then((r) => r.data),
  });
  const detach = attachAxios(auth, instance, { allowedOrigins: [baseUrl], baseOrigin: baseUrl });

  const stop$ = new Subject<void>();
  const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction>();
  configureStore({
    reducer: { [auth.reducerPath]: auth.reducer },
    middleware: (getDefault) => getDefault().concat(epicMiddleware),
  });
  epicMiddleware.run((action$, state$, deps) => auth.epic(action$, state$, deps).pipe(takeUntil(stop$)));
  auth.setTokens(tokens);

  return {
    request: (path) => instance.get<unknown>(path).then((response) => response.data),
    dispose() {
      stop$.next();
      auth.clearTokens();
      detach();
      httpAgent.destroy();
    },
  };
}

export const thisPackageAttachAxios: ClientFactory = {
  name: 'redux-observable-token-refresh (attachAxios)',
  setup:
    'attachAxios(auth, axios.create(...)) from src/adapters/axios.ts, requests straight through the instance (no action per request); auth.epic in a store',
  create: createAttachAxiosClient,
};
