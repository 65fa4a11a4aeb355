import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery, type FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { describeAdapterSemantics, type Outcome } from '../support/adapterSemantics';
import { startServer, startSession, until, useTwoServers, type AuthServer } from '../support/realServer';
import { startEchoServer, type EchoServer } from '../support/echoServer';
import { createTokenRefresh, type TokenRefresh } from '../../src';

/** A real RTK Query API on `auth`; `fetchFn` is the transport fetchBaseQuery uses. */
function echoApi(auth: TokenRefresh, baseUrl: string, fetchFn: typeof fetch = (input, init) => fetch(input, init)) {
  return createApi({
    keepUnusedDataFor: 0, // no cache timers left behind when the test ends
    baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl, fetchFn }),
    endpoints: (build) => ({
      // A distinct argument per call: RTK Query would otherwise share one request between callers.
      echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }),
      login: build.mutation<{ accessToken: string }, void>({
        query: () => ({ url: 'auth/login', method: 'POST', body: { username: 'demo', password: 'demo' } }),
      }),
    }),
  });
}

function storeFor(api: ReturnType<typeof echoApi>) {
  return configureStore({
    reducer: { [api.reducerPath]: api.reducer },
    middleware: (getDefault) => getDefault().concat(api.middleware),
  });
}

function read(result: { data?: { gen: number }; error?: unknown }): Outcome {
  if (result.data) return { ok: true, gen: result.data.gen };
  const error = result.error as FetchBaseQueryError;
  if (error.status === 'CUSTOM_ERROR') return { error: (error.data as { name: string }).name };
  return { status: error.status as number };
}

describeAdapterSemantics('authBaseQuery', {
  make({ server, auth, beforeSend }) {
    const api = echoApi(auth, `${server.url}/`, (input, init) => (beforeSend(), fetch(input, init)));
    const store = storeFor(api);
    return { get: async (n) => read(await store.dispatch(api.endpoints.echo.initiate(n, { subscribe: false }))) };
  },
});

describe('authBaseQuery: results in RTK Query shape', () => {
  let server: AuthServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  test('a failed refresh is a CUSTOM_ERROR whose data names the error, so a component can send the user to login', async () => {
    const { auth } = await startSession(server);
    const api = echoApi(auth, `${server.url}/`);
    const store = storeFor(api);
    server.control.revokeRefreshTokens();
    server.control.expireAccessTokens();
    const result = await store.dispatch(api.endpoints.echo.initiate(1, { subscribe: false }));
    expect(result.error).toEqual({
      status: 'CUSTOM_ERROR',
      error: expect.stringContaining('The refresh token was rejected'),
      data: { name: 'TokenRefreshError', code: 'REFRESH_FAILED', status: expect.any(Number), message: expect.any(String) },
    });
    expect(api.endpoints.echo.select(1)(store.getState()).isError).toBe(true);
  });

  test('a login mutation in the same API works before there is a session: it goes out without a token', async () => {
    const { auth } = await startSession(server, { loggedIn: false });
    const api = echoApi(auth, `${server.url}/`);
    const store = storeFor(api);
    const result = await store.dispatch(api.endpoints.login.initiate());
    expect(result.data?.accessToken).toEqual(expect.any(String));
    auth.setTokens({ accessToken: result.data!.accessToken });
    expect(read(await store.dispatch(api.endpoints.echo.initiate(1)))).toEqual({ ok: true, gen: 1 });
  });

  test('an error other than 401 comes back untouched and starts no refresh', async () => {
    const { auth } = await startSession(server);
    const notFound = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${server.url}/` }),
      endpoints: (build) => ({ nothing: build.query<unknown, void>({ query: () => 'api/nothing' }) }),
    });
    const notFoundStore = storeFor(notFound as never);
    const answer = await notFoundStore.dispatch(notFound.endpoints.nothing.initiate(undefined, { subscribe: false }));
    expect(answer.error).toMatchObject({ status: 404 });
    expect(server.stats().refreshCalls).toBe(0);
  });

  test('headers given by the endpoint are kept next to the token', async () => {
    const { auth } = await startSession(server);
    const seen: Array<[string | null, string | null]> = [];
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, {
        fetchBaseQuery,
        baseUrl: `${server.url}/`,
        fetchFn: (input, init) => {
          const headers = (input as Request).headers;
          seen.push([headers.get('x-trace'), headers.get('authorization')?.slice(0, 7) ?? null]);
          return fetch(input, init);
        },
      }),
      endpoints: (build) => ({
        echo: build.query<unknown, void>({ query: () => ({ url: 'api/echo', headers: { 'X-Trace': 'abc', 'X-Gone': undefined } }) }),
      }),
    });
    await storeFor(api as never).dispatch(api.endpoints.echo.initiate(undefined, { subscribe: false }));
    expect(seen).toEqual([['abc', 'Bearer ']]);
  });

  test('a base query with other arguments must say how to add the token (a compile error otherwise)', async () => {
    const { auth } = await startSession(server, { loggedIn: false });
    const graphqlBaseQuery = async (args: { document: string; token?: string }) => ({ data: args.token ?? null });
    // @ts-expect-error withToken and toError are required for a base query passed as a function
    expect(() => authBaseQuery(auth, graphqlBaseQuery)).toThrow(/withToken/);
    const wrapped = authBaseQuery(auth, graphqlBaseQuery, {
      withToken: (args, token) => ({ ...args, token }),
      toError: (error) => error.message,
    });
    auth.setTokens({ accessToken: 'opaque-token' });
    expect(await wrapped({ document: '{ me }' }, {} as never, {})).toEqual({ data: 'opaque-token' });
  });

  test('bad arguments throw a TypeError naming what to pass', async () => {
    const { auth } = await startSession(server, { loggedIn: false });
    expect(() => authBaseQuery({} as never, { fetchBaseQuery })).toThrow(/createTokenRefresh/);
    expect(() => authBaseQuery(auth, 'nope' as never)).toThrow(/fetchBaseQuery and its options/);
    expect(() => authBaseQuery(auth, { baseUrl: '/api' } as never)).toThrow(
      /authBaseQuery\(auth, \{ fetchBaseQuery, baseUrl: '\/api' \}\)/,
    );
    // The old form, fetchBaseQuery(...) passed in, cannot keep its headers nor check origins: it says what to write instead.
    expect(() => authBaseQuery(auth, fetchBaseQuery({ baseUrl: '/api' }) as never)).toThrow(
      /authBaseQuery\(auth, \{ fetchBaseQuery, baseUrl: '\/api' \}\)/,
    );
  });
});

describe('authBaseQuery sends the token only where it belongs, and only the current one', () => {
  const servers = useTwoServers();

  test("an absolute URL outside baseUrl's origin gets no token, and its 401 spends no refresh token", async () => {
    const { auth } = await startSession(servers.api);
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${servers.api.url}/` }),
      endpoints: (build) => ({ partner: build.query<unknown, void>({ query: () => `${servers.elsewhere.url}/api/echo` }) }),
    });
    const result = await storeFor(api as never).dispatch(api.endpoints.partner.initiate(undefined, { subscribe: false }));
    expect(result.error).toMatchObject({ status: 401 });
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
    expect(servers.api.stats().refreshCalls).toBe(0);
  });

  test('allowedOrigins opens another origin', async () => {
    const { auth } = await startSession(servers.api);
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, {
        fetchBaseQuery,
        baseUrl: `${servers.api.url}/`,
        allowedOrigins: [servers.api.url, servers.elsewhere.url],
      }),
      endpoints: (build) => ({ partner: build.query<unknown, void>({ query: () => `${servers.elsewhere.url}/api/echo` }) }),
    });
    await storeFor(api as never).dispatch(api.endpoints.partner.initiate(undefined, { subscribe: false }));
    // The other server did not issue this session's token, so it says 401; what matters is that it got one.
    expect(servers.elsewhere.stats().requestsWithoutToken).toBe(0);
    expect(servers.elsewhere.stats().apiRequests).toBeGreaterThan(0);
  });

  test('a query handed to RTK Query before a refresh, that leaves after it, carries the new token: nothing is sent with the old one', async () => {
    const { auth } = await startSession(servers.api);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const api = createApi({
      keepUnusedDataFor: 0,
      // RTK Query's own async work between the call and the fetch, made long and under our control.
      baseQuery: authBaseQuery(auth, {
        fetchBaseQuery,
        baseUrl: `${servers.api.url}/`,
        prepareHeaders: async (headers) => (await gate, headers),
      }),
      endpoints: (build) => ({ echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }) }),
    });
    const query = storeFor(api as never).dispatch(api.endpoints.echo.initiate(1, { subscribe: false }));
    await auth.refresh();
    release();
    expect(read(await query)).toEqual({ ok: true, gen: 2 });
    expect(servers.api.stats()).toMatchObject({ refreshCalls: 1, api401: 0, apiRequests: 1 });
  });

  test('one that leaves while the refresh is in flight waits for it, and is sent once, with the new token', async () => {
    const { auth } = await startSession(servers.api);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, {
        fetchBaseQuery,
        baseUrl: `${servers.api.url}/`,
        prepareHeaders: async (headers) => (await gate, headers),
      }),
      endpoints: (build) => ({ echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }) }),
    });
    const query = storeFor(api as never).dispatch(api.endpoints.echo.initiate(1, { subscribe: false }));
    servers.api.control.slowNextRefresh(100);
    const refreshed = auth.refresh();
    await until(() => servers.api.stats().refreshCalls === 1, 'the refresh call');
    release();
    expect(read(await query)).toEqual({ ok: true, gen: 2 });
    await refreshed;
    expect(servers.api.stats()).toMatchObject({ refreshCalls: 1, api401: 0, apiRequests: 1 });
  });
});

describe('authBaseQuery: a 401 that another origin gave, through a redirect, refreshes nothing', () => {
  let home: EchoServer;
  let third: EchoServer;
  beforeAll(async () => {
    [home, third] = await Promise.all([startEchoServer(), startEchoServer()]);
  });
  afterAll(() => Promise.all([home.close(), third.close()]));

  test("authBaseQuery: a redirect from baseUrl's origin to a third party that answers 401", async () => {
    const refresh = jest.fn(async () => ({ accessToken: 'tok-2' }));
    const auth = createTokenRefresh({ refresh });
    auth.setTokens({ accessToken: 'tok-1', refreshToken: 'r' });
    const baseQuery = authBaseQuery(auth, { fetchBaseQuery, baseUrl: home.url });
    const api = { signal: new AbortController().signal, dispatch: () => {}, getState: () => ({}), endpoint: 'e', type: 'query' } as never;
    const redirected = await baseQuery(`redirect?to=${encodeURIComponent(`${third.url}/status/401`)}`, api, {});
    expect(redirected.error).toMatchObject({ status: 401 });
    expect(refresh).not.toHaveBeenCalled();
    // The same 401 from home itself is the API's word on the token: it does start a refresh (no epic here, so it fails fast).
    const direct = await baseQuery('status/401', api, {});
    expect(direct.error).toMatchObject({ status: 'CUSTOM_ERROR', data: { code: 'EPIC_NOT_RUNNING' } });
  });
});
