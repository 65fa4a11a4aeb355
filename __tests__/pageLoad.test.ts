/**
 * The first moments of a page: requests that the app fires while its session is still being
 * restored (the cookie asked at page load, an async storage read) wait for the outcome and go with
 * the token, through every adapter, whether they fire before `auth.restore()`, in the same tick, or
 * with no `restore()` call at all. Without a session they go as each adapter documents for no
 * session: as written. A real server on 127.0.0.1 records what each request carried.
 */
import axios from 'axios';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { asyncStorage, createTokenRefresh, type TokenRefresh, type Tokens } from '../src';
import { attachAxios } from '../src/adapters/axios';
import { authFetch } from '../src/adapters/fetch';
import { authBaseQuery } from '../src/adapters/rtkQuery';
import { createStore } from './support/harness';
import { jsonRefresh, login, startServer, type AuthServer } from './support/realServer';
import { cookieSession } from '../src/cookie';

let server: AuthServer;
// A page: cookie mode asks the cookie by itself only in a browser document (not on a server).
beforeEach(() => void ((globalThis as Record<string, unknown>).document = {}));
afterEach(() => void delete (globalThis as Record<string, unknown>).document);
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

/** The store an app builds: auth's reducer and epic, an RTK Query api on `authBaseQuery`. */
function app(auth: TokenRefresh) {
  const api = createApi({
    keepUnusedDataFor: 0,
    baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${server.url}/api` }),
    endpoints: (build) => ({ profile: build.query<{ sub: string }, void>({ query: () => 'profile' }) }),
  });
  // The epic runs when the test says: before, with or after the page's first requests.
  const store = createStore(auth, { reducers: { [api.reducerPath]: api.reducer }, middleware: [api.middleware], run: false });
  const http = axios.create({ baseURL: server.url });
  attachAxios(auth, http, { allowedOrigins: [server.url] });
  const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
  /** One request through each client, as a screen's first render fires them; each answers its HTTP status. */
  const fire = () => [
    store
      .dispatch(api.endpoints.profile.initiate(undefined, { subscribe: false }))
      .then((result) => ('error' in result ? (result.error as { status: number }).status : 200)),
    apiFetch(`${server.url}/api/items`).then((response) => response.status),
    http.get('/api/report').then(
      (response) => response.status,
      (error: { response?: { status: number } }) => error.response?.status ?? 0,
    ),
  ];
  return { store, run: () => store.run(), fire };
}

/** What reached the API: the status it answered, and whether the request carried a token. */
const apiRequests = () =>
  server
    .stats()
    .recent.filter((record) => record.path.startsWith('/api/'))
    .map((record) => record.status);

/** The refresh token an HttpOnly cookie would hold: the refresh function reads and rotates it, scripts never do. */
function cookieJar(initial: string | undefined) {
  const jar = { refreshToken: initial, refreshes: 0 };
  const refresh = jsonRefresh(server);
  return Object.assign(jar, {
    refresh: async (_none: undefined, context: { signal: AbortSignal }): Promise<Tokens> => {
      jar.refreshes++;
      if (jar.refreshToken === undefined) throw Object.assign(new Error('no cookie'), { status: 401 });
      const tokens = (await refresh(jar.refreshToken, context)) as Tokens;
      jar.refreshToken = tokens.refreshToken;
      return { accessToken: tokens.accessToken };
    },
  });
}

describe('cookie mode: the session is restoring until the cookie answered, and requests wait', () => {
  test.each(['before restore()', 'in the same tick as restore()', 'without restore()'])(
    'a query, an authFetch and an axios call fired %s go out with the token: no 401, one refresh',
    async (when) => {
      const jar = cookieJar((await login(server)).refreshToken);
      server.reset();
      const auth = createTokenRefresh({ session: cookieSession({ syncTabs: false }), refresh: jar.refresh });
      const { store, run, fire } = app(auth);
      expect(auth.getStatus()).toBe('restoring');
      let fired: Array<Promise<number>> = [];
      let restored: Promise<boolean> | undefined;
      if (when === 'before restore()') fired = fire();
      run();
      if (when !== 'without restore()') restored = auth.restore();
      if (when !== 'before restore()') fired = fire();
      expect(await Promise.all(fired)).toEqual([200, 200, 200]);
      if (restored) expect(await restored).toBe(true);
      expect(apiRequests()).toEqual([200, 200, 200]);
      expect(jar.refreshes).toBe(1);
      expect(store.state).toMatchObject({ status: 'authenticated', ended: null });
    },
  );

  test('no cookie: the restore ends quietly and each adapter sends its request as written (no token, no second refresh)', async () => {
    const jar = cookieJar(undefined);
    const auth = createTokenRefresh({ session: cookieSession({ syncTabs: false }), refresh: jar.refresh });
    const { store, run, fire } = app(auth);
    const fired = fire();
    run();
    expect(await Promise.all(fired)).toEqual([401, 401, 401]);
    expect(apiRequests()).toEqual([401, 401, 401]);
    expect(jar.refreshes).toBe(1);
    expect(store.state).toMatchObject({
      status: 'unauthenticated',
      lastError: null,
      ended: { reason: 'noSession', elsewhere: false },
    });
  });

  test('a restore that cannot be done (offline): there is no token to wait for, so the request goes as written (a login call works)', async () => {
    const auth = createTokenRefresh({
      session: cookieSession({ syncTabs: false }),
      refreshRetries: 0,
      refresh: () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })),
    });
    const { run } = app(auth);
    const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
    const answer = apiFetch(`${server.url}/api/items`).then(
      (response) => response.status,
      (error: Error) => error.name,
    );
    run();
    expect(await answer).toBe(401);
    expect(apiRequests()).toEqual([401]);
    expect(auth.getStatus()).toBe('unavailable');
  });
});

describe('async storage: requests made while it is read wait for it', () => {
  test('a query, an authFetch and an axios call fired while the stored session is read go out with its token', async () => {
    const stored = JSON.stringify(await login(server));
    server.reset();
    let answer!: (value: string) => void;
    const backend = {
      getItem: () => new Promise<string>((resolve) => (answer = resolve)),
      setItem: async () => {},
      removeItem: async () => {},
    };
    const auth = createTokenRefresh({ refresh: jsonRefresh(server), storage: asyncStorage(backend, 'app/tokens') });
    const { run, fire } = app(auth);
    run();
    expect(auth.getStatus()).toBe('restoring');
    const fired = fire();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(apiRequests()).toEqual([]); // nothing left without the token it is about to have
    answer(stored);
    expect(await Promise.all(fired)).toEqual([200, 200, 200]);
    expect(apiRequests()).toEqual([200, 200, 200]);
    expect(server.stats().refreshCalls).toBe(0);
  });

  test('an empty storage: the requests go as written once it answered', async () => {
    const backend = { getItem: async () => null, setItem: async () => {}, removeItem: async () => {} };
    const auth = createTokenRefresh({ refresh: jsonRefresh(server), storage: asyncStorage(backend, 'app/tokens') });
    const { run, fire } = app(auth);
    run();
    expect(await Promise.all(fire())).toEqual([401, 401, 401]);
    expect(server.stats().refreshCalls).toBe(0);
  });
});
