import { authFetch } from '../../src/adapters/fetch';
import { describeAdapterSemantics, type Outcome } from '../support/adapterSemantics';
import { Request as NodeFetchRequest } from 'node-fetch';
import { createTokenRefresh } from '../../src';
import { startEchoServer, type EchoServer } from '../support/echoServer';
import { genOf, jsonRefresh, startSession, until, useTwoServers } from '../support/realServer';

/** The URL a fetch was called with (these tests pass strings and URLs, never a Request). */
const urlOf = (input: string | URL | Request) => (input instanceof Request ? input.url : String(input));

async function read(response: Promise<Response>): Promise<Outcome> {
  try {
    const answer = await response;
    if (!answer.ok) return { status: answer.status };
    return { ok: true, gen: ((await answer.json()) as { gen: number }).gen };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

describeAdapterSemantics('authFetch', {
  make({ server, auth, beforeSend }) {
    const apiFetch = authFetch(auth, {
      allowedOrigins: [server.url],
      fetchFn: (input, init) => (beforeSend(), fetch(input, init)),
    });
    return { get: (n) => read(apiFetch(`${server.url}/api/echo?n=${n}`)) };
  },
});

describe('authFetch: where the token goes', () => {
  const servers = useTwoServers();

  test('a request to an origin not in allowedOrigins goes out without Authorization, and its 401 is not refreshed', async () => {
    const { auth } = await startSession(servers.api);
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    const response = await apiFetch(`${servers.elsewhere.url}/api/echo`);
    expect(response.status).toBe(401);
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
    expect(servers.api.stats().refreshCalls).toBe(0);
    // Same host, other port: another origin.
    expect(new URL(servers.api.url).hostname).toBe(new URL(servers.elsewhere.url).hostname);
  });

  test('a relative URL is the own origin (baseOrigin): it carries the token', async () => {
    const { auth } = await startSession(servers.api);
    const sent: string[] = [];
    const apiFetch = authFetch(auth, {
      baseOrigin: servers.api.url,
      // Node's fetch cannot resolve a relative URL; a browser resolves it against location.
      fetchFn: (input, init) => (sent.push(urlOf(input)), fetch(new URL(urlOf(input), servers.api.url), init)),
    });
    const response = await apiFetch('/api/echo');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ gen: 1 });
    expect(sent).toEqual(['/api/echo']);
  });

  test('skipAuthRefresh: true sends the request as written', async () => {
    const { auth } = await startSession(servers.api);
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    const response = await apiFetch(`${servers.api.url}/api/echo`, { skipAuthRefresh: true });
    expect(response.status).toBe(401);
    expect(servers.api.stats()).toMatchObject({ requestsWithoutToken: 1, refreshCalls: 0 });
  });

  test('the refresh call may use authFetch itself: its signal marks it, so it is not queued behind itself', async () => {
    const { auth } = await startSession(servers.api, {
      refresh: jsonRefresh(servers.api, (input, init) => apiFetch(input, init)),
      refreshTimeoutMs: 1_000,
    });
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    const response = await apiFetch(`${servers.api.url}/api/echo`);
    expect(await response.json()).toMatchObject({ gen: 2 });
    expect(servers.api.stats().refreshCalls).toBe(1);
  });

  test('a refresh through authFetch that drops the signal waits for itself: RefreshUnavailableError caused by RefreshTimeoutError at refreshTimeoutMs (pass signal on)', async () => {
    const withoutSignal: typeof fetch = (input, init) => apiFetch(input, { ...init, signal: undefined });
    const { auth } = await startSession(servers.api, {
      refresh: jsonRefresh(servers.api, withoutSignal),
      refreshTimeoutMs: 200,
      refreshRetries: 0,
    });
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    await expect(apiFetch(`${servers.api.url}/api/echo`)).rejects.toMatchObject({
      name: 'RefreshUnavailableError',
      cause: { name: 'RefreshTimeoutError', code: 'REFRESH_TIMEOUT' },
    });
    expect(servers.api.stats().refreshCalls).toBe(0); // the refresh call never left: it was queued behind itself
  });

  test('a Request object is replayed from a clone, its own headers kept and the token replaced', async () => {
    const { auth } = await startSession(servers.api);
    const seen: Array<string | null> = [];
    const apiFetch = authFetch(auth, {
      allowedOrigins: [servers.api.url],
      fetchFn: (input, init) => (seen.push(new Headers(init?.headers).get('x-trace')), fetch(input, init)),
    });
    servers.api.control.expireAccessTokens();
    const response = await apiFetch(new Request(`${servers.api.url}/api/echo`, { headers: { 'X-Trace': 'abc' } }));
    expect(await response.json()).toMatchObject({ gen: 2 });
    expect(seen).toEqual(['abc', 'abc']);
    expect(genOf(auth.getAccessToken())).toBe(2);
  });

  test('bad options throw a TypeError naming the option', async () => {
    const { auth } = await startSession(servers.api, { loggedIn: false });
    expect(() => authFetch(auth)).toThrow(/option "allowedOrigins" is required/);
    expect(() => authFetch(auth, { allowedOrigins: ['https://servers.api.example.com/v1'] })).toThrow(
      /option "allowedOrigins" must hold origins/,
    );
    expect(() => authFetch(auth, { allowedOrigins: [servers.api.url], fetchFn: 1 as never })).toThrow(/option "fetchFn"/);
    expect(() => authFetch({} as never)).toThrow(TypeError);
  });
});

describe('authFetch checks what it sends', () => {
  const servers = useTwoServers();

  test("a Request from another realm (a polyfill's) is recognised by its shape: its real URL is checked, no token elsewhere", async () => {
    const { auth } = await startSession(servers.api);
    const apiFetch = authFetch(auth, {
      baseOrigin: servers.api.url,
      // Node's fetch does not take node-fetch's Request: send what it describes, with the headers given.
      fetchFn: (input, init) =>
        typeof input === 'object' && 'url' in input
          ? fetch(input.url, { headers: init?.headers })
          : fetch(new URL(String(input), servers.api.url), init),
    });
    const foreign = new NodeFetchRequest(`${servers.elsewhere.url}/api/echo`);
    expect(foreign).not.toBeInstanceOf(Request);
    const response = await apiFetch(foreign as unknown as Request);
    expect(response.status).toBe(401);
    expect(servers.elsewhere.stats()).toMatchObject({ requestsWithoutToken: 1, apiRequests: 1 });
    expect(servers.api.stats()).toMatchObject({ apiRequests: 0, refreshCalls: 0 });
    // The same kind of Request to the allowed origin does get the token.
    const home = await apiFetch(new NodeFetchRequest(`${servers.api.url}/api/echo`) as unknown as Request);
    expect(await home.json()).toMatchObject({ gen: 1 });
  });

  test('a URL object is read once: changed while the request waits for a refresh, it cannot take the token elsewhere', async () => {
    const { auth } = await startSession(servers.api);
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    servers.api.control.slowNextRefresh(100);
    const refreshed = auth.refresh();
    await until(() => servers.api.stats().refreshCalls === 1, 'the refresh call');
    const url = new URL(`${servers.api.url}/api/echo`);
    const response = apiFetch(url);
    url.port = new URL(servers.elsewhere.url).port; // the caller (or an attacker's code) reuses the object
    expect(await (await response).json()).toMatchObject({ gen: 2 });
    await refreshed;
    expect(servers.elsewhere.stats().apiRequests).toBe(0);
  });
});

describe('authFetch: a 401 that another origin gave, through a redirect, refreshes nothing', () => {
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
    const apiFetch = authFetch(auth, { allowedOrigins: [home.url] });
    const response = await apiFetch(`${home.url}/redirect?to=${encodeURIComponent(`${third.url}/status/401`)}`);
    expect(response.status).toBe(401);
    expect(response.url).toBe(`${third.url}/status/401`);
    expect(refresh).not.toHaveBeenCalled();
    // A 401 from home itself does mean the token: it asks for a refresh (no epic here, so it fails fast).
    await expect(apiFetch(`${home.url}/status/401`)).rejects.toMatchObject({ code: 'EPIC_NOT_RUNNING' });
  });
});
