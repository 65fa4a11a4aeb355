import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery, type FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { describeAdapterSemantics, type Outcome } from '../support/adapterSemantics';
import { startServer, startSession, type AuthServer } from '../support/realServer';
import type { TokenRefresh } from '../../src';

/** A real RTK Query API on `auth`; `fetchFn` is the transport fetchBaseQuery uses. */
function echoApi(auth: TokenRefresh, baseUrl: string, fetchFn: typeof fetch = (input, init) => fetch(input, init)) {
  return createApi({
    keepUnusedDataFor: 0, // no cache timers left behind when the test ends
    baseQuery: authBaseQuery(auth, fetchBaseQuery({ baseUrl, fetchFn })),
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
      data: { name: 'TokenRefreshError', code: 'REFRESH_FAILED', message: expect.any(String) },
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
      baseQuery: authBaseQuery(auth, fetchBaseQuery({ baseUrl: `${server.url}/` })),
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
      baseQuery: authBaseQuery(
        auth,
        fetchBaseQuery({
          baseUrl: `${server.url}/`,
          fetchFn: (input, init) => {
            const headers = (input as Request).headers;
            seen.push([headers.get('x-trace'), headers.get('authorization')?.slice(0, 7) ?? null]);
            return fetch(input, init);
          },
        }),
      ),
      endpoints: (build) => ({ echo: build.query<unknown, void>({ query: () => ({ url: 'api/echo', headers: { 'X-Trace': 'abc', 'X-Gone': undefined } }) }) }),
    });
    await storeFor(api as never).dispatch(api.endpoints.echo.initiate(undefined, { subscribe: false }));
    expect(seen).toEqual([['abc', 'Bearer ']]);
  });

  test('a base query with other arguments must say how to add the token (a compile error otherwise)', async () => {
    const { auth } = await startSession(server, { loggedIn: false });
    const graphqlBaseQuery = async (args: { document: string; token?: string }) => ({ data: args.token ?? null });
    // @ts-expect-error withToken and toError are required when the arguments are not fetchBaseQuery's
    authBaseQuery(auth, graphqlBaseQuery);
    const wrapped = authBaseQuery(auth, graphqlBaseQuery, { withToken: (args, token) => ({ ...args, token }), toError: (error) => error.message });
    auth.setTokens({ accessToken: 'opaque-token' });
    expect(await wrapped({ document: '{ me }' }, {} as never, {})).toEqual({ data: 'opaque-token' });
  });

  test('bad arguments throw a TypeError naming what to pass', async () => {
    const { auth } = await startSession(server, { loggedIn: false });
    expect(() => authBaseQuery({} as never, fetchBaseQuery())).toThrow(/createTokenRefresh/);
    expect(() => authBaseQuery(auth, 'nope' as never)).toThrow(/base query/);
  });
});
