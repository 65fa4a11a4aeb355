import axios, { AxiosError, type AxiosInstance } from 'axios';
import { attachAxios } from '../../src/adapters/axios';
import { describeAdapterSemantics, type Outcome } from '../support/adapterSemantics';
import { createTokenRefresh } from '../../src';
import { startEchoServer, type EchoServer } from '../support/echoServer';
import { genOf, jsonRefresh, startSession, useTwoServers } from '../support/realServer';

async function read(request: Promise<{ data: { gen: number } }>): Promise<Outcome> {
  try {
    return { ok: true, gen: (await request).data.gen };
  } catch (error) {
    if (error instanceof AxiosError && error.response) return { status: error.response.status };
    return { error: (error as Error).name };
  }
}

describeAdapterSemantics('attachAxios', {
  make({ server, auth, beforeSend }) {
    const instance = axios.create({ baseURL: server.url });
    attachAxios(auth, instance, { allowedOrigins: [server.url] });
    // Registered last, so axios runs it first; it only touches the server, not the request.
    instance.interceptors.request.use((config) => (beforeSend(), config));
    return { get: (n) => read(instance.get(`/api/echo?n=${n}`)) };
  },
});

describe('attachAxios: opting out, origins, detaching', () => {
  const servers = useTwoServers();
  let instance: AxiosInstance;
  beforeEach(() => {
    instance = axios.create();
  });

  test('a request to an origin not in allowedOrigins goes out without Authorization, and its 401 is not refreshed', async () => {
    const { auth } = await startSession(servers.api);
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    expect(await read(instance.get(`${servers.elsewhere.url}/api/echo`))).toEqual({ status: 401 });
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
    expect(servers.api.stats().refreshCalls).toBe(0);
    expect(await read(instance.get(`${servers.api.url}/api/echo`))).toEqual({ ok: true, gen: 1 });
  });

  test('baseURL counts: a relative url on an instance with baseURL goes to that origin', async () => {
    const { auth } = await startSession(servers.api);
    const scoped = axios.create({ baseURL: servers.elsewhere.url });
    attachAxios(auth, scoped, { allowedOrigins: [servers.api.url] });
    expect(await read(scoped.get('/api/echo'))).toEqual({ status: 401 });
    expect(servers.elsewhere.stats().requestsWithoutToken).toBe(1);
  });

  test('skipAuthRefresh: true sends the request as written', async () => {
    const { auth } = await startSession(servers.api);
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    expect(await read(instance.get(`${servers.api.url}/api/echo`, { skipAuthRefresh: true }))).toEqual({ status: 401 });
    expect(servers.api.stats()).toMatchObject({ requestsWithoutToken: 1, refreshCalls: 0 });
  });

  test('the refresh call may use the same instance: its signal marks it, so it is not intercepted or queued', async () => {
    const viaAxios: typeof fetch = async (input, init) => {
      const answer = await instance.post(input instanceof Request ? input.url : String(input), init?.body, {
        headers: { 'Content-Type': 'application/json' },
        signal: init?.signal ?? undefined,
        validateStatus: () => true,
      });
      return new Response(JSON.stringify(answer.data), { status: answer.status });
    };
    const { auth } = await startSession(servers.api, { refresh: jsonRefresh(servers.api, viaAxios), refreshTimeoutMs: 1_000 });
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    expect(await read(instance.get(`${servers.api.url}/api/echo`))).toEqual({ ok: true, gen: 2 });
    expect(servers.api.stats().refreshCalls).toBe(1);
  });

  test('a replayed request keeps its method and headers', async () => {
    const { auth } = await startSession(servers.api);
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    const sent: unknown[] = [];
    instance.interceptors.request.use((config) => (sent.push([config.method, config.headers.get('X-Trace')]), config));
    expect(await read(instance.get(`${servers.api.url}/api/echo`, { headers: { 'X-Trace': 'abc' } }))).toEqual({ ok: true, gen: 2 });
    expect(sent).toEqual([
      ['get', 'abc'],
      ['get', 'abc'],
    ]);
    expect(genOf(auth.getAccessToken())).toBe(2);
  });

  test('the function attachAxios returns removes both interceptors', async () => {
    const { auth } = await startSession(servers.api);
    const detach = attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    detach();
    expect(await read(instance.get(`${servers.api.url}/api/echo`))).toEqual({ status: 401 });
    expect(servers.api.stats().requestsWithoutToken).toBe(1);
  });

  test('bad arguments throw a TypeError naming what to pass', async () => {
    const { auth } = await startSession(servers.api, { loggedIn: false });
    expect(() => attachAxios(auth, {} as never, { allowedOrigins: [servers.api.url] })).toThrow(/axios instance/);
    expect(() => attachAxios(auth, instance)).toThrow(/option "allowedOrigins" is required/);
    expect(() => attachAxios(auth, instance, { allowedOrigins: 'http://x' as never })).toThrow(/must be an array/);
  });
});

describe('attachAxios checks the URL that is called', () => {
  const servers = useTwoServers();

  test('a request interceptor registered before attachAxios (axios runs it after ours) that rewrites baseURL cannot take the token there', async () => {
    const { auth } = await startSession(servers.api);
    const instance = axios.create({ baseURL: servers.api.url });
    instance.interceptors.request.use((config) => ({ ...config, baseURL: servers.elsewhere.url }));
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    expect(await read(instance.get('/api/echo'))).toEqual({ status: 401 });
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
    expect(servers.api.stats()).toMatchObject({ refreshCalls: 0, apiRequests: 0 });
  });

  test('nor can it on a replay after a refresh: the replay is checked at the last moment too', async () => {
    const { auth } = await startSession(servers.api);
    const instance = axios.create({ baseURL: servers.api.url });
    // Harmless on the first attempt, hostile on replays (which carry skipAuthRefresh).
    instance.interceptors.request.use((config) => (config.skipAuthRefresh ? { ...config, baseURL: servers.elsewhere.url } : config));
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    expect(await read(instance.get('/api/echo'))).toEqual({ status: 401 });
    expect(servers.api.stats().refreshCalls).toBe(1);
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
  });

  test('an interceptor that moves an outside request onto the allowed origin gets the token there: the final URL decides', async () => {
    const { auth } = await startSession(servers.api);
    const instance = axios.create({ baseURL: servers.api.url });
    instance.interceptors.request.use((config) => (config.url === '/public' ? { ...config, url: '/api/echo' } : config));
    attachAxios(auth, instance, { allowedOrigins: [servers.api.url] });
    expect(await read(instance.get('/public'))).toEqual({ ok: true, gen: 1 });
  });
});

describe('attachAxios: a 401 that another origin gave, through a redirect, refreshes nothing', () => {
  let home: EchoServer;
  let third: EchoServer;
  beforeAll(async () => {
    [home, third] = await Promise.all([startEchoServer(), startEchoServer()]);
  });
  afterAll(() => Promise.all([home.close(), third.close()]));

  test('a redirect from an allowed origin to a third party that answers 401', async () => {
    const refresh = jest.fn(async () => ({ accessToken: 'tok-2' }));
    const auth = createTokenRefresh({ refresh });
    auth.setTokens({ accessToken: 'tok-1', refreshToken: 'r' });
    const instance = axios.create({ baseURL: home.url });
    attachAxios(auth, instance, { allowedOrigins: [home.url] });
    const failure = await instance.get(`/redirect?to=${encodeURIComponent(`${third.url}/status/401`)}`).catch((error: AxiosError) => error);
    expect((failure as AxiosError).response?.status).toBe(401);
    expect(refresh).not.toHaveBeenCalled();
    expect(third.seen.at(-1)?.headers.authorization).toBeUndefined(); // and follow-redirects did not carry the token over
    // A 401 from home itself does mean the token: it asks for a refresh (no epic here, so it fails fast).
    await expect(instance.get('/status/401')).rejects.toMatchObject({ code: 'EPIC_NOT_RUNNING' });
  });
});
