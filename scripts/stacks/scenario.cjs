/**
 * The end-to-end scenario the stack matrix (scripts/stacks.ts) runs in each throwaway consumer, once
 * loaded through CommonJS (entry.cjs), once through Node's native ESM (entry.mjs) and once bundled
 * by esbuild. Plain JavaScript with no imports of its own: the entries hand it the modules they
 * loaded, so this file tests how each module system loads the package, not how it loads this file.
 *
 * Against the real demo server at `url` (its /control routes expire and revoke tokens):
 * 1. concurrent calls with a token the server no longer accepts, from an epic, RTK Query and
 *    `authFetch`: exactly one refresh, every call succeeds with the new token;
 * 2. the refresh token revoked too: one refresh, it fails, and every waiting call fails with
 *    `TokenRefreshError` (code REFRESH_FAILED); the store says `unauthenticated`.
 */
'use strict';

const CALLS = 3; // per client

module.exports = async function scenario(m, url, label) {
  const { toolkit, query, ro, rxjs, main, fetchAdapter, rtkQueryAdapter } = m;
  const { filter, mergeMap, map, catchError, of, from } = rxjs;
  const problems = [];
  const check = (what, ok, detail) => {
    if (!ok) problems.push(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  };
  const post = (path, body, signal) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}), signal });
  const stats = () => fetch(`${url}/stats`).then((response) => response.json());

  const login = await (await post('/auth/login', { username: 'demo', password: 'demo' })).json();
  const auth = main.createTokenRefresh({
    refresh: async (refreshToken, { signal }) => {
      const response = await post('/auth/refresh', { refreshToken }, signal);
      const body = await response.json().catch(() => ({}));
      if (!response.ok)
        throw Object.assign(new Error(`refresh answered ${response.status}`), { status: response.status, error: body.error });
      return { accessToken: body.accessToken, refreshToken: body.refreshToken };
    },
  });

  // The app: an epic on auth.authorized, an RTK Query API on authBaseQuery, and authFetch.
  const load = toolkit.createAction('echo/load');
  const loaded = toolkit.createAction('echo/loaded');
  const failed = toolkit.createAction('echo/failed');
  const echoEpic = (action$) =>
    action$.pipe(
      filter(load.match),
      mergeMap(({ payload }) =>
        auth
          .authorized((token) =>
            from(
              fetch(`${url}/api/echo?from=${payload}`, { headers: { Authorization: `Bearer ${token}` } }).then((response) =>
                response.ok ? response.json() : Promise.reject(response),
              ),
            ),
          )
          .pipe(
            map((body) => loaded(body.gen)),
            catchError((error) => of(failed({ name: error.name, code: error.code }))),
          ),
      ),
    );
  const api = query.createApi({
    keepUnusedDataFor: 0,
    baseQuery: rtkQueryAdapter.authBaseQuery(auth, { fetchBaseQuery: query.fetchBaseQuery, baseUrl: `${url}/` }),
    endpoints: (build) => ({ echo: build.query({ query: (from) => `api/echo?from=${from}` }) }),
  });
  const apiFetch = fetchAdapter.authFetch(auth, { allowedOrigins: [url] });

  const seen = [];
  const epicMiddleware = ro.createEpicMiddleware();
  const store = toolkit.configureStore({
    reducer: { [auth.reducerPath]: auth.reducer, [api.reducerPath]: api.reducer },
    middleware: (getDefault) =>
      getDefault().concat(api.middleware, epicMiddleware, () => (next) => (action) => (seen.push(action), next(action))),
  });
  epicMiddleware.run(ro.combineEpics(auth.epic, echoEpic));
  auth.setTokens({ accessToken: login.accessToken, refreshToken: login.refreshToken });

  /** Every client at once; resolves with what each call ended in. */
  async function burst(tag) {
    const before = seen.length;
    for (let i = 0; i < CALLS; i++) store.dispatch(load(`${tag}-epic-${i}`));
    // Subscribed, then unsubscribed: RTK 1.9 resolves an unsubscribed query without its data.
    const rtk = Array.from({ length: CALLS }, (_, i) => {
      const request = store.dispatch(api.endpoints.echo.initiate(`${tag}-rtk-${i}`));
      return request
        .unwrap()
        .then(
          (data) => ({ data }),
          (error) => ({ error }),
        )
        .finally(() => request.unsubscribe());
    });
    const viaFetch = Array.from({ length: CALLS }, (_, i) =>
      apiFetch(`${url}/api/echo?from=${tag}-fetch-${i}`).then(
        (response) => response.json().then((body) => ({ gen: body.gen })),
        (error) => ({ name: error.name, code: error.code, isTokenRefreshError: error instanceof main.TokenRefreshError }),
      ),
    );
    const results = { rtk: await Promise.all(rtk), fetch: await Promise.all(viaFetch) };
    const deadline = Date.now() + 10_000;
    const epicResults = () => seen.slice(before).filter((action) => loaded.match(action) || failed.match(action));
    while (epicResults().length < CALLS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    results.epic = epicResults();
    return results;
  }
  const count = (type) => seen.filter((action) => action.type === `${auth.reducerPath}/${type}`).length;

  // 1. The access token is expired on the server: one refresh for all nine calls.
  await post('/control/reset');
  await post('/control/expire');
  const ok = await burst('ok');
  const okStats = await stats();
  check('1: one refresh call at the server', okStats.refreshCalls === 1, okStats.refreshCalls);
  check(
    '1: one refreshRequested, one refreshSucceeded',
    count('refreshRequested') === 1 && count('refreshSucceeded') === 1,
    seen.map((a) => a.type),
  );
  check(
    '1: every epic call loaded with the new token (gen 2)',
    ok.epic.length === CALLS && ok.epic.every((a) => loaded.match(a) && a.payload === 2),
    ok.epic,
  );
  check(
    '1: every RTK Query call got gen 2',
    ok.rtk.every((r) => r.data && r.data.gen === 2),
    ok.rtk.map((r) => r.data ?? r.error),
  );
  check(
    '1: every authFetch call got gen 2',
    ok.fetch.every((r) => r.gen === 2),
    ok.fetch,
  );
  check('1: store authenticated', auth.selectState(store.getState()).status === 'authenticated', auth.selectState(store.getState()));

  // 2. Access and refresh tokens both rejected: the one refresh fails, and so does every waiter.
  await post('/control/reset');
  await post('/control/expire');
  await post('/control/revoke');
  const ko = await burst('ko');
  const koStats = await stats();
  check('2: one refresh call at the server', koStats.refreshCalls === 1 && koStats.refreshFailed === 1, koStats);
  check(
    '2: one refreshFailed',
    count('refreshFailed') === 1,
    seen.map((a) => a.type),
  );
  check(
    '2: every epic call failed with REFRESH_FAILED',
    ko.epic.length === CALLS && ko.epic.every((a) => failed.match(a) && a.payload.code === 'REFRESH_FAILED'),
    ko.epic,
  );
  check(
    '2: every RTK Query call failed with REFRESH_FAILED',
    ko.rtk.every((r) => r.error && r.error.data && r.error.data.code === 'REFRESH_FAILED'),
    ko.rtk.map((r) => r.data ?? r.error),
  );
  check(
    '2: every authFetch call rejected with TokenRefreshError',
    ko.fetch.every((r) => r.isTokenRefreshError && r.code === 'REFRESH_FAILED'),
    ko.fetch,
  );
  check('2: store unauthenticated', auth.selectState(store.getState()).status === 'unauthenticated', auth.selectState(store.getState()));
  check('2: no API call succeeded after the failure', koStats.apiOk === 0, koStats.apiOk);

  if (problems.length) throw new Error(`${label}: ${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
  return `${label}: 1 refresh for ${3 * CALLS} expired calls; a failed refresh reached all ${3 * CALLS} waiters`;
};
