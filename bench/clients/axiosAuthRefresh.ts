/**
 * axios + axios-auth-refresh as its README sets it up: `createAuthRefresh(instance, refreshAuthLogic)`,
 * the refresh made with a plain axios (not the intercepted instance), the new token written into the
 * failed request's headers, and a request interceptor that reads the token at send time "to make sure
 * the stalled requests are using the newly fetched data".
 *
 * Options: v5 renamed `pauseInstanceWhileRefreshing` to `deduplicateRefresh` and made it the default,
 * so "defaults" and "pauseInstanceWhileRefreshing: true" are the same code path. While the instance
 * is paused, 401s of other requests are not intercepted (they fail); the maintainer's advice for
 * concurrent 401s (issues #56, #90) is to turn pausing off and mark the refresh call
 * `skipAuthRefresh`, which is the second row.
 */
import { setMaxListeners } from 'node:events';
import axios from 'axios';
import { createAuthRefresh, type AxiosAuthRefreshOptions, type AxiosAuthRefreshRequestConfig } from 'axios-auth-refresh';
import { createHttpAgent } from '../transport';
import type { BenchClient, ClientContext, ClientFactory } from './types';

function createAxiosAuthRefreshClient(options: AxiosAuthRefreshOptions | undefined, { baseUrl, tokens }: ClientContext): BenchClient {
  const httpAgent = createHttpAgent();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one signal shared by every request, to cancel them all at dispose
  // localStorage of a browser app
  const storage = { token: tokens.accessToken, refreshToken: tokens.refreshToken };
  const instance = axios.create({ baseURL: baseUrl, httpAgent, signal: abort.signal });
  const plain = axios.create({ baseURL: baseUrl, httpAgent, signal: abort.signal });

  const refreshAuthLogic = (failedRequest: { response: { config: { headers: Record<string, string> } } }) =>
    plain
      .post<{ accessToken: string; refreshToken: string }>('/auth/refresh', { refreshToken: storage.refreshToken }, {
        skipAuthRefresh: true,
      } as AxiosAuthRefreshRequestConfig)
      .then((tokenRefreshResponse) => {
        storage.token = tokenRefreshResponse.data.accessToken;
        storage.refreshToken = tokenRefreshResponse.data.refreshToken;
        failedRequest.response.config.headers.Authorization = 'Bearer ' + tokenRefreshResponse.data.accessToken;
        return Promise.resolve();
      });
  createAuthRefresh(instance, refreshAuthLogic, options);
  instance.interceptors.request.use((request) => {
    request.headers.Authorization = `Bearer ${storage.token}`;
    return request;
  });

  return {
    request: (path) => instance.get(path),
    dispose() {
      abort.abort();
      httpAgent.destroy();
    },
  };
}

export const axiosAuthRefreshDefaults: ClientFactory = {
  name: 'axios-auth-refresh (defaults)',
  setup:
    'axios-auth-refresh 5, README setup, default options (deduplicateRefresh: true, the v5 name and default of pauseInstanceWhileRefreshing)',
  create: (context) => createAxiosAuthRefreshClient(undefined, context),
};

export const axiosAuthRefreshNoDedupe: ClientFactory = {
  name: 'axios-auth-refresh (deduplicateRefresh: false)',
  setup:
    "the same with deduplicateRefresh: false and the refresh marked skipAuthRefresh, the maintainer's advice for concurrent 401s (Flyrell/axios-auth-refresh#56, #90)",
  create: (context) => createAxiosAuthRefreshClient({ deduplicateRefresh: false }, context),
};
