import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery, type BaseQueryFn } from '@reduxjs/toolkit/query';
import axios from 'axios';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { genOf, startServer, startSession, until, type AuthServer } from '../support/realServer';

/**
 * A caller that aborts a request waiting for a refresh gets its answer at once (not when the refresh
 * ends), and the request is never sent, not even after the refresh. The refresh goes on.
 */
const SLOW_REFRESH_MS = 600;
/** Far below the slow refresh: an answer within this came from the abort, not from the refresh. */
const PROMPT_MS = 200;

let server: AuthServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

/** A logged-in session whose refresh is running, slowly, on the real server. */
async function duringSlowRefresh() {
  const session = await startSession(server);
  server.control.slowNextRefresh(SLOW_REFRESH_MS);
  const refreshed = session.auth.refresh();
  await until(() => server.stats().refreshCalls === 1, 'the refresh call to reach the server');
  return { ...session, refreshed };
}

/** Aborts `controller` a little after the request started waiting; resolves with how long the answer took after the abort. */
async function abortAndTime<T>(controller: AbortController, answer: Promise<T>): Promise<{ outcome: unknown; afterAbortMs: number }> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  const abortedAt = Date.now();
  controller.abort();
  const outcome = await answer.catch((error: unknown) => error);
  return { outcome, afterAbortMs: Date.now() - abortedAt };
}

describe('an aborted request is released at once while it waits for a refresh, and never sent', () => {
  test('authFetch: rejects with AbortError promptly; the server never sees the request', async () => {
    const { auth, refreshed } = await duringSlowRefresh();
    const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
    const controller = new AbortController();
    const { outcome, afterAbortMs } = await abortAndTime(controller, apiFetch(`${server.url}/api/echo`, { signal: controller.signal }));
    expect(outcome).toMatchObject({ name: 'AbortError' });
    expect(afterAbortMs).toBeLessThan(PROMPT_MS);
    expect(auth.getAccessToken()).toBeDefined();
    await refreshed; // the refresh went on, and the aborted request is still not sent after it
    expect(server.stats()).toMatchObject({ refreshOk: 1, apiRequests: 0 });
  });

  test('authFetch: the signal of a Request object counts too; a signal aborted already sends nothing', async () => {
    const { auth, refreshed } = await duringSlowRefresh();
    const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
    const controller = new AbortController();
    const { outcome, afterAbortMs } = await abortAndTime(
      controller,
      apiFetch(new Request(`${server.url}/api/echo`, { signal: controller.signal })),
    );
    expect(outcome).toMatchObject({ name: 'AbortError' });
    expect(afterAbortMs).toBeLessThan(PROMPT_MS);
    await expect(apiFetch(`${server.url}/api/echo`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await refreshed;
    expect(server.stats().apiRequests).toBe(0);
  });

  test('authFetch: a request whose 401 made it wait for the refresh is released too, and not replayed', async () => {
    const { auth } = await startSession(server);
    server.control.slowNextRefresh(SLOW_REFRESH_MS);
    server.control.expireAccessTokens();
    const apiFetch = authFetch(auth, { allowedOrigins: [server.url] });
    const controller = new AbortController();
    const answer = apiFetch(`${server.url}/api/echo`, { signal: controller.signal });
    await until(() => server.stats().refreshCalls === 1, 'the 401 to start the refresh');
    const { outcome, afterAbortMs } = await abortAndTime(controller, answer);
    expect(outcome).toMatchObject({ name: 'AbortError' });
    expect(afterAbortMs).toBeLessThan(PROMPT_MS);
    await until(() => genOf(auth.getAccessToken()) === 2, 'the refresh to end', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(server.stats()).toMatchObject({ apiRequests: 1, api401: 1 });
  });

  test("attachAxios: rejects promptly with axios' own CanceledError; the server never sees the request", async () => {
    const { auth, refreshed } = await duringSlowRefresh();
    const instance = axios.create({ baseURL: server.url });
    attachAxios(auth, instance, { allowedOrigins: [server.url] });
    const controller = new AbortController();
    const { outcome, afterAbortMs } = await abortAndTime(controller, instance.get('/api/echo', { signal: controller.signal }));
    expect(axios.isCancel(outcome)).toBe(true);
    expect(afterAbortMs).toBeLessThan(PROMPT_MS);
    await refreshed;
    expect(server.stats()).toMatchObject({ refreshOk: 1, apiRequests: 0 });
  });

  test('attachAxios: a request whose 401 made it wait for the refresh is released too, and not replayed', async () => {
    const { auth } = await startSession(server);
    server.control.slowNextRefresh(SLOW_REFRESH_MS);
    server.control.expireAccessTokens();
    const instance = axios.create({ baseURL: server.url });
    attachAxios(auth, instance, { allowedOrigins: [server.url] });
    const controller = new AbortController();
    const answer = instance.get('/api/echo', { signal: controller.signal });
    await until(() => server.stats().refreshCalls === 1, 'the 401 to start the refresh');
    const { outcome, afterAbortMs } = await abortAndTime(controller, answer);
    expect(axios.isCancel(outcome)).toBe(true);
    expect(afterAbortMs).toBeLessThan(PROMPT_MS);
    await until(() => genOf(auth.getAccessToken()) === 2, 'the refresh to end', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(server.stats()).toMatchObject({ apiRequests: 1, api401: 1 });
  });

  test('authBaseQuery: the base query returns promptly when RTK Query aborts it (api.signal); the server never sees it', async () => {
    const { auth, refreshed } = await duringSlowRefresh();
    const wrapped = authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${server.url}/` });
    const finished: Array<Promise<{ result: unknown; at: number }>> = [];
    // RTK Query rejects an aborted query's promise by itself; this watches the base query's own answer.
    const watched: BaseQueryFn = (args, api, extra) => {
      const answer = wrapped(args, api, extra);
      finished.push(Promise.resolve(answer).then((result) => ({ result, at: Date.now() })));
      return answer;
    };
    const echo = createApi({
      keepUnusedDataFor: 0,
      baseQuery: watched,
      endpoints: (build) => ({ echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }) }),
    });
    const store = configureStore({
      reducer: { [echo.reducerPath]: echo.reducer },
      middleware: (getDefault) => getDefault().concat(echo.middleware),
    });
    const query = store.dispatch(echo.endpoints.echo.initiate(1, { subscribe: false }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const abortedAt = Date.now();
    query.abort();
    expect((await query).error).toMatchObject({ name: 'AbortError' });
    const { result, at } = await finished[0]!;
    expect(at - abortedAt).toBeLessThan(PROMPT_MS);
    // What fetchBaseQuery answers for an aborted fetch, with its meta.
    expect((result as { error: unknown }).error).toEqual({ status: 'FETCH_ERROR', error: expect.stringContaining('AbortError') });
    await refreshed;
    expect(server.stats()).toMatchObject({ refreshOk: 1, apiRequests: 0 });
  });
});
