/**
 * A request belongs to the session whose token it carried (the core's rule since issue 9): a 401
 * that arrives after a logout, or after another user logged in, ends in `LoggedOutError` and is
 * never replayed with someone else's token. Every adapter keeps a request inside the `authorized`
 * call that gave it its token, so the rule holds for them too. A real server on 127.0.0.1 holds the
 * answer until the session has changed.
 */
import axios, { type AxiosError } from 'axios';
import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery, type FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { createTokenRefresh } from '../../src';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { startEchoServer, type EchoServer } from '../support/echoServer';
import { until } from '../support/realServer';

let server: EchoServer;
beforeAll(async () => {
  server = await startEchoServer();
});
afterAll(() => server.close());

/** How each adapter sends GET /held/401 and names the way it ended. */
const adapters: Record<string, (auth: ReturnType<typeof createTokenRefresh>) => () => Promise<string>> = {
  attachAxios: (auth) => {
    const http = axios.create({ baseURL: server.url });
    attachAxios(auth, http, { allowedOrigins: [server.url] });
    return () =>
      http.get('/held/401').then(
        () => 'ok',
        (error: AxiosError) => error.name,
      );
  },
  authFetch: (auth) => {
    const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
    return () =>
      apiFetch(`${server.url}/held/401`).then(
        (response) => `HTTP ${response.status}`,
        (error: Error) => error.name,
      );
  },
  authBaseQuery: (auth) => {
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: server.url }),
      endpoints: (build) => ({ held: build.query<unknown, void>({ query: () => 'held/401' }) }),
    });
    const store = configureStore({ reducer: { [api.reducerPath]: api.reducer }, middleware: (d) => d().concat(api.middleware) });
    return async () => {
      const { error } = await store.dispatch(api.endpoints.held.initiate(undefined, { subscribe: false }));
      const e = error as FetchBaseQueryError;
      return e.status === 'CUSTOM_ERROR' ? (e.data as { name: string }).name : `HTTP ${e.status}`;
    };
  },
};

describe.each(Object.keys(adapters))('%s: a 401 that arrives in another session', (name) => {
  test('after a logout: LoggedOutError, no refresh, nothing sent again', async () => {
    const refresh = jest.fn(async () => ({ accessToken: 'a2' }));
    const auth = createTokenRefresh({ refresh });
    auth.setTokens({ accessToken: 'user-a', refreshToken: 'r-a' });
    const get = adapters[name]!(auth);
    const from = server.seen.length;
    const outcome = get();
    await until(() => server.seen.length === from + 1, 'the request to arrive');
    auth.clearTokens();
    server.release();
    expect(await outcome).toBe('LoggedOutError');
    expect(refresh).not.toHaveBeenCalled();
    expect(server.seen.length).toBe(from + 1);
  });

  test("after another user logged in: LoggedOutError, never replayed with the other user's token", async () => {
    const refresh = jest.fn(async () => ({ accessToken: 'a2' }));
    const auth = createTokenRefresh({ refresh });
    auth.setTokens({ accessToken: 'user-a', refreshToken: 'r-a' });
    const get = adapters[name]!(auth);
    const from = server.seen.length;
    const outcome = get();
    await until(() => server.seen.length === from + 1, 'the request to arrive');
    auth.setTokens({ accessToken: 'user-b', refreshToken: 'r-b' });
    server.release();
    expect(await outcome).toBe('LoggedOutError');
    expect(server.seen.slice(from).map((request) => request.headers.authorization)).toEqual(['Bearer user-a']);
  });
});
