/**
 * Issue 11, items 13 and 14: nothing a server or a parser says reaches the store, and the errors
 * this package hands out carry no token in their `cause`. Real servers on 127.0.0.1, real axios.
 * Since issue 17 the core leaves a cause as it came: an AxiosError is redacted where axios is
 * handled, by `attachAxios` or by the app's own `redactSecrets` (the documented opt-in).
 */
import { inspect } from 'node:util';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosError } from 'axios';
import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { firstValueFrom, from } from 'rxjs';
import { RetryLimitError, TokenRefreshError, redactSecrets } from '../../src';
import { causeFilters, serializeError } from '../../src/errors';
import { attachAxios } from '../../src/adapters/axios';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { login, startServer, startSession, type AuthServer } from '../support/realServer';

const SECRET = 'RT0-SECRET-4711';

/** A token endpoint that answers 400 quoting the refresh token it got, and an API that always says 401. */
async function startLeakyServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/auth/refresh')
        res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', bytes: body.length }));
      else res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"nope"}');
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

let server: AuthServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

describe('only the package’s own text reaches actions, state and CUSTOM_ERROR', () => {
  test('a refresh that fails parsing a plain-text token puts no token text in any action, the state or the RTK Query error', async () => {
    const seen: unknown[] = [];
    const { auth, store } = await startSession(server, {
      // What `response.json()` throws for a body that is the token itself, verbatim from the parser.
      refresh: async () => JSON.parse(`${SECRET} is your new token`) as never,
      refreshRetries: 0,
      middleware: [() => (next) => (action) => (seen.push(action), next(action))],
    });
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: `${server.url}/` }),
      endpoints: (build) => ({ echo: build.query<unknown, void>({ query: () => 'api/echo' }) }),
    });
    const apiStore = configureStore({ reducer: { [api.reducerPath]: api.reducer }, middleware: (d) => d().concat(api.middleware) });
    server.control.expireAccessTokens();
    const result = await apiStore.dispatch(api.endpoints.echo.initiate(undefined, { subscribe: false }));
    expect(result.error).toMatchObject({ status: 'CUSTOM_ERROR', data: { name: expect.any(String), code: expect.any(String) } });
    const everything = JSON.stringify({ seen, state: store.getState(), rtk: result.error, apiState: apiStore.getState() });
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('Unexpected token');
  });

  test('serializeError keeps name, code and status, and writes its own message', () => {
    expect(serializeError(Object.assign(new Error(`body: ${SECRET}`), { status: 400 }))).toEqual({
      name: 'Error',
      status: 400,
      message: 'Failed with HTTP 400 (details are kept out of the store).',
    });
    expect(serializeError(Object.assign(new Error('x'), { name: `Bad ${SECRET}`, code: `${SECRET} is bad` }))).toEqual({
      name: 'Error',
      message: 'Failed with Error (details are kept out of the store).',
    });
    const failed = new TokenRefreshError(`The token refresh failed (${SECRET}); the user must log in again.`, { cause: { status: 401 } });
    expect(serializeError(failed)).toEqual({
      name: 'TokenRefreshError',
      code: 'REFRESH_FAILED',
      status: 401,
      message: 'The refresh token was rejected (HTTP 401); the user must log in again.',
    });
    expect(serializeError('plain string')).toEqual({ name: 'string', message: 'Failed with string (details are kept out of the store).' });
  });
});

describe('causes are redacted, so printing an error prints no token', () => {
  let leaky: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    leaky = await startLeakyServer();
  });
  afterAll(() => leaky.close());

  /** The refresh endpoint refuses SECRET; the TokenRefreshError's cause is the refresh call's AxiosError. */
  async function refusedRefresh(http: ReturnType<typeof axios.create>, redact: <E>(error: E) => E = (error) => error) {
    const session = await startSession(server, {
      refresh: (refreshToken, { signal }) =>
        http.post<{ accessToken: string }>(`${leaky.url}/auth/refresh`, { refreshToken }, { signal }).then(
          (r) => r.data,
          (error: unknown) => Promise.reject(redact(error)),
        ),
      refreshRetries: 0,
    });
    return session;
  }

  function expectRedactedRefreshCause(failure: unknown) {
    expect(failure).toBeInstanceOf(TokenRefreshError);
    const cause = (failure as TokenRefreshError).cause as AxiosError;
    expect(axios.isAxiosError(cause)).toBe(true);
    expect(cause.response?.status).toBe(400); // still worth reading
    expect(cause.request).toBeDefined(); // `error.request && !error.response` keeps working
    expect(inspect(failure, { depth: 8 })).not.toContain(SECRET);
    expect(JSON.stringify(cause)).not.toContain(SECRET); // axios' toJSON, what trackers send
    expect(JSON.stringify(cause.config)).toContain('[redacted]');
  }

  test('TokenRefreshError.cause, an AxiosError of a refresh call made through an attachAxios instance, no longer holds the refresh token in config.data', async () => {
    const http = axios.create();
    const { auth } = await refusedRefresh(http);
    const detach = attachAxios(auth, http, { allowedOrigins: [leaky.url] });
    auth.setTokens({ accessToken: 'a0', refreshToken: SECRET });
    expectRedactedRefreshCause(await auth.refresh().catch((error: unknown) => error));
    detach();
  });

  test('TokenRefreshError.cause, an AxiosError of a refresh function that calls axios directly and passes its failure through redactSecrets, no longer holds the refresh token', async () => {
    const { auth } = await refusedRefresh(axios.create(), redactSecrets);
    auth.setTokens({ accessToken: 'a0', refreshToken: SECRET });
    expectRedactedRefreshCause(await auth.refresh().catch((error: unknown) => error));
  });

  test('redactSecrets returns the error it was given, down its cause chain, and leaves what holds no request as it is', () => {
    const axiosLike = {
      config: { headers: { authorization: `Bearer ${SECRET}`, Accept: 'application/json' }, data: `{"refreshToken":"${SECRET}"}` },
      response: { status: 401, data: { error: 'nope' } },
    };
    const wrapped = new TokenRefreshError('x', { cause: axiosLike });
    expect(redactSecrets(wrapped)).toBe(wrapped);
    expect(axiosLike).toEqual({
      config: { headers: { authorization: '[redacted]', Accept: 'application/json' }, data: '[redacted]' },
      response: { status: 401, data: { error: 'nope' } },
    });
    const plain = Object.assign(new Error('offline'), { status: 503 });
    expect(redactSecrets(plain)).toBe(plain);
    expect(plain).toEqual(Object.assign(new Error('offline'), { status: 503 }));
    for (const value of [undefined, null, 'text', 401]) expect(redactSecrets(value)).toBe(value);
  });

  test('the core keeps a cause as it came: without attachAxios or redactSecrets, the AxiosError is not touched', async () => {
    causeFilters.clear(); // an app that never called attachAxios (the tests above did)
    const { auth } = await refusedRefresh(axios.create());
    auth.setTokens({ accessToken: 'a0', refreshToken: SECRET });
    const failure = await auth.refresh().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TokenRefreshError);
    expect(((failure as TokenRefreshError).cause as AxiosError).config?.data).toContain(SECRET);
  });

  test('RetryLimitError.cause, an AxiosError of an API call that passes its failure through redactSecrets, no longer holds the access token in config.headers', async () => {
    const { auth } = await startSession(server);
    const { accessToken } = await login(server);
    auth.setTokens({ accessToken, refreshToken: (await login(server)).refreshToken });
    const failure = await firstValueFrom(
      auth.authorized((token) =>
        from(
          axios
            .get(`${leaky.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } })
            .catch((error: unknown) => Promise.reject(redactSecrets(error))),
        ),
      ),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RetryLimitError);
    const cause = (failure as RetryLimitError).cause as AxiosError;
    expect(cause.response?.status).toBe(401);
    const printed = inspect(failure, { depth: 8 }) + JSON.stringify(cause);
    expect(printed).not.toContain(accessToken);
    expect(printed).not.toContain(auth.getAccessToken()!);
    expect(printed).not.toMatch(/Bearer ey/);
  });

  test('the last 401 AxiosError that an attachAxios instance rejects with holds no access token', async () => {
    const { auth } = await startSession(server);
    const http = axios.create();
    const detach = attachAxios(auth, http, { allowedOrigins: [leaky.url] });
    const sent = auth.getAccessToken()!;
    const failure = await http.get(`${leaky.url}/api/me`).catch((error: unknown) => error);
    detach();
    expect(axios.isAxiosError(failure)).toBe(true);
    expect((failure as AxiosError).response?.status).toBe(401);
    const printed = inspect(failure, { depth: 8 }) + JSON.stringify(failure);
    expect(printed).not.toContain(sent);
    expect(printed).not.toContain(auth.getAccessToken()!);
    expect(printed).not.toMatch(/Bearer ey/);
  });
});
