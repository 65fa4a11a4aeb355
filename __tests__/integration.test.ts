import { createAction } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { catchError, filter, map, mergeMap, of } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import type { TokenRefresh } from '../src';
import { apiRecords, genOf, startServer, startSession, until, type AuthServer } from './support/realServer';

/**
 * The package as an app uses it: a real Redux store (configureStore + createEpicMiddleware), the
 * app's own epics calling the API with `fromFetch` through `auth.authorized`, and a real server on
 * 127.0.0.1 that signs JWTs, rotates single-use refresh tokens and detects reuse.
 */
const load = createAction<string>('api/load');
const loaded = createAction<{ path: string; gen: unknown }>('api/loaded');
const failed = createAction<{ path: string; error: string }>('api/failed');
const failures: string[] = [];

const apiEpic =
  (server: AuthServer) =>
  (auth: TokenRefresh): Epic<UnknownAction, UnknownAction> =>
  (action$) =>
    action$.pipe(
      filter(load.match),
      mergeMap(({ payload: path }) =>
        auth
          .authorized((token) =>
            fromFetch(`${server.url}/api/${path}`, {
              headers: { Authorization: `Bearer ${token}` },
              // fromFetch emits every response; a 401 must be an error for the operator to see it.
              selector: (response) => (response.ok ? response.json() : Promise.reject(response)),
            }),
          )
          .pipe(
            map(() => loaded({ path, gen: genOf(auth.getAccessToken()) })),
            catchError((error: Error) => (failures.push(error.name), of(failed({ path, error: error.name })))),
          ),
      ),
    );

let server: AuthServer;
beforeEach(async () => {
  failures.length = 0;
  server = await startServer();
});
afterEach(() => server.close());

const paths = ['profile', 'items', 'heartbeat', 'echo', 'items', 'profile'];

async function session(options = {}) {
  const s = await startSession(server, { epics: (auth) => [apiEpic(server)(auth)], ...options });
  const results = () => s.types().filter((t) => t === 'api/loaded' || t === 'api/failed');
  const loadAll = () => paths.forEach((path) => s.store.dispatch(load(path)));
  return { ...s, results, loadAll };
}

test('six concurrent requests with an expired token: one refresh, all six succeed with the new token', async () => {
  const { auth, store, types, results, loadAll } = await session();
  server.control.expireAccessTokens();
  loadAll();
  await until(() => results().length === paths.length, 'all requests settled');
  expect(results()).toEqual(paths.map(() => 'api/loaded'));
  expect(server.stats().refreshCalls).toBe(1);
  expect(server.stats().reuseDetections).toBe(0);
  expect(apiRecords(server)).toEqual([...paths.map(() => [200, 2]), ...paths.map(() => [401, 1])]);
  expect(types().filter((t) => !t.startsWith('api/'))).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded']);
  expect(auth.selectState(store.getState() as never).status).toBe('authenticated');
});

test('rotation: each refresh spends the newest refresh token, so reuse detection never fires', async () => {
  const { results, loadAll } = await session();
  for (let round = 1; round <= 3; round++) {
    server.control.expireAccessTokens();
    loadAll();
    await until(() => results().length === paths.length * round, `round ${round} settled`);
  }
  expect(results().every((t) => t === 'api/loaded')).toBe(true);
  expect(server.stats()).toMatchObject({ refreshCalls: 3, refreshOk: 3, reuseDetections: 0 });
});

test('requests started during a slow refresh wait for it: none reaches the server with the old token', async () => {
  const { store, results, loadAll } = await session();
  server.control.expireAccessTokens();
  server.control.slowNextRefresh(300);
  store.dispatch(load('profile'));
  await until(() => server.stats().refreshCalls === 1, 'the refresh started');
  loadAll();
  await until(() => results().length === paths.length + 1, 'all requests settled', 5_000);
  expect(results().every((t) => t === 'api/loaded')).toBe(true);
  expect(server.stats().api401).toBe(1);
  expect(server.stats().requestsWithReplacedToken).toBe(0);
});

test('a revoked refresh token: one refresh attempt, every request fails, and nothing more is sent', async () => {
  const { auth, store, types, results, loadAll } = await session();
  server.control.expireAccessTokens();
  server.control.revokeRefreshTokens();
  loadAll();
  await until(() => results().length === paths.length, 'all requests settled');
  expect(results()).toEqual(paths.map(() => 'api/failed'));
  expect(failures).toEqual(paths.map(() => 'TokenRefreshError'));
  expect(store.getState()).toMatchObject({ tokenRefresh: { status: 'unauthenticated', lastError: { name: 'TokenRefreshError' } } });
  expect(types()).toContain('refreshFailed');
  expect(server.stats().refreshCalls).toBe(1);
  const apiRequests = server.stats().apiRequests;
  store.dispatch(load('profile'));
  await until(() => results().length === paths.length + 1, 'the late request settled');
  expect(server.stats().apiRequests).toBe(apiRequests);
  expect(auth.getAccessToken()).toBeUndefined();
});

test('logout during a slow refresh: waiting requests fail with LoggedOutError and the late tokens are not kept', async () => {
  const { auth, store, results, loadAll } = await session();
  server.control.expireAccessTokens();
  server.control.slowNextRefresh(300);
  loadAll();
  await until(() => server.stats().refreshCalls === 1 && server.stats().api401 === paths.length, 'all six got 401 and wait');
  const apiRequests = server.stats().apiRequests;
  store.dispatch(auth.actions.loggedOut());
  await until(() => results().length === paths.length, 'all requests settled');
  expect(failures).toEqual(paths.map(() => 'LoggedOutError'));
  expect(store.getState()).toMatchObject({ tokenRefresh: { status: 'unauthenticated' } });
  // Real time on purpose: the server answers the slow refresh 300 ms after it arrived.
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(auth.getAccessToken()).toBeUndefined();
  expect(server.stats().apiRequests).toBe(apiRequests);
});
