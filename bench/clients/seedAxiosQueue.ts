/**
 * The axios interceptor queue of seed article 003 ("基于 refresh_token 和 access_token 做无感刷新"), as
 * written there: a request interceptor adding the token from storage; a response interceptor that,
 * on a 401, sets `refreshing`, awaits `refreshToken()`, replays the queue and the failed request;
 * while `refreshing`, every failed response is queued. Adapted only where the article is specific to
 * its server: our 401 is the HTTP status (the article reads a NestJS body's `statusCode`), the refresh
 * is POST /auth/refresh, and `alert()` is dropped. As in the article, `refreshToken()` goes through
 * the same axios instance (hence its `!config.url.includes('/refresh')` check), and the queue is
 * replayed but never emptied.
 */
import { setMaxListeners } from 'node:events';
import axios, { type AxiosRequestConfig } from 'axios';
import { createHttpAgent } from '../transport';
import type { BenchClient, ClientContext, ClientFactory } from './types';

interface PendingTask {
  config: AxiosRequestConfig;
  resolve: (value: unknown) => void;
}

function createSeedAxiosQueueClient({ baseUrl, tokens }: ClientContext): BenchClient {
  const httpAgent = createHttpAgent();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one signal shared by every request, to cancel them all at dispose
  const localStorage = new Map<string, string>([
    ['access_token', tokens.accessToken],
    ['refresh_token', tokens.refreshToken],
  ]);
  const instance = axios.create({ baseURL: baseUrl, httpAgent, signal: abort.signal });

  instance.interceptors.request.use((config) => {
    const accessToken = localStorage.get('access_token');
    if (accessToken) config.headers.authorization = 'Bearer ' + accessToken;
    return config;
  });

  async function refreshToken() {
    const res = await instance.post('/auth/refresh', { refreshToken: localStorage.get('refresh_token') });
    localStorage.set('access_token', res.data.accessToken || '');
    localStorage.set('refresh_token', res.data.refreshToken || '');
    return res;
  }

  let refreshing = false;
  const queue: PendingTask[] = [];
  instance.interceptors.response.use(
    (response) => response,
    async (error) => {
      if (!error.response) throw error; // cancelled at dispose: no response to read
      const { status, config } = error.response;

      if (refreshing) {
        return new Promise((resolve) => {
          queue.push({ config, resolve });
        });
      }

      if (status === 401 && !config.url.includes('/auth/refresh')) {
        refreshing = true;

        const res = await refreshToken();

        refreshing = false;

        if (res.status === 200) {
          queue.forEach(({ config, resolve }) => {
            resolve(instance(config));
          });

          return instance(config);
        } else {
          return Promise.reject(res.data);
        }
      } else {
        return error.response;
      }
    },
  );

  return {
    async request(path) {
      // The article's interceptor resolves non-401 failures with the error response: check it.
      const response = await instance.get(path);
      if (response.status >= 400) throw new Error(`HTTP ${response.status}`);
      return response;
    },
    dispose() {
      abort.abort();
      httpAgent.destroy();
    },
  };
}

export const seedAxiosQueue: ClientFactory = {
  name: 'seed-003 axios queue',
  setup: 'seed article 003 as written: refreshing flag + queue of { config, resolve } in an axios response interceptor',
  create: createSeedAxiosQueueClient,
};
