/**
 * The promise of the package: every client in one app goes through the same coordinator, so a
 * burst of 401s from all of them costs one refresh, and all of them succeed afterwards.
 */
import { createAction, type Reducer } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import axios from 'axios';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { filter, map, mergeMap } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import type { TokenRefresh } from '../../src';
import { startServer, startSession, until, type AuthServer } from '../support/realServer';

let server: AuthServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const loadEcho = createAction('echo/load');
const echoLoaded = createAction<number>('echo/loaded');
const echoReducer: Reducer<number | null> = (state = null, action) => (echoLoaded.match(action) ? action.payload : state);

/** An app's own epic, on `auth.authorized` with rxjs' fromFetch. */
const echoEpic =
  (auth: TokenRefresh): Epic<UnknownAction, UnknownAction> =>
  (action$) =>
    action$.pipe(
      filter(loadEcho.match),
      mergeMap(() =>
        auth.authorized((token) =>
          fromFetch(`${server.url}/api/echo?from=epic`, {
            headers: { Authorization: `Bearer ${token}` },
            selector: (response) => (response.ok ? (response.json() as Promise<{ gen: number }>) : Promise.reject(response)),
          }),
        ),
      ),
      map(({ gen }) => echoLoaded(gen)),
    );

test('an epic, an RTK Query endpoint, authFetch and axios hit 401 together: one refresh, all four succeed', async () => {
  const api = createApi({
    keepUnusedDataFor: 0,
    baseQuery: (args, baseQueryApi, extraOptions) =>
      authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${server.url}/` })(args, baseQueryApi, extraOptions),
    endpoints: (build) => ({ echo: build.query<{ gen: number }, void>({ query: () => 'api/echo?from=rtk-query' }) }),
  });
  const session = await startSession(server, {
    epics: (auth) => [echoEpic(auth)],
    reducers: { echo: echoReducer, [api.reducerPath]: api.reducer },
    middleware: [api.middleware],
  });
  const auth = session.auth;
  const { store } = session;
  const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
  const instance = axios.create({ baseURL: server.url });
  attachAxios(auth, instance, { allowedOrigins: [server.url] });

  server.control.expireAccessTokens();
  store.dispatch(loadEcho());
  const [rtk, viaFetch, viaAxios] = await Promise.all([
    store.dispatch(api.endpoints.echo.initiate(undefined, { subscribe: false }) as never) as unknown as Promise<{ data?: { gen: number } }>,
    apiFetch(`${server.url}/api/echo?from=fetch`).then((response) => response.json() as Promise<{ gen: number }>),
    instance.get<{ gen: number }>('/api/echo?from=axios').then((response) => response.data),
  ]);
  await until(() => (store.getState() as { echo: number | null }).echo !== null, 'the epic to load');

  expect({ epic: (store.getState() as { echo: number }).echo, rtk: rtk.data?.gen, fetch: viaFetch.gen, axios: viaAxios.gen }).toEqual({
    epic: 2,
    rtk: 2,
    fetch: 2,
    axios: 2,
  });
  expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 4, apiOk: 4 });
  expect(session.types().filter((type) => type === 'refreshRequested')).toHaveLength(1);
});
