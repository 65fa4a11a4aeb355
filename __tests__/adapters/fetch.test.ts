import { authFetch } from '../../src/adapters/fetch';
import { describeAdapterSemantics, type Outcome } from '../support/adapterSemantics';
import { genOf, jsonRefresh, startSession, useTwoServers } from '../support/realServer';

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
      fetchFn: (input, init) => (sent.push(String(input)), fetch(new URL(String(input), servers.api.url), init)),
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
    let apiFetch!: ReturnType<typeof authFetch>;
    const { auth } = await startSession(servers.api, { refresh: jsonRefresh(servers.api, (input, init) => apiFetch(input, init)), refreshTimeoutMs: 1_000 });
    apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
    servers.api.control.expireAccessTokens();
    const response = await apiFetch(`${servers.api.url}/api/echo`);
    expect(await response.json()).toMatchObject({ gen: 2 });
    expect(servers.api.stats().refreshCalls).toBe(1);
  });

  test('a refresh through authFetch that drops the signal waits for itself: RefreshUnavailableError caused by RefreshTimeoutError at refreshTimeoutMs (pass signal on)', async () => {
    let apiFetch!: ReturnType<typeof authFetch>;
    const withoutSignal: typeof fetch = (input, init) => apiFetch(input, { ...init, signal: undefined });
    const { auth } = await startSession(servers.api, { refresh: jsonRefresh(servers.api, withoutSignal), refreshTimeoutMs: 200, refreshRetries: 0 });
    apiFetch = authFetch(auth, { allowedOrigins: [servers.api.url] });
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
    expect(() => authFetch(auth, { allowedOrigins: ['https://servers.api.example.com/v1'] })).toThrow(/option "allowedOrigins" must hold origins/);
    expect(() => authFetch(auth, { allowedOrigins: [servers.api.url], fetchFn: 1 as never })).toThrow(/option "fetchFn"/);
    expect(() => authFetch({} as never)).toThrow(TypeError);
  });
});
