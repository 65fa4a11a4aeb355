import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import axios, { AxiosError, type AxiosResponse } from 'axios';
import { firstValueFrom, map } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { isUnauthorized } from '../../src';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { startBodyCodeApi, startServer, startSession, type AuthServer, type BodyCodeApi } from '../support/realServer';

/**
 * An API that says "token expired" with `403 { code: 1002 }` (and an `X-Error-Code` header) instead of
 * a 401. Each adapter must decide "token not accepted" with the coordinator's `isAuthError`, exactly
 * as `authorized` does, and not with a 401 check of its own.
 */
const expiredByCode = (e: unknown): boolean => {
  const error = e as {
    response?: { data?: { code?: unknown } };
    data?: { code?: unknown };
    headers?: { get?: (name: string) => string | null };
  } | null;
  return (
    isUnauthorized(e) ||
    error?.response?.data?.code === 1002 || // axios
    error?.data?.code === 1002 || // RTK Query's FetchBaseQueryError
    error?.headers?.get?.('x-error-code') === '1002' // a fetch Response
  );
};

let server: AuthServer;
let api: BodyCodeApi;
beforeAll(async () => {
  server = await startServer();
  api = await startBodyCodeApi(server);
});
afterAll(() => Promise.all([api.close(), server.close()]));
beforeEach(() => server.reset());

describe('the adapters use auth.isAuthError: an API that signals expiry with a body code refreshes through them', () => {
  test('attachAxios: a 403 { code: 1002 } causes one refresh and a replay with the new token', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const instance = axios.create({ baseURL: api.url });
    attachAxios(auth, instance, { allowedOrigins: [api.url] });
    server.control.expireAccessTokens();
    const answers = await Promise.all([instance.get('/api/echo?n=1'), instance.get('/api/echo?n=2')]);
    expect(answers.map((answer) => (answer.data as { gen: number }).gen)).toEqual([2, 2]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });

  test("attachAxios with the default isAuthError: the same 403 is the API's answer, and nothing is refreshed", async () => {
    const { auth } = await startSession(server);
    const instance = axios.create({ baseURL: api.url });
    attachAxios(auth, instance, { allowedOrigins: [api.url] });
    server.control.expireAccessTokens();
    const failure = await instance.get('/api/echo').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AxiosError);
    expect((failure as AxiosError).response?.data).toEqual({ code: 1002, message: 'token expired' });
    expect(server.stats().refreshCalls).toBe(0);
  });

  test('attachAxios: a 1002 that persists after the refresh rejects with that last AxiosError, not RetryLimitError', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const instance = axios.create({ baseURL: api.url });
    attachAxios(auth, instance, { allowedOrigins: [api.url] });
    // Registered last, so axios runs it first: every attempt's token is expired before it leaves.
    instance.interceptors.request.use((config) => (server.control.expireAccessTokens(), config));
    const failure = await instance.get('/api/echo').catch((error: unknown) => error);
    expect((failure as AxiosError).response?.status).toBe(403);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2 });
  });

  test('authFetch: a Response that isAuthError accepts (403, X-Error-Code: 1002) causes one refresh and a replay', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const apiFetch = authFetch(auth, { allowedOrigins: [api.url] });
    server.control.expireAccessTokens();
    const responses = await Promise.all([apiFetch(`${api.url}/api/echo?n=1`), apiFetch(`${api.url}/api/echo?n=2`)]);
    expect(await Promise.all(responses.map((response) => response.json()))).toEqual([
      expect.objectContaining({ gen: 2 }),
      expect.objectContaining({ gen: 2 }),
    ]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });

  test('authFetch: a 1002 that persists after the refresh resolves with that last 403 Response', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const apiFetch = authFetch(auth, {
      allowedOrigins: [api.url],
      fetchFn: (input, init) => (server.control.expireAccessTokens(), fetch(input, init)),
    });
    const response = await apiFetch(`${api.url}/api/echo`);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ code: 1002, message: 'token expired' });
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2 });
  });

  test('authBaseQuery: an { error: { status: 403, data: { code: 1002 } } } causes one refresh and a replay', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const echo = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${api.url}/` }),
      endpoints: (build) => ({ echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }) }),
    });
    const store = configureStore({
      reducer: { [echo.reducerPath]: echo.reducer },
      middleware: (getDefault) => getDefault().concat(echo.middleware),
    });
    server.control.expireAccessTokens();
    const results = await Promise.all([1, 2].map((n) => store.dispatch(echo.endpoints.echo.initiate(n, { subscribe: false }))));
    expect(results.map((result) => result.data?.gen)).toEqual([2, 2]);
    expect(server.stats().refreshCalls).toBe(1);
  });
});

/**
 * Seed 002's API: an expired token is answered `200 { code: 1002 }`, a success to every HTTP
 * client. Each client turns that answer into its own error first, at the place the client offers
 * for it; from there the shared refresh works as for a 401. These are the recipes of docs/adapters.md.
 */
describe('an API that answers 200 { code: 1002 } for an expired token (seed 002)', () => {
  let okApi: BodyCodeApi;
  beforeAll(async () => {
    okApi = await startBodyCodeApi(server, { expiredStatus: 200 });
  });
  afterAll(() => okApi.close());

  const expiredBody = (body: unknown) => (body as { code?: unknown } | null)?.code === 1002;
  /** The docs' axios recipe: a 200 carrying the code becomes an AxiosError, as a 403 would. */
  const rejectExpiredBody = (response: AxiosResponse) =>
    expiredBody(response.data)
      ? Promise.reject(new AxiosError('token expired', 'ERR_TOKEN_EXPIRED', response.config, response.request, response))
      : response;

  test('epics: the request throws a 401 for the body code inside authorized(); one refresh, both calls replayed', async () => {
    const { auth } = await startSession(server);
    const echo = (n: number) =>
      firstValueFrom(
        auth.authorized((token) =>
          fromFetch(`${okApi.url}/api/echo?n=${n}`, {
            headers: { Authorization: `Bearer ${token}` },
            selector: (response) => response.json(),
          }).pipe(
            map((body: { gen: number }) => {
              if (expiredBody(body)) throw { status: 401, body };
              return body;
            }),
          ),
        ),
      );
    server.control.expireAccessTokens();
    expect((await Promise.all([echo(1), echo(2)])).map((body) => body.gen)).toEqual([2, 2]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });

  test('axios: an interceptor registered before attachAxios rejects the 200; isAuthError matches its body code', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const instance = axios.create({ baseURL: okApi.url });
    instance.interceptors.response.use(rejectExpiredBody);
    attachAxios(auth, instance, { allowedOrigins: [okApi.url] });
    server.control.expireAccessTokens();
    const answers = await Promise.all([instance.get('/api/echo?n=1'), instance.get('/api/echo?n=2')]);
    expect(answers.map((answer) => (answer.data as { gen: number }).gen)).toEqual([2, 2]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });

  test('axios: registered after attachAxios, the same interceptor is too late and the 1002 reaches the caller unrefreshed', async () => {
    const { auth } = await startSession(server, { isAuthError: expiredByCode });
    const instance = axios.create({ baseURL: okApi.url });
    attachAxios(auth, instance, { allowedOrigins: [okApi.url] });
    instance.interceptors.response.use(rejectExpiredBody);
    server.control.expireAccessTokens();
    const failure = await instance.get('/api/echo').catch((error: unknown) => error);
    expect((failure as AxiosError).response?.data).toEqual({ code: 1002, message: 'token expired' });
    expect(server.stats().refreshCalls).toBe(0);
  });

  test('RTK Query: a fetchFn that answers the body code with a 401 Response refreshes with the default isAuthError', async () => {
    const { auth } = await startSession(server);
    const codeAware = async (input: RequestInfo, init?: RequestInit) => {
      const response = await fetch(input, init);
      if (!response.headers.get('content-type')?.includes('json')) return response;
      const body: unknown = await response.clone().json();
      return expiredBody(body) ? new Response(JSON.stringify(body), { status: 401, headers: response.headers }) : response;
    };
    const echo = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${okApi.url}/`, fetchFn: codeAware }),
      endpoints: (build) => ({ echo: build.query<{ gen: number }, number>({ query: (n) => `api/echo?n=${n}` }) }),
    });
    const store = configureStore({
      reducer: { [echo.reducerPath]: echo.reducer },
      middleware: (getDefault) => getDefault().concat(echo.middleware),
    });
    server.control.expireAccessTokens();
    const results = await Promise.all([1, 2].map((n) => store.dispatch(echo.endpoints.echo.initiate(n, { subscribe: false }))));
    expect(results.map((result) => result.data?.gen)).toEqual([2, 2]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });

  test('authFetch: a fetchFn that answers the body code with a 401 Response refreshes with the default isAuthError', async () => {
    const { auth } = await startSession(server);
    const apiFetch = authFetch(auth, {
      allowedOrigins: [okApi.url],
      fetchFn: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.headers.get('content-type')?.includes('json')) return response;
        const body: unknown = await response.clone().json();
        return expiredBody(body) ? new Response(JSON.stringify(body), { status: 401, headers: response.headers }) : response;
      },
    });
    server.control.expireAccessTokens();
    const responses = await Promise.all([apiFetch(`${okApi.url}/api/echo?n=1`), apiFetch(`${okApi.url}/api/echo?n=2`)]);
    expect(await Promise.all(responses.map((response) => response.json()))).toEqual([
      expect.objectContaining({ gen: 2 }),
      expect.objectContaining({ gen: 2 }),
    ]);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 2, apiOk: 2 });
  });
});
