/**
 * Issue 11 #5: `authBaseQuery(auth, { fetchBaseQuery, ...options })` is `fetchBaseQuery(options)` plus the token. Each case
 * runs one of fetchBaseQuery's documented behaviours twice against a real echo server on 127.0.0.1,
 * through the bare base query and through the adapter, and asserts the same result: data or error,
 * what the server received, `meta.request`, and nothing but `Authorization: Bearer <token>` added.
 */
import { fetchBaseQuery, type BaseQueryApi, type FetchArgs, type FetchBaseQueryArgs } from '@reduxjs/toolkit/query';
import { createTokenRefresh } from '../../src';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { startEchoServer, type EchoServer } from '../support/echoServer';

let server: EchoServer;
beforeAll(async () => {
  server = await startEchoServer();
});
afterAll(() => server.close());

function apiFor(signal = new AbortController().signal): BaseQueryApi {
  return {
    signal,
    abort: () => {},
    dispatch: (action: unknown) => action,
    getState: () => ({ tenant: 't-42' }),
    extra: { locale: 'de' },
    endpoint: 'someEndpoint',
    type: 'query',
    forced: false,
  } as BaseQueryApi;
}

/** What a result says, in a form two runs can be compared by: Request and Response objects read out. */
async function describe_(result: { data?: unknown; error?: unknown; meta?: { request: Request; response?: Response } }) {
  const { request, response } = result.meta ?? ({} as { request?: Request; response?: Response });
  return {
    data: result.data,
    error: result.error,
    request: request && {
      method: request.method,
      url: request.url,
      headers: [...request.headers].sort(),
      credentials: request.credentials,
      cache: request.cache,
      body: request.body ? await request.text() : null,
    },
    response: response && { status: response.status, headers: [...response.headers].filter(([name]) => name !== 'date').sort() },
  };
}

/** The bare base query's answer and the adapter's, with what the server saw of each. */
async function both(options: FetchBaseQueryArgs, args: string | FetchArgs, { extraOptions = {}, api = () => apiFor() } = {}) {
  const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('no refresh in these tests')) });
  auth.setTokens({ accessToken: 'tok-1' });
  const from = server.seen.length;
  const bare = await describe_(await fetchBaseQuery({ baseUrl: server.url, ...options })(args, api(), extraOptions));
  const bareSeen = server.seen.slice(from);
  const next = server.seen.length;
  const wrapped = await describe_(
    await authBaseQuery(auth, { fetchBaseQuery, baseUrl: server.url, ...options })(args, api(), extraOptions),
  );
  const wrappedSeen = server.seen.slice(next);
  return { bare, wrapped, bareSeen, wrappedSeen };
}

/** The value with every `authorization: 'Bearer tok-1'` (what the server echoed) left out. */
function withoutToken(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutToken);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([name, inner]) => !(name === 'authorization' && inner === 'Bearer tok-1'))
      .map(([name, inner]) => [name, withoutToken(inner)]),
  );
}

/** Asserts the adapter's run equals the bare one, but for the token, which it must carry. */
async function expectSameButToken(options: FetchBaseQueryArgs, args: string | FetchArgs, more?: Parameters<typeof both>[2]) {
  const { bare, wrapped, bareSeen, wrappedSeen } = await both(options, args, more);
  expect(wrappedSeen.map((seen) => seen.headers.authorization)).toEqual(bareSeen.map(() => 'Bearer tok-1'));
  expect(withoutToken(wrapped)).toEqual(bare);
  expect(wrappedSeen.map(({ headers: { authorization: _, ...rest }, ...seen }) => ({ ...seen, headers: rest }))).toEqual(bareSeen);
  return { bare, wrapped };
}

describe('authBaseQuery behaves as fetchBaseQuery, plus the token', () => {
  describe('headers from every source, and their precedence', () => {
    test("the base query's own headers option is sent (API keys, Accept, tenant)", async () => {
      const { wrapped } = await expectSameButToken({ headers: { 'x-api-key': 'k-1', Accept: 'application/vnd.x+json' } }, 'echo');
      expect((wrapped.data as { headers: Record<string, string> }).headers).toMatchObject({
        'x-api-key': 'k-1',
        accept: 'application/vnd.x+json',
      });
    });
    test('endpoint headers replace the base headers, as in fetchBaseQuery', () =>
      expectSameButToken({ headers: { 'x-api-key': 'k-1' } }, { url: 'echo', headers: { 'x-trace': 't', 'x-gone': undefined } }));
    test('endpoint headers as a Headers object and as an entry list', async () => {
      await expectSameButToken({}, { url: 'echo', headers: new Headers({ 'x-a': '1' }) });
      await expectSameButToken({}, { url: 'echo', headers: [['x-b', '2']] });
    });
    test("an endpoint's own Authorization wins over the session token, and its 401 refreshes nothing", async () => {
      const { bare, wrapped, wrappedSeen } = await both({}, { url: 'status/401', headers: { authorization: 'Basic dXNlcjpwdw==' } });
      expect(wrappedSeen[0]!.headers.authorization).toBe('Basic dXNlcjpwdw==');
      expect(wrapped).toEqual(bare);
    });
    test('an endpoint that sets content-type gets exactly that content-type, once', async () => {
      const { wrapped } = await expectSameButToken(
        {},
        { url: 'echo', method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } },
      );
      expect((wrapped.data as { headers: Record<string, string> }).headers['content-type']).toBe('text/plain');
      await expectSameButToken(
        {},
        { url: 'echo', method: 'POST', body: { a: 1 }, headers: { 'Content-Type': 'application/vnd.api+json' } },
      );
    });
  });

  describe('prepareHeaders in every form', () => {
    test('prepareHeaders gets the string arg as RTK Query passes it, and the api fields', async () => {
      const calls: unknown[] = [];
      const prepareHeaders: FetchBaseQueryArgs['prepareHeaders'] = (headers, api) => {
        calls.push({
          arg: api.arg,
          endpoint: api.endpoint,
          extra: api.extra,
          state: api.getState(),
          type: api.type,
          extraOptions: api.extraOptions,
        });
        headers.set('x-tenant', (api.getState() as { tenant: string }).tenant);
        return headers;
      };
      await expectSameButToken({ prepareHeaders }, 'echo', { extraOptions: { some: 'option' } });
      expect(calls).toHaveLength(2);
      expect(calls[1]).toEqual(calls[0]);
      expect(calls[0]).toMatchObject({ arg: 'echo', endpoint: 'someEndpoint', extra: { locale: 'de' }, extraOptions: { some: 'option' } });
    });
    test('prepareHeaders that mutates and returns nothing, async, or returns a new Headers', async () => {
      await expectSameButToken({ prepareHeaders: (headers) => void headers.set('x-m', '1') }, 'echo');
      await expectSameButToken(
        { prepareHeaders: async (headers) => (await Promise.resolve(), headers.set('x-async', '1'), headers) },
        'echo',
      );
      await expectSameButToken({ prepareHeaders: () => new Headers({ 'x-fresh': '1' }) }, 'echo');
    });
    test('a prepareHeaders that sets Authorization itself is kept (the token never replaces it)', async () => {
      const { wrappedSeen } = await both({ prepareHeaders: (headers) => (headers.set('authorization', 'Bearer mine'), headers) }, 'echo');
      expect(wrappedSeen[0]!.headers.authorization).toBe('Bearer mine');
    });
  });

  describe('URLs, params, bodies', () => {
    test('params, with undefined values dropped, and a paramsSerializer', async () => {
      await expectSameButToken({}, { url: 'echo?x=1', params: { a: 1, b: undefined, c: 'ä b' } });
      await expectSameButToken(
        { paramsSerializer: (params) => `custom=${Object.keys(params).join('-')}` },
        { url: 'echo', params: { a: 1, b: 2 } },
      );
    });
    test('a trailing-slash baseUrl and an absolute URL on the same origin', async () => {
      await expectSameButToken({ baseUrl: `${server.url}/` }, '/echo');
      await expectSameButToken({}, `${server.url}/echo?abs=1`);
    });
    test('bodies: JSON, string, URLSearchParams, FormData, Blob, with jsonReplacer and jsonContentType', async () => {
      await expectSameButToken({}, { url: 'echo', method: 'POST', body: { a: 1, nested: [1, 2] } });
      await expectSameButToken({}, { url: 'echo', method: 'PUT', body: 'raw text' });
      await expectSameButToken({}, { url: 'echo', method: 'POST', body: new URLSearchParams({ a: '1' }) });
      const form = new FormData();
      form.set('field', 'value');
      const { bare } = await both({}, { url: 'echo', method: 'POST', body: form });
      expect((bare.data as { headers: Record<string, string> }).headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      // A multipart boundary is random per request: compare what does not depend on it.
      const { wrapped, wrappedSeen } = await both({}, { url: 'echo', method: 'POST', body: form });
      expect(wrappedSeen[0]!.headers.authorization).toBe('Bearer tok-1');
      expect((wrapped.data as { body: string }).body).toContain('value');
      await expectSameButToken({}, { url: 'echo', method: 'POST', body: new Blob(['blob'], { type: 'text/x-blob' }) });
      await expectSameButToken(
        {
          jsonReplacer: (key: string, value: unknown) => (key === 'secret' ? undefined : value),
          jsonContentType: 'application/vnd.api+json',
        },
        {
          url: 'echo',
          method: 'PATCH',
          body: { a: 1, secret: 'x' },
        },
      );
    });
    test('RequestInit options of the base query (credentials, cache, method) reach the request', () =>
      expectSameButToken({ credentials: 'include', cache: 'no-store' }, { url: 'echo', method: 'DELETE' }));
  });

  describe('responses', () => {
    test('responseHandler: json, text, content-type, a function, and the base default', async () => {
      await expectSameButToken({}, { url: 'text', responseHandler: 'text' });
      await expectSameButToken({}, { url: 'text', responseHandler: 'content-type' });
      await expectSameButToken(
        {},
        { url: 'echo', responseHandler: async (response) => ((await response.json()) as { method: string }).method },
      );
      await expectSameButToken({ responseHandler: 'text' }, 'text');
      await expectSameButToken({}, 'empty');
    });
    test('a body that is not JSON is a PARSING_ERROR, the same one', () => expectSameButToken({}, 'html'));
    test('validateStatus, global and per endpoint; an error status other than 401', async () => {
      await expectSameButToken({ validateStatus: (response) => response.status === 404 }, 'status/404');
      await expectSameButToken({}, { url: 'echo', validateStatus: (_response, body) => (body as { method: string }).method !== 'GET' });
      await expectSameButToken({}, 'status/500');
    });
  });

  describe('timeout, abort, fetchFn', () => {
    test('timeout: a TIMEOUT_ERROR, global or per endpoint', async () => {
      const { bare, wrapped } = await both({ timeout: 30 }, 'hang');
      expect(bare.error).toMatchObject({ status: 'TIMEOUT_ERROR' });
      expect(wrapped.error).toEqual(bare.error);
      const perEndpoint = await both({}, { url: 'hang', timeout: 30 });
      expect(perEndpoint.wrapped.error).toEqual(perEndpoint.bare.error);
    });
    test('abort: a query RTK Query aborts is a FETCH_ERROR with the AbortError, as bare', async () => {
      const aborting = () => {
        const controller = new AbortController();
        controller.abort();
        return apiFor(controller.signal);
      };
      const { bare, wrapped } = await both({}, 'hang', { api: aborting });
      expect(bare.error).toMatchObject({ status: 'FETCH_ERROR', error: expect.stringContaining('AbortError') });
      expect(wrapped.error).toEqual(bare.error);
    });
    test('fetchFn: the custom transport gets the Request, now with the token', async () => {
      const seen: Array<string | null> = [];
      const fetchFn = (input: RequestInfo, init?: RequestInit) => (
        seen.push((input as Request).headers.get('authorization')),
        fetch(input, init)
      );
      await expectSameButToken({ fetchFn }, 'echo');
      expect(seen).toEqual([null, 'Bearer tok-1']);
    });
  });
});
